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
void timeout_arm(Irp &irp, bool owned);
/* At completion: stop the timer unless it is the one completing us. */
void timeout_disarm(Irp &irp);
/* The hrtimer callback (hard interrupt context). */
void timeout_fire(void *arg);

} // namespace pw

#endif /* PWRING_TIMEOUT_H */
