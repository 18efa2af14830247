// SPDX-License-Identifier: MIT
/*
 * link: SQE_LINK and SQE_HARDLINK chains. A LINK successor runs only after its
 * predecessor succeeded, otherwise the rest of the chain completes ECANCELED;
 * a HARDLINK successor runs after its predecessor whatever the outcome. A
 * chain ends at the first SQE without a link flag, or with the enter batch.
 * Since a NOP always ends with ETIMEDOUT, a LINK after a NOP never runs.
 */
#include "common.h"

struct seen {
	cqe_t cqe;
	uint64_t at; /* ns after the enter call began */
};

/* Submit n SQEs already queued, collect n CQEs in arrival order with times. */
static size_t run_batch(ioring_t *ring, size_t n, struct seen *out)
{
	uint64_t t0 = now_ns();
	size_t got = 0;

	if (ioring_enter(ring->id, n, 0) != n)
		tap_diag("ioring_enter(%zu, 0): %s", n, strerror(errno));
	while (got < n) {
		if (cqe_pop(ring, &out[got].cqe)) {
			out[got++].at = now_ns() - t0;
			continue;
		}
		if (ioring_enter(ring->id, 0, 1) == ERR) {
			tap_diag("ioring_enter(0, 1): %s", strerror(errno));
			break;
		}
	}
	return got;
}

/* The CQE with this data, or a CQE that matches nothing. */
static const cqe_t *find(const struct seen *s, size_t n, uint64_t data)
{
	static cqe_t none = { .op = 0xdead, .error = -1 };
	size_t i;

	for (i = 0; i < n; i++)
		if (cqe_data(&s[i].cqe) == data)
			return &s[i].cqe;
	return &none;
}

static void expect_order(const struct seen *s, size_t got, size_t n, const uint64_t *data,
			 const char *what)
{
	bool ok = got == n;
	size_t i;

	for (i = 0; ok && i < n; i++)
		ok = cqe_data(&s[i].cqe) == data[i];
	tap_ok(ok, "%s: CQEs arrive in chain order", what);
	for (i = 0; !ok && i < got; i++)
		tap_diag("CQE %zu: data %lu error %s", i, (unsigned long)cqe_data(&s[i].cqe),
			 tap_errname(s[i].cqe.error));
}

/* NOP LINK -> NOP LINK -> NOP: ETIMEDOUT, ECANCELED, ECANCELED. 4 tests */
static void link_failure(ioring_t *ring)
{
	static const uint64_t order[] = { 1, 2, 3 };
	struct seen s[3];
	size_t got;

	push_nop_flags(ring, 0, 1, SQE_FLAGS_NO_REGS | SQE_LINK);
	push_nop_flags(ring, 0, 2, SQE_FLAGS_NO_REGS | SQE_LINK);
	push_nop_flags(ring, 0, 3, SQE_FLAGS_NO_REGS);
	got = run_batch(ring, 3, s);
	expect_order(s, got, 3, order, "LINK chain of 3");
	expect_cqe(find(s, got, 1), IO_OP_NOP, ETIMEDOUT, 1, "chain head");
	expect_cqe(find(s, got, 2), IO_OP_NOP, ECANCELED, 2, "second, after a failure");
	expect_cqe(find(s, got, 3), IO_OP_NOP, ECANCELED, 3, "third, after a failure");
}

/* NOP LINK -> NOP, then an unlinked NOP: the chain ends at the second. 3 tests */
static void chain_end(ioring_t *ring)
{
	struct seen s[3];
	size_t got;

	push_nop_flags(ring, 0, 1, SQE_FLAGS_NO_REGS | SQE_LINK);
	push_nop_flags(ring, 0, 2, SQE_FLAGS_NO_REGS);
	push_nop_flags(ring, 0, 3, SQE_FLAGS_NO_REGS);
	got = run_batch(ring, 3, s);
	expect_cqe(find(s, got, 1), IO_OP_NOP, ETIMEDOUT, 1, "LINK head");
	expect_cqe(find(s, got, 2), IO_OP_NOP, ECANCELED, 2, "its unlinked successor");
	expect_cqe(find(s, got, 3), IO_OP_NOP, ETIMEDOUT, 3, "the next SQE, outside the chain");
}

/* Three 10 ms NOPs, HARDLINK, HARDLINK: one after another. 5 tests */
static void hardlink_serial(ioring_t *ring)
{
	static const uint64_t order[] = { 1, 2, 3 };
	const uint64_t step = 10 * NSEC_PER_MSEC;
	struct seen s[3];
	size_t got, i;
	bool all = true;

	push_nop_flags(ring, step, 1, SQE_FLAGS_NO_REGS | SQE_HARDLINK);
	push_nop_flags(ring, step, 2, SQE_FLAGS_NO_REGS | SQE_HARDLINK);
	push_nop_flags(ring, step, 3, SQE_FLAGS_NO_REGS);
	got = run_batch(ring, 3, s);
	expect_order(s, got, 3, order, "HARDLINK chain of 3");
	for (i = 0; i < got; i++)
		all &= s[i].cqe.error == ETIMEDOUT;
	tap_ok(got == 3 && all, "all three time out (a HARDLINK runs after a failure)");
	for (i = 0; i < 3; i++) {
		char what[48];

		snprintf(what, sizeof(what), "CQE %zu of the 10 ms HARDLINK chain", i + 1);
		/* The k-th can only end (k * 10 ms) after the enter began. */
		expect_time(i < got ? s[i].at : 0, (i + 1) * step, what);
	}
}

