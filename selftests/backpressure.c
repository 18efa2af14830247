// SPDX-License-Identifier: MIT
/*
 * backpressure: the completion queue never overflows and nothing is lost. A
 * request is admitted only while requests in flight plus unreaped CQEs stay
 * below centries; otherwise enter stops consuming and returns the count so
 * far, or EBUSY when it consumed nothing and has nothing to wait for. A
 * hostile chead hurts only its own process.
 */
#include "common.h"

static ioring_t setup_or_bail(size_t s, size_t c)
{
	ioring_t ring;

	if (ioring_setup(&ring, NULL, s, c) == ERR)
		tap_bail("ioring_setup(%zu, %zu): %s", s, c, strerror(errno));
	return ring;
}

/* Pop everything; mark data in seen[]; count bad CQEs. */
static size_t reap(ioring_t *ring, unsigned int *seen, size_t nseen, size_t *bad)
{
	size_t n = 0;
	cqe_t cqe;

	while (cqe_pop(ring, &cqe)) {
		n++;
		if (cqe.error != ETIMEDOUT || cqe.op != IO_OP_NOP || cqe_data(&cqe) >= nseen)
			(*bad)++;
		else
			seen[cqe_data(&cqe)]++;
	}
	return n;
}

static bool each_once(const unsigned int *seen, size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to; i++)
		if (seen[i] != 1)
			return false;
	return true;
}

/* centries 4: 8 NOPs go in 4 at a time. 16 tests */
static void cq_full(void)
{
	ioring_t ring = setup_or_bail(8, 4);
	unsigned int seen[8] = { 0 };
	size_t bad = 0, i;
	cqe_t one;

	for (i = 0; i < 8; i++)
		push_nop(&ring, 0, i);
	EXPECT_EQ(ioring_enter(ring.id, 8, 0), 4, "centries 4, 8 NOPs queued: enter consumes 4");
	tap_ok(ring.ctrl->shead == 4, "shead = 4 (is %u)", (unsigned int)ring.ctrl->shead);
	EXPECT_EQ(ioring_enter(ring.id, 0, 4), 0, "the 4 CQEs arrive");
	EXPECT_ERRNO(ioring_enter(ring.id, 8, 0), EBUSY, "CQ full, wait 0: enter -> EBUSY");
	tap_ok(ring.ctrl->shead == 4, "nothing was consumed");
	EXPECT_EQ(ioring_enter(ring.id, 8, 1), 0,
		  "CQ full, wait 1: consumes nothing, the wait is already met: 0");
	EXPECT_ERRNO(ioring_enter(ring.id, 8, 5), EBUSY,
		     "CQ full, wait 5 (more than can ever come): EBUSY");
	tap_ok(ring.ctrl->ctail == 4, "no CQE was overwritten or added (ctail = %u)",
	       (unsigned int)ring.ctrl->ctail);
	tap_ok(reap(&ring, seen, 8, &bad) == 4 && each_once(seen, 0, 4) && !bad,
	       "reaped data 0..3, each once, ETIMEDOUT");

	push_nop(&ring, 0, 100); /* queued behind the 4 not yet consumed */
	EXPECT_EQ(ioring_enter(ring.id, 8, 4), 4, "after reaping, enter consumes the other 4");
	tap_ok(reap(&ring, seen, 8, &bad) == 4 && each_once(seen, 0, 8) && !bad,
	       "reaped data 4..7: every CQE accounted for, each once");
	EXPECT_EQ(ioring_enter(ring.id, 1, 1), 1, "a 9th NOP goes in");
	tap_ok(cqe_pop(&ring, &one) && cqe_data(&one) == 100 && one.error == ETIMEDOUT,
	       "and completes");
	tap_ok(ring.ctrl->ctail == 9 && ring.ctrl->shead == 9, "ctail = shead = 9");

	/* Partial admission with an unsatisfiable wait returns at once. */
	for (i = 0; i < 8; i++)
		push_nop(&ring, 0, i);
	EXPECT_EQ(ioring_enter(ring.id, 8, 8), 4,
		  "enter(8, 8) on centries 4: consumes 4, returns without waiting for 8");
	ioring_enter(ring.id, 0, 4);
	memset(seen, 0, sizeof(seen));
	reap(&ring, seen, 8, &bad);
	ioring_enter(ring.id, 8, 4);
	reap(&ring, seen, 8, &bad);
	tap_ok(each_once(seen, 0, 8) && !bad, "second round: every CQE accounted for, each once");
	if (ioring_teardown(ring.id) == ERR)
		tap_bail("teardown: %s", strerror(errno));
}

