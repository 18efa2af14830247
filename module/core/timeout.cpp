// SPDX-License-Identifier: GPL-2.0
#include "timeout.h"

namespace pw {

void timeout_arm(Irp &irp, bool owned)
{
	const u64 ns = irp.sqe.timeout;
	if (ns == PWRING_TIMEOUT_NEVER)
		return;
	if (ns == 0) {
		/* Expires at once unless the op completes during its issue. */
		if (owned)
			irp.slot.store_relaxed(uptr(err::ETIMEDOUT));
		else
			irp.precancel(err::ETIMEDOUT);
		return;
	}
	irp.timer_armed = true;
	kapi_timer_start(irp.io, ns);
}

void timeout_disarm(Irp &irp)
{
	/*
	 * Waits for a callback that lost the race on another CPU: the packet
	 * is about to be reused and a late callback must not see it.
	 */
	if (irp.timer_armed && !irp.timer_won)
		kapi_timer_cancel(irp.io);
}

void timeout_fire(void *arg)
{
	static_cast<Irp *>(arg)->cancel(err::ETIMEDOUT, true);
}

} // namespace pw
