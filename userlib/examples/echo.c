// SPDX-License-Identifier: MIT
/*
 * echo - an echo server over an AF_UNIX socket pair, driven by POLL.
 *
 * A client thread sends messages on one end of the pair and reads each one
 * back. The server, in the main thread, owns the other end and serves it
 * with one chain of three linked requests per message, submitted by a single
 * ioring_enter():
 *
 *   POLL  (fd, READ)                    wait until the client has sent something
 *     LINK -> READ (fd, buf, 4096)      take what is there; save the count in r0
 *     LINK -> WRITE(fd, buf, r0)        send back exactly as many bytes
 *
 * The WRITE's count is loaded from register 0 when it is dispatched, after
 * the READ has completed and stored its result there. A LINK successor runs
 * only if its predecessor succeeded. When the client shuts down its side,
 * the READ returns 0 (end of file): the WRITE sends nothing and the server
 * stops.
 *
 * Usage: echo [MESSAGE...]   (default: a few messages)
 * Exit status 0 when every message came back intact.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/ioring.h>

static const char *const default_messages[] = {
	"hello",
	"the PatchworkOS I/O ring, on Linux",
	"POLL -> READ -> WRITE, one enter",
	"bye",
};

static const char *const *messages;
static int nmessages;
static int client_fd;
static sem_t served; /* the server printed its line: keeps the transcript in order */
static int client_failures;

static void *client(void *arg)
{
	char buf[4096];
	int i;

	(void)arg;
	for (i = 0; i < nmessages; i++) {
		size_t len = strlen(messages[i]), got = 0;
		ssize_t n;

		printf("client: send    \"%s\"\n", messages[i]);
		if (write(client_fd, messages[i], len) != (ssize_t)len) {
			perror("echo: client write");
			client_failures++;
			break;
		}
		/* The echo may arrive in pieces: read until all of it is back. */
		while (got < len && (n = read(client_fd, buf + got, len - got)) > 0)
			got += (size_t)n;
		sem_wait(&served);
		if (got == len && !memcmp(buf, messages[i], len)) {
			printf("client: receive \"%.*s\"\n", (int)got, buf);
		} else {
			printf("client: receive \"%.*s\" - WRONG\n", (int)got, buf);
			client_failures++;
		}
	}
	printf("client: done, shutting down its side\n");
	shutdown(client_fd, SHUT_WR);
	return NULL;
}

int main(int argc, char **argv)
{
	static char buf[4096];
	int sv[2], served_count = 0, rc = 0;
	ioring_t ring;
	pthread_t t;
	sqe_t sqe;
	cqe_t cqe[3];

	setvbuf(stdout, NULL, _IOLBF, 0);
	messages = argc > 1 ? (const char *const *)argv + 1 : default_messages;
	nmessages = argc > 1 ? argc - 1 : (int)(sizeof(default_messages) / sizeof(*default_messages));

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("echo: socketpair");
		return 1;
	}
	if (ioring_setup(&ring, NULL, 4, 4) == ERR) {
		fprintf(stderr, "echo: ioring_setup: %s\n", strerror(errno));
		return 1;
	}
	client_fd = sv[1];
	sem_init(&served, 0, 0);
	printf("server: ring %llu, serving socket %d; client on socket %d\n",
	       (unsigned long long)ring.id, sv[0], sv[1]);
	pthread_create(&t, NULL, client, NULL);

	for (;;) {
		int i;

		/* POLL: wait (at most 5 s) until the socket is readable. */
		sqe_prep_poll(&sqe, sv[0], IO_POLL_READ, 5 * IORING_NSEC_PER_SEC, (void *)1);
		sqe_set_link(&sqe);
		sqe_push(&ring, &sqe);
		/* READ what is there; the result (the byte count) goes to register 0. */
		sqe_prep_read(&sqe, sv[0], buf, sizeof(buf), IO_OFF_CUR, CLOCKS_NEVER, (void *)2);
		sqe_save_reg(&sqe, SQE_REG0);
		sqe_set_link(&sqe);
		sqe_push(&ring, &sqe);
		/* WRITE it back; the count (argument 2) is loaded from register 0. */
		sqe_prep_write(&sqe, sv[0], buf, 0, IO_OFF_CUR, CLOCKS_NEVER, (void *)3);
		sqe_load_reg(&sqe, SQE_LOAD2, SQE_REG0);
		sqe_push(&ring, &sqe);

		/* Submit the chain of 3 and wait until all 3 have completed. */
		if (ioring_enter(ring.id, 3, 3) == ERR) {
			fprintf(stderr, "echo: ioring_enter: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		for (i = 0; i < 3; i++)
			cqe_pop(&ring, &cqe[i]); /* in chain order: POLL, READ, WRITE */

		if (cqe[0].error || cqe[1].error || cqe[2].error) {
			printf("server: POLL %s, READ %s, WRITE %s\n", strerror(cqe[0].error),
			       strerror(cqe[1].error), strerror(cqe[2].error));
			rc = 1;
			break;
		}
		if (cqe[1].count == 0) {
			printf("server: POLL says%s%s, READ returns 0: the client has finished\n",
			       cqe[0].events & IO_POLL_READ ? " READ" : "",
			       cqe[0].events & IO_POLL_HUP ? " HUP" : "");
			break;
		}
		printf("server: POLL says READ, READ %zu bytes (r0 = %llu), WRITE sent %zu back\n",
		       cqe[1].count, (unsigned long long)ioring_reg_load(&ring, SQE_REG0),
		       cqe[2].count);
		if (cqe[2].count != cqe[1].count) {
			/* A socket with room takes it all; anything else is a failure here. */
			printf("server: short write\n");
			rc = 1;
			break;
		}
		served_count++;
		sem_post(&served);
	}
	close(sv[0]); /* the client sees the end of the echo stream */
	if (rc)
		sem_post(&served); /* let a waiting client finish */
	pthread_join(t, NULL);
	if (client_failures || served_count < nmessages)
		rc = 1;
	printf("echo: %d messages echoed, %s\n", served_count, rc ? "FAILED" : "all intact");
	if (rc == 0)
		ioring_teardown(ring.id);
	return rc;
}
