// SPDX-License-Identifier: MIT
/*
 * async_close: spec section 5, "nobody waits for someone else's I/O".
 *
 * Uses the test-only module stuckdev.ko (tests/stuckdev/), whose
 * /dev/pwring-stuck read(2) sleeps uninterruptibly until released; the test
 * loads it (stuckdev-<uname -r>.ko next to the program) and unloads it at
 * the end, and skips when it cannot.
 *
 * Asynchronous close: a READ of /dev/pwring-stuck goes to a worker and
 * sleeps there; close() of the ring's descriptor (its last reference)
 * returns at once all the same, and another user's ring works meanwhile (a
 * NOP timer round trip, a pipe READ that becomes ready). Once the reader is
 * released, the module's use count returns to its start (rmmod possible).
 *
 * Fatal signals win: a process whose READ sleeps killably in a worker
 * (stuckdev's `killable` parameter) is gone within 2 s of SIGKILL.
 *
 * No shared pool: user A (uid 1000) with 1024 READs asleep in
 * /dev/pwring-stuck does not delay user B (uid 1001): B's READ of a regular
 * file, a pipe READ and a pty READ that become ready, and a NOP timer all
 * complete within the slack.
 */
#include <pthread.h>
#include <sys/stat.h>

#include "iso.h"

#define CLOSE_BOUND_MS 200
#define A_READS 1024

static long long base_refcnt;
static char stuck_buf[4096];

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
	tap_ok(got == base, "%s: pwring refcnt back to %lld (rmmod possible)", what,
	       base);
	if (!TAP_LAST)
		tap_diag("refcnt is %lld after 5 s", got);
}

/* Submit one SQE on `ring`, wait for its CQE; ns taken in *took. */
static cqe_t timed1(ioring_t *ring, sqe_t *sqe, uint64_t *took)
{
	cqe_t c = { .op = 0xdead, .error = -1 };
	uint64_t t0 = now_ns();

	push_sqe(ring, sqe);
	if (!(ioring_enter(ring->id, 1, 1) == 1 && cqe_pop(ring, &c)))
		printf("# no CQE: %s\n", strerror(errno));
	*took = now_ns() - t0;
	return c;
}

/* A READ that parks on `rd`, then data written to `wr` 20 ms later: ns from the write to the CQE. */
static uint64_t parked_read(ioring_t *ring, int rd, int wr, const char *data, cqe_t *c)
{
	static char buf[256];
	uint64_t t0;
	sqe_t sqe;

	sqe_prep_read(&sqe, rd, buf, sizeof(buf), IO_OFF_CUR, CLOCKS_NEVER, ptr_of(7));
	push_sqe(ring, &sqe);
	c->op = 0xdead;
	c->error = -1;
	if (ioring_enter(ring->id, 1, 0) != 1)
		return ~0ull;
	sleep_ns(20 * MS);
	t0 = now_ns();
	if (write(wr, data, strlen(data)) != (ssize_t)strlen(data))
		return ~0ull;
	if (!wait_pop(ring, c, 1))
		return ~0ull;
	return now_ns() - t0;
}

static bool prompt(uint64_t took, uint64_t extra)
{
	return took <= extra + slack_ns();
}

/* Another user's ring: a NOP timer and a pipe READ, both prompt. */
static void other_user_child(void *arg)
{
	const char *who = arg;
	ioring_t ring;
	uint64_t took;
	sqe_t sqe;
	cqe_t c;
	int p[2];

	if (!drop_to(USER_B) || ioring_setup(&ring, NULL, 8, 8) == ERR) {
		rec_broken("dropping to uid 1001 or ring setup");
		return;
	}
	sqe_prep_nop(&sqe, 10 * MS, ptr_of(1));
	c = timed1(&ring, &sqe, &took);
	rec_ok(c.error == ETIMEDOUT && took >= 10 * MS && prompt(took, 10 * MS),
	       "%s: uid %d's 10 ms NOP timer round trip is prompt (%.1f ms)", who, USER_B,
	       took / 1e6);
	xpipe(p);
	took = parked_read(&ring, p[0], p[1], "b", &c);
	rec_ok(c.error == 0 && c._result == 1 && prompt(took, 0),
	       "%s: uid %d's pipe READ completes promptly once written (%.1f ms)", who, USER_B,
	       took / 1e6);
	if (!TAP_LAST)
		rec_diag("CQE error %s result %llu", tap_errname(c.error),
			 (unsigned long long)c._result);
}

