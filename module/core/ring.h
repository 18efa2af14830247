/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One ring: the shared pages, the submit loop (SQ pop, admission, links),
 * CQE posting and the waits. Knows nothing about any particular op.
 */
#ifndef PWRING_RING_H
#define PWRING_RING_H

#include "irp.h"
#include "limits.h"
#include "pwring_core.h"

namespace pw {

/*
 * A ring's allow-list (PWRING_IOC_RESTRICT): immutable once published.
 * Operations allowed on any descriptor are a bit mask; the others are
 * (op, fd) pairs, few enough (PWRING_RESTRICT_MAX) for a linear scan.
 */
struct Restrictions {
	u32 any_fd = 0;		/* bit op: allowed whatever arg0 is */
	u32 n = 0;
	struct Entry {
		u32 op;
		u64 fd;
	} e[PWRING_RESTRICT_MAX];

	bool allows(u32 op, u64 fd) const
	{
		if (any_fd & (1u << op))
			return true;
		for (u32 i = 0; i < n; i++)
			if (e[i].op == op && e[i].fd == fd)
				return true;
		return false;
	}
};

class Ring {
public:
	/* Validates, allocates, maps into the caller and fills *info. */
	static Result<Ring *> create(kapi_file *file, const pwring_setup_args &args,
				     u32 id, pwring_ring_info *info);
	/* Frees everything; requires idle(). Unmaps the user mapping if asked. */
	void destroy(bool unmap_user);

	Result<u32> enter(u64 amount, u64 wait);
	/*
	 * Locks the ring to an allow-list for good (entries validated by the
	 * caller): EPERM if it is locked already, ENOMEM. Called with the
	 * slot's busy bit held, so no enter runs meanwhile.
	 */
	Result<u32> set_restrictions(const pwring_restriction *entries, u32 n);
	/*
	 * Close or owner exit: cancel everything in flight, without waiting.
	 * True when the ring is idle already (the caller destroys it), else
	 * its last completion has it reaped (pw_ring_reap).
	 */
	bool shutdown();
	/* Every admitted packet has posted its CQE (enter is not running). */
	bool idle() const { return cq_tail_.load_acquire() == admitted_; }

	/*
	 * Completion side, any context: the packet's owner completes it. From
	 * the waiting enter (WorkCtx::Enter) it finishes as enter's own.
	 */
	void complete_async(Irp &irp, WorkCtx from = WorkCtx::Worker);
	/*
	 * The device completed the op (any context, interrupts included): the
	 * packet is finished in task context, by the thread waiting in enter
	 * or a worker, or by its dispatcher if it is still issuing.
	 */
	void complete_later(Irp &irp);
	/* When completion had to leave interrupt context: the thread that took it finishes. */
	void finish_deferred(Irp &irp, WorkCtx ctx);
	/* A successor interrupt context handed on: the thread that took it dispatches. */
	void dispatch_handed(Irp &irp, WorkCtx ctx);
	/* A wakeup (atomic context) for a step: to the thread waiting in enter, or a worker. */
	void poll_woken(Irp &irp, bool sync);

	IrpPool &pool() { return pool_; }
	u32 id() const { return id_; }
	/* fdinfo: any context that may spin; the ring must stay alive meanwhile. */
	void snapshot(pwring_ring_snap *s, u64 now);

private:
	Ring() = default;
	s32 init(kapi_file *file, const pwring_setup_args &args, u32 id, pwring_ring_info *info);

	bool admit() const;
	/* CQEs the user can see and has not reaped. */
	u32 unreaped() const
	{
		return cq_published_.load_acquire() - shared_load_acquire(&ctrl_->chead);
	}
	/*
	 * Also over when there are deferred successors, woken packets or
	 * queued steps with no worker to run them: the waiter runs them.
	 */
	bool wait_over(u64 wait) const
	{
		return unreaped() >= wait || deferred_.load_acquire() || has_ready() ||
		       tw_hint_.load_acquire() || work_pending();
	}
	/* Steps queued for a worker while the owner lent none: enter runs them. */
	bool work_pending() const { return kapi_work_pending(pool_.ios()); }
	bool run_work()
	{
		if (!work_pending())
			return false;
		kapi_work_run(pool_.ios());
		return true;
	}
	/* Under cq_lock_: the ring was shut down and this was its last request. */
	void reap_if_idle();
	static int wait_cond(void *arg);

