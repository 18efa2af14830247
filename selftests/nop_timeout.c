// SPDX-License-Identifier: MIT
/*
 * nop_timeout: NOP, PatchworkOS's sleep. It completes only by its timeout
 * (ETIMEDOUT, counted from dispatch, hrtimer based) or by cancellation; result
 * 0, cqe.op and cqe.data copied from the SQE. Unknown ops and reserved flag
 * bits complete with EINVAL.
 */
#include "common.h"

/* Submit one NOP, wait for its CQE; check the CQE and when it came. 2 tests */
static void one_nop(ioring_t *ring, uint64_t timeout, uint64_t data)
{
	char what[64];
	uint64_t t0;
	cqe_t cqe;

	if (timeout < NSEC_PER_MSEC)
		snprintf(what, sizeof(what), "NOP of %llu ns", (unsigned long long)timeout);
	else
		snprintf(what, sizeof(what), "NOP of %llu ms",
			 (unsigned long long)(timeout / NSEC_PER_MSEC));
	push_nop(ring, timeout, data);
	t0 = now_ns();
	if (ioring_enter(ring->id, 1, 1) != 1)
		tap_diag("ioring_enter: %s", strerror(errno));
	expect_time(now_ns() - t0, timeout, what);
	if (!cqe_pop(ring, &cqe))
		memset(&cqe, 0xff, sizeof(cqe));
	expect_cqe(&cqe, IO_OP_NOP, ETIMEDOUT, data, what);
}

/* 3 NOPs in one batch complete in deadline order, each on time. 4 tests */
static void deadline_order(ioring_t *ring)
{
	static const uint64_t ms[3] = { 300, 100, 200 };
	uint64_t t0, seen[3] = { 0 };
	uintptr_t order[3] = { 0 };
	size_t got = 0, i;
	cqe_t cqe;

	for (i = 0; i < 3; i++)
		push_nop(ring, ms[i] * NSEC_PER_MSEC, i);
	t0 = now_ns();
	if (ioring_enter(ring->id, 3, 0) != 3)
		tap_diag("ioring_enter: %s", strerror(errno));
	while (got < 3) {
		if (!cqe_pop(ring, &cqe)) {
			if (ioring_enter(ring->id, 0, 1) == ERR) {
				tap_diag("ioring_enter(0, 1): %s", strerror(errno));
				break;
			}
			continue;
		}
		order[got] = cqe_data(&cqe);
		seen[got++] = now_ns() - t0;
	}
	tap_ok(got == 3 && order[0] == 1 && order[1] == 2 && order[2] == 0,
	       "300, 100, 200 ms NOPs complete in deadline order (data 1, 2, 0)");
	if (!TAP_LAST)
		tap_diag("order: %lu %lu %lu", (unsigned long)order[0], (unsigned long)order[1],
			 (unsigned long)order[2]);
	for (i = 0; i < 3; i++) {
		char what[32];

		snprintf(what, sizeof(what), "the %llu ms NOP",
			 (unsigned long long)(i + 1) * 100);
		expect_time(seen[i], (i + 1) * 100 * NSEC_PER_MSEC, what);
	}
}

/* 64 NOPs with scattered timeouts: none early, none lost. 2 tests */
static void many_timers(ioring_t *ring)
{
	uint64_t deadline[64], t0, at, early = 0, late = 0, latest = 0;
	size_t got = 0, i;
	cqe_t cqe;

	for (i = 0; i < 64; i++) {
		deadline[i] = (i * 37 % 64) * 3 * NSEC_PER_MSEC; /* 0..189 ms */
		if (deadline[i] > latest)
			latest = deadline[i];
		push_nop(ring, deadline[i], i);
	}
	t0 = now_ns();
	if (ioring_enter(ring->id, 64, 0) != 64)
		tap_diag("ioring_enter: %s", strerror(errno));
	while (got < 64) {
		if (!cqe_pop(ring, &cqe)) {
			if (ioring_enter(ring->id, 0, 1) == ERR)
				break;
			continue;
		}
		at = now_ns() - t0;
		i = cqe_data(&cqe);
		if (i >= 64 || cqe.error != ETIMEDOUT) {
			tap_diag("bad CQE: data %zu error %d", i, cqe.error);
			late++;
		} else if (at < deadline[i]) {
			early++;
		} else if (at > deadline[i] + slack_ns()) {
			late++;
		}
		got++;
	}
	tap_ok(got == 64, "64 timers with 0..189 ms timeouts: 64 CQEs (%zu)", got);
	tap_ok(!early && !late, "none before its deadline (%llu early), none beyond the slack (%llu)",
	       (unsigned long long)early, (unsigned long long)late);
}

