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
#include "../pwring_core.h"

namespace pw {

namespace {

constexpr u64 kMaxRwCount = 0x7ffff000;	/* MAX_RW_COUNT: read(2) clamps to it */

void rw_cancel(Irp &) {}	/* the frame undoes everything */
void rw_work(Irp &irp, WorkCtx ctx);
void rearm(Irp &irp, WorkCtx ctx, bool now);
} // namespace

constexpr AsyncOps kRwAsync = {rw_cancel, rw_work};

namespace {

void rw_release(Irp &irp, void *)
{
	IoState &s = irp.ios;
	if (s.direct)
		kapi_rw_direct_end(irp.io, s.file, s.write, irp.err ? -long(irp.err) : long(irp.result));
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

/* Recorded at the issue: a retry does not look the file's capabilities up again. */
bool can_try(const IoState &s)
{
	return s.can_nowait;
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

/*
 * Direct I/O: the kiocb is asynchronous, so enter returns once the device
 * has the request and the device's completion finishes it (pw_rw_done).
 * The packet is held (kClaimed) meanwhile: a bio cannot be recalled, so a
 * timeout or close that comes while it is in flight is recorded and reported
 * when the device is done, with the bytes it moved in `result`. A submission
 * that would block (no free tag) goes to a worker, which may wait for one.
 */
Issue direct_issue(Irp &irp)
{
	IoState &s = irp.ios;
	s.direct = true;
	kapi_io_hold_creds(irp.io);
	if (!irp.hold())
		return done(irp, -s64(irp.cancelled_error()));
	s.nowait = true;
	const s64 r = kapi_rw_direct(irp.io, s.file, s.write, s.offset, 0, true);
	if (r == -err::EIOCBQUEUED) {
		/* `issuing` covers a completion before we return, and this store */
		irp.go_async(PWRING_ST_DIRECT);
		return Issue::Queued;
	}
	if (r != -err::EAGAIN)
		return done(irp, r);	/* done at once: completion wins over a deadline */
	irp.go_async(PWRING_ST_QUEUED);
	const s32 e = irp.unclaim(&kRwAsync);
	if (e)
		return done(irp, -s64(e));
	kapi_queue_work(irp.io);
	return Issue::Queued;
}

/* The worker submits what would have blocked enter. */
void direct_work(Irp &irp, WorkCtx ctx)
{
	IoState &s = irp.ios;
	/* Submission may wait for the device: not the waiting enter's job. */
	if (!may_block(ctx))
		return rearm(irp, ctx, true);
	irp.issuing.store_relaxed(1);
	s.nowait = false;
	const s64 r = kapi_rw_direct(irp.io, s.file, s.write, s.offset, 0, false);
	if (r == -err::EIOCBQUEUED) {
		irp.go_async(PWRING_ST_DIRECT);	/* before `issuing` lets the device finish it */
		if (irp.issuing.exchange(0) == 2)
			irp.ring->complete_async(irp, ctx);	/* the device was quicker */
		return;
	}
	irp.issuing.store_relaxed(0);
	done(irp, r);
	irp.ring->complete_async(irp, ctx);
}

/*
 * A buffered read of a file whose pages can be waited for asynchronously:
 * where it would wait for a page being read in, it queues a wait entry on
 * that page and returns -EIOCBQUEUED; the packet is held meanwhile (the
 * entry cannot be taken off the page's queue by anyone but the wakeup),
 * and pw_page_ready() hands it back to task context to go on. Returns that,
 * or what total() turns into the result (0 when the buffer is full).
 */
s64 waitq_read(Irp &irp)
{
	IoState &s = irp.ios;
	while (s.done < s.len) {
		s64 r = kapi_rw(irp.io, s.file, false, s.offset, s.done, true);
		if (r == -err::EAGAIN)
			r = kapi_rw_waitq(irp.io, s.file, s.offset, s.done);
		if (r <= 0)
			return r;	/* EOF, waiting for a page, or an error */
		s.done += u64(r);
		if (kapi_fatal_signal_pending())
			break;
	}
	return 0;
}

/* The issue's first attempts would have blocked: wait for the pages without a worker. */
Issue waitq_issue(Irp &irp)
{
	IoState &s = irp.ios;
	s.waitq = true;
	kapi_io_hold_creds(irp.io);
	if (!irp.hold())
		return done(irp, total(s, -s64(irp.cancelled_error())));
	const s64 r = waitq_read(irp);
	if (r == -err::EIOCBQUEUED) {
		/* `issuing` covers a wakeup before we return, and this store */
		irp.go_async(PWRING_ST_PAGES);
		return Issue::Queued;
	}
	if (r != -err::EAGAIN)
		return done(irp, total(s, r));
	/* It cannot wait that way: a worker blocks for it. */
	s.waitq = false;
	irp.go_async(PWRING_ST_QUEUED);
	const s32 e = irp.unclaim(&kRwAsync);
	if (e)
		return done(irp, total(s, -s64(e)));
	kapi_queue_work(irp.io);
	return Issue::Queued;
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
	s = IoState{f, offset, 0, 0, 0, write, false, false, false, false,
		    (caps & (write ? KAPI_F_NOWAIT_WRITE : KAPI_F_NOWAIT_READ)) != 0};
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

	/* Direct I/O at a given offset: the device completes it, enter does not wait. */
	if (offset >= 0 && (caps & KAPI_F_DIRECT))
		return direct_issue(irp);

	/* O_NONBLOCK: the file answers EAGAIN itself, as read(2) would. */
	if (caps & KAPI_F_NONBLOCK)
		return done(irp, kapi_rw(irp.io, f, write, offset, 0, false));

	s.pollable = caps & KAPI_F_POLL;
	const s64 r = first_attempts(irp);
	if (r != -err::EAGAIN && !write_continues(s, r))
		return done(irp, total(s, r));
	if (!write && offset >= 0 && (caps & KAPI_F_WAITQ))
		return waitq_issue(irp);

	/* It would block: wait for readiness, or let a worker block for us. */
	s.events = (write ? kEpollOut | kEpollWrNorm : kEpollIn | kEpollRdNorm) |
		   kEpollErr | kEpollHup;
	kapi_io_hold_creds(irp.io);	/* the steps run as this thread */
	irp.go_async(s.pollable ? PWRING_ST_POLL : PWRING_ST_QUEUED);
	if (!irp.arm(&kRwAsync))
		return done(irp, -s64(irp.cancelled_error()));
	if (!s.pollable)
		kapi_queue_work(irp.io);
	else if (kapi_poll_arm(irp.io, f, s.events) & s.events)
		irp.ring->poll_woken(irp, false);	/* ready meanwhile: enter retries */
	return Issue::Queued;
}

/*
 * Back to waiting after a claim: for the next wakeup, or (`now`) for the
 * work item at once. A cancellation that came meanwhile completes it.
 */
void rearm(Irp &irp, WorkCtx ctx, bool now)
{
	irp.go_async(now ? PWRING_ST_QUEUED : PWRING_ST_POLL);
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
	if (s.direct)
		return direct_work(irp, ctx);
	if (s.waitq) {
		/*
		 * A page we waited for is in: go on, in whichever thread took it.
		 * Once waitq_read() queues the next wait, the wakeup may complete
		 * the packet at once: its state is recorded before (not traced
		 * again: the request went to page waits at its issue).
		 */
		irp.state.store_relaxed(PWRING_ST_PAGES);
		const s64 r = waitq_read(irp);
		if (r == -err::EIOCBQUEUED)
			return;	/* held: waiting for the next page */
		if (r != -err::EAGAIN) {
			done(irp, total(s, r));
			return irp.ring->complete_async(irp, ctx);
		}
		s.waitq = false;	/* a worker blocks for the rest */
	}
	/* The submitter's own threads must not block: that is a worker's job. */
	if (!may_block(ctx) && !(s.pollable && can_try(s)))
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

/*
 * The page a buffered read waited for is unlocked (any context): back to
 * task context to go on, or, if a timeout or close came meanwhile, to
 * complete with it and the bytes read so far.
 */
extern "C" void pw_page_ready(void *arg)
{
	pw::Irp &irp = *static_cast<pw::Irp *>(arg);
	const pw::s32 e = irp.unclaim(&pw::kRwAsync);

	if (!e) {
		irp.ring->poll_woken(irp, false);
		return;
	}
	irp.err = e;
	irp.result = 0;
	irp.ring->complete_later(irp);
}

/*
 * The device finished a direct READ or WRITE: any context, interrupts
 * included. Bounded work: record the result and hand the packet to task
 * context. A timeout or close that came while it was in flight is the
 * error; what the device moved is the result.
 */
extern "C" void pw_rw_done(void *arg, long res)
{
	pw::Irp &irp = *static_cast<pw::Irp *>(arg);
	const pw::s32 cancelled = irp.cancelled_error();

	/* A non-blocking submission the device turned down late: a worker submits again. */
	if (res == -pw::err::EAGAIN && irp.ios.nowait) {
		irp.go_async(PWRING_ST_QUEUED);
		const pw::s32 e = irp.unclaim(&pw::kRwAsync);
		if (!e) {
			kapi_queue_work(irp.io);
			return;
		}
		res = -e;
	}
	if (res < 0) {
		irp.err = pw::s32(-res);
		irp.result = 0;
	} else {
		irp.err = cancelled;
		irp.result = pw::u64(res);
	}
	irp.ring->complete_later(irp);
}
