// SPDX-License-Identifier: GPL-2.0
/*
 * POLL: fd (arg0), events (arg1, PatchworkOS bits). One-shot: completes
 * when any requested event, or ERROR or HUP, is pending; the result is the
 * events that occurred, in PatchworkOS bits. An fd that is not open reports
 * NVAL (as poll(2) does) rather than failing.
 */
#include "table.h"
#include "../ring.h"
#include "../pwring_core.h"

namespace pw {

namespace {

void poll_cancel(Irp &) {}	/* the frame removes the wait entries */
void poll_work(Irp &irp, WorkCtx ctx);
constexpr AsyncOps kPollAsync = {poll_cancel, poll_work};

constexpr u32 to_kernel(u64 events)
{
	u32 k = kEpollErr | kEpollHup;
	if (events & PWRING_POLL_READ)
		k |= kEpollIn | kEpollRdNorm;
	if (events & PWRING_POLL_WRITE)
		k |= kEpollOut | kEpollWrNorm;
	return k;
}

constexpr u64 to_pwring(u32 mask)
{
	u64 e = 0;
	if (mask & (kEpollIn | kEpollRdNorm))
		e |= PWRING_POLL_READ;
	if (mask & (kEpollOut | kEpollWrNorm))
		e |= PWRING_POLL_WRITE;
	if (mask & kEpollErr)
		e |= PWRING_POLL_ERROR;
	if (mask & (kEpollHup | kEpollRdHup))
		e |= PWRING_POLL_HUP;
	if (mask & kEpollNval)
		e |= PWRING_POLL_NVAL;
	return e;
}
static_assert(to_pwring(to_kernel(PWRING_POLL_READ | PWRING_POLL_WRITE)) ==
	      (PWRING_POLL_READ | PWRING_POLL_WRITE | PWRING_POLL_ERROR | PWRING_POLL_HUP),
	      "poll bit mapping");

void poll_release(Irp &irp, void *)
{
	kapi_poll_disarm(irp.io);
	kapi_fput(irp.ios.file);
}

Issue ready(Irp &irp, u32 mask)
{
	irp.err = 0;
	irp.result = to_pwring(mask);
	return Issue::Done;
}

/* Rechecks the mask: never blocks, so it may run in the waiting enter too. */
void poll_work(Irp &irp, WorkCtx ctx)
{
	if (!irp.claim(&kPollAsync))
		return;
	const u32 mask = kapi_poll_mask(irp.ios.file) & irp.ios.events;
	if (mask) {
		ready(irp, mask);
	} else {
		const s32 e = irp.unclaim(&kPollAsync);
		if (!e)
			return;	/* a wakeup for someone else's event */
		irp.err = e;
	}
	irp.ring->complete_async(irp, ctx);
}

} // namespace

Issue poll_issue(Irp &irp)
{
	struct file *f = irp.sqe.arg0 <= 0x7fffffff ? kapi_fget(u32(irp.sqe.arg0)) : nullptr;
	if (!f)
		return ready(irp, kEpollNval);

	IoState &s = irp.ios;
	s = IoState{f, 0, 0, 0, to_kernel(irp.sqe.arg1), false, true, false};
	irp.push_frame(poll_release, nullptr);
	irp.finish_in_task = true;

	u32 mask = kapi_poll_arm(irp.io, f, s.events) & s.events;
	if (mask)
		return ready(irp, mask);
	kapi_io_hold_creds(irp.io);
	irp.go_async(PWRING_ST_POLL);
	if (!irp.arm(&kPollAsync)) {
		irp.err = irp.cancelled_error();
		return Issue::Done;
	}
	/* A wakeup between the poll and the arm found nothing to retry: enter runs it. */
	if (kapi_poll_mask(f) & s.events)
		irp.ring->poll_woken(irp, false);
	return Issue::Queued;
}

} // namespace pw
