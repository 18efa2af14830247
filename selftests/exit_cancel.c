// SPDX-License-Identifier: MIT
/*
 * exit_cancel: spec section 5, "exit cancels" and "fatal signals win".
 *
 * When the owner of a ring exits or execs, every request it submitted is
 * cancelled and every ring freed, whatever else still holds the device file:
 * a POLL on the ring's own descriptor, the descriptor in flight in a unix
 * socket nobody receives from (with a READ parked on that socket pair), a
 * child holding a copy, a copy kept across exec. Each case parks a READ on a
 * pipe whose only other reader is gone: when the request is cancelled and
 * drops its reference, the write end polls POLLERR. The module's use count
 * (/sys/module/pwring/refcnt) returns to its start once the processes (and
 * the socket holding the file) are gone.
 *
 * A process SIGKILLed 100 ms into one enter of 4096 READs of 1 MiB from
 * /dev/zero is gone within 2 s.
 */
#include <sys/prctl.h>

#include "iso.h"

static long long base_refcnt;

/* Wait up to `ms` until poll(2) on fd reports one of `want`; the revents seen last. */
static int wait_revents(int fd, short events, short want, int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * MS;
	int r;

	for (;;) {
		r = poll_one(fd, events, 20);
		if ((r & want) || now_ns() > end)
			return r;
		sleep_ns(20 * MS);
	}
}

/* The write end of a pipe whose reader(s) are gone polls POLLERR. */
static bool reader_gone(int wr, int ms)
{
	return wait_revents(wr, POLLOUT, POLLERR, ms) & POLLERR;
}

static void wait_flag(int i, unsigned int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * MS;

	while (!recs->flag[i] && now_ns() < end)
		sleep_ns(5 * MS);
}

/* The use count must come back to `base`, taken when the case began. */
static void expect_refcnt(const char *what, long long base)
{
	long long got = refcnt_settle(base, 5000);

	if (base != base_refcnt)
		tap_diag("refcnt was %lld when the program started, %lld when this case began "
			 "(an earlier case leaked)", base_refcnt, base);
	tap_ok(got == base, "%s: pwring refcnt back to %lld", what, base);
	if (!TAP_LAST)
		tap_diag("refcnt is %lld after 5 s", got);
}

/* Park a READ on fd (no timeout) and a POLL for HUP on the ring's own file. */
struct park {
	int pipe_rd;		/* READ parked here */
	bool use_sock;		/* READ parked on a socket pair, device file sent over it */
	int sock;
	bool poll_self;		/* POLL on the ring's own descriptor */
	int keep_copy;		/* 1: raw child holds a copy; 2: copy kept across exec */
	bool exec;		/* exec ourselves with --idle afterwards */
};

static char read_buf[3][4096];

static void park_child(void *arg)
{
	struct park *pk = arg;
	int dfd, n = 0, copy;
	ioring_t ring;
	sqe_t sqe;
	pid_t b;

	if (ioring_setup(&ring, NULL, 8, 8) == ERR || (dfd = lib_dev_fd()) < 0) {
		printf("# ring setup: %s\n", strerror(errno));
		return;
	}
	sqe_prep_read(&sqe, pk->pipe_rd, read_buf[0], sizeof(read_buf[0]), IO_OFF_CUR,
		      CLOCKS_NEVER, ptr_of(1));
	push_sqe(&ring, &sqe);
	n++;
	if (pk->poll_self) {
		sqe_prep_poll(&sqe, dfd, IO_POLL_HUP, CLOCKS_NEVER, ptr_of(2));
		push_sqe(&ring, &sqe);
		n++;
	}
	if (pk->sock >= 0) {
		sqe_prep_read(&sqe, pk->sock, read_buf[1], sizeof(read_buf[1]), IO_OFF_CUR,
			      CLOCKS_NEVER, ptr_of(3));
		push_sqe(&ring, &sqe);
		n++;
	}
	if (ioring_enter(ring.id, n, 0) != (uint64_t)n) {
		printf("# enter: %s\n", strerror(errno));
		return;
	}
	sleep_ns(50 * MS);
	if (ioring_cq_ready(&ring))
		printf("# note: %zu request(s) completed instead of parking\n",
		       ioring_cq_ready(&ring));
	if (pk->sock >= 0 && send_fd(pk->sock, dfd) < 0)
		printf("# sending the device descriptor: %s\n", strerror(errno));
	if (pk->keep_copy == 1) {
		copy = dup(dfd);
		fflush(NULL);
		b = fork();
		if (b == 0) {
			close(pk->pipe_rd);
			alarm(30);
			for (;;)
				pause();
		}
		recs->val[0] = b;
		(void)copy;
	}
	if (pk->keep_copy == 2 && fcntl(dfd, F_DUPFD, 100) < 0)
		printf("# F_DUPFD: %s\n", strerror(errno));
	recs->flag[0] = 1;
	if (pk->exec) {
		fflush(NULL);
		execl("/proc/self/exe", "exit_cancel_test", "--idle", (char *)NULL);
		printf("# exec: %s\n", strerror(errno));
	}
}

