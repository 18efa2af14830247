/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-request deadlines. Every packet owns one hrtimer (created with the
 * pool), counted from dispatch. A timeout is a cancellation with ETIMEDOUT,
 * so it goes through the packet's cancellation slot like any other.
 */
#ifndef PWRING_TIMEOUT_H
#define PWRING_TIMEOUT_H

#include "irp.h"

namespace pw {

/*
 * Before the op is issued: 0 pre-cancels, NEVER arms nothing, else start.
 * `owned`: dispatched in the submitter's enter, where nobody else can reach
 * the packet yet, so the pre-cancel needs no atomic exchange.
 */
inline void timeout_arm(Irp &irp, bool owned)
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

/*
 * At completion: stop the timer unless it is the one completing us. Waits
 * for a callback that lost the race on another CPU: the packet is about to
 * be reused and a late callback must not see it.
 */
inline void timeout_disarm(Irp &irp)
{
	if (irp.timer_armed && !irp.timer_won)
		kapi_timer_cancel(irp.io);
}
/* The hrtimer callback (hard interrupt context). */
void timeout_fire(void *arg);

} // namespace pw

#endif /* PWRING_TIMEOUT_H */
