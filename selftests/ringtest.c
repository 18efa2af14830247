// SPDX-License-Identifier: MIT
/*
 * ringtest: PatchworkOS's own ring test scenario as a selftest (the scenario
 * is shared with the ringtest example, userlib/examples/ringtest.h). Two
 * one-second NOPs, the first SQE_HARDLINK saving into register 0, the second
 * SQE_LINK; ioring_enter(id, 2, 2); both complete ETIMEDOUT, one second apart.
 */
#include "common.h"
#include "ringtest.h"

int main(void)
{
	struct ringtest_result r;
	int ret;

	require_device();
	tap_plan(9);
	ret = ringtest_run(&r);
	tap_ok(ret == 0, "setup, push, enter, teardown all succeed");
	if (ret)
		tap_diag("%s: %s", r.failed, tap_errname(r.error));
	EXPECT_EQ(r.id, 0, "the ring is ring 0");
	EXPECT_EQ(r.consumed, 2, "ioring_enter(id, 2, 2) consumed 2");
	tap_ok(r.ncqes == 2, "two CQEs are ready when it returns (%zu)", r.ncqes);
	if (r.ncqes < 2)
		memset(&r.cqes[r.ncqes], 0xff, (2 - r.ncqes) * sizeof(cqe_t));
	expect_cqe(&r.cqes[0], IO_OP_NOP, ETIMEDOUT, 1, "first NOP (HARDLINK)");
	expect_cqe(&r.cqes[1], IO_OP_NOP, ETIMEDOUT, 2, "second NOP (LINK)");
	expect_time(r.seen_ns[0], RINGTEST_TIMEOUT, "the first CQE");
	/* The second starts when the first ends: its deadline is 2 s at the earliest. */
	tap_ok(r.seen_ns[1] >= 2 * RINGTEST_TIMEOUT &&
	       r.seen_ns[1] <= 2 * (RINGTEST_TIMEOUT + slack_ns()),
	       "the second CQE after %.3f s, %.3f s after the first (deadline 2 s, slack %.0f ms x 2)",
	       r.seen_ns[1] / 1e9, (r.seen_ns[1] - r.seen_ns[0]) / 1e9, slack_ns() / 1e6);
	EXPECT_EQ(r.reg0, 0, "the first NOP saved its result 0 into register 0 (preset %#llx)",
		  (unsigned long long)RINGTEST_REG0_MARKER);
	return tap_done();
}