/* 3 tests */
static void never(void)
{
	int fd = raw_open();
	ioring_t ring;
	cqe_t cqe;

	if (fd < 0 || raw_setup(fd, &ring, NULL, 4, 4) < 0)
		tap_bail("raw setup: %s", strerror(errno));
	push_nop(&ring, CLOCKS_NEVER, 42);
	EXPECT_EQ(raw_enter(fd, ring.id, 1, 0), 1, "submit a NOP with timeout CLOCKS_NEVER");
	sleep_ns(300 * NSEC_PER_MSEC);
	tap_ok(ring.ctrl->ctail == 0, "300 ms later it has not completed");
	close(fd);
	tap_ok(ring.ctrl->ctail == 1 && cqe_pop(&ring, &cqe) && cqe.error == ECANCELED &&
	       cqe_data(&cqe) == 42, "closing the device file cancels it (ECANCELED)");
	munmap(ring.ctrl, ring_bytes(4, 4));
}

/* Ops and flags the kernel must refuse, each in its own CQE. 7 tests */
static void refused(ioring_t *ring)
{
	static const struct {
		io_op_t op;
		sqe_flags_t flags;
		const char *what;
	} bad[] = {
		{ 99, SQE_FLAGS_NO_REGS, "unknown op 99" },
		{ IO_OP_MAX, SQE_FLAGS_NO_REGS, "op IO_OP_MAX" },
		{ 0xffffffffu, SQE_FLAGS_NO_REGS, "op 0xffffffff" },
		{ IO_OP_NOP, SQE_FLAGS_NO_REGS | (1u << 20), "NOP with flag bit 20" },
		{ IO_OP_NOP, SQE_FLAGS_NO_REGS | (1u << 31), "NOP with flag bit 31" },
		{ IO_OP_NOP, SQE_FLAGS_NO_REGS | PWRING_FLAGS_RESERVED, "NOP with bits 20..31" },
	};
	cqe_t cqe;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* A long timeout: the EINVAL must come at dispatch, not at expiry. */
		push_op(ring, bad[i].op, bad[i].flags, 10 * IORING_NSEC_PER_SEC, 100 + i);
		if (ioring_enter(ring->id, 1, 1) != 1)
			tap_diag("ioring_enter: %s", strerror(errno));
		if (!cqe_pop(ring, &cqe))
			memset(&cqe, 0xff, sizeof(cqe));
		expect_cqe(&cqe, bad[i].op, EINVAL, 100 + i, bad[i].what);
	}
	/* The ring is fine afterwards. */
	push_nop(ring, 0, 7);
	ioring_enter(ring->id, 1, 1);
	tap_ok(cqe_pop(ring, &cqe) && cqe.error == ETIMEDOUT && cqe_data(&cqe) == 7,
	       "a NOP after the refused SQEs times out normally");
}

int main(void)
{
	ioring_t ring;
	cqe_t cqe;

	require_device();
	tap_plan(1 + 2 * 4 + 4 + 2 + 3 + 7 + 2);
	if (ioring_setup(&ring, NULL, 64, 64) == ERR)
		tap_bail("ioring_setup: %s", strerror(errno));

	push_nop(&ring, 0, 0xabcdef);
	ioring_enter(ring.id, 1, 1);
	if (!cqe_pop(&ring, &cqe))
		memset(&cqe, 0xff, sizeof(cqe));
	expect_cqe(&cqe, IO_OP_NOP, ETIMEDOUT, 0xabcdef, "timeout 0 completes at once");

	one_nop(&ring, 1, 1);
	one_nop(&ring, 50 * NSEC_PER_MSEC, 2);
	one_nop(&ring, 100 * NSEC_PER_MSEC, 3);
	one_nop(&ring, 250 * NSEC_PER_MSEC, 4);
	deadline_order(&ring);
	many_timers(&ring);
	never();
	refused(&ring);

	/* data is opaque: all 64 bits come back. */
	push_nop(&ring, 0, UINT64_MAX - 1);
	ioring_enter(ring.id, 1, 1);
	tap_ok(cqe_pop(&ring, &cqe) && (uint64_t)cqe_data(&cqe) == UINT64_MAX - 1,
	       "data 0xfffffffffffffffe comes back unchanged");
	EXPECT_EQ(ioring_teardown(ring.id), 0, "teardown");
	return tap_done();
}
