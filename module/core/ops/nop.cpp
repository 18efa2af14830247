// SPDX-License-Identifier: GPL-2.0
/*
 * NOP: PatchworkOS's sleep. It never completes by itself, only by its
 * timeout (ETIMEDOUT) or a cancellation (ECANCELED); either way the result
 * is 0. Nothing is pending behind it, so cancelling has nothing to stop.
 */
#include "table.h"
#include "../pwring_core.h"

namespace pw {

static void nop_cancel(Irp &) {}

static constexpr AsyncOps kNopAsync = {nop_cancel, nullptr};

Issue nop_issue(Irp &irp)
{
	/* Timeout 0 has pre-cancelled it: no need to try arming. */
	if (const s32 e = irp.cancelled_error()) {
		irp.err = e;
		return Issue::Done;
	}
	irp.go_async(PWRING_ST_SLEEP);
	if (!irp.arm(&kNopAsync)) {
		irp.err = irp.cancelled_error();
		return Issue::Done;
	}
	return Issue::Queued;
}

} // namespace pw
