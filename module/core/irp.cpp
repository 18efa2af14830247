// SPDX-License-Identifier: GPL-2.0
/* I/O Request Packets: the frame stack, the cancellation slot and the pool. */
#include "irp.h"
#include "ring.h"
#include "timeout.h"

namespace pw {

static bool is_armed(uptr v) { return v >= Irp::kArmedMin; }

void Irp::push_frame(FrameFn fn, void *ctx)
{
	/* Ops push a fixed number of layers; overflowing is a core bug. */
	if (PW_UNLIKELY(depth >= kMaxFrames))
		__builtin_trap();
	frames[depth++] = Frame{fn, ctx};
}

bool Irp::arm(const AsyncOps *ops)
{
	uptr expected = kIdle;
	return slot.cas(expected, uptr(ops));
}

bool Irp::hold()
{
	uptr expected = kIdle;
	return slot.cas(expected, kClaimed);
}

bool Irp::claim(const AsyncOps *ops)
{
	uptr expected = uptr(ops);
	return slot.cas(expected, kClaimed);
}

s32 Irp::unclaim(const AsyncOps *ops)
{
	uptr expected = kClaimed;
	if (slot.cas(expected, uptr(ops)))
		return 0;
	return s32(expected & kErrMask);	/* kClaimed | errno */
}

s32 Irp::cancelled_error() const
{
	const uptr v = slot.load_acquire();
	return is_armed(v) ? 0 : s32(v & kErrMask);
}

void Irp::precancel(s32 why)
{
	uptr expected = kIdle;
	slot.cas(expected, uptr(why));
}

/* A timeout is the timer's cancellation: traced as pwring_timeout, not pwring_cancel. */
void Irp::trace_cancel(s32 why, bool from_timer) const
{
	if (!kapi_tracing())
		return;
	if (from_timer)
		kapi_trace_timeout(ring_id, sqe.op, sqe.data);
	else
		kapi_trace_cancel(ring_id, sqe.op, sqe.data, why);
}

bool Irp::cancel(s32 why, bool from_timer)
{
	uptr cur = slot.load_acquire();
	for (;;) {
		if (cur == kIdle) {
			/* Not issued yet: its dispatcher will see this and complete. */
			if (slot.cas(cur, uptr(why))) {
				if (state.load_relaxed() != kFree)
					trace_cancel(why, from_timer);
				return false;
			}
		} else if (cur == kClaimed) {
			/*
			 * The op is busy with it: hand the cancellation over, and
			 * break the blocking call its worker may be in. Should the
			 * packet have been reused by now, the new request's call
			 * sees a spurious interruption, which it retries.
			 */
			if (slot.cas(cur, kClaimed | uptr(why))) {
				trace_cancel(why, from_timer);
				kapi_io_interrupt(io);
				return false;
			}
		} else if (!is_armed(cur)) {
			return false;	/* already cancelled, or a cancel is pending */
		} else if (slot.cas(cur, uptr(why))) {
			break;
		}
	}
	timer_won = from_timer;
	trace_cancel(why, from_timer);
	reinterpret_cast<const AsyncOps *>(cur)->cancel(*this);
	err = why;
	result = 0;
	ring->complete_async(*this);
	return true;
}

void Irp::work(WorkCtx ctx)
{
	/* A finish handed out of interrupt context: to whichever thread takes it first. */
	switch (finish_queued.exchange(0)) {
	case kQueuedFinish:
		ring->finish_deferred(*this, ctx);
		return;
	case kQueuedDispatch:
		ring->dispatch_handed(*this, ctx);
		return;
	}
	/*
	 * A wakeup for a packet that has completed since (or has been reused)
	 * finds the slot not armed, or armed by an op that simply retries.
	 */
	const uptr v = slot.load_acquire();
	if (is_armed(v) && reinterpret_cast<const AsyncOps *>(v)->work)
		reinterpret_cast<const AsyncOps *>(v)->work(*this, ctx);
}

bool IrpPool::init(u32 count, Ring *ring, u8 ring_id, kapi_file *file, kapi_waitq *ring_wq)
{
	ring_id_ = ring_id;
	chunks_ = static_cast<Irp **>(kapi_zalloc(sizeof(Irp *) * ((count + kChunk - 1) / kChunk)));
	if (!chunks_)
		return false;
	ios_ = kapi_ios_create(count, file, ring_wq, ring);
	if (!ios_)
		return false;
	count_ = count;
	ring_ = ring;
	return true;
}

/* Null when the pool is used up, or out of memory for a new chunk. */
Irp *IrpPool::fresh()
{
	const u32 i = used_;
	if (i == count_)
		return nullptr;
	Irp *&chunk = chunks_[i / kChunk];
	if (!chunk) {
		const u32 n = count_ - i < kChunk ? count_ - i : kChunk;
		chunk = static_cast<Irp *>(kapi_alloc(sizeof(Irp) * n));
		if (!chunk)
			return nullptr;
	}
	Irp *irp = new (&chunk[i % kChunk]) Irp();
	irp->ring = ring_;
	irp->index = u16(i);
	irp->ring_id = ring_id_;
	irp->state.store_relaxed(Irp::kFree);
	irp->io = kapi_io_init(ios_, i, irp);
	if (!irp->io)
		return nullptr;
	/* Published: fdinfo walks [0, used_) from other threads. */
	__atomic_store_n(&used_, i + 1, __ATOMIC_RELEASE);
	return irp;
}

void IrpPool::destroy()
{
	/* Waits for timer callbacks and steps still returning. */
	if (ios_)
		kapi_ios_destroy(ios_, count_, used_);
	if (chunks_)
		for (u32 c = 0; c < (count_ + kChunk - 1) / kChunk; c++)
			kapi_free(chunks_[c]);
	kapi_free(chunks_);
	chunks_ = nullptr;
	ios_ = nullptr;
}

} // namespace pw

/* Kernel callbacks into the core (see kapi.h). */
extern "C" void pw_timer_fired(void *arg)
{
	pw::timeout_fire(arg);
}

extern "C" void pw_io_work(void *arg)
{
	static_cast<pw::Irp *>(arg)->work(pw::WorkCtx::Worker);
}

extern "C" void pw_io_run(void *arg, int in_enter)
{
	static_cast<pw::Irp *>(arg)->work(in_enter ? pw::WorkCtx::Enter : pw::WorkCtx::Task);
}

extern "C" void pw_poll_wake(void *arg, int sync)
{
	pw::Irp *irp = static_cast<pw::Irp *>(arg);
	irp->ring->poll_woken(*irp, sync != 0);
}
