// SPDX-License-Identifier: MIT
/*
 * pollfree: a POLL whose wait queue is freed under it. signalfd's poll
 * waits on the polling task's signal handlers (sighand); a task that shares
 * the ring's address space but not its signal handlers (clone(CLONE_VM)
 * without CLONE_SIGHAND) submits a POLL on a signalfd and exits. Reaping it
 * frees that sighand and wakes the queue with POLLFREE: pwring must leave the
 * queue at once and for good, and the request must neither be lost nor touch
 * the freed queue (KASAN on the debug kernel).
 *
 * Written with kselftest_harness.h: every TEST runs in a child of its own.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "common.h"

#define STACK_SIZE (64 * 1024)

struct poller {
	ioring_t *ring;
	int fd;			/* /dev/pwring, raw: no workers, steps run in enter */
	int sfd, ready;		/* ready: a pipe's write end */
	uint64_t timeout, data;
};

/*
 * Runs in the clone: same memory and descriptors, its own signal handlers.
 * Only raw system calls from here: the clone shares the parent's TLS.
 */
static int poll_and_exit(void *arg)
{
	struct poller *p = arg;
	sqe_t sqe;

	sqe_prep_poll(&sqe, p->sfd, IO_POLL_READ, p->timeout, (void *)(uintptr_t)p->data);
	sqe_push(p->ring, &sqe);
	struct pwring_enter_args a = { .size = sizeof(a), .id = p->ring->id, .amount = 1 };

	if (syscall(SYS_ioctl, p->fd, PWRING_IOC_ENTER, &a) != 1)
		syscall(SYS_exit, 1);
	syscall(SYS_write, p->ready, "x", 1);
	syscall(SYS_exit, 0);
	return 0;
}

/* Starts the clone; returns its pid once its POLL is submitted (or -1). */
static pid_t start_poller(struct poller *p, void *stack)
{
	int fds[2];
	char c;
	pid_t pid;

	if (pipe(fds))
		return -1;
	p->ready = fds[1];
	pid = clone(poll_and_exit, (char *)stack + STACK_SIZE, CLONE_VM | CLONE_FILES | SIGCHLD, p);
	if (pid > 0 && read(fds[0], &c, 1) != 1)
		pid = -1;	/* its enter failed; still reaped by the caller */
	close(fds[0]);
	close(fds[1]);
	return pid;
}

/* Waits for one CQE (at most ~10 s); false if none came. */
static bool wait_cqe(int fd, ioring_t *ring, cqe_t *out)
{
	for (int i = 0; i < 1000; i++) {
		if (pop_cqes(ring, out, 1))
			return true;
		if (raw_enter(fd, ring->id, 0, 1) < 0 && errno != EINTR)
			return false;
		if (!pop_cqes(ring, out, 1))
			usleep(10000);
		else
			return true;
	}
	return false;
}

FIXTURE(pollfree) {
	ioring_t ring;
	struct poller p;
	void *stack;
};

FIXTURE_SETUP(pollfree)
{
	sigset_t usr1;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &usr1, NULL));
	self->p.fd = raw_open();
	ASSERT_LE(0, self->p.fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, RESULT(raw_setup(self->p.fd, &self->ring, NULL, 8, 8)));
	self->p.ring = &self->ring;
	self->p.sfd = signalfd(-1, &usr1, SFD_CLOEXEC | SFD_NONBLOCK);
	ASSERT_LE(0, self->p.sfd);
	self->stack = malloc(STACK_SIZE);
	ASSERT_NE(NULL, self->stack);
}

FIXTURE_TEARDOWN(pollfree)
{
	free(self->stack);
	close(self->p.fd);
}

/*
 * The queue goes, the request stays: it waits again where the ring's own
 * process polls it, so a SIGUSR1 for this process completes it, READ ready.
 */
TEST_F(pollfree, request_survives_its_queue)
{
	cqe_t cqe;
	int status;
	pid_t pid;

	self->p.timeout = 10000 * NSEC_PER_MSEC;
	self->p.data = 77;
	pid = start_poller(&self->p, self->stack);
	ASSERT_LT(0, pid);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));	/* frees its sighand: POLLFREE */
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(0U, pop_cqes(&self->ring, &cqe, 1));	/* nothing to report yet */
	ASSERT_EQ(0, kill(getpid(), SIGUSR1));
	ASSERT_TRUE(wait_cqe(self->p.fd, &self->ring, &cqe));
	EXPECT_EQ(77U, (uint64_t)(uintptr_t)cqe.data);
	EXPECT_EQ(0, cqe.error) TH_LOG("error %d", cqe.error);
	EXPECT_EQ(IO_POLL_READ, cqe._result & IO_POLL_READ);
	EXPECT_EQ(0, RESULT(raw_teardown(self->p.fd, self->ring.id)));
}

/*
 * POLLFREE against the request's own timeout, hundreds of times with the
 * reap landing before, on and after the deadline: one CQE each, the ring
 * always freed, and nothing of the freed queue touched.
 */
TEST_F(pollfree, races_the_timeout)
{
	int rounds = 300, ok = 0;

	for (int i = 0; i < rounds; i++) {
		cqe_t cqe;
		int status;
		pid_t pid;

		self->p.timeout = NSEC_PER_MSEC;
		self->p.data = 1000 + i;
		pid = start_poller(&self->p, self->stack);
		ASSERT_LT(0, pid);
		usleep((i * 37) % 1500);
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(wait_cqe(self->p.fd, &self->ring, &cqe)) TH_LOG("round %d: no CQE", i);
		ASSERT_EQ((uint64_t)(1000 + i), (uint64_t)(uintptr_t)cqe.data);
		/* Nobody sends a signal here: only the deadline can end it. */
		EXPECT_EQ(ETIMEDOUT, cqe.error) TH_LOG("round %d: error %d", i, cqe.error);
		ok += cqe.error == ETIMEDOUT;
	}
	EXPECT_EQ(rounds, ok);
	EXPECT_EQ(0, RESULT(raw_teardown(self->p.fd, self->ring.id)));
}

TEST_HARNESS_MAIN