static void test_exit(struct park *pk, const char *what)
{
	int p[2], sv[2] = { -1, -1 };
	long long base = pwring_refcnt();
	bool gone, hup = false;
	pid_t pid;
	int st;

	xpipe(p);
	pk->pipe_rd = p[0];
	pk->sock = -1;
	if (pk->use_sock) {
		xsocketpair(sv);
		pk->sock = sv[1];
	}
	recs_reset();
	pid = spawn(park_child, pk);
	close(p[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	wait_flag(0, 10000);
	if (!pk->exec)
		wait_child(pid, 10000);
	gone = reader_gone(p[1], 3000);
	tap_ok(gone, "%s: the owner's parked pipe READ is cancelled (its writer sees no reader)",
	       what);
	if (sv[0] >= 0) {
		hup = wait_revents(sv[0], POLLIN | POLLRDHUP, POLLHUP | POLLRDHUP, 3000) &
		      (POLLHUP | POLLRDHUP);
		tap_ok(hup, "%s: the READ parked on the socket pair dropped its socket (peer hangs up)",
		       what);
		close(sv[0]);
	}
	if (pk->keep_copy == 1 && recs->val[0] > 0) {
		kill((pid_t)recs->val[0], SIGKILL);
		waitpid((pid_t)recs->val[0], &st, 0);
	}
	if (pk->exec) {
		kill(pid, SIGKILL);
		wait_child(pid, 10000);
	}
	close(p[1]);
	expect_refcnt(what, base);
}

/* ---- Fatal signals ------------------------------------------------------------------------- */

#define ZERO_READS 4096
#define ZERO_LEN (1ul << 20)

static void zero_child(void *arg)
{
	char *buf = xmap(ZERO_LEN, PROT_READ | PROT_WRITE);
	int zero = xopen("/dev/zero", O_RDONLY, 0), i;
	ioring_t ring;
	sqe_t sqe;

	(void)arg;
	if (ioring_setup(&ring, NULL, ZERO_READS, ZERO_READS) == ERR) {
		printf("# setup of a 4096-entry ring: %s\n", strerror(errno));
		return;
	}
	for (i = 0; i < ZERO_READS; i++) {
		sqe_prep_read(&sqe, zero, buf, ZERO_LEN, 0, CLOCKS_NEVER, ptr_of(i + 1));
		push_sqe(&ring, &sqe);
	}
	recs->val[0] = (int64_t)now_ns();
	recs->flag[0] = 1;
	ioring_enter(ring.id, ZERO_READS, 0);
	recs->flag[1] = 1;
}

static void test_fatal(void)
{
	long long base = pwring_refcnt();
	uint64_t t0, took;
	int status;
	pid_t pid;

	recs_reset();
	pid = spawn(zero_child, NULL);
	wait_flag(0, 10000);
	sleep_ns(100 * MS);
	if (recs->flag[1])
		tap_diag("the enter finished within 100 ms: nothing to interrupt");
	t0 = now_ns();
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, WNOHANG) == 0 && now_ns() - t0 < 60000 * MS)
		sleep_ns(MS);
	took = now_ns() - t0;
	tap_ok(took <= 2000 * MS,
	       "fatal signal: SIGKILL 100 ms into an enter of 4096 x 1 MiB READs of /dev/zero: "
	       "gone within 2 s (%.0f ms)", took / 1e6);
	if (took >= 60000 * MS)
		tap_diag("still not gone after 60 s");
	expect_refcnt("fatal signal", base);
}

int main(int argc, char **argv)
{
	struct park own_poll = { .poll_self = true };
	struct park sock = { .use_sock = true };
	struct park copy = { .keep_copy = 1 };
	struct park exec_cloexec = { .exec = true };
	struct park exec_keep = { .exec = true, .keep_copy = 2 };

	if (argc > 1 && !strcmp(argv[1], "--idle")) {
		/* The image an exec test runs: wait to be killed. */
		alarm(30);
		for (;;)
			pause();
	}
	io_init();
	recs_init();
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	base_refcnt = pwring_refcnt();
	if (base_refcnt < 0)
		tap_skip_all("no " PWRING_REFCNT);
	tap_plan(2 + 3 + 2 + 2 + 2 + 2);

	section("exit: POLL on the ring's own descriptor", 30);
	test_exit(&own_poll, "exit with a POLL on the ring's own descriptor");
	section("exit: device file in flight in a unix socket", 30);
	test_exit(&sock, "exit with the device file in flight in a unix socket");
	section("exit: a child holds a copy", 30);
	test_exit(&copy, "exit while a child holds a copy of the device descriptor");
	section("exec: close-on-exec descriptor", 30);
	test_exit(&exec_cloexec, "exec (device descriptor close-on-exec)");
	section("exec: descriptor kept across exec", 30);
	test_exit(&exec_keep, "exec (a copy of the device descriptor kept across exec)");
	section("fatal signal", 90);
	test_fatal();
	alarm(0);
	return tap_done();
}