/* uid 1000: a READ of /dev/pwring-stuck, then close the ring's descriptor, timed. */
static void closer_child(void *arg)
{
	ioring_t ring;
	uint64_t t0;
	sqe_t sqe;
	int sfd, dfd;

	(void)arg;
	if (!drop_to(USER_A) || ioring_setup(&ring, NULL, 4, 4) == ERR) {
		printf("# closer: dropping to uid 1000 or ring setup: %s\n", strerror(errno));
		return;
	}
	sfd = xopen(STUCK_PATH, O_RDONLY, 0);
	sqe_prep_read(&sqe, sfd, stuck_buf, sizeof(stuck_buf), IO_OFF_CUR, CLOCKS_NEVER,
		      ptr_of(1));
	push_sqe(&ring, &sqe);
	if (ioring_enter(ring.id, 1, 0) != 1) {
		printf("# closer: enter: %s\n", strerror(errno));
		return;
	}
	close(sfd);
	recs->flag[0] = 1;
	wait_flag(1, 10000);
	dfd = lib_dev_fd();
	t0 = now_ns();
	close(dfd);
	recs->val[0] = (int64_t)(now_ns() - t0);
	recs->flag[2] = 1;
}

static void test_async_close(void)
{
	const char *what = "async close";
	long long base = pwring_refcnt(), n;
	pid_t closer, other;
	int s1, s2;

	stuck_arm();
	recs_reset();
	closer = spawn(closer_child, NULL);
	wait_flag(0, 10000);
	n = stuck_wait_sleeping(1, 5000);
	tap_ok(n == 1, "%s: uid %d's READ of %s sleeps (uninterruptibly) in a worker", what,
	       USER_A, STUCK_PATH);
	if (!TAP_LAST)
		tap_diag("%lld readers asleep", n);
	recs->flag[1] = 1;
	sleep_ns(20 * MS);
	other = spawn(other_user_child, (void *)what);
	wait_flag(2, 3000);
	tap_ok(recs->flag[2] && recs->val[0] <= (int64_t)CLOSE_BOUND_MS * (int64_t)MS,
	       "%s: close() of the ring's last descriptor returns within %d ms while its READ "
	       "sleeps (%.1f ms)", what, CLOSE_BOUND_MS,
	       recs->flag[2] ? recs->val[0] / 1e6 : -1.0);
	if (!recs->flag[2])
		tap_diag("close() has not returned after 3 s");
	s2 = wait_child(other, 20000);
	recs_emit(2, "other user", s2);
	stuck_release();
	s1 = wait_child(closer, 20000);
	if (s1 == -1 || !WIFEXITED(s1))
		tap_diag("the closing process ended with status %#x", s1);
	n = stuck_sleeping();
	for (int i = 0; i < 150 && n > 0; i++) {
		sleep_ns(20 * MS);
		n = stuck_sleeping();
	}
	if (n)
		tap_diag("%lld readers still asleep after release", n);
	expect_refcnt("async close, after the stuck READ is released", base);
}

/* uid 1000: a READ of /dev/pwring-stuck (killable sleep), then wait to be killed. */
static void killable_child(void *arg)
{
	ioring_t ring;
	sqe_t sqe;
	int sfd;

	(void)arg;
	if (!drop_to(USER_A) || ioring_setup(&ring, NULL, 4, 4) == ERR) {
		printf("# killable: dropping to uid 1000 or ring setup: %s\n", strerror(errno));
		return;
	}
	sfd = xopen(STUCK_PATH, O_RDONLY, 0);
	sqe_prep_read(&sqe, sfd, stuck_buf, sizeof(stuck_buf), IO_OFF_CUR, CLOCKS_NEVER,
		      ptr_of(1));
	push_sqe(&ring, &sqe);
	if (ioring_enter(ring.id, 1, 0) != 1) {
		printf("# killable: enter: %s\n", strerror(errno));
		return;
	}
	recs->flag[0] = 1;
	ioring_enter(ring.id, 0, 1);
}

