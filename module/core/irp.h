/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The I/O Request Packet: one consumed SQE on its way to a CQE.
 *
 * Life of a packet (docs/design.md has the contexts):
 *   alloc (enter) -> dispatch -> [queued: an op, a timer or a canceller owns
 *   it] -> complete: op frames run top-down, the ring posts the CQE and the
 *   packet returns to its pool.
 *
 * Exactly one party completes a packet. The cancellation slot decides:
 *   kIdle        not issued yet (or an op is running it synchronously)
 *   1..4094      cancelled with that errno before the op armed it
 *   kDone        the op claimed completion
 *   a CancelFn   armed: the op is pending and can be cancelled
 * The op arms the slot with compare-and-swap from kIdle; a timeout or
 * cancellation swaps an armed slot to its errno and completes the packet;
 * the op claims completion by swapping its CancelFn to kDone. Whoever wins
 * the swap completes; the loser walks away.
 */
#ifndef PWRING_IRP_H
#define PWRING_IRP_H

#include "base.h"

namespace pw {

class Ring;
struct Irp;

/* A layer's completion callback; runs when the packet completes. */
using FrameFn = void (*)(Irp &irp, void *ctx);
/* Stops an op's pending work; the canceller then completes the packet. */
using CancelFn = void (*)(Irp &irp);

struct Frame {
	FrameFn fn;
	void *ctx;
};

struct Irp {
	static constexpr unsigned kMaxFrames = 4;
	static constexpr uptr kIdle = 0;
	static constexpr uptr kDone = uptr(err::MAX);

	pwring_sqe sqe;		/* private copy, taken once from the ring */
	Ring *ring;
	Irp *chain_next;	/* linked successor, dispatched after our CQE */
	Irp *free_next;		/* pool free list */
	u64 result;
	s32 err;
	u16 index;		/* position in the pool, also the timer's index */
	u8 depth;		/* frames pushed */
	bool timer_armed;	/* written by the dispatcher before the op is issued */
	bool timer_won;		/* completed by our own timer's callback */
	Atomic<uptr> slot;
	Frame frames[kMaxFrames];

	void reset_for_use();
	void push_frame(FrameFn fn, void *ctx);
	void run_frames();

	/* Op side. */
	bool arm_cancel(CancelFn fn);
	bool claim(CancelFn fn);
	s32 cancelled_error() const;

	/* Timeout or cancellation side: true if this call completed the packet. */
	bool cancel(s32 why, bool from_timer);
	/* Mark a not yet issued packet cancelled; its dispatch completes it. */
	void precancel(s32 why);
};

/*
 * Fixed-size pool, sized by centries at setup. Allocation only happens in
 * enter (one thread at a time per ring); frees come from any context. A
 * multi-producer stack that the single consumer empties in one exchange has
 * no ABA problem.
 */
class IrpPool {
public:
	bool init(u32 count, Ring *ring);
	void destroy();
	Irp *alloc();
	void free(Irp *irp);
	u32 size() const { return count_; }
	Irp &at(u32 i) { return irps_[i]; }
	kapi_timers *timers() { return timers_; }

private:
	Irp *irps_ = nullptr;
	kapi_timers *timers_ = nullptr;
	u32 count_ = 0;
	Irp *local_ = nullptr;
	Atomic<Irp *> shared_;
};

} // namespace pw

#endif /* PWRING_IRP_H */