/* Requests in flight hold CQE slots too. 6 tests */
static void in_flight(void)
{
	ioring_t ring = setup_or_bail(4, 2);
	unsigned int seen[3] = { 0 };
	size_t bad = 0, i;

	for (i = 0; i < 3; i++)
		push_nop(&ring, 300 * NSEC_PER_MSEC, i);
	EXPECT_EQ(ioring_enter(ring.id, 3, 0), 2, "centries 2, three 300 ms NOPs: 2 admitted");
	EXPECT_ERRNO(ioring_enter(ring.id, 3, 0), EBUSY, "the third waits: EBUSY");
	EXPECT_ERRNO(ioring_enter(ring.id, 3, 3), EBUSY,
		     "wait 3 with only 2 in flight can never be met: EBUSY");
	EXPECT_EQ(ioring_enter(ring.id, 3, 2), 0, "enter(3, 2) waits for the 2 in flight");
	reap(&ring, seen, 3, &bad);
	EXPECT_EQ(ioring_enter(ring.id, 3, 1), 1, "after reaping, the third is admitted");
	reap(&ring, seen, 3, &bad);
	tap_ok(each_once(seen, 0, 3) && !bad, "all three CQEs accounted for");
	if (ioring_teardown(ring.id) == ERR)
		tap_bail("teardown: %s", strerror(errno));
}

/* Let everything in flight finish; make the user indices consistent again. */
static bool repair(ioring_t *ring)
{
	int n = 0;
	bool ok;

	ring->ctrl->stail = ring->ctrl->shead;
	do {
		sleep_ns(50 * NSEC_PER_MSEC);
		ring->ctrl->chead = ring->ctrl->ctail;
		/* Nothing can be admitted while requests are still in flight. */
	} while (!(ok = ioring_teardown(ring->id) == 0) && errno == EBUSY && ++n < 100);
	return ok;
}

/* Indices the kernel never wrote. 4 tests */
static void hostile_indices(void)
{
	ioring_t ring = setup_or_bail(4, 4);
	uint64_t ret;
	cqe_t cqe;
	bool torn_down;

	push_nop(&ring, 0, 1);
	ioring_enter(ring.id, 1, 1);
	cqe_pop(&ring, &cqe);

	ring.ctrl->chead = ring.ctrl->ctail + 1000; /* "-1000 CQEs unreaped" */
	push_nop(&ring, 0, 2);
	ret = ioring_enter(ring.id, 1, 0);
	tap_ok(1, "enter with chead ahead of ctail returns (%lld, %s)", (long long)ret,
	       ret == ERR ? tap_errname(errno) : "ok");
	ring.ctrl->chead = ring.ctrl->ctail - 3;
	ret = ioring_enter(ring.id, 1, 0);
	tap_ok(1, "enter with chead behind ctail returns (%lld, %s)", (long long)ret,
	       ret == ERR ? tap_errname(errno) : "ok");
	torn_down = repair(&ring);

	/* A stail far ahead of shead, with room in the CQ. */
	ring = setup_or_bail(4, 4);
	ring.ctrl->stail = ring.ctrl->shead + 1000;
	ret = ioring_enter(ring.id, 8, 0);
	tap_ok(1, "enter(8, 0) with stail 1000 ahead of shead returns (%lld, %s), shead now %u",
	       (long long)ret, ret == ERR ? tap_errname(errno) : "ok",
	       (unsigned int)ring.ctrl->shead);
	torn_down &= repair(&ring);

	/* A clean ring afterwards. */
	ring = setup_or_bail(4, 4);
	push_nop(&ring, 0, 3);
	ioring_enter(ring.id, 1, 1);
	tap_ok(torn_down && cqe_pop(&ring, &cqe) && cqe_data(&cqe) == 3 && cqe.error == ETIMEDOUT,
	       "both hostile rings tear down once repaired, and a new ring works");
	if (ioring_teardown(ring.id) == ERR)
		tap_diag("teardown: %s", strerror(errno));
}

int main(void)
{
	require_device();
	tap_plan(16 + 6 + 4);
	cq_full();
	in_flight();
	hostile_indices();
	return tap_done();
}