static void test_killable(void)
{
	long long base = pwring_refcnt(), n;
	uint64_t t0, took;
	int status = 0;
	pid_t pid;

	if (write_str(STUCK_PARAMS "killable", "1") < 0)
		tap_diag("cannot set killable: %s", strerror(errno));
	stuck_arm();
	recs_reset();
	pid = spawn(killable_child, NULL);
	wait_flag(0, 10000);
	n = stuck_wait_sleeping(1, 5000);
	if (n != 1)
		tap_diag("%lld readers asleep", n);
	t0 = now_ns();
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, WNOHANG) == 0 && now_ns() - t0 < 5000 * MS)
		sleep_ns(MS);
	took = now_ns() - t0;
	tap_ok(n == 1 && took <= 2000 * MS,
	       "killable sleep: uid %d SIGKILLed while its READ sleeps killably in a worker is "
	       "gone within 2 s (%.0f ms)", USER_A, took / 1e6);
	stuck_release();
	wait_child(pid, 20000);
	write_str(STUCK_PARAMS "killable", "0");
	expect_refcnt("killable sleep, after release", base);
}

#define B_FILE "/tmp/pwring-userb"

/* uid 1000: 1024 READs asleep in /dev/pwring-stuck until released. */
static void user_a_child(void *arg)
{
	cqe_t *cqes = calloc(A_READS, sizeof(*cqes));
	uint64_t r;
	ioring_t ring;
	sqe_t sqe;
	int sfd, i, good = 0;
	size_t got = 0;

	(void)arg;
	if (!cqes || !drop_to(USER_A) || ioring_setup(&ring, NULL, 2 * A_READS, 2 * A_READS) == ERR) {
		rec_broken("user A: dropping to uid 1000 or ring setup");
		recs->flag[0] = 1;
		return;
	}
	sfd = xopen(STUCK_PATH, O_RDONLY, 0);
	for (i = 0; i < A_READS; i++) {
		sqe_prep_read(&sqe, sfd, stuck_buf, sizeof(stuck_buf), IO_OFF_CUR, CLOCKS_NEVER,
			      ptr_of(i + 1));
		push_sqe(&ring, &sqe);
	}
	r = ioring_enter(ring.id, A_READS, 0);
	rec_ok(r == A_READS, "no shared pool: uid %d submits %d READs of %s", USER_A, A_READS,
	       STUCK_PATH);
	if (!TAP_LAST)
		rec_diag("enter returned %lld (%s)", (long long)r, strerror(errno));
	recs->flag[0] = 1;
	wait_flag(1, 30000);
	while (got < A_READS && ioring_enter(ring.id, 0, A_READS - got) != ERR)
		got += pop_cqes(&ring, cqes + got, A_READS - got);
	for (i = 0; i < (int)got; i++)
		good += cqes[i].error == 0 && cqes[i]._result == 0;
	rec_ok(good == A_READS, "no shared pool: all %d of uid %d's READs end (EOF) once released",
	       A_READS, USER_A);
	if (!TAP_LAST)
		rec_diag("%d good of %zu CQEs", good, got);
}

