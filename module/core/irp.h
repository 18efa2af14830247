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
 *   kIdle               not issued yet (or an op is running it synchronously)
 *   errno (1..4095)     cancelled with that errno while not armed
 *   kClaimed            the op is completing it (or retrying a step)
 *   kClaimed | errno    ... and a cancellation asked meanwhile
 *   const AsyncOps *    armed: the op is pending and can be cancelled
 * The op arms the slot with compare-and-swap from kIdle. A timeout or a
 * cancellation swaps an armed slot to its errno and completes the packet.
 * The op claims the packet by swapping its AsyncOps to kClaimed: then it
 * completes, or re-arms (unclaim) if it has to wait again, in which case a
 * cancellation that arrived meanwhile is handed to it. Whoever wins a swap
 * owns the packet; the loser walks away.
 */
#ifndef PWRING_IRP_H
#define PWRING_IRP_H

#include "base.h"

namespace pw {

class Ring;
struct Irp;

/* A layer's completion callback; runs when the packet completes. */
using FrameFn = void (*)(Irp &irp, void *ctx);

/*
 * Where a retry runs: the packet's work item (a worker, which may block);
 * the submitter's thread in enter, to which a wakeup hands it (which must
 * not block, and finishes packets as enter's own); or task work: a thread
 * of the submitter on its way back to user space (which must not block,
 * and finishes packets as any other completer).
 */
enum class WorkCtx : u8 { Worker, Enter, Task };

/* Only a worker may block for a request. */
constexpr bool may_block(WorkCtx ctx) { return ctx == WorkCtx::Worker; }

/* What an armed packet offers to the other parties. */
struct AsyncOps {
	/* Stop pending work (the canceller then completes); any context. */
	void (*cancel)(Irp &irp);
	/* Woken (process context): retry or finish. */
	void (*work)(Irp &irp, WorkCtx ctx);
};

struct Frame {
	FrameFn fn;
	void *ctx;
};

/* Op-private state of READ, WRITE and POLL. */
struct IoState {
	struct file *file;	/* our reference, dropped by the op's frame */
	s64 offset;		/* -1: the file position */
	u64 len;		/* bytes pinned (READ/WRITE) */
	u64 done;		/* WRITE to a stream: bytes written so far */
	u32 events;		/* kernel poll bits waited for */
	bool write;
	bool pollable;		/* wait with a poll entry rather than a worker */
	bool direct;		/* an asynchronous kiocb: the device completes it */
	bool nowait;		/* direct: submitted with IOCB_NOWAIT (EAGAIN: try blocking) */
	bool waitq;		/* buffered read that waits for pages asynchronously */
	bool can_nowait;	/* the file takes non-blocking attempts (fixed for its life) */
};

struct Irp {
	static constexpr unsigned kMaxFrames = 4;
	static constexpr uptr kIdle = 0;
	static constexpr uptr kClaimed = 0x1000;
	static constexpr uptr kErrMask = 0xfff;
	static constexpr uptr kArmedMin = 0x10000;
	static constexpr u8 kFree = 0xff;

	pwring_sqe sqe;		/* private copy, taken once from the ring */
	Ring *ring;
	kapi_io *io;		/* kernel companion: hrtimer, work item, pins, poll entries */
	Irp *chain_next;	/* linked successor, dispatched after our CQE */
	Irp *free_next;		/* pool and deferred lists */
	Irp *ready_next;	/* the ring's list of woken packets */
	u64 result;
	s32 err;
	u16 index;		/* position in the pool */
	u8 depth;		/* frames pushed */
	bool timer_armed;	/* written by the dispatcher before the op is issued */
	bool timer_won;		/* completed by our own timer's callback */
	bool finish_in_task;	/* an op frame must not run in interrupt context */
	bool skipped;		/* a member of a broken chain, never issued: ECANCELED */
	Atomic<u8> issuing;	/* 1 while the dispatcher issues, 2: completed meanwhile */
	/* The step is to finish the packet, or to dispatch it (a successor out of interrupt context). */
	Atomic<u8> finish_queued;
	static constexpr u8 kQueuedFinish = 1, kQueuedDispatch = 2;
	Atomic<u8> on_ready;	/* on the ring's ready list; outlives a reuse */
	Atomic<uptr> slot;
	u8 ring_id;		/* for the tracepoints */
	/* enum pwring_state while in flight, kFree in the pool (fdinfo reads it). */
	Atomic<u8> state;
	Atomic<u64> since;	/* admitted at (coarse clock, fdinfo's oldest age) */
	Frame frames[kMaxFrames];
	IoState ios;