	/*
	 * Where a dispatch or a finish runs: the submitter's enter (Task: its
	 * packets and CQEs are enter's own), another thread of the owner (Thread:
	 * task work; may issue READ, WRITE and POLL), or anywhere (Async: a timer,
	 * a device, a worker).
	 */
	enum class Ctx : u8 { Task, Thread, Async };
	static constexpr Ctx finish_ctx(WorkCtx w)
	{
		return w == WorkCtx::Enter ? Ctx::Task : w == WorkCtx::Task ? Ctx::Thread : Ctx::Async;
	}
	void run(Irp *irp, Ctx ctx);
	Irp *dispatch(Irp &irp, Ctx ctx);
	void defer(Irp &irp);
	/* Dispatches the deferred successors; false when there were none. */
	bool drain_deferred()
	{
		/* The usual case, inline and without a locked exchange. */
		return deferred_.load_relaxed() && dispatch_deferred();
	}
	bool dispatch_deferred();
	static Irp *ready_closed() { return reinterpret_cast<Irp *>(uptr(1)); }
	bool has_ready() const
	{
		Irp *head = ready_.load_acquire();
		return head && head != ready_closed();
	}
	bool run_ready(Irp *then);
	bool run_task_work();
	int wait_and_run(u64 wait);
	class ReadyWindow;
	class SubmitPlug;
	class WakerScope;
	void load_registers(Irp &irp) const;
	/*
	 * The allow-list lets this request through. Called at dispatch after
	 * the register loads: arg0 is then the descriptor the op resolves
	 * (from the packet's private copy, never read again from the ring).
	 */
	bool allowed(const Irp &irp) const
	{
		const Restrictions *r = restrictions_.load_acquire();
		return !r || r->allows(irp.sqe.op, irp.sqe.arg0);
	}
	Irp *finish(Irp &irp, Ctx ctx);
	/* Inlined into finish(): specialised for each context, one call less per request. */
	[[gnu::always_inline]] inline Irp *retire(Irp &irp, bool in_enter, bool in_irq);
	void post(bool batched, u32 op, u64 data, s32 err, u64 result);
	void write_cqe(u32 pos, u32 op, u64 data, s32 err, u64 result);
	void publish(u32 tail);
	void post_locked(u32 op, u64 data, s32 err, u64 result);
	void post_batched(u32 op, u64 data, s32 err, u64 result);
	void flush_batch();
	void post_batch();

	/* Shared pages (kernel mapping) and their geometry. */
	pwring_ctrl *ctrl_ = nullptr;
	pwring_sqe *sq_ = nullptr;
	pwring_cqe *cq_ = nullptr;
	u32 sentries_ = 0, smask_ = 0;
	u32 centries_ = 0, cmask_ = 0;

	/* Our own copies of the indices we own; the shared ones are only written. */
	u32 sq_head_ = 0;		/* enter only */
	Atomic<u32> cq_tail_;		/* CQEs written; under cq_lock_ (see flush_batch) */
	Atomic<u32> cq_published_;	/* CQEs whose ctail is out (see publish) */
	/*
	 * Packets ever admitted (enter only). Each one posts exactly one CQE,
	 * so admitted_ - chead counts in-flight and unreaped together, with no
	 * window in which a completing packet is counted twice.
	 */
	u32 admitted_ = 0;
	Atomic<bool> dying_;
	/* 1: shut down, reap when idle; 2: reaped (or being destroyed). Under cq_lock_. */
	u8 reap_ = 0;
	/* Linked successors that need the submitter's context (see defer()). */
	Atomic<Irp *> deferred_;
	/*
	 * Packets whose poll wakeup the thread waiting in enter takes, instead
	 * of a worker; ready_closed() while nobody waits (see poll_woken()).
	 */
	Atomic<Irp *> ready_;
	/* Set after a packet was listed as task work: enter may run it (run_task_work). */
	Atomic<u8> tw_hint_;
	/* Wakers that handed a packet on and still touch the ring (WakerScope). */
	Atomic<u32> wakers_;

	/*
	 * CQEs of packets completed inside the submitter's own enter, posted
	 * together under one lock acquisition, or none when nothing else is in
	 * flight (enter or close only).
	 */
	struct PendingCqe {
		u32 op;
		s32 err;
		u64 data;
		u64 result;
	};
	static constexpr u32 kBatch = 32;
	PendingCqe batch_[kBatch];
	u32 batch_n_ = 0;

	/*
	 * Per-op counters, cheap enough for every request: each has a single
	 * writer at a time, so a relaxed load and store, no locked instruction.
	 * submitted: enter. completed, errors: whoever writes CQEs (under
	 * cq_lock_, or enter's batch when nothing else is in flight).
	 */
	struct OpStats {
		Atomic<u64> submitted, completed, errors;
	};
	[[gnu::always_inline]] static u32 stat_slot(u32 op) { return op < PWRING_OP_MAX ? op : PWRING_OP_MAX; }
	[[gnu::always_inline]] static void bump(Atomic<u64> &c) { c.store_relaxed(c.load_relaxed() + 1); }
	OpStats stats_[PWRING_OP_MAX + 1];
	u32 id_ = 0;

	kapi_lock *cq_lock_ = nullptr;
	kapi_waitq *waitq_ = nullptr;
	kapi_mem *mem_ = nullptr;
	unsigned long uaddr_ = 0;
	/* The user charged for this ring: its pages (ring_bytes_), its requests in flight. */
	kapi_user *user_ = nullptr;
	UserCharge charge_;		/* user_'s counters */
	u64 ring_bytes_ = 0;
	/* The allow-list, or none; set once, read at every dispatch. */
	Atomic<const Restrictions *> restrictions_;
	IrpPool pool_;
};

} // namespace pw

#endif /* PWRING_RING_H */