/* uid 1001 while uid 1000 is stuck: a file READ, a pipe READ, a pty READ, a NOP timer. */
static void user_b_child(void *arg)
{
	const char *who = "no shared pool";
	static char buf[65536];
	ioring_t ring;
	uint64_t took;
	sqe_t sqe;
	cqe_t c;
	int fd, p[2], master, slave;

	(void)arg;
	if (!drop_to(USER_B) || ioring_setup(&ring, NULL, 8, 8) == ERR) {
		rec_broken("dropping to uid 1001 or ring setup");
		return;
	}
	fd = xopen(B_FILE, O_RDONLY, 0);
	sqe_prep_read(&sqe, fd, buf, sizeof(buf), 0, CLOCKS_NEVER, ptr_of(1));
	c = timed1(&ring, &sqe, &took);
	rec_ok(c.error == 0 && c._result == sizeof(buf) && prompt(took, 0),
	       "%s: uid %d's READ of 64 KiB of a regular file is prompt (%.1f ms)", who, USER_B,
	       took / 1e6);
	xpipe(p);
	took = parked_read(&ring, p[0], p[1], "b", &c);
	rec_ok(c.error == 0 && c._result == 1 && prompt(took, 0),
	       "%s: uid %d's pipe READ completes promptly once written (%.1f ms)", who, USER_B,
	       took / 1e6);
	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
	    (slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0) {
		rec_skip("no pty", "%s: uid %d's pty READ", who, USER_B);
	} else {
		took = parked_read(&ring, slave, master, "pty\n", &c);
		rec_ok(c.error == 0 && c._result == 4 && prompt(took, 0),
		       "%s: uid %d's pty READ (a worker's job) completes promptly once written "
		       "(%.1f ms)", who, USER_B, took / 1e6);
		if (!TAP_LAST)
			rec_diag("CQE error %s result %llu", tap_errname(c.error),
				 (unsigned long long)c._result);
	}
	sqe_prep_nop(&sqe, 10 * MS, ptr_of(2));
	c = timed1(&ring, &sqe, &took);
	rec_ok(c.error == ETIMEDOUT && took >= 10 * MS && prompt(took, 10 * MS),
	       "%s: uid %d's 10 ms NOP timer round trip is prompt (%.1f ms)", who, USER_B,
	       took / 1e6);
}

static void test_no_shared_pool(void)
{
	static char data[65536];
	pid_t a, b;
	long long base = pwring_refcnt(), n, prev = -1;
	int fd, sa, sb;
	uint64_t end;

	memset(data, 'f', sizeof(data));
	fd = xopen(B_FILE, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (write(fd, data, sizeof(data)) != sizeof(data))
		tap_bail("write %s: %s", B_FILE, strerror(errno));
	close(fd);
	stuck_arm();
	recs_reset();
	a = spawn(user_a_child, NULL);
	wait_flag(0, 20000);
	/*
	 * Let the sleepers pile up: until all are asleep or the count stops
	 * growing for 2 s (a loaded debug guest spawns a thousand workers in
	 * fits and starts).
	 */
	end = now_ns() + 30000 * MS;
	for (;;) {
		n = stuck_wait_sleeping(A_READS, 2000);
		if (n >= A_READS || n == prev || now_ns() > end)
			break;
		prev = n;
	}
	tap_ok(n >= 1000, "no shared pool: uid %d has %lld READs asleep in %s (>= 1000)", USER_A, n,
	       STUCK_PATH);
	b = spawn(user_b_child, NULL);
	/* B should be done at once; if A's sleepers hold it up, release them after 10 s. */
	sb = wait_child_for(b, 10000);
	if (sb == -2)
		tap_diag("uid %d's requests are still not done after 10 s: releasing uid %d's",
			 USER_B, USER_A);
	recs->flag[1] = 1;
	stuck_release();
	if (sb == -2)
		sb = wait_child(b, 30000);
	sa = wait_child(a, 60000);
	/* A's two lines, B's four, in whichever order they were recorded. */
	recs_emit(6, "users A and B", sa != -1 && sb != -1 ? sa | sb : -1);
	unlink(B_FILE);
	expect_refcnt("no shared pool, after release", base);
}

int main(void)
{
	char reason[2 * PATH_MAX];
	int i;

	io_init();
	recs_init();
	base_refcnt = pwring_refcnt();
	tap_plan(5 + 2 + 8);
	if (base_refcnt < 0 || !stuck_load(reason, sizeof(reason))) {
		if (base_refcnt < 0)
			snprintf(reason, sizeof(reason), "no %s", PWRING_REFCNT);
		for (i = 0; i < 15; i++)
			tap_skip(reason, "async_close case %d", i + 1);
		return tap_done();
	}
	section("async close", 60);
	test_async_close();
	section("killable sleep", 60);
	test_killable();
	section("no shared pool", 150);
	test_no_shared_pool();
	section("unloading stuckdev", 30);
	stuck_unload();
	alarm(0);
	return tap_done();
}