	/* Inline, like the pool below: every request runs them. */
	void reset_for_use()
	{
		chain_next = nullptr;
		result = 0;
		err = 0;
		depth = 0;
		timer_armed = false;
		timer_won = false;
		finish_in_task = false;
		skipped = false;
		issuing.store_relaxed(0);
		finish_queued.store_relaxed(0);
		slot.store_relaxed(kIdle);
	}
	/*
	 * The request goes asynchronous (`st`, a pwring_state): for fdinfo and
	 * the pwring_async tracepoint. Called by whoever owns the packet,
	 * before the step that lets another party complete it (an arm, a
	 * queued work item, a list push), so a completion always comes after.
	 */
	[[gnu::always_inline]] void go_async(u8 st)
	{
		state.store_relaxed(st);
		if (kapi_tracing())
			kapi_trace_async(ring_id, sqe.op, sqe.data, st);
	}
	void push_frame(FrameFn fn, void *ctx);
	void run_frames()
	{
		while (depth > 0) {
			const Frame f = frames[--depth];
			f.fn(*this, f.ctx);
		}
	}

	/* Op side. */
	bool arm(const AsyncOps *ops);
	/*
	 * From kIdle straight to kClaimed: the op keeps the packet while the
	 * device has it (a bio cannot be recalled); a timeout or cancellation
	 * meanwhile is recorded for the completion. False if one came first.
	 */
	bool hold();
	bool claim(const AsyncOps *ops);
	/* Re-arm after a claim: 0, or the errno of a cancellation that came meanwhile. */
	s32 unclaim(const AsyncOps *ops);
	s32 cancelled_error() const;

	/* Timeout or cancellation side: true if this call completed the packet. */
	bool cancel(s32 why, bool from_timer);
	void trace_cancel(s32 why, bool from_timer) const;
	/* Mark a not yet issued packet cancelled; its dispatch completes it. */
	void precancel(s32 why);
	/* Woken: the work item ran, or the waiting enter took the wakeup. */
	void work(WorkCtx ctx);
};

/*
 * A work item's blocking call on the packet's behalf: while the scope lives,
 * a cancellation interrupts the call (kapi_io_interrupt) instead of waiting
 * for it. Check for a cancellation after entering, not before: one that came
 * earlier found nobody to interrupt.
 */
class BlockingScope {
public:
	explicit BlockingScope(kapi_io *io) : io_(io) { kapi_block_begin(io_); }
	~BlockingScope() { kapi_block_end(io_); }
	BlockingScope(const BlockingScope &) = delete;
	BlockingScope &operator=(const BlockingScope &) = delete;

private:
	kapi_io *io_;
};

/*
 * Fixed-size pool, sized by centries at setup. Allocation only happens in
 * enter (one thread at a time per ring); frees come from any context. A
 * multi-producer stack that the single consumer empties in one exchange has
 * no ABA problem.
 */
class IrpPool {
public:
	bool init(u32 count, Ring *ring, u8 ring_id, kapi_file *file, kapi_waitq *ring_wq);
	void destroy();

	Irp *alloc()
	{
		if (!local_)
			local_ = shared_.exchange(nullptr);
		Irp *irp = local_;
		if (PW_LIKELY(irp))
			local_ = irp->free_next;
		else if (PW_UNLIKELY(!(irp = fresh())))
			return nullptr;
		irp->reset_for_use();
		return irp;
	}

	/* `local`: called by the allocating thread itself (no atomics needed). */
	void free(Irp *irp, bool local)
	{
		if (local) {
			irp->free_next = local_;
			local_ = irp;
			return;
		}
		Irp *head = shared_.load_relaxed();
		do {
			irp->free_next = head;
		} while (!shared_.cas(head, irp));
	}
	/* Packets ever handed out: exactly [0, used()). */
	u32 used() const { return used_; }
	/* The same from another thread (fdinfo): those packets are built. */
	[[gnu::always_inline]] u32 used_published() const { return __atomic_load_n(&used_, __ATOMIC_ACQUIRE); }
	Irp &at(u32 i) { return chunks_[i / kChunk][i % kChunk]; }
	kapi_ios *ios() const { return ios_; }

private:
	/*
	 * Packets come in chunks allocated as the ring first needs them, so
	 * setup allocates next to nothing and a ring with a few requests in
	 * flight never pays for the rest of its entries.
	 */
	static constexpr u32 kChunk = 32;
	/* The next packet never used, built now (recycled ones are preferred). */
	Irp *fresh();

	Irp **chunks_ = nullptr;
	kapi_ios *ios_ = nullptr;
	Ring *ring_ = nullptr;
	u8 ring_id_ = 0;
	u32 count_ = 0;
	u32 used_ = 0;
	Irp *local_ = nullptr;
	Atomic<Irp *> shared_;
};

} // namespace pw

#endif /* PWRING_IRP_H */
