// SPDX-License-Identifier: GPL-2.0
/*
 * READ and WRITE: fd (arg0), buffer (arg1), count (arg2), offset (arg3; -1
 * uses and advances the file position). Result: bytes transferred, with the
 * short counts read(2) and write(2) would give.
 *
 * Issue (in the submitter's enter): take a file reference, check the buffer
 * (the memory descriptor list: mapped in full, or EFAULT), and try once
 * without blocking. If the file would block: a pollable file gets poll wait
 * entries and a step retries on wakeup; anything else is performed,
 * blocking, by a step, in a call a timeout or close can break. Steps run in
 * threads of the submitting process (a worker it lent, or its enter), with
 * the submitter's credentials, and reach the buffer by its address: a
 * waiting request pins nothing.
 */
#include "table.h"
#include "../ring.h"

namespace pw {

namespace {

constexpr u64 kMaxRwCount = 0x7ffff000;	/* MAX_RW_COUNT: read(2) clamps to it */

void rw_cancel(Irp &) {}	/* the frame undoes everything */
void rw_work(Irp &irp, WorkCtx ctx);
constexpr AsyncOps kRwAsync = {rw_cancel, rw_work};

void rw_release(Irp &irp, void *)
{
	IoState &s = irp.ios;
	/* A WRITE cut short by an error, timeout or cancel still says what it wrote. */
	if (irp.err && s.done)
		irp.result = s.done;
	if (s.pollable)
		kapi_poll_disarm(irp.io);
	kapi_mdl_release(irp.io);
	kapi_fput(s.file);
}

Issue done(Irp &irp, s64 r)
{
	irp.err = r < 0 ? s32(-r) : 0;
	irp.result = r < 0 ? 0 : u64(r);
	return Issue::Done;
}

/* The total so far: what write(2) returns, even after a later error. */
s64 total(const IoState &s, s64 r)
{
	if (r >= 0)
		return s64(s.done) + r;
	return s.done ? s64(s.done) : r;
}

/*
 * A blocking write(2) to a pipe or socket returns only once everything is
 * written; a partial write leaves the rest for the next POLLOUT.
 */
bool write_continues(IoState &s, s64 r)
{
	if (!s.write || !s.pollable || r <= 0 || s.done + u64(r) >= s.len)
		return false;
	s.done += u64(r);
	return true;
}

/*
 * The non-blocking attempts of the issue. A stream (pollable: pipes,
 * sockets, ttys) answers with what it has, as read(2) does. Anything else
 * (a regular file, /dev/zero) gives a short count to a non-blocking attempt
 * only where the rest would have blocked or yielded the CPU, where read(2)
 * and write(2) would have gone on: so do we, until EOF (0), a would-block
 * (the worker does the rest) or an error.
 */
s64 first_attempts(Irp &irp)
{
	IoState &s = irp.ios;
	s64 r = kapi_rw(irp.io, s.file, s.write, s.offset, 0, true);
	while (!s.pollable && r > 0 && s.done + u64(r) < s.len) {
		s.done += u64(r);
		if (kapi_fatal_signal_pending()) {
			r = 0;	/* the total so far, as read(2) killed mid-way */
			break;
		}
		kapi_cond_resched();
		r = kapi_rw(irp.io, s.file, s.write, s.offset, s.done, true);
	}
	return r;
}

bool can_try(const IoState &s)
{
	return kapi_file_caps(s.file) & (s.write ? KAPI_F_NOWAIT_WRITE : KAPI_F_NOWAIT_READ);
}

/*
 * A retry from the work item. Files that cannot be tried without blocking
 * are read or written once poll says they are ready (pollable), or by a
 * blocking call (everything else, e.g. regular files).
 */
s64 retry(Irp &irp)
{
	const IoState &s = irp.ios;
	if (s.pollable && can_try(s))
		return kapi_rw(irp.io, s.file, s.write, s.offset, s.done, true);
	if (s.pollable && !(kapi_poll_mask(s.file) & s.events))
		return -err::EAGAIN;
	/*
	 * The call may block for good, even on a file poll called ready
	 * (another reader may take the data first): let a timeout or close
	 * break it.
	 */
	BlockingScope scope(irp.io);
	if (irp.cancelled_error())
		return -err::EINTR;
	return kapi_rw(irp.io, s.file, s.write, s.offset, s.done, false);
}

Issue rw_issue(Irp &irp, bool write)
{
	const s64 offset = s64(irp.sqe.arg3);
	if (offset < -1)
		return done(irp, -err::EINVAL);
	if (irp.sqe.arg0 > 0x7fffffff)
		return done(irp, -err::EBADF);
	struct file *f = kapi_fget(u32(irp.sqe.arg0));
	if (!f)
		return done(irp, -err::EBADF);

	IoState &s = irp.ios;
	const u32 caps = kapi_file_caps(f);
	s = IoState{f, offset, 0, 0, 0, write, false};
	irp.push_frame(rw_release, nullptr);
	irp.finish_in_task = true;	/* interrupt context completes one request, no more */

	if (!(caps & (write ? KAPI_F_WRITE : KAPI_F_READ)))
		return done(irp, -err::EBADF);
	if (offset >= 0 && !(caps & (write ? KAPI_F_PWRITE : KAPI_F_PREAD)))
		return done(irp, -err::ESPIPE);
	const u64 count = irp.sqe.arg2 < kMaxRwCount ? irp.sqe.arg2 : kMaxRwCount;
	if (count == 0)
		return done(irp, 0);
	const long pinned = kapi_mdl_pin(irp.io, irp.sqe.arg1, count, !write);
	if (pinned < 0)
		return done(irp, pinned);
	s.len = u64(pinned);

	/* O_NONBLOCK: the file answers EAGAIN itself, as read(2) would. */
	if (caps & KAPI_F_NONBLOCK)
		return done(irp, kapi_rw(irp.io, f, write, offset, 0, false));

	s.pollable = caps & KAPI_F_POLL;
	const s64 r = first_attempts(irp);
	if (r != -err::EAGAIN && !write_continues(s, r))
		return done(irp, total(s, r));

	/* It would block: wait for readiness, or let a worker block for us. */
	s.events = (write ? kEpollOut | kEpollWrNorm : kEpollIn | kEpollRdNorm) |
		   kEpollErr | kEpollHup;
	kapi_io_hold_creds(irp.io);	/* the steps run as this thread */
	if (!irp.arm(&kRwAsync))
		return done(irp, -s64(irp.cancelled_error()));
	if (!s.pollable || (kapi_poll_arm(irp.io, f, s.events) & s.events))
		kapi_queue_work(irp.io);
	return Issue::Queued;
}

/*
 * Back to waiting after a claim: for the next wakeup, or (`now`) for the
 * work item at once. A cancellation that came meanwhile completes it.
 */
void rearm(Irp &irp, WorkCtx ctx, bool now)
{
	const s32 e = irp.unclaim(&kRwAsync);
	if (!e) {
		if (now)
			kapi_queue_work(irp.io);
		return;
	}
	irp.err = e;
	irp.result = 0;
	irp.ring->complete_async(irp, ctx);
}

void rw_work(Irp &irp, WorkCtx ctx)
{
	if (!irp.claim(&kRwAsync))
		return;	/* cancelled, or not ours any more */
	IoState &s = irp.ios;
	/* The submitter waiting in enter must not block: that is a worker's job. */
	if (ctx == WorkCtx::Enter && !(s.pollable && can_try(s)))
		return rearm(irp, ctx, true);
	const s64 r = retry(irp);
	/* Workers get no signals: EINTR is a cancellation's, or a stale one's. */
	if (r == -err::EINTR)
		return rearm(irp, ctx, true);
	/* Only a pollable file has a wakeup to wait for; from others EAGAIN is the answer. */
	if ((r == -err::EAGAIN && s.pollable) || write_continues(s, r))
		return rearm(irp, ctx, false);
	done(irp, total(s, r));
	irp.ring->complete_async(irp, ctx);
}

} // namespace

Issue read_issue(Irp &irp)
{
	return rw_issue(irp, false);
}

Issue write_issue(Irp &irp)
{
	return rw_issue(irp, true);
}

} // namespace pw
