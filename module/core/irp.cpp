// SPDX-License-Identifier: GPL-2.0
/* I/O Request Packets: the frame stack, the cancellation slot and the pool. */
#include "irp.h"
#include "ring.h"
#include "timeout.h"

namespace pw {

static bool slot_is_state(uptr v) { return v <= Irp::kDone; }

void Irp::reset_for_use()
{
	chain_next = nullptr;
	result = 0;
	err = 0;
	depth = 0;
	timer_armed = false;
	timer_won = false;
	slot.store_relaxed(kIdle);
}

void Irp::push_frame(FrameFn fn, void *ctx)
{
	/* Ops push a fixed number of layers; overflowing is a core bug. */
	if (PW_UNLIKELY(depth >= kMaxFrames))
		__builtin_trap();
	frames[depth++] = Frame{fn, ctx};
}

void Irp::run_frames()
{
	while (depth > 0) {
		const Frame f = frames[--depth];
		f.fn(*this, f.ctx);
	}
}

bool Irp::arm_cancel(CancelFn fn)
{
	uptr expected = kIdle;
	return slot.cas(expected, uptr(fn));
}

bool Irp::claim(CancelFn fn)
{
	uptr expected = uptr(fn);
	return slot.cas(expected, kDone);
}

s32 Irp::cancelled_error() const
{
	const uptr v = slot.load_acquire();
	return (v != kIdle && v < kDone) ? s32(v) : 0;
}

void Irp::precancel(s32 why)
{
	uptr expected = kIdle;
	slot.cas(expected, uptr(why));
}

bool Irp::cancel(s32 why, bool from_timer)
{
	uptr cur = slot.load_acquire();
	for (;;) {
		if (cur == kIdle) {
			/* Not issued yet: its dispatcher will see this and complete. */
			if (slot.cas(cur, uptr(why)))
				return false;
			continue;
		}
		if (slot_is_state(cur))
			return false;	/* already cancelled or claimed */
		if (slot.cas(cur, uptr(why)))
			break;
	}
	timer_won = from_timer;
	reinterpret_cast<CancelFn>(cur)(*this);
	err = why;
	result = 0;
	ring->complete_async(*this);
	return true;
}

bool IrpPool::init(u32 count, Ring *ring)
{
	irps_ = static_cast<Irp *>(kapi_zalloc(sizeof(Irp) * count));
	if (!irps_)
		return false;
	timers_ = kapi_timers_create(count, timeout_fire, irps_, sizeof(Irp));
	if (!timers_) {
		kapi_free(irps_);
		irps_ = nullptr;
		return false;
	}
	count_ = count;
	Irp *head = nullptr;
	for (u32 i = count; i-- > 0;) {
		Irp *irp = new (&irps_[i]) Irp();
		irp->ring = ring;
		irp->index = u16(i);
		irp->free_next = head;
		head = irp;
	}
	local_ = head;
	return true;
}

void IrpPool::destroy()
{
	if (timers_)
		kapi_timers_destroy(timers_, count_);
	kapi_free(irps_);
	irps_ = nullptr;
	timers_ = nullptr;
}

Irp *IrpPool::alloc()
{
	if (!local_)
		local_ = shared_.exchange(nullptr);
	Irp *irp = local_;
	if (PW_UNLIKELY(!irp))
		return nullptr;
	local_ = irp->free_next;
	irp->reset_for_use();
	return irp;
}

void IrpPool::free(Irp *irp)
{
	Irp *head = shared_.load_relaxed();
	do {
		irp->free_next = head;
	} while (!shared_.cas(head, irp));
}

} // namespace pw