/* HARDLINK -> LINK -> NOP: ETIMEDOUT, ETIMEDOUT, ECANCELED. 4 tests */
static void mixed(ioring_t *ring)
{
	static const uint64_t order[] = { 1, 2, 3 };
	struct seen s[3];
	size_t got;

	push_nop_flags(ring, 0, 1, SQE_FLAGS_NO_REGS | SQE_HARDLINK);
	push_nop_flags(ring, 0, 2, SQE_FLAGS_NO_REGS | SQE_LINK);
	push_nop_flags(ring, 0, 3, SQE_FLAGS_NO_REGS);
	got = run_batch(ring, 3, s);
	expect_order(s, got, 3, order, "HARDLINK, LINK, NOP");
	expect_cqe(find(s, got, 1), IO_OP_NOP, ETIMEDOUT, 1, "HARDLINK head");
	expect_cqe(find(s, got, 2), IO_OP_NOP, ETIMEDOUT, 2, "its LINK successor runs anyway");
	expect_cqe(find(s, got, 3), IO_OP_NOP, ECANCELED, 3, "the LINK's successor is cancelled");
}

/* A LINK flag on the last SQE of a batch does not reach into the next. 5 tests */
static void batch_end(ioring_t *ring)
{
	struct seen s[3];
	size_t got;

	push_nop_flags(ring, 0, 1, SQE_FLAGS_NO_REGS | SQE_LINK);
	got = run_batch(ring, 1, s);
	expect_cqe(find(s, got, 1), IO_OP_NOP, ETIMEDOUT, 1, "a lone LINK NOP");
	push_nop_flags(ring, 0, 2, SQE_FLAGS_NO_REGS);
	got = run_batch(ring, 1, s);
	expect_cqe(find(s, got, 2), IO_OP_NOP, ETIMEDOUT, 2, "the next enter's NOP is not linked");

	/* Three queued, LINK, LINK, NOP; enter takes two, then one. */
	push_nop_flags(ring, 0, 3, SQE_FLAGS_NO_REGS | SQE_LINK);
	push_nop_flags(ring, 0, 4, SQE_FLAGS_NO_REGS | SQE_LINK);
	push_nop_flags(ring, 0, 5, SQE_FLAGS_NO_REGS);
	got = run_batch(ring, 2, s);
	expect_cqe(find(s, got, 3), IO_OP_NOP, ETIMEDOUT, 3, "batch of 2: LINK head");
	expect_cqe(find(s, got, 4), IO_OP_NOP, ECANCELED, 4, "batch of 2: its successor");
	got = run_batch(ring, 1, s);
	expect_cqe(find(s, got, 5), IO_OP_NOP, ETIMEDOUT, 5,
		   "the third, left for the next enter, starts a chain of its own");
}

/* A 200 ms LINK head with 4 successors: they wait for it, then cancel. 4 tests */
static void long_chain(ioring_t *ring)
{
	static const uint64_t order[] = { 1, 2, 3, 4, 5 };
	struct seen s[5];
	size_t got, i;
	bool all = true;

	push_nop_flags(ring, 200 * NSEC_PER_MSEC, 1, SQE_FLAGS_NO_REGS | SQE_LINK);
	for (i = 2; i <= 5; i++)
		push_nop_flags(ring, 0, i, SQE_FLAGS_NO_REGS | (i < 5 ? SQE_LINK : 0));
	got = run_batch(ring, 5, s);
	expect_order(s, got, 5, order, "200 ms LINK head and 4 successors");
	expect_cqe(find(s, got, 1), IO_OP_NOP, ETIMEDOUT, 1, "the head");
	for (i = 1; i < got; i++)
		all &= s[i].cqe.error == ECANCELED && s[i].at >= 200 * NSEC_PER_MSEC;
	tap_ok(got == 5 && all, "the 4 successors are cancelled, none before the head ended");
	expect_time(got ? s[0].at : 0, 200 * NSEC_PER_MSEC, "the head");
}

/* A chain does not hold back an independent SQE of the same batch. 3 tests */
static void independent(ioring_t *ring)
{
	struct seen s[3];
	size_t got;

	push_nop_flags(ring, 100 * NSEC_PER_MSEC, 1, SQE_FLAGS_NO_REGS | SQE_LINK);
	push_nop_flags(ring, 0, 2, SQE_FLAGS_NO_REGS);
	push_nop_flags(ring, 0, 3, SQE_FLAGS_NO_REGS);
	got = run_batch(ring, 3, s);
	tap_ok(got == 3 && cqe_data(&s[0].cqe) == 3 && s[0].cqe.error == ETIMEDOUT,
	       "the unchained NOP completes first, without waiting for the 100 ms chain");
	expect_cqe(find(s, got, 1), IO_OP_NOP, ETIMEDOUT, 1, "the chain head");
	expect_cqe(find(s, got, 2), IO_OP_NOP, ECANCELED, 2, "its successor");
}

int main(void)
{
	ioring_t ring;

	require_device();
	tap_plan(4 + 3 + 5 + 4 + 5 + 4 + 3 + 1);
	if (ioring_setup(&ring, NULL, 16, 16) == ERR)
		tap_bail("ioring_setup: %s", strerror(errno));
	link_failure(&ring);
	chain_end(&ring);
	hardlink_serial(&ring);
	mixed(&ring);
	batch_end(&ring);
	long_chain(&ring);
	independent(&ring);
	EXPECT_EQ(ioring_teardown(ring.id), 0, "teardown (nothing left in flight)");
	return tap_done();
}
