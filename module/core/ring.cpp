// SPDX-License-Identifier: GPL-2.0
/*
 * The ring: setup geometry, the submit loop with admission and links, CQE
 * posting, register loads and saves, and the waits.
 *
 * Never trusted from the shared pages: stail (clamped), chead (only ever
 * hurts its writer), SQE contents (copied once, then only the copy is
 * read). shead and ctail are written from our own copies, never read back.
 */
#include "ring.h"
#include "limits.h"
#include "pwring_core.h"
#include "timeout.h"
#include "ops/table.h"

namespace pw {

static_assert(PWRING_STAT_OPS == PWRING_OP_MAX + 1, "a counter slot per opcode, one for the rest");
static_assert(PWRING_ST_COUNT < Irp::kFree, "states fit below the pool's marker");

namespace {

constexpr u64 kPageSize = 4096;
constexpr u32 kLinkFlags = PWRING_LINK | PWRING_HARDLINK;
/* Loops over user-sized work check for signals and yield this often. */
constexpr u32 kResched = 64;
/* The five load specifiers, all REG_NONE. */
constexpr u32 kLoadSpecs = PWRING_NO_REGS & ~(PWRING_REG_MASK << PWRING_SAVE);
static_assert(kLoadSpecs == 0x7fff, "five 3-bit load specifiers from bit 0");
/* Larger SQs cannot fit below PWRING_MAX_PAGES; checked before any product. */
constexpr u64 kMaxSentries = u64(PWRING_MAX_PAGES) * kPageSize / sizeof(pwring_sqe);

constexpr u32 reg_spec(u32 flags, u32 shift) { return (flags >> shift) & PWRING_REG_MASK; }

/* The lock-free lists are pushed LIFO: reversed, they run in push order. */
template <Irp *Irp::*Next>
Irp *in_push_order(Irp *list)
{
	Irp *fifo = nullptr;
	while (list) {
		Irp *next = list->*Next;
		list->*Next = fifo;
		fifo = list;
		list = next;
	}
	return fifo;
}

struct WaitArgs {
	const Ring *ring;
	u64 wait;
};

} // namespace

Result<Ring *> Ring::create(kapi_file *file, const pwring_setup_args &args, u32 id,
			    pwring_ring_info *info)
{
	if (!args.ring || args.flags)
		return Result<Ring *>::error(err::EINVAL);
	if (!is_pow2(args.sentries) || !is_pow2(args.centries))
		return Result<Ring *>::error(err::EINVAL);
	/* The packet pool is indexed by u16. */
	if (args.centries >= PWRING_MAX_CENTRIES)
		return Result<Ring *>::error(err::EINVAL);
	if (args.address & (kPageSize - 1))
		return Result<Ring *>::error(err::EINVAL);
	if (args.sentries > kMaxSentries)
		return Result<Ring *>::error(err::ENOMEM);
	const u64 bytes = sizeof(pwring_ctrl) + args.sentries * sizeof(pwring_sqe) +
			  args.centries * sizeof(pwring_cqe);
	if ((bytes + kPageSize - 1) / kPageSize >= PWRING_MAX_PAGES)
		return Result<Ring *>::error(err::ENOMEM);

	void *mem = kapi_zalloc(sizeof(Ring));
	if (!mem)
		return Result<Ring *>::error(err::ENOMEM);
	Ring *ring = new (mem) Ring();
	const s32 e = ring->init(file, args, id, info);
	if (e) {
		ring->destroy(true);
		return Result<Ring *>::error(e);
	}
	return ring;
}

s32 Ring::init(kapi_file *file, const pwring_setup_args &args, u32 id, pwring_ring_info *info)
{
	ready_.store_relaxed(ready_closed());
	id_ = id;
	sentries_ = u32(args.sentries);
	smask_ = sentries_ - 1;
	centries_ = u32(args.centries);
	cmask_ = centries_ - 1;
	const u64 bytes = sizeof(pwring_ctrl) + u64(sentries_) * sizeof(pwring_sqe) +
			  u64(centries_) * sizeof(pwring_cqe);

	cq_lock_ = kapi_lock_create();
	waitq_ = kapi_waitq_create();
	if (!cq_lock_ || !waitq_)
		return err::ENOMEM;
	/*
	 * The ring's pages are charged to its user before they exist, like
	 * io_uring charges ring memory: beyond max_user_ring_bytes, ENOMEM.
	 */
	const u64 pages = (bytes + kPageSize - 1) / kPageSize;
	user_ = kapi_user_get();
	if (!user_)
		return err::ENOMEM;
	charge_ = UserCharge(user_);
	if (!charge_.take_all(KAPI_LIMIT_RING_BYTES, pages * kPageSize))
		return err::ENOMEM;
	ring_bytes_ = pages * kPageSize;
	void *kaddr = nullptr;
	mem_ = kapi_mem_alloc(pages, &kaddr);
	if (!mem_)
		return err::ENOMEM;
	ctrl_ = static_cast<pwring_ctrl *>(kaddr);
	sq_ = reinterpret_cast<pwring_sqe *>(static_cast<u8 *>(kaddr) + PWRING_SQ_OFFSET);
	cq_ = reinterpret_cast<pwring_cqe *>(sq_ + sentries_);
	if (!pool_.init(centries_, this, u8(id), file, waitq_))
		return err::ENOMEM;

	const long m = kapi_mem_map_user(file, mem_, args.address, &uaddr_);
	if (m < 0)
		return s32(-m);

	*info = pwring_ring_info{
		.ctrl = uaddr_,
		.id = id,
		.squeue = uaddr_ + PWRING_SQ_OFFSET,
		.sentries = sentries_,
		.smask = smask_,
		.cqueue = uaddr_ + PWRING_SQ_OFFSET + u64(sentries_) * sizeof(pwring_sqe),
		.centries = centries_,
		.cmask = cmask_,
	};
	if (kapi_copy_to_user(args.ring, info, sizeof(*info)))
		return err::EFAULT;
	return 0;
}

/*
 * Held by a waker from before it hands a packet on until its last touch of
 * the ring: the packet may complete at once elsewhere and the ring be
 * freed, which waits for wakers to leave (destroy()).
 */
class Ring::WakerScope {
public:
	explicit WakerScope(Ring &r) : r_(r) { r_.wakers_.fetch_add(1); }
	~WakerScope() { r_.wakers_.fetch_add(u32(-1)); }
	WakerScope(const WakerScope &) = delete;
	WakerScope &operator=(const WakerScope &) = delete;

private:
	Ring &r_;
};

void Ring::destroy(bool unmap_user)
{
	/* Idle: no new waker comes; those still returning leave soon. */
	while (wakers_.load_acquire())
		kapi_cond_resched();
	/* Let the last completer leave its critical section. */
	if (cq_lock_) {
		IrqLockGuard g(cq_lock_);
	}
	if (unmap_user && uaddr_)
		kapi_mem_unmap_user(mem_, uaddr_);
	/* Waits for timer callbacks still returning. */
	pool_.destroy();
	if (mem_)
		kapi_mem_free(mem_);
	if (waitq_)
		kapi_waitq_destroy(waitq_);
	if (cq_lock_)
		kapi_lock_destroy(cq_lock_);
	if (const Restrictions *r = restrictions_.load_relaxed())
		kapi_free(const_cast<Restrictions *>(r));
	if (user_) {
		charge_.give_back(KAPI_LIMIT_RING_BYTES, ring_bytes_);
		kapi_user_put(user_);
	}
	this->~Ring();
	kapi_free(this);
}

Result<u32> Ring::set_restrictions(const pwring_restriction *entries, u32 n)
{
	if (restrictions_.load_acquire())
		return Result<u32>::error(err::EPERM);	/* never loosened, never replaced */
	void *mem = kapi_zalloc(sizeof(Restrictions));
	if (!mem)
		return Result<u32>::error(err::ENOMEM);
	auto *r = new (mem) Restrictions();
	for (u32 i = 0; i < n; i++) {
		if (entries[i].fd == PWRING_RESTRICT_ANY_FD)
			r->any_fd |= 1u << entries[i].op;
		else
			r->e[r->n++] = Restrictions::Entry{entries[i].op, u64(entries[i].fd)};
	}
	/* Dispatches from now on (also timer callbacks of earlier requests) see it. */
	restrictions_.store_release(r);
	return 0u;
}

/* A CQE slot is guaranteed for every packet in flight. */
bool Ring::admit() const
{
	return admitted_ - shared_load_acquire(&ctrl_->chead) < centries_;
}

/*
 * Open for the whole of enter: wakeups and device completions that come while
 * the submitter is in its own enter (submitting or waiting) are its to run,
 * not a worker's (a context switch each). Closing runs what came in meanwhile.
 */
class Ring::ReadyWindow {
public:
	explicit ReadyWindow(Ring &r) : r_(r)
	{
		r_.ready_.store_release(nullptr);
		kapi_mb();	/* before looking for task work: see poll_woken() */
		r_.run_task_work();
	}
	~ReadyWindow() { r_.run_ready(ready_closed()); }
	ReadyWindow(const ReadyWindow &) = delete;
	ReadyWindow &operator=(const ReadyWindow &) = delete;

private:
	Ring &r_;
};

/*
 * A batch of submissions is plugged: the block layer issues its direct I/O
 * together (one tag allocation, one queue run) when the batch ends. Ended
 * before enter runs completions or waits.
 */
class Ring::SubmitPlug {
public:
	SubmitPlug(kapi_ios *ios, u32 n) : ios_(n > 1 ? ios : nullptr)
	{
		if (ios_)
			kapi_plug_start(ios_, n);
	}
	~SubmitPlug() { finish(); }
	void finish()
	{
		if (ios_)
			kapi_plug_finish(ios_);
		ios_ = nullptr;
	}
	SubmitPlug(const SubmitPlug &) = delete;
	SubmitPlug &operator=(const SubmitPlug &) = delete;

private:
	kapi_ios *ios_;
};

Result<u32> Ring::enter(u64 amount, u64 wait)
{
	ReadyWindow window(*this);
	drain_deferred();
	run_work();

	u32 ready = shared_load_acquire(&ctrl_->stail) - sq_head_;
	if (ready > sentries_)
		ready = sentries_;	/* a corrupt stail cannot make us reread slots */
	const u32 want = amount < ready ? u32(amount) : ready;

	/*
	 * Each request is charged to the ring's user until it completes: what
	 * max_user_requests leaves of `want` is taken at once, and what was not
	 * consumed is given back after the loop. Beyond the limit the SQE stays
	 * in the SQ for a later enter.
	 */
	const u64 granted = charge_.take_upto(KAPI_LIMIT_REQUESTS, want);
	u32 consumed = 0;
	/* why consuming stopped early: EBUSY (admission), ENOMEM, EAGAIN (user limit) */
	s32 stop = 0;
	Irp *head = nullptr, *tail = nullptr;
	SubmitPlug plug(pool_.ios(), want);
	/* The coarse clock ticks with jiffies: one reading dates the whole batch. */
	const u64 now = want ? kapi_clock_coarse_ns() : 0;
	while (consumed < want) {
		if (PW_UNLIKELY(consumed == granted)) {
			stop = err::EAGAIN;
			break;
		}
		/* A fatal signal ends the call between SQEs; a long batch yields. */
		if (PW_UNLIKELY(consumed % kResched == kResched - 1)) {
			if (kapi_fatal_signal_pending())
				break;
			kapi_cond_resched();	/* also issues what the plug held */
		}
		if (!admit()) {
			stop = err::EBUSY;
			break;
		}
		/* Admission guarantees a packet; only building a new one can fail. */
		Irp *irp = pool_.alloc();
		if (PW_UNLIKELY(!irp)) {
			stop = err::ENOMEM;
			break;
		}
		admitted_++;
		__builtin_memcpy(&irp->sqe, &sq_[sq_head_ & smask_], sizeof(irp->sqe));
		sq_head_++;
		irp->state.store_relaxed(PWRING_ST_LINKED);
		irp->since.store_relaxed(now);
		bump(stats_[stat_slot(irp->sqe.op)].submitted);
		if (kapi_tracing())
			kapi_trace_submit(id_, irp->sqe.op, irp->sqe.data, irp->sqe.flags,
					  irp->sqe.timeout);
		consumed++;
		if (tail && (tail->sqe.flags & kLinkFlags)) {
			tail->chain_next = irp;	/* the chain is not dispatched yet */
		} else {
			if (head) {
				shared_store_release(&ctrl_->shead, sq_head_);
				run(head, Ctx::Task);
			}
			head = irp;
		}
		tail = irp;
	}
	charge_.give_back(KAPI_LIMIT_REQUESTS, granted - consumed);
	shared_store_release(&ctrl_->shead, sq_head_);
	run(head, Ctx::Task);	/* a chain also ends with the batch */
	plug.finish();
	flush_batch();

	/*
	 * Blocked by admission with a wait, the submitter waits for room
	 * instead; the user's limit is not this ring's to free: EAGAIN.
	 */
	if (consumed == 0 && stop && (wait == 0 || stop != err::EBUSY))
		return Result<u32>::error(stop);
	if (wait == 0)
		return consumed;

	/* CQEs the user has not reaped yet or will get: in flight + unreaped. */
	const u32 reachable = admitted_ - shared_load_acquire(&ctrl_->chead);
	if (wait > reachable)	/* nothing could ever satisfy it */
		return consumed ? Result<u32>(consumed) : Result<u32>::error(err::EBUSY);
	/*
	 * The condition counts only CQEs whose ctail is out, so those we waited
	 * for are visible when we return. It often holds already (the batch's
	 * own completions): then the wait queue is not even looked at.
	 */
	for (;;) {
		/* Never restarted once it consumed: a restart would submit again. */
		if (!wait_over(wait)) {
			if (const int r = wait_and_run(wait))
				return consumed ? Result<u32>(consumed) : Result<u32>::error(-r);
		}
		if (!drain_deferred() && !(has_ready() && run_ready(nullptr)) && !run_task_work() &&
		    !run_work())
			break;
	}
	return consumed;
}

/* Also wakes for deferred successors and woken packets: the waiter runs them. */
int Ring::wait_cond(void *arg)
{
	const auto *w = static_cast<const WaitArgs *>(arg);
	return w->ring->wait_over(w->wait);
}

/*
 * A wakeup while a thread is in enter goes to that thread, as io_uring runs
 * it as task work: the retry then costs at most one wakeup instead of a
 * worker's and then the waiter's. The list is open (not ready_closed())
 * only while a thread is in enter; enter closes it before it returns and
 * runs what it finds, so nothing is ever left on a closed list. A packet is
 * listed once (on_ready) however often it is woken before the waiter runs.
 * Only the first entry of a list wakes the waiter: until it takes the list,
 * later ones are on it already.
 */
void Ring::poll_woken(Irp &irp, bool sync)
{
	WakerScope waker(*this);
	Irp *head = ready_.load_acquire();
	if (head != ready_closed()) {
		if (irp.on_ready.exchange(1))
			return;	/* listed already: the waiter runs it after this wakeup */
		do {
			if (head == ready_closed()) {
				irp.on_ready.store_release(0);
				break;
			}
			irp.ready_next = head;
		} while (!ready_.cas(head, &irp));
		if (head != ready_closed()) {
			if (head)
				return;
			/* A sync wakeup (a pipe's writer) passes its hint on. */
			if (sync)
				kapi_wake_sync(waitq_);
			else
				kapi_wake(waitq_);
			return;
		}
	}
	/*
	 * Nobody in enter: task work for the submitter's thread. Should a
	 * thread have entered meanwhile, it may have looked already: wake it
	 * (one of us sees the other's store, full barriers on both sides).
	 */
	kapi_task_work(irp.io);
	tw_hint_.store_release(1);
	kapi_mb();
	if (ready_.load_relaxed() != ready_closed())
		kapi_wake(waitq_);
}

/* Task work listed for our thread (or any), run as enter's own. */
bool Ring::run_task_work()
{
	if (!tw_hint_.load_acquire() || !tw_hint_.exchange(0))
		return false;
	kapi_task_work_run(pool_.ios());
	flush_batch();
	return true;
}

/* Takes the list, leaving `then` (empty, or closed), and runs it in wakeup order. */
bool Ring::run_ready(Irp *then)
{
	Irp *fifo = in_push_order<&Irp::ready_next>(ready_.exchange(then));
	if (!fifo)
		return false;
	while (fifo) {
		Irp *irp = fifo;
		fifo = irp->ready_next;
		/* Cleared first: a wakeup from here on lists it again. */
		irp->on_ready.store_release(0);
		irp->work(WorkCtx::Enter);
	}
	flush_batch();
	return true;
}

/*
 * Sleeps until the wait is over, running the wakeups handed to us meanwhile.
 * 0, or the wait's error (a signal); what came in by then is run either way.
 */
int Ring::wait_and_run(u64 wait)
{
	WaitArgs w{this, wait};
	for (;;) {
		const int r = kapi_wait_interruptible(waitq_, wait_cond, &w);
		bool ran = run_ready(nullptr);
		ran = run_task_work() || ran;
		ran = run_work() || ran;
		if (r || !ran)
			return r;
		if (wait_over(wait) && !has_ready())
			return 0;
	}
}

bool Ring::shutdown()
{
	dying_.store_release(true);
	kapi_mb();
	/*
	 * Armed packets are cancelled and completed here; packets not issued
	 * yet (linked successors, or a dispatch racing with us) are marked so
	 * that their dispatch completes them with ECANCELED. A step running
	 * in a worker is interrupted and completes with it. Nothing waits:
	 * a request that cannot be broken delays only this ring's freeing.
	 */
	for (u32 i = 0; i < pool_.used(); i++) {
		pool_.at(i).cancel(err::ECANCELED, false);
		if (i % kResched == kResched - 1)
			kapi_cond_resched();
	}
	/* Deferred successors are dispatched here, where they fail ECANCELED. */
	while (drain_deferred()) {
	}
	IrqLockGuard g(cq_lock_);
	if (idle()) {
		reap_ = 2;
		return true;
	}
	reap_ = 1;	/* the last completion reaps the ring */
	return false;
}

void Ring::reap_if_idle()
{
	if (reap_ == 1 && idle()) {
		reap_ = 2;
		kapi_reap_later(pool_.ios());
	}
}

void Ring::run(Irp *irp, Ctx ctx)
{
	/* A long chain of requests that complete at dispatch yields now and then. */
	for (u32 n = 1; irp; n++) {
		irp = dispatch(*irp, ctx);
		if (PW_UNLIKELY(n % kResched == 0) && !kapi_in_atomic())
			kapi_cond_resched();
	}
}

/*
 * READ, WRITE and POLL resolve their fd in the submitter's file table and
 * reach its buffer by address, so they are dispatched only in a thread of
 * the submitting process: its enter, or task work. A successor whose
 * predecessor completed elsewhere (a timer, a worker) waits on this list for
 * the next enter on the ring; a thread already waiting in enter is woken to
 * dispatch it at once (io_uring's DEFER_TASKRUN model).
 */
void Ring::defer(Irp &irp)
{
	irp.go_async(PWRING_ST_DEFERRED);
	WakerScope waker(*this);
	Irp *head = deferred_.load_relaxed();
	do {
		irp.free_next = head;
	} while (!deferred_.cas(head, &irp));
	kapi_wake(waitq_);
	/*
	 * A shutdown that raced with us may have drained the list already, and
	 * no enter will come: on a dying ring, dispatch (which only cancels)
	 * here. One of the two sees the other's write (full barriers on both
	 * sides); the exchange gives each packet to one of them.
	 */
	kapi_mb();
	if (PW_UNLIKELY(dying_.load_relaxed())) {
		Irp *fifo = in_push_order<&Irp::free_next>(deferred_.exchange(nullptr));
		while (fifo) {
			Irp *next = fifo->free_next;
			run(fifo, Ctx::Async);
			fifo = next;
		}
	}
}

bool Ring::dispatch_deferred()
{
	/* Dispatched in completion order. */
	Irp *fifo = in_push_order<&Irp::free_next>(deferred_.exchange(nullptr));
	if (!fifo)
		return false;
	while (fifo) {
		Irp *irp = fifo;
		fifo = irp->free_next;
		run(irp, Ctx::Task);
	}
	flush_batch();
	return true;
}

void Ring::complete_async(Irp &irp, WorkCtx from)
{
	u8 issuing = 1;
	if (irp.issuing.cas(issuing, 2))
		return;	/* its dispatcher is still issuing: it will finish */
	if (from != WorkCtx::Worker) {
		run(finish(irp, finish_ctx(from)), finish_ctx(from));
		return;
	}
	if (irp.finish_in_task && kapi_in_atomic()) {
		irp.go_async(PWRING_ST_QUEUED);
		irp.finish_queued.store_release(Irp::kQueuedFinish);
		poll_woken(irp, false);
		return;
	}
	run(finish(irp, Ctx::Async), Ctx::Async);
}

void Ring::complete_later(Irp &irp)
{
	u8 issuing = 1;
	if (irp.issuing.cas(issuing, 2))
		return;	/* its dispatcher is still issuing: it will finish */
	irp.go_async(PWRING_ST_QUEUED);
	irp.finish_queued.store_release(Irp::kQueuedFinish);
	poll_woken(irp, false);
}

void Ring::finish_deferred(Irp &irp, WorkCtx ctx)
{
	run(finish(irp, finish_ctx(ctx)), finish_ctx(ctx));
}

void Ring::dispatch_handed(Irp &irp, WorkCtx ctx)
{
	run(&irp, finish_ctx(ctx));
}

void Ring::load_registers(Irp &irp) const
{
	u64 *args = &irp.sqe.arg0;	/* arg0..arg4 are consecutive (uapi asserts) */
	for (u32 i = 0; i < 5; i++) {
		const u32 reg = reg_spec(irp.sqe.flags, i * PWRING_REG_SHIFT);
		if (reg != PWRING_REG_NONE)
			args[i] = shared_load_acquire(&ctrl_->regs[reg]);
	}
}

/* Returns the linked successor to dispatch now, if irp completed in place. */
Irp *Ring::dispatch(Irp &irp, Ctx ctx)
{
	const OpDef *op = op_lookup(irp.sqe.op);
	irp.state.store_relaxed(PWRING_ST_RUNNING);
	if (op && op->needs_task && ctx == Ctx::Async && !dying_.load_relaxed()) {
		defer(irp);
		return nullptr;
	}
	/* Most SQEs load nothing: one test instead of five. */
	if ((irp.sqe.flags & kLoadSpecs) != kLoadSpecs)
		load_registers(irp);
	s32 e = 0;
	if (irp.sqe.flags & PWRING_FLAGS_RESERVED)
		e = err::EINVAL;
	else if (!op)
		e = err::EINVAL;
	else if (dying_.load_relaxed())
		e = err::ECANCELED;
	else if (PW_UNLIKELY(!allowed(irp)))
		e = err::EACCES;
	else if (op->timeout_only && irp.sqe.timeout == 0)
		e = err::ETIMEDOUT;	/* would expire at once: do not issue */
	if (e) {
		irp.err = e;
		return finish(irp, ctx);
	}
	/*
	 * The deadline is armed before the issue, so it counts from dispatch.
	 * While `issuing` is 1, a party that wins the packet leaves finishing it
	 * to us, so the op may keep using it until it returns.
	 */
	irp.issuing.store_relaxed(1);
	timeout_arm(irp, ctx == Ctx::Task);
	if (op->issue(irp) == Issue::Queued && irp.issuing.exchange(0) != 2)
		return nullptr;
	irp.issuing.store_relaxed(0);
	return finish(irp, ctx);
}

/* Fills CQ position `pos`; the user sees it once published. */
void Ring::write_cqe(u32 pos, u32 op, u64 data, s32 e, u64 result)
{
	pwring_cqe *cqe = &cq_[pos & cmask_];
	cqe->op = op;
	cqe->error = e;
	cqe->data = data;
	cqe->result = result;
	cqe->_padding = 0;
	OpStats &st = stats_[stat_slot(op)];
	bump(st.completed);
	if (e)
		bump(st.errors);
}

/*
 * Makes the CQEs before `tail` visible. The order matters: once the user
 * sees ctail, idle() counts the CQE (teardown must not fail EBUSY for a
 * request the user has reaped); once a waiter sees cq_published_, ctail is
 * out (the wait returns with its CQEs visible).
 */
void Ring::publish(u32 tail)
{
	cq_tail_.store_release(tail);
	shared_store_release(&ctrl_->ctail, tail);
	cq_published_.store_release(tail);
}

void Ring::post_locked(u32 op, u64 data, s32 e, u64 result)
{
	const u32 tail = cq_tail_.load_relaxed();
	write_cqe(tail, op, data, e, result);
	publish(tail + 1);
}

/*
 * The packet's last step: op frames, register save, CQE, link handling,
 * back to the pool. A broken SQE_LINK chain completes every skipped packet
 * with ECANCELED (they never ran, so they save no register). Packets go back
 * to the pool before their CQE is visible, so a reaped slot can always be
 * admitted again at once.
 */
Irp *Ring::finish(Irp &irp, Ctx ctx)
{
	timeout_disarm(irp);
	irp.run_frames();

	if (ctx == Ctx::Task) {
		/*
		 * In the submitter's own enter (also running a wakeup it took
		 * while waiting), or in close: the packet goes
		 * straight back to the allocating side, and its CQE joins the
		 * batch that enter posts (under one lock at most) before it
		 * returns or waits. Nobody else can be waiting on this ring
		 * meanwhile.
		 */
		Irp *next = retire(irp, true, false);
		/* A successor is dispatched only after its predecessor's CQE is out. */
		if (next)
			flush_batch();
		return next;
	}
	/* Sampled before the lock, which disables interrupts itself. */
	const bool in_irq = kapi_in_atomic();
	IrqLockGuard g(cq_lock_);
	Irp *next = retire(irp, false, in_irq);
	kapi_wake(waitq_);
	if (PW_UNLIKELY(reap_))
		reap_if_idle();
	return next;
}

/*
 * Register save, return to the pool and CQE, for the packet and for the
 * skipped rest of a broken chain; in enter's batch or, with the completion
 * lock held, straight into the ring. A packet goes back to the pool before
 * its CQE is visible (so a reaped slot can always be admitted at once), and
 * may be reused the moment it is back: what the CQE needs is copied first.
 * Returns the successor to dispatch.
 */
Irp *Ring::retire(Irp &irp, bool in_enter, bool in_irq)
{
	const u32 op = irp.sqe.op, flags = irp.sqe.flags;
	const u64 data = irp.sqe.data, result = irp.result;
	const s32 e = irp.err;
	const u32 save = reg_spec(flags, PWRING_SAVE);
	/* A skipped member never ran: it saves nothing and ends its chain. */
	const bool skipped = irp.skipped;
	const bool broken = (e != 0 && !(flags & PWRING_HARDLINK)) || skipped;
	Irp *next = irp.chain_next;

	if (save != PWRING_REG_NONE && !skipped)
		shared_store_release(&ctrl_->regs[save], result);
	irp.state.store_relaxed(Irp::kFree);
	pool_.free(&irp, in_enter);
	post(in_enter, op, data, e, result);
	/*
	 * Interrupt context completes one request: the successor (dispatched,
	 * or skipped with the rest of a broken chain) is task context's.
	 */
	if (PW_UNLIKELY(next && in_irq)) {
		if (broken) {
			next->skipped = true;
			next->err = err::ECANCELED;
			next->result = 0;
		}
		next->go_async(PWRING_ST_QUEUED);
		next->finish_queued.store_release(broken ? Irp::kQueuedFinish : Irp::kQueuedDispatch);
		poll_woken(*next, false);
		return nullptr;
	}
	while (broken && next) {
		Irp *skipped = next;
		const u32 sop = skipped->sqe.op;
		const u64 sdata = skipped->sqe.data;
		next = skipped->chain_next;
		skipped->state.store_relaxed(Irp::kFree);
		pool_.free(skipped, in_enter);
		post(in_enter, sop, sdata, err::ECANCELED, 0);
	}
	return next;
}

void Ring::post(bool batched, u32 op, u64 data, s32 e, u64 result)
{
	if (kapi_tracing())
		kapi_trace_complete(id_, op, data, e, result);
	if (batched) {
		post_batched(op, data, e, result);	/* given back with its batch */
		return;
	}
	/* Given back before the CQE is out: whoever reaps it may submit again. */
	charge_.give_back(KAPI_LIMIT_REQUESTS, 1);
	post_locked(op, data, e, result);
}

void Ring::post_batched(u32 op, u64 data, s32 e, u64 result)
{
	if (batch_n_ == kBatch)
		flush_batch();
	batch_[batch_n_++] = PendingCqe{op, e, data, result};
}

/*
 * Posts enter's batch. The completion lock keeps out completers of other
 * packets (timers, workers). When every admitted packet but those of the
 * batch has published its CQE, there is none: nothing else is in flight,
 * and nothing new can be admitted while enter (or close) runs here. The
 * acquire pairs with the last store of publish(), after which a completer
 * never touches the CQ again.
 */
void Ring::flush_batch()
{
	if (!batch_n_)
		return;
	if (cq_published_.load_acquire() + batch_n_ == admitted_) {
		post_batch();
		return;
	}
	IrqLockGuard g(cq_lock_);
	post_batch();
}

void Ring::post_batch()
{
	/* The batch's requests are given back together, before their CQEs are out. */
	charge_.give_back(KAPI_LIMIT_REQUESTS, batch_n_);
	const u32 tail = cq_tail_.load_relaxed();
	for (u32 i = 0; i < batch_n_; i++)
		write_cqe(tail + i, batch_[i].op, batch_[i].data, batch_[i].err, batch_[i].result);
	publish(tail + batch_n_);
	batch_n_ = 0;
}

/*
 * fdinfo's view, taken while requests come and go: the shared indices as
 * READ_ONCE would read them, the packets by the state their owners last
 * recorded. Each number is a moment's; together they need not add up.
 */
void Ring::snapshot(pwring_ring_snap *s, u64 now)
{
	*s = pwring_ring_snap{};
	s->id = id_;
	s->sentries = sentries_;
	s->centries = centries_;
	s->shead = __atomic_load_n(&ctrl_->shead, __ATOMIC_RELAXED);
	s->stail = __atomic_load_n(&ctrl_->stail, __ATOMIC_RELAXED);
	s->chead = __atomic_load_n(&ctrl_->chead, __ATOMIC_RELAXED);
	s->ctail = __atomic_load_n(&ctrl_->ctail, __ATOMIC_RELAXED);
	for (u32 r = 0; r < PWRING_REGS_MAX; r++)
		s->regs[r] = __atomic_load_n(&ctrl_->regs[r], __ATOMIC_RELAXED);
	for (u32 o = 0; o < PWRING_STAT_OPS; o++) {
		s->submitted[o] = stats_[o].submitted.load_relaxed();
		s->completed[o] = stats_[o].completed.load_relaxed();
		s->errors[o] = stats_[o].errors.load_relaxed();
	}
	u64 oldest = 0;
	bool any = false;
	const u32 used = pool_.used_published();
	for (u32 i = 0; i < used; i++) {
		const Irp &irp = pool_.at(i);
		const u8 st = irp.state.load_relaxed();
		if (st >= PWRING_ST_COUNT)
			continue;
		s->inflight++;
		s->states[st]++;
		const u64 since = irp.since.load_relaxed();
		if (!any || since < oldest)
			oldest = since;
		any = true;
	}
	s->oldest_ns = any && now > oldest ? now - oldest : 0;
}

} // namespace pw

/* The ring was shut down and has gone idle: nobody else can reach it. */
extern "C" void pw_ring_reap(void *ring)
{
	static_cast<pw::Ring *>(ring)->destroy(false);
}
