// SPDX-License-Identifier: MIT
/*
 * enter: ioring_enter() - ids and flags, consuming up to `amount` SQEs in
 * order, waiting for `wait` CQEs (also with amount 0), returning at once when
 * the wait can never be satisfied, and signals during the wait.
 */
#include <sys/time.h>

#include "common.h"

static void on_signal(int sig)
{
	(void)sig;
}

static void arm_alarm(uint64_t ms)
{
	struct itimerval it = { .it_value = { .tv_sec = (time_t)(ms / 1000),
					      .tv_usec = (suseconds_t)(ms % 1000) * 1000 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

static ioring_t setup_or_bail(size_t s, size_t c)
{
	ioring_t ring;

	if (ioring_setup(&ring, NULL, s, c) == ERR)
		tap_bail("ioring_setup(%zu, %zu): %s", s, c, strerror(errno));
	return ring;
}

/* 4 tests */
static void test_bad_ids(void)
{
	EXPECT_ERRNO(ioring_enter(0, 1, 0), EINVAL, "ring 0 before any setup -> EINVAL");
	EXPECT_ERRNO(ioring_enter(8, 1, 0), EINVAL, "id 8 -> EINVAL");
	EXPECT_ERRNO(ioring_enter(UINT64_MAX, 1, 0), EINVAL, "id UINT64_MAX -> EINVAL");
	EXPECT_ERRNO(ioring_enter(1ULL << 32, 0, 0), EINVAL, "id 2^32 -> EINVAL");
}

/* 1 test */
static void test_raw_flags(void)
{
	struct pwring_enter_args args;
	ioring_t ring;
	int fd = raw_open();

	if (fd < 0 || raw_setup(fd, &ring, NULL, 4, 4) < 0)
		tap_bail("raw setup: %s", strerror(errno));
	memset(&args, 0, sizeof(args));
	args.size = sizeof(args);
	args.flags = 1;
	args.id = ring.id;
	EXPECT_ERRNO(ioctl(fd, PWRING_IOC_ENTER, &args), EINVAL, "enter args.flags 1 -> EINVAL");
	close(fd);
}

/* 14 tests */
static void test_consume(ioring_t *ring)
{
	cqe_t cqes[4];
	int seen = 0;
	size_t i;

	EXPECT_EQ(ioring_enter(ring->id, 4, 0), 0, "empty SQ: enter(4, 0) consumes 0");
	EXPECT_EQ(ioring_enter(ring->id, 0, 0), 0, "enter(0, 0) returns 0");

	for (i = 1; i <= 3; i++)
		push_nop(ring, 0, i);
	EXPECT_EQ(ioring_enter(ring->id, 2, 0), 2, "3 queued: enter(2, 0) consumes 2");
	tap_ok(ring->ctrl->shead == 2, "shead = 2 (is %u)", (unsigned int)ring->ctrl->shead);
	EXPECT_EQ(ioring_enter(ring->id, 5, 0), 1, "enter(5, 0) stops at the empty SQ: 1");
	tap_ok(ring->ctrl->shead == 3, "shead = 3 (is %u)", (unsigned int)ring->ctrl->shead);
	tap_ok(wait_pop(ring, cqes, 3), "3 CQEs arrive");
	for (i = 0; i < 3; i++)
		if (cqes[i].error == ETIMEDOUT && cqes[i].op == IO_OP_NOP && cqe_data(&cqes[i]) >= 1 &&
		    cqe_data(&cqes[i]) <= 3)
			seen |= 1 << cqe_data(&cqes[i]);
	tap_ok(seen == 0xe, "one ETIMEDOUT CQE for each of data 1, 2, 3");

	for (i = 0; i < ring->sentries; i++)
		push_nop(ring, 0, 10 + i);
	tap_ok(!push_nop(ring, 0, 99) && ioring_sq_space(ring) == 0,
	       "sqe_push refuses a 5th SQE into a 4-entry SQ");
	EXPECT_EQ(ioring_enter(ring->id, 4, 4), 4, "the 4 are consumed and complete");
	tap_ok(pop_cqes(ring, cqes, 4) == 4 && !cqe_pop(ring, &cqes[0]),
	       "cqe_pop takes 4 CQEs, then reports the CQ empty");

	push_nop(ring, 0, 4);
	EXPECT_EQ(ioring_enter(ring->id, 1, 1), 1, "enter(1, 1) consumes 1");
	tap_ok(ioring_cq_ready(ring) >= 1, "and returns with the CQE ready");
	tap_ok(pop_cqes(ring, cqes, 4) == 1 && cqe_data(&cqes[0]) == 4, "the CQE is data 4's");
}

/* 4 tests */
static void test_wait_only(ioring_t *ring)
{
	uint64_t t0 = now_ns();
	cqe_t cqe;

	push_nop(ring, 100 * NSEC_PER_MSEC, 6);
	EXPECT_EQ(ioring_enter(ring->id, 1, 0), 1, "submit a 100 ms NOP without waiting");
	EXPECT_EQ(ioring_enter(ring->id, 0, 1), 0, "enter(0, 1) waits and consumes nothing");
	expect_time(now_ns() - t0, 100 * NSEC_PER_MSEC, "enter(0, 1) returned");
	tap_ok(cqe_pop(ring, &cqe) && cqe.error == ETIMEDOUT && cqe_data(&cqe) == 6,
	       "the 100 ms NOP's CQE is there");
}

/* 8 tests */
static void test_unsatisfiable(ioring_t *ring)
{
	uint64_t t0;
	cqe_t cqe;

	EXPECT_ERRNO(ioring_enter(ring->id, 0, 1), EBUSY,
		     "nothing in flight, nothing to reap: enter(0, 1) -> EBUSY");
	EXPECT_ERRNO(ioring_enter(ring->id, 0, 100), EBUSY, "enter(0, 100) -> EBUSY");

	push_nop(ring, 0, 7);
	EXPECT_EQ(ioring_enter(ring->id, 1, 1), 1, "one CQE left unreaped");
	EXPECT_ERRNO(ioring_enter(ring->id, 0, 2), EBUSY, "enter(0, 2) with 1 CQE, 0 in flight -> EBUSY");
	EXPECT_EQ(ioring_enter(ring->id, 0, 1), 0, "enter(0, 1) with 1 CQE ready returns 0");
	cqe_pop(ring, &cqe);

	push_nop(ring, IORING_NSEC_PER_SEC, 8);
	t0 = now_ns();
	EXPECT_EQ(ioring_enter(ring->id, 1, 2), 1,
		  "a 1 s NOP with wait 2 (can never be met): consumed 1, returned at once");
	tap_ok(ioring_cq_ready(ring) == 0, "it did not wait for the NOP (%.3f ms in enter)",
	       (now_ns() - t0) / 1e6);
	tap_ok(wait_pop(ring, &cqe, 1) && cqe_data(&cqe) == 8 && cqe.error == ETIMEDOUT,
	       "the NOP completes later");
}

/* 5 tests, on a private descriptor (CLOCKS_NEVER NOPs are cancelled by close) */
static void test_signals(void)
{
	struct sigaction sa;
	ioring_t ring;
	int fd = raw_open(), ret, err;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	if (fd < 0 || raw_setup(fd, &ring, NULL, 4, 4) < 0)
		tap_bail("raw setup: %s", strerror(errno));

	push_nop(&ring, CLOCKS_NEVER, 1);
	EXPECT_EQ(raw_enter(fd, ring.id, 1, 0), 1, "submit a NOP that never times out");
	arm_alarm(200);
	ret = raw_enter(fd, ring.id, 0, 1);
	err = errno;
	tap_ok(ret == -1 && err == EINTR, "a signal ends enter(0, 1) with EINTR");
	if (!TAP_LAST)
		tap_diag("got %d, errno %s", ret, tap_errname(err));

	push_nop(&ring, CLOCKS_NEVER, 2);
	arm_alarm(200);
	EXPECT_EQ(raw_enter(fd, ring.id, 1, 1), 1,
		  "a signal ends enter(1, 1) after consuming 1: returns 1");
	tap_ok(ring.ctrl->ctail == 0, "nothing completed");
	tap_ok(ring.ctrl->shead == 2, "both NOPs were consumed");
	close(fd);
	signal(SIGALRM, SIG_DFL);
}

int main(void)
{
	ioring_t ring;

	require_device();
	tap_plan(4 + 1 + 1 + 14 + 4 + 8 + 5 + 1);
	test_bad_ids();
	test_raw_flags();
	ring = setup_or_bail(4, 8);
	EXPECT_ERRNO(ioring_enter(ring.id + 1, 1, 0), EINVAL, "a slot not set up -> EINVAL");
	test_consume(&ring);
	test_wait_only(&ring);
	test_unsatisfiable(&ring);
	test_signals();
	EXPECT_EQ(ioring_teardown(ring.id), 0, "teardown");
	return tap_done();
}
