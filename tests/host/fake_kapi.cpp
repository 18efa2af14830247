// SPDX-License-Identifier: GPL-2.0
/*
 * module/core/kapi.h in user space, for the host unit tests. See
 * fake_kapi.h for what it models and which knobs the tests get.
 *
 * Lock order inside the fake (never the other way round):
 *   pipe data lock -> wait queue head lock -> work queue lock
 *   timer lock (alone), fd table lock (alone), accounting lock (alone)
 */
#include "fake_kapi.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "../../module/core/kapi.h"

namespace {

constexpr int kEINVAL = 22, kEEXIST = 17, kEFAULT = 14, kEINTR = 4, kEAGAIN = 11, kEBADF = 9,
	      kEPIPE = 32;
constexpr unsigned long kPage = 4096;

[[noreturn]] void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	std::fputs("\nfake_kapi: kernel rule broken: ", stderr);
	std::vfprintf(stderr, fmt, ap);
	std::fputs("\n", stderr);
	va_end(ap);
	std::fflush(stderr);
	std::abort();
}

/* Execution context of the calling thread, as the kernel would see it. */
thread_local int t_irq;			/* inside a timer callback (hard IRQ) */
thread_local int t_wake;		/* inside a poll wakeup (wait queue lock held) */
thread_local int t_work;		/* inside a work item (kernel worker) */
thread_local int t_locks_held;		/* spinlocks held (interrupts off) */
thread_local const void *t_cur_timer;	/* the timer whose callback runs here */
thread_local const void *t_cur_work;	/* the work item running here */
thread_local struct kapi_ios *t_plug;	/* the plug this thread holds (kapi_plug_start) */
thread_local int t_blocking;		/* inside kapi_block_begin/end */
thread_local std::atomic<bool> t_notify;	/* TIF_NOTIFY_SIGNAL of this worker */

bool in_atomic() { return t_irq || t_wake || t_locks_held; }

fake::Ctx cur_ctx()
{
	if (t_irq)
		return fake::Ctx::Irq;
	if (t_wake)
		return fake::Ctx::Wakeup;
	if (t_work)
		return fake::Ctx::Work;
	return fake::Ctx::Task;
}

void might_sleep(const char *what)
{
	if (t_irq)
		die("%s called from a timer callback (hard IRQ context)", what);
	if (t_wake)
		die("%s called from a poll wakeup (atomic: the wait queue lock is held)", what);
	if (t_locks_held)
		die("%s called while holding a spinlock", what);
}

/* Needs current->files / current->mm of the submitting process. */
void need_task(const char *what)
{
	might_sleep(what);
	if (t_work)
		die("%s called from a work item: a kernel worker has no file table or address "
		    "space of the submitter", what);
}

/* ---- Accounting ---- */
std::mutex g_mu;
std::unordered_map<void *, unsigned long> g_allocs;
long g_locks, g_waitqs, g_io_sets, g_mems, g_pages;
long g_fail_at = -1, g_alloc_calls;
int g_fail_map;
long g_map_calls, g_unmap_calls;
struct Range {
	unsigned long a, len;
	bool overlaps(unsigned long b, unsigned long l) const { return b < a + len && a < b + l; }
};
std::vector<Range> g_occupied, g_bad;
std::set<kapi_waitq *> g_waitq_set;

std::atomic<long> g_file_refs, g_pinned, g_poll_entries, g_files;

struct Counts {
	std::atomic<long> fgets, fputs, pins, unpins, short_pins, rw_nowait, rw_blocking, poll_arms,
		poll_disarms, wakeups, wakeups_filtered, interrupts;
	std::atomic<long> fput_ctx[4], mdl_release_ctx[4];
} g_counts;

bool alloc_should_fail()
{
	std::lock_guard<std::mutex> g(g_mu);
	const long n = g_alloc_calls++;
	if (g_fail_at >= 0 && n == g_fail_at) {
		g_fail_at = -1;
		return true;
	}
	return false;
}

/* ---- Hooks ---- */
std::mutex g_hmu;
std::function<void(kapi_io *)> g_hooks[5];

void call_hook(fake::Hook h, kapi_io *io)
{
	std::function<void(kapi_io *)> fn;
	{
		std::lock_guard<std::mutex> g(g_hmu);
		fn = g_hooks[int(h)];
	}
	if (fn)
		fn(io);
}

/* Set by reset(): blocking waits of the fake give up, so threads can be joined. */
std::atomic<bool> g_unblock;
std::atomic<bool> g_fatal_signal;	/* fake::set_fatal_signal() */

/* Test-only redirection of the kernel callbacks. */
std::atomic<void (*)(void *)> g_timer_cb{nullptr}, g_work_cb{nullptr};

} // namespace

/* ---- Memory ---- */

/* Not zeroed: filled with a pattern, so code relying on zeroes shows. */
extern "C" void *kapi_alloc(unsigned long size)
{
	might_sleep("kapi_alloc");
	if (alloc_should_fail())
		return nullptr;
	void *p = std::malloc(size ? size : 1);
	if (!p)
		return nullptr;
	std::memset(p, 0xa5, size);
	std::lock_guard<std::mutex> g(g_mu);
	g_allocs[p] = size;
	return p;
}

extern "C" void *kapi_zalloc(unsigned long size)
{
	might_sleep("kapi_zalloc");
	if (alloc_should_fail())
		return nullptr;
	void *p = std::calloc(1, size ? size : 1);
	if (!p)
		return nullptr;
	std::lock_guard<std::mutex> g(g_mu);
	g_allocs[p] = size;
	return p;
}

extern "C" void kapi_free(void *p)
{
	might_sleep("kapi_free");
	if (!p)
		return;
	unsigned long size;
	{
		std::lock_guard<std::mutex> g(g_mu);
		auto it = g_allocs.find(p);
		if (it == g_allocs.end())
			die("kapi_free(%p): not allocated by kapi_zalloc, or freed twice", p);
		size = it->second;
		g_allocs.erase(it);
	}
	std::memset(p, 0x6b, size);	/* like slab poisoning, for the plain build */
	std::free(p);
}

/* ---- Spinlocks ---- */

struct kapi_lock {
	std::mutex m;
	std::atomic<std::thread::id> owner{};
};

extern "C" struct kapi_lock *kapi_lock_create(void)
{
	might_sleep("kapi_lock_create");
	if (alloc_should_fail())
		return nullptr;
	auto *l = new kapi_lock;
	std::lock_guard<std::mutex> g(g_mu);
	g_locks++;
	return l;
}

extern "C" void kapi_lock_destroy(struct kapi_lock *l)
{
	might_sleep("kapi_lock_destroy");
	if (!l)
		return;
	if (l->owner.load() != std::thread::id())
		die("kapi_lock_destroy of a held lock");
	delete l;
	std::lock_guard<std::mutex> g(g_mu);
	g_locks--;
}

extern "C" unsigned long kapi_lock_irqsave(struct kapi_lock *l)
{
	if (l->owner.load(std::memory_order_relaxed) == std::this_thread::get_id())
		die("recursive spin_lock_irqsave (self deadlock)");
	l->m.lock();
	l->owner.store(std::this_thread::get_id(), std::memory_order_relaxed);
	t_locks_held++;
	return 0x2a5;
}

extern "C" void kapi_unlock_irqrestore(struct kapi_lock *l, unsigned long flags)
{
	if (flags != 0x2a5)
		die("spin_unlock_irqrestore with flags that did not come from irqsave");
	if (l->owner.load(std::memory_order_relaxed) != std::this_thread::get_id())
		die("spin_unlock of a lock this thread does not hold");
	l->owner.store(std::thread::id(), std::memory_order_relaxed);
	t_locks_held--;
	l->m.unlock();
}

/* ---- Work items (declared early: waits and wakeups use them) ---- */

struct kapi_ios;

namespace {

struct Timer {
	kapi_io *io = nullptr;
	bool pending = false;
	bool running = false;
	uint64_t deadline = 0, started = 0;
	std::multimap<uint64_t, Timer *>::iterator it;
};

struct PollEntry {
	struct WaitHead *head = nullptr;	/* queued on it when non-null */
	kapi_io *io = nullptr;
};

enum class Mdl { None, Empty, Pinned };

} // namespace

struct kapi_io {
	kapi_ios *set = nullptr;
	unsigned index = 0;
	void *arg = nullptr;	/* set by kapi_io_init(): nullptr before the first use */
	Timer timer;
	/* work item, under g_wmu */
	bool w_pending = false;
	bool w_running = false;
	/* memory descriptor list */
	Mdl mdl = Mdl::None;
	unsigned char *mdl_kaddr = nullptr;
	unsigned long mdl_len = 0;
	bool mdl_for_write = false;
	/* poll */
	unsigned poll_events = 0;
	unsigned poll_nr = 0;
	PollEntry poll[2];
	/* the worker inside a blocking call for it: its notify flag, under g_bmu */
	std::atomic<bool> *blocker = nullptr;
	bool tw_listed = false;	/* on its set's task-work list, under g_twmu */
};

struct kapi_ios {
	unsigned count;
	kapi_io *io;
	void *ring = nullptr;	/* for pw_ring_reap() */
	bool reap_asked = false;
	/* task work, under g_twmu */
	bool home = false;		/* a request went asynchronous: there is a home thread */
	bool tw_queued = false;		/* its callback waits for the home thread */
	std::deque<kapi_io *> tw;
};

namespace {

std::mutex g_wmu;
/* Task work: the sets whose callback is queued for the home thread. */
std::mutex g_twmu;
std::deque<kapi_ios *> g_tw_callbacks;
std::atomic<bool> g_home_running{false};
std::atomic<long> g_tw_listings{0};

/* A set being freed: its callback finds no ring, its stale items are dropped. */
void forget_task_work(kapi_ios *ios)
{
	std::lock_guard<std::mutex> g(g_twmu);
	for (auto it = g_tw_callbacks.begin(); it != g_tw_callbacks.end();)
		it = *it == ios ? g_tw_callbacks.erase(it) : it + 1;
	ios->tw.clear();
}
std::condition_variable g_wcv;		/* workers: something queued, or stop */
std::condition_variable g_wdone;	/* an item finished running */
std::deque<kapi_io *> g_wq;		/* pending and not running */
fake::WorkMode g_wmode = fake::WorkMode::Manual;
std::vector<std::thread> g_workers;
bool g_wstop;
long g_wqueued, g_wcoalesced, g_wruns, g_wrunning;

void queue_work(kapi_io *io)
{
	std::lock_guard<std::mutex> lk(g_wmu);
	if (io->w_pending) {
		g_wcoalesced++;	/* queue_work() returns false */
		return;
	}
	io->w_pending = true;
	g_wqueued++;
	/* Non-reentrant: an item that is running is queued again when it returns. */
	if (!io->w_running) {
		g_wq.push_back(io);
		g_wcv.notify_one();
	}
}

/* Runs io's work item on this thread, as the worker; called and returns with g_wmu held. */
void run_item_locked(std::unique_lock<std::mutex> &lk, kapi_io *io)
{
	io->w_pending = false;
	io->w_running = true;
	g_wrunning++;
	lk.unlock();
	t_work++;
	const void *prev = t_cur_work;
	t_cur_work = io;
	void (*cb)(void *) = g_work_cb.load();
	(cb ? cb : pw_io_work)(io->arg);
	t_cur_work = prev;
	t_work--;
	if (t_locks_held)
		die("work item returned holding a spinlock");
	lk.lock();
	io->w_running = false;
	g_wrunning--;
	g_wruns++;
	if (io->w_pending) {
		g_wq.push_back(io);
		g_wcv.notify_one();
	}
	g_wdone.notify_all();
}

bool run_one_locked(std::unique_lock<std::mutex> &lk)
{
	if (g_wq.empty())
		return false;
	kapi_io *io = g_wq.front();
	g_wq.pop_front();
	run_item_locked(lk, io);
	return true;
}

void worker_thread()
{
	std::unique_lock<std::mutex> lk(g_wmu);
	while (!g_wstop)
		if (!run_one_locked(lk))
			g_wcv.wait(lk);
}

void stop_workers()
{
	{
		std::lock_guard<std::mutex> lk(g_wmu);
		g_wstop = true;
	}
	g_wcv.notify_all();
	for (auto &th : g_workers)
		th.join();
	g_workers.clear();
	std::lock_guard<std::mutex> lk(g_wmu);
	g_wstop = false;
}

/* cancel_work_sync(): dequeue, and wait for a running callback. */
void cancel_work_sync(kapi_io *io)
{
	if (t_cur_work == io)
		die("cancel_work_sync of a work item from itself (deadlock)");
	std::unique_lock<std::mutex> lk(g_wmu);
	for (;;) {
		if (io->w_pending && !io->w_running) {
			g_wq.erase(std::find(g_wq.begin(), g_wq.end(), io));
			io->w_pending = false;
		}
		if (!io->w_running)
			break;
		io->w_pending = false;	/* a requeue while running is dropped too */
		g_wdone.wait(lk);
	}
}

} // namespace

/* ---- Wait queues ---- */

struct kapi_waitq {
	std::mutex m;
	std::condition_variable cv;
	int sleepers = 0;
};

namespace {
std::atomic<bool> g_signal;
std::atomic<int> g_sleepers;
std::atomic<bool> g_task_work;	/* TIF_NOTIFY_SIGNAL for the next interruptible wait */
constexpr int kERESTARTSYS = 512;

/* wait_event_interruptible(): the only sleep the core has. */
int wait_interruptible(kapi_waitq *w, kapi_cond_fn cond, void *arg)
{
	std::unique_lock<std::mutex> lk(w->m);
	for (;;) {
		/* The condition first, then a pending signal, then task work. */
		if (cond(arg))
			return 0;
		if (g_signal.exchange(false))
			return -kEINTR;
		if (g_task_work.exchange(false))
			return -kERESTARTSYS;
		w->sleepers++;
		g_sleepers++;
		w->cv.wait(lk);
		g_sleepers--;
		w->sleepers--;
	}
}
} // namespace

extern "C" struct kapi_waitq *kapi_waitq_create(void)
{
	might_sleep("kapi_waitq_create");
	if (alloc_should_fail())
		return nullptr;
	auto *w = new kapi_waitq;
	std::lock_guard<std::mutex> g(g_mu);
	g_waitqs++;
	g_waitq_set.insert(w);
	return w;
}

extern "C" void kapi_waitq_destroy(struct kapi_waitq *w)
{
	might_sleep("kapi_waitq_destroy");
	if (!w)
		return;
	{
		std::lock_guard<std::mutex> lk(w->m);
		if (w->sleepers)
			die("kapi_waitq_destroy with %d sleepers", w->sleepers);
	}
	{
		std::lock_guard<std::mutex> g(g_mu);
		g_waitqs--;
		g_waitq_set.erase(w);
	}
	delete w;
}

extern "C" int kapi_wait_interruptible(struct kapi_waitq *w, kapi_cond_fn cond, void *arg)
{
	might_sleep("kapi_wait_interruptible");
	if (t_plug)
		die("waiting with a plug held: its requests would wait for the sleep");
	return wait_interruptible(w, cond, arg);
}

extern "C" void kapi_wake(struct kapi_waitq *w)
{
	std::lock_guard<std::mutex> lk(w->m);
	w->cv.notify_all();
}

extern "C" void kapi_wake_sync(struct kapi_waitq *w)
{
	kapi_wake(w);
}

/* ---- Timers ---- */

namespace {

std::mutex g_tmu;			/* all timer state */
std::condition_variable g_tcv;		/* timer threads: something changed */
std::condition_variable g_tdone;	/* a callback returned */
std::multimap<uint64_t, Timer *> g_queue;
std::set<const kapi_ios *> g_ios_live;	/* for fake::fire() on stale refs */
fake::TimerMode g_mode = fake::TimerMode::Manual;
std::atomic<uint64_t> g_now;		/* manual clock */
std::chrono::steady_clock::time_point g_epoch = std::chrono::steady_clock::now();
std::vector<std::thread> g_cpus;
bool g_stop;
long g_starts, g_cancels, g_callbacks;
long g_fire_on_start;			/* "interrupt" right after the next n starts */

uint64_t real_now()
{
	return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
				std::chrono::steady_clock::now() - g_epoch).count());
}

uint64_t clock_now() { return g_mode == fake::TimerMode::Real ? real_now() : g_now.load(); }

uint64_t sat_add(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }

void dequeue_locked(Timer &t)
{
	if (t.pending) {
		g_queue.erase(t.it);
		t.pending = false;
	}
}

/* The first expired timer whose callback is not already running, or nullptr. */
Timer *first_ready_locked(uint64_t limit)
{
	for (auto &e : g_queue) {
		if (e.first > limit)
			return nullptr;
		if (!e.second->running)
			return e.second;
	}
	return nullptr;
}

/* Runs t's callback as a hard interrupt on this thread; called and returns with g_tmu held. */
void run_callback_locked(std::unique_lock<std::mutex> &lk, Timer &t)
{
	dequeue_locked(t);
	t.running = true;
	g_callbacks++;
	lk.unlock();
	t_irq++;
	const void *prev = t_cur_timer;
	t_cur_timer = &t;
	void (*cb)(void *) = g_timer_cb.load();
	(cb ? cb : pw_timer_fired)(t.io->arg);
	t_cur_timer = prev;
	t_irq--;
	if (t_locks_held)
		die("timer callback returned holding a spinlock");
	lk.lock();
	t.running = false;
	g_tdone.notify_all();
	g_tcv.notify_all();
}

void cpu_thread()
{
	std::unique_lock<std::mutex> lk(g_tmu);
	while (!g_stop) {
		Timer *t = first_ready_locked(real_now());
		if (t) {
			run_callback_locked(lk, *t);
			continue;
		}
		/* Sleep until the earliest deadline of a timer that is not running. */
		uint64_t next = UINT64_MAX;
		for (auto &e : g_queue)
			if (!e.second->running) {
				next = e.first;
				break;
			}
		if (next == UINT64_MAX) {
			g_tcv.wait(lk);
		} else {
			const uint64_t now = real_now();
			const uint64_t delta = std::min<uint64_t>(next - std::min(next, now), 50'000'000);
			g_tcv.wait_for(lk, std::chrono::nanoseconds(delta));
		}
	}
}

void stop_cpus()
{
	{
		std::lock_guard<std::mutex> lk(g_tmu);
		g_stop = true;
	}
	g_tcv.notify_all();
	for (auto &th : g_cpus)
		th.join();
	g_cpus.clear();
	std::lock_guard<std::mutex> lk(g_tmu);
	g_stop = false;
}

void cancel_timer(Timer &t, const char *what)
{
	if (t_cur_timer == &t)
		die("%s of a timer from its own callback (hrtimer_cancel would deadlock)", what);
	if (t_locks_held || t_wake)
		die("%s in atomic context (deadlocks if the callback needs the lock)", what);
	std::unique_lock<std::mutex> lk(g_tmu);
	/* hrtimer_cancel(): wait for a running callback, then dequeue. */
	while (t.running)
		g_tdone.wait(lk);
	dequeue_locked(t);
	g_cancels++;
}

Timer *timer_of_ref_locked(const fake::TimerRef &ref)
{
	if (!g_ios_live.count(ref.set) || ref.index >= ref.set->count)
		return nullptr;
	return &ref.set->io[ref.index].timer;
}

} // namespace

/* ---- Packet companions ---- */

extern "C" struct kapi_ios *kapi_ios_create(unsigned int count, struct kapi_file *,
					      struct kapi_waitq *, void *ring)
{
	might_sleep("kapi_ios_create");
	if (alloc_should_fail())
		return nullptr;
	auto *ios = new kapi_ios;
	ios->count = count;
	ios->ring = ring;
	ios->io = new kapi_io[count];
	for (unsigned i = 0; i < count; i++) {
		kapi_io &io = ios->io[i];
		io.set = ios;
		io.index = i;
		io.timer.io = &io;
	}
	{
		std::lock_guard<std::mutex> lk(g_tmu);
		g_ios_live.insert(ios);
	}
	std::lock_guard<std::mutex> g(g_mu);
	g_io_sets++;
	return ios;
}

extern "C" void kapi_ios_destroy(struct kapi_ios *ios, unsigned int count, unsigned int used)
{
	might_sleep("kapi_ios_destroy");
	if (!ios)
		return;
	if (count != ios->count || used > count)
		die("kapi_ios_destroy(count %u, used %u) of a set of %u", count, used, ios->count);
	/* The fake cancels every companion: one the core thinks unused must be idle anyway. */
	for (unsigned i = 0; i < count; i++)
		for (unsigned k = 0; k < ios->io[i].poll_nr; k++)
			if (ios->io[i].poll[k].head)
				die("kapi_ios_destroy: packet %u still has a poll entry on a file's "
				    "wait queue (use after free at the next wakeup)", i);
	{
		std::lock_guard<std::mutex> lk(g_tmu);
		g_ios_live.erase(ios);
	}
	forget_task_work(ios);
	for (unsigned i = 0; i < count; i++) {
		cancel_timer(ios->io[i].timer, "kapi_ios_destroy");
		cancel_work_sync(&ios->io[i]);
	}
	/* A pinned MDL left here stays counted in live().pinned: leaked pages. */
	delete[] ios->io;
	delete ios;
	std::lock_guard<std::mutex> g(g_mu);
	g_io_sets--;
}

/* In index order, once each: the kernel's companions are garbage until then. */
extern "C" struct kapi_io *kapi_io_init(struct kapi_ios *ios, unsigned int i, void *arg)
{
	might_sleep("kapi_io_init");
	if (i >= ios->count)
		die("kapi_io_init index %u of %u", i, ios->count);
	if (ios->io[i].arg)
		die("kapi_io_init of companion %u twice", i);
	/* The kernel allocates a chunk of 32 at each 32nd companion. */
	if (i % 32 == 0 && alloc_should_fail())
		return nullptr;
	if (i && !ios->io[i - 1].arg)
		die("kapi_io_init of companion %u before %u (destroy covers a prefix)", i, i - 1);
	ios->io[i].arg = arg;
	return &ios->io[i];
}

namespace {
/* Every use of a companion comes after its kapi_io_init(). */
void need_init(const kapi_io *io, const char *what)
{
	if (!io->arg)
		die("%s on companion %u before kapi_io_init", what, io->index);
}
} // namespace

namespace {
std::mutex g_bmu;	/* io->blocker: the kernel's block_lock */
}

extern "C" void kapi_block_begin(struct kapi_io *io)
{
	if (!t_work)
		die("kapi_block_begin outside a work item (a user thread's signals are its own)");
	if (t_blocking)
		die("kapi_block_begin nested");
	std::lock_guard<std::mutex> g(g_bmu);
	io->blocker = &t_notify;
	t_blocking++;
}

extern "C" void kapi_block_end(struct kapi_io *io)
{
	if (!t_blocking)
		die("kapi_block_end without kapi_block_begin");
	{
		std::lock_guard<std::mutex> g(g_bmu);
		if (io->blocker != &t_notify)
			die("kapi_block_end on packet %u by a thread that did not begin it", io->index);
		io->blocker = nullptr;
	}
	t_blocking--;
	if (t_notify.exchange(false))	/* clear_notify_signal() */
		g_counts.interrupts++;
}

extern "C" void kapi_io_interrupt(struct kapi_io *io)
{
	std::lock_guard<std::mutex> g(g_bmu);
	if (io->blocker)
		io->blocker->store(true);	/* the pipe sleep notices within 10 ms */
}


/* The fake's workers stand for the owner's threads: credentials are not modelled. */
extern "C" void kapi_io_hold_creds(struct kapi_io *io)
{
	need_task("kapi_io_hold_creds");
	need_init(io, "kapi_io_hold_creds");
	std::lock_guard<std::mutex> g(g_twmu);
	io->set->home = true;
}

/*
 * Task work. The home thread is modelled as asleep unless a test says it
 * runs (set_home_running): then a listing queues the set's callback, which
 * fake::run_task_work() runs as that thread returning to user space;
 * asleep, the listed items go to workers, as the kernel's TWA_RESUME
 * fallback does.
 */
extern "C" void kapi_task_work(struct kapi_io *io)
{
	need_init(io, "kapi_task_work");
	std::deque<kapi_io *> to_workers;
	{
		std::lock_guard<std::mutex> g(g_twmu);
		kapi_ios *ios = io->set;
		if (io->tw_listed)
			return;
		io->tw_listed = true;
		ios->tw.push_back(io);
		if (ios->tw_queued)
			return;
		if (ios->home && g_home_running.load()) {
			ios->tw_queued = true;
			g_tw_callbacks.push_back(ios);
			g_tw_listings++;
			return;
		}
		to_workers.swap(ios->tw);
		for (kapi_io *i : to_workers)
			i->tw_listed = false;
	}
	for (kapi_io *i : to_workers)
		queue_work(i);
}

extern "C" void kapi_task_work_run(struct kapi_ios *ios)
{
	need_task("kapi_task_work_run");
	std::deque<kapi_io *> mine;
	{
		std::lock_guard<std::mutex> g(g_twmu);
		mine.swap(ios->tw);
		for (kapi_io *i : mine)
			i->tw_listed = false;
	}
	for (kapi_io *i : mine)
		pw_io_run(i->arg, 1);
}

long fake::run_task_work()
{
	need_task("fake::run_task_work");
	long n = 0;
	for (;;) {
		std::deque<kapi_io *> mine;
		{
			std::lock_guard<std::mutex> g(g_twmu);
			if (g_tw_callbacks.empty())
				return n;
			kapi_ios *ios = g_tw_callbacks.front();
			g_tw_callbacks.pop_front();
			ios->tw_queued = false;
			mine.swap(ios->tw);
			for (kapi_io *i : mine)
				i->tw_listed = false;
		}
		for (kapi_io *i : mine) {
			pw_io_run(i->arg, 0);
			n++;
		}
	}
}

void fake::set_home_running(bool on)
{
	g_home_running = on;
}

long fake::task_work_listings()
{
	return g_tw_listings.load();
}

size_t fake::task_work_pending()
{
	std::lock_guard<std::mutex> g(g_twmu);
	size_t n = 0;
	for (kapi_ios *ios : g_tw_callbacks)
		n += ios->tw.size();
	return n;
}

/* The fake always has workers (threaded or run by the test): no enter fallback. */
extern "C" int kapi_work_pending(struct kapi_ios *)
{
	return 0;
}

extern "C" void kapi_work_run(struct kapi_ios *)
{
	die("kapi_work_run without kapi_work_pending");
}

extern "C" int kapi_fatal_signal_pending(void)
{
	return g_fatal_signal.load() ? 1 : 0;
}

namespace {
std::mutex g_rmu;			/* reaps asked, not run yet */
std::deque<kapi_ios *> g_reaps;
}

/* Any context: the kernel queues a work item; here fake::reap_all() runs it. */
extern "C" void kapi_reap_later(struct kapi_ios *ios)
{
	std::lock_guard<std::mutex> g(g_rmu);
	if (ios->reap_asked)
		die("kapi_reap_later twice for one ring");
	ios->reap_asked = true;
	g_reaps.push_back(ios);
}

void fake::reap_all()
{
	for (int spins = 0;; spins++) {
		kapi_ios *ios = nullptr;
		{
			std::lock_guard<std::mutex> g(g_rmu);
			if (!g_reaps.empty()) {
				ios = g_reaps.front();
				g_reaps.pop_front();
			}
		}
		if (ios) {
			pw_ring_reap(ios->ring);
			continue;
		}
		if (!live().io_sets)
			return;
		/* Requests still completing: a worker, a timer, or the test's own work items. */
		if (work_mode() == WorkMode::Manual)
			run_work();
		if (spins > 20000)
			die("fake::reap_all: a ring never went idle after shutdown");
		std::this_thread::sleep_for(std::chrono::microseconds(250));
	}
}

extern "C" void kapi_timer_start(struct kapi_io *io, unsigned long long ns)
{
	need_init(io, "kapi_timer_start");
	Timer &t = io->timer;
	std::unique_lock<std::mutex> lk(g_tmu);
	dequeue_locked(t);
	t.started = clock_now();
	t.deadline = sat_add(t.started, ns);
	t.it = g_queue.emplace(t.deadline, &t);
	t.pending = true;
	g_starts++;
	if (g_mode == fake::TimerMode::Real)
		g_tcv.notify_all();
	/*
	 * An interrupt may arrive right after hrtimer_start() when the caller
	 * runs with interrupts on (process context, no spinlock held).
	 */
	if (g_fire_on_start > 0 && !in_atomic() && !t.running) {
		g_fire_on_start--;
		run_callback_locked(lk, t);
	}
}

extern "C" void kapi_timer_cancel(struct kapi_io *io)
{
	cancel_timer(io->timer, "kapi_timer_cancel");
}

extern "C" void kapi_queue_work(struct kapi_io *io)
{
	need_init(io, "kapi_queue_work");
	queue_work(io);
}

extern "C" int kapi_in_atomic(void)
{
	return in_atomic();
}

namespace {
std::atomic<long> g_cond_resched;
}

extern "C" void kapi_cond_resched(void)
{
	might_sleep("kapi_cond_resched");
	g_cond_resched++;
}

/* ---- Files ---- */

namespace {

struct WaitHead {
	std::mutex m;	/* wait_queue_head_t's spinlock */
	std::vector<PollEntry *> entries;
};

struct PipeBuf {
	std::mutex m;
	std::condition_variable cv;	/* blocking readers and writers */
	std::deque<unsigned char> data;
	size_t cap = 0;
	int readers = 0, writers = 0;
	WaitHead rd_wait, wr_wait;
};

struct RegBuf {
	std::mutex m;
	std::vector<unsigned char> bytes;
};

enum class Kind { PipeRead, PipeWrite, Regular, Null };

} // namespace

struct file {
	Kind kind;
	std::atomic<unsigned> caps;	/* kNonblock changes with fcntl */
	std::atomic<bool> uncached{false};
	std::atomic<size_t> nowait_chunk{0};
	std::atomic<bool> always_eagain{false};
	std::atomic<long> refs{1};	/* the fd table's, plus the core's */
	std::atomic<long> core_refs{0};
	std::shared_ptr<PipeBuf> pipe;
	std::shared_ptr<RegBuf> reg;
	std::mutex pos_lock;		/* f_pos_lock */
	long long pos = 0;
};

namespace {

std::mutex g_fmu;		/* the fd table and the fget log */
std::map<int, file *> g_fds;
std::vector<fake::FgetRecord> g_fget_log;

file *new_file(Kind k, unsigned caps)
{
	auto *f = new file;
	f->kind = k;
	f->caps = caps;
	g_files++;
	return f;
}

int install_fd(file *f)
{
	std::lock_guard<std::mutex> g(g_fmu);
	int fd = 3;
	while (g_fds.count(fd))
		fd++;
	g_fds[fd] = f;
	return fd;
}

/* The file's wait queue head for poll, or nullptr (no poll method). */
WaitHead *head_of(file *f)
{
	if (f->kind == Kind::PipeRead)
		return &f->pipe->rd_wait;
	if (f->kind == Kind::PipeWrite)
		return &f->pipe->wr_wait;
	return nullptr;
}

/* wake_up_poll(head, key): runs every matching entry's callback, which only queues work. */
void wake_head(WaitHead &h, unsigned key)
{
	t_wake++;
	{
		std::lock_guard<std::mutex> g(h.m);
		for (PollEntry *pe : h.entries) {
			if (key && !(key & pe->io->poll_events)) {
				g_counts.wakeups_filtered++;
				continue;
			}
			g_counts.wakeups++;
			/* Fake self-tests redirect the callbacks: their companions have no packet. */
			if (g_work_cb.load())
				queue_work(pe->io);
			else
				pw_poll_wake(pe->io->arg, 0);
		}
	}
	t_wake--;
}

/* The last reference: pipe_release() wakes both ends when one side is gone. */
void file_release(file *f)
{
	if (f->pipe) {
		PipeBuf &p = *f->pipe;
		{
			std::lock_guard<std::mutex> g(p.m);
			if (f->kind == Kind::PipeRead)
				p.readers--;
			else
				p.writers--;
		}
		p.cv.notify_all();
		wake_head(p.rd_wait, 0);
		wake_head(p.wr_wait, 0);
	}
	delete f;
	g_files--;
}

void file_put(file *f)
{
	const long r = f->refs.fetch_sub(1);
	if (r <= 0)
		die("fput of a file with no references left");
	if (r == 1)
		file_release(f);
}

file *lookup(int fd)
{
	std::lock_guard<std::mutex> g(g_fmu);
	auto it = g_fds.find(fd);
	return it == g_fds.end() ? nullptr : it->second;
}

unsigned pipe_mask(file *f)
{
	PipeBuf &p = *f->pipe;
	std::lock_guard<std::mutex> g(p.m);
	unsigned m = 0;
	if (f->kind == Kind::PipeRead) {
		if (!p.data.empty())
			m |= fake::kIn | fake::kRdNorm;
		if (!p.writers)
			m |= fake::kHup;
	} else {
		if (p.data.size() < p.cap)
			m |= fake::kOut | fake::kWrNorm;
		if (!p.readers)
			m |= fake::kErr;
	}
	return m;
}

unsigned file_mask(file *f)
{
	if (!(f->caps.load() & fake::kPoll))	/* vfs_poll(): DEFAULT_POLLMASK */
		return fake::kIn | fake::kOut | fake::kRdNorm | fake::kWrNorm;
	return pipe_mask(f);
}

/* Waits on a pipe for a blocking caller; false if reset() asked everyone to give up. */
bool pipe_block(PipeBuf &p, std::unique_lock<std::mutex> &lk)
{
	/* signal_pending(): interruptible sleeps end at once */
	if (g_unblock.load() || t_notify.load())
		return false;
	p.cv.wait_for(lk, std::chrono::milliseconds(10));
	return !g_unblock.load() && !t_notify.load();
}

long pipe_read(PipeBuf &p, unsigned char *dst, size_t n, bool block)
{
	if (!n)
		return 0;
	std::unique_lock<std::mutex> lk(p.m);
	while (p.data.empty()) {
		if (!p.writers)
			return 0;
		if (!block)
			return -kEAGAIN;
		if (!pipe_block(p, lk))
			return -kEINTR;
	}
	const size_t k = std::min(n, p.data.size());
	std::copy(p.data.begin(), p.data.begin() + long(k), dst);
	p.data.erase(p.data.begin(), p.data.begin() + long(k));
	lk.unlock();
	p.cv.notify_all();
	wake_head(p.wr_wait, fake::kOut | fake::kWrNorm);
	return long(k);
}

/* Non-blocking: what fits (partial writes; PIPE_BUF atomicity is not modelled). Blocking: all. */
long pipe_write(PipeBuf &p, const unsigned char *src, size_t n, bool block)
{
	if (!n)
		return 0;
	std::unique_lock<std::mutex> lk(p.m);
	size_t done = 0;
	for (;;) {
		if (!p.readers)
			return done ? long(done) : -kEPIPE;
		const size_t k = std::min(p.cap - p.data.size(), n - done);
		if (k) {
			p.data.insert(p.data.end(), src + done, src + done + k);
			done += k;
			lk.unlock();
			p.cv.notify_all();
			wake_head(p.rd_wait, fake::kIn | fake::kRdNorm);
			lk.lock();
		}
		if (done == n)
			return long(done);
		if (!block)
			return done ? long(done) : -kEAGAIN;
		if (!pipe_block(p, lk))
			return done ? long(done) : -kEINTR;
	}
}

long reg_rw(file *f, unsigned char *buf, size_t n, bool write, long long offset, bool trylock)
{
	const bool use_pos = offset < 0;
	std::unique_lock<std::mutex> pl(f->pos_lock, std::defer_lock);
	if (use_pos) {
		if (trylock) {
			if (!pl.try_lock())
				return -kEAGAIN;
		} else {
			pl.lock();
		}
	}
	const size_t pos = size_t(use_pos ? f->pos : offset);
	size_t k;
	{
		RegBuf &r = *f->reg;
		std::lock_guard<std::mutex> g(r.m);
		if (write) {
			if (n && r.bytes.size() < pos + n)
				r.bytes.resize(pos + n);
			if (n)
				std::memcpy(r.bytes.data() + pos, buf, n);
			k = n;
		} else {
			k = pos >= r.bytes.size() ? 0 : std::min(n, r.bytes.size() - pos);
			if (k)
				std::memcpy(buf, r.bytes.data() + pos, k);
		}
	}
	if (use_pos)
		f->pos = (long long)(pos + k);
	return long(k);
}

} // namespace

extern "C" struct file *kapi_fget(unsigned int fd)
{
	need_task("kapi_fget");
	file *f = nullptr;
	{
		std::lock_guard<std::mutex> g(g_fmu);
		auto it = fd <= 0x7fffffffu ? g_fds.find(int(fd)) : g_fds.end();
		if (it != g_fds.end()) {
			f = it->second;
			f->refs++;
			f->core_refs++;
			g_file_refs++;
			g_counts.fgets++;
		}
		g_fget_log.push_back(fake::FgetRecord{int(fd), f != nullptr, std::this_thread::get_id(),
						      cur_ctx()});
	}
	return f;
}

extern "C" void kapi_fput(struct file *f)
{
	if (!f)
		die("kapi_fput(NULL)");
	if (f->core_refs.fetch_sub(1) <= 0)
		die("kapi_fput of a reference the core does not hold (double fput?)");
	g_file_refs--;
	g_counts.fputs++;
	g_counts.fput_ctx[int(cur_ctx())]++;
	file_put(f);
}

extern "C" unsigned int kapi_file_caps(struct file *f)
{
	if (f->core_refs.load() <= 0)
		die("kapi_file_caps on a file the core holds no reference to");
	return f->caps.load();
}

/* Bytes of [uaddr, uaddr + len) before the first unmapped page (bad ranges are unmapped pages). */
static unsigned long mapped_prefix(unsigned long uaddr, unsigned long len)
{
	unsigned long first_bad = uaddr + len;
	{
		std::lock_guard<std::mutex> g(g_mu);
		for (const Range &r : g_bad) {
			/* every page the bad range touches is unmapped */
			const unsigned long a = r.a & ~(kPage - 1);
			const unsigned long e = (r.a + r.len + kPage - 1) & ~(kPage - 1);
			if (Range{a, e - a}.overlaps(uaddr, len))
				first_bad = std::min(first_bad, std::max(a, uaddr));
		}
	}
	if (first_bad == uaddr + len)
		return len;
	const unsigned long page = first_bad & ~(kPage - 1);
	return page <= uaddr ? 0 : page - uaddr;
}

extern "C" long kapi_mdl_pin(struct kapi_io *io, unsigned long uaddr, unsigned long len, int for_write)
{
	need_task("kapi_mdl_pin");
	need_init(io, "kapi_mdl_pin");
	if (io->mdl != Mdl::None)
		die("kapi_mdl_pin on packet %u whose previous MDL was never released (leaks pins)",
		    io->index);
	if (!len) {
		io->mdl = Mdl::Empty;
		io->mdl_len = 0;
		return 0;
	}
	if (uaddr < kPage || uaddr + len < uaddr)
		return -kEFAULT;
	const unsigned long mapped = mapped_prefix(uaddr, len);
	if (!mapped)
		return -kEFAULT;
	if (mapped < len)
		g_counts.short_pins++;
	len = mapped;
	unsigned char *k = reinterpret_cast<unsigned char *>(uaddr);
	if (void *m = fake::user_ptr(uaddr))	/* a buffer inside a ring mapping */
		k = static_cast<unsigned char *>(m);
	io->mdl = Mdl::Pinned;
	io->mdl_kaddr = k;
	io->mdl_len = len;
	io->mdl_for_write = for_write;
	g_pinned++;
	g_counts.pins++;
	return long(len);
}

extern "C" void kapi_mdl_release(struct kapi_io *io)
{
	call_hook(fake::Hook::MdlRelease, io);
	if (in_atomic())
		die("kapi_mdl_release in atomic context (%s): unpin_user_pages_dirty_lock() may "
		    "sleep", fake::ctx_name(cur_ctx()));
	g_counts.mdl_release_ctx[int(cur_ctx())]++;
	if (io->mdl == Mdl::Pinned) {
		g_pinned--;
		g_counts.unpins++;
	}
	io->mdl = Mdl::None;
	io->mdl_kaddr = nullptr;
	io->mdl_len = 0;
}

extern "C" long kapi_rw(struct kapi_io *io, struct file *f, int write, long long offset,
		       unsigned long skip, int nowait)
{
	might_sleep("kapi_rw");
	const unsigned caps = f->caps.load();
	/* O_NONBLOCK files never wait: a "blocking" call on them is fine anywhere. */
	const bool block = !nowait && !(caps & fake::kNonblock);
	if (block && !t_work)
		die("blocking kapi_rw outside a work item (enter must never block on I/O)");
	if (block && !t_blocking)
		die("blocking kapi_rw outside kapi_block_begin/end: no cancellation could break it");
	if (io->mdl == Mdl::None)
		die("kapi_rw on packet %u without a pinned buffer", io->index);
	if (!write && io->mdl == Mdl::Pinned && !io->mdl_for_write)
		die("kapi_rw reads into pages pinned without FOLL_WRITE");
	if (skip > io->mdl_len)
		die("kapi_rw skips %lu bytes of a %lu-byte buffer", skip, io->mdl_len);
	if (f->core_refs.load() <= 0)
		die("kapi_rw on a file the core holds no reference to");
	call_hook(fake::Hook::Rw, io);
	(nowait ? g_counts.rw_nowait : g_counts.rw_blocking)++;
	unsigned char *buf = io->mdl_kaddr ? io->mdl_kaddr + skip : nullptr;
	const size_t n = io->mdl_len - skip;
	if (!(caps & (write ? fake::kWrite : fake::kRead)))
		return -kEBADF;
	/* Cannot be tried without blocking: a would-block (the worker will do it). */
	if (nowait && !(caps & (write ? fake::kNowaitWrite : fake::kNowaitRead)))
		return -kEAGAIN;
	switch (f->kind) {
	case Kind::Null:
		return write ? long(n) : 0;
	case Kind::Regular:
		if (!write && (f->always_eagain.load() || (nowait && f->uncached.load())))
			return -kEAGAIN;	/* page cache miss, or a device with nothing */
		return reg_rw(f, buf, nowait && f->nowait_chunk ? std::min(n, f->nowait_chunk.load()) : n,
			      write, offset < 0 ? offset : offset + (long long)skip, nowait);
	case Kind::PipeRead:
		return pipe_read(*f->pipe, buf, n, block);
	case Kind::PipeWrite:
		return pipe_write(*f->pipe, buf, n, block);
	}
	return -kEINVAL;
}

/* ---- the fake block device (kDirect files) ---- */

namespace {
struct DeviceReq {
	kapi_io *io;
	file *f;
	bool write;
	bool nowait;
	bool plugged;	/* held by the submitter's plug: the device has not seen it */
	long long offset;
	unsigned char *buf;
	size_t n;
};
std::mutex g_devmu;
std::deque<DeviceReq> g_dev;
std::atomic<int> g_dev_eagain_submit{0}, g_dev_eagain_late{0};
std::atomic<long> g_direct_end{0};
std::atomic<long> g_plugs{0}, g_plugged_submits{0};
} // namespace

extern "C" long kapi_rw_direct(struct kapi_io *io, struct file *f, int write, long long offset,
			      unsigned long skip, int nowait)
{
	might_sleep("kapi_rw_direct");
	call_hook(fake::Hook::DirectSubmit, io);
	if (!nowait && !t_work)
		die("a blocking direct submission outside a work item (enter must not wait for tags)");
	if (!(f->caps.load() & fake::kDirect))
		die("kapi_rw_direct on a file without kDirect");
	if (io->mdl == Mdl::None)
		die("kapi_rw_direct on packet %u without a buffer", io->index);
	if (offset < 0)
		die("kapi_rw_direct at the file position: the core keeps those synchronous");
	if (f->core_refs.load() <= 0)
		die("kapi_rw_direct on a file the core holds no reference to");
	(nowait ? g_counts.rw_nowait : g_counts.rw_blocking)++;
	if (nowait && g_dev_eagain_submit.load() > 0 && g_dev_eagain_submit-- > 0)
		return -kEAGAIN;
	std::lock_guard<std::mutex> g(g_devmu);
	if (t_plug)
		g_plugged_submits++;
	g_dev.push_back(DeviceReq{io, f, write != 0, nowait != 0, t_plug != nullptr,
				  offset + (long long)skip,
				  io->mdl_kaddr ? io->mdl_kaddr + skip : nullptr, io->mdl_len - skip});
	return -529;	/* -EIOCBQUEUED */
}

extern "C" void kapi_rw_direct_end(struct kapi_io *, struct file *f, int, long)
{
	if (in_atomic())
		die("kapi_rw_direct_end in atomic context (fsnotify may sleep)");
	if (f->core_refs.load() <= 0)
		die("kapi_rw_direct_end on a file the core holds no reference to");
	g_direct_end++;
}

size_t fake::device_pending()
{
	std::lock_guard<std::mutex> g(g_devmu);
	return g_dev.size();
}

/* As the device's interrupt: data moves, then pw_rw_done() in atomic context. */
size_t fake::device_complete(size_t max)
{
	size_t done = 0;
	while (done < max) {
		DeviceReq r;
		{
			std::lock_guard<std::mutex> g(g_devmu);
			if (g_dev.empty() || g_dev.front().plugged)
				break;	/* a plugged request has not reached the device */
			r = g_dev.front();
			g_dev.pop_front();
		}
		long res;
		if (r.nowait && g_dev_eagain_late.load() > 0 && g_dev_eagain_late-- > 0)
			res = -kEAGAIN;
		else
			res = reg_rw(r.f, r.buf, r.n, r.write, r.offset, false);
		t_irq++;
		pw_rw_done(r.io->arg, res);
		t_irq--;
		done++;
	}
	return done;
}

extern "C" void kapi_plug_start(struct kapi_ios *ios, unsigned int nr)
{
	need_task("kapi_plug_start");
	if (t_plug)
		die("kapi_plug_start: this thread holds a plug already");
	if (nr < 2)
		die("kapi_plug_start for %u submissions: nothing to batch", nr);
	t_plug = ios;
	g_plugs++;
}

/* The plug's requests reach the device, in submission order. */
extern "C" void kapi_plug_finish(struct kapi_ios *ios)
{
	if (t_plug != ios)
		die("kapi_plug_finish without its kapi_plug_start");
	t_plug = nullptr;
	std::lock_guard<std::mutex> g(g_devmu);
	for (DeviceReq &r : g_dev)
		r.plugged = false;
}

long fake::plugs()
{
	return g_plugs.load();
}

long fake::plugged_submits()
{
	return g_plugged_submits.load();
}

void fake::device_eagain_at_submit(int n)
{
	g_dev_eagain_submit = n;
}

void fake::device_eagain_late(int n)
{
	g_dev_eagain_late = n;
}

long fake::direct_end_calls()
{
	return g_direct_end.load();
}

/* ---- page waits (kWaitq files) ---- */

namespace {
std::mutex g_pgmu;
std::multimap<file *, kapi_io *> g_page_waits;
} // namespace

extern "C" long kapi_rw_waitq(struct kapi_io *io, struct file *f, long long offset, unsigned long skip)
{
	might_sleep("kapi_rw_waitq");
	if (!(f->caps.load() & fake::kWaitq))
		die("kapi_rw_waitq on a file without kWaitq");
	if (f->kind != Kind::Regular || offset < 0)
		die("kapi_rw_waitq: regular files at an offset only");
	if (io->mdl == Mdl::None || skip > io->mdl_len)
		die("kapi_rw_waitq on packet %u without its buffer", io->index);
	g_counts.rw_nowait++;
	if (f->uncached.load()) {
		std::lock_guard<std::mutex> g(g_pgmu);
		for (auto it = g_page_waits.begin(); it != g_page_waits.end(); ++it)
			if (it->second == io)
				die("kapi_rw_waitq: packet %u already waits for a page", io->index);
		g_page_waits.emplace(f, io);
		return -529;	/* -EIOCBQUEUED */
	}
	return reg_rw(f, io->mdl_kaddr ? io->mdl_kaddr + skip : nullptr, io->mdl_len - skip, false,
		      offset + (long long)skip, true);
}

size_t fake::pages_arrive(int fd)
{
	file *f = lookup(fd);
	if (!f)
		die("fake::pages_arrive(%d): no such file", fd);
	f->uncached = false;
	std::vector<kapi_io *> woken;
	{
		std::lock_guard<std::mutex> g(g_pgmu);
		auto range = g_page_waits.equal_range(f);
		for (auto it = range.first; it != range.second; ++it)
			woken.push_back(it->second);
		g_page_waits.erase(range.first, range.second);
	}
	for (kapi_io *io : woken) {
		t_irq++;
		pw_page_ready(io->arg);
		t_irq--;
	}
	return woken.size();
}

size_t fake::page_waiters()
{
	std::lock_guard<std::mutex> g(g_pgmu);
	return g_page_waits.size();
}

extern "C" unsigned int kapi_poll_arm(struct kapi_io *io, struct file *f, unsigned int events)
{
	might_sleep("kapi_poll_arm");
	need_init(io, "kapi_poll_arm");
	for (unsigned k = 0; k < io->poll_nr; k++)
		if (io->poll[k].head)
			die("kapi_poll_arm on packet %u with entries of an earlier arm still queued",
			    io->index);
	if (f->core_refs.load() <= 0)
		die("kapi_poll_arm on a file the core holds no reference to");
	g_counts.poll_arms++;
	io->poll_events = events;
	io->poll_nr = 0;
	if (WaitHead *h = head_of(f)) {
		PollEntry &pe = io->poll[io->poll_nr++];
		pe.io = io;
		std::lock_guard<std::mutex> g(h->m);
		pe.head = h;
		h->entries.push_back(&pe);
		g_poll_entries++;
	}
	call_hook(fake::Hook::PollArmed, io);
	return file_mask(f);
}

extern "C" unsigned int kapi_poll_mask(struct file *f)
{
	if (f->core_refs.load() <= 0)
		die("kapi_poll_mask on a file the core holds no reference to");
	call_hook(fake::Hook::PollMask, nullptr);
	return file_mask(f);
}

extern "C" void kapi_poll_disarm(struct kapi_io *io)
{
	g_counts.poll_disarms++;
	for (unsigned k = 0; k < io->poll_nr; k++) {
		PollEntry &pe = io->poll[k];
		if (!pe.head)
			continue;
		{
			std::lock_guard<std::mutex> g(pe.head->m);
			auto &v = pe.head->entries;
			v.erase(std::find(v.begin(), v.end(), &pe));
		}
		pe.head = nullptr;
		g_poll_entries--;
	}
	io->poll_nr = 0;
}

/* ---- Ring memory and user mappings ---- */

struct kapi_mem {
	unsigned long pages;
	void *buf;
	int refs;		/* the core's, plus one per user mapping */
	bool core_holds;
};

namespace {
struct Mapping {
	unsigned long uaddr, len;
	kapi_mem *m;
};
std::map<unsigned long, Mapping> g_maps;	/* by user address */
std::mutex g_hold_mu;
std::condition_variable g_hold_cv;
bool g_hold[2], g_hold_waiting[2];

void park_if_held(fake::Hold which)
{
	const int w = int(which);
	std::unique_lock<std::mutex> lk(g_hold_mu);
	if (!g_hold[w])
		return;
	g_hold_waiting[w] = true;
	g_hold_cv.notify_all();
	g_hold_cv.wait(lk, [w] { return !g_hold[w]; });
	g_hold_waiting[w] = false;
}
unsigned long g_last_pages;

/* Called with g_mu held. */
void mem_put_locked(kapi_mem *m)
{
	if (--m->refs > 0)
		return;
	std::memset(m->buf, 0x6b, m->pages * kPage);
	std::free(m->buf);
	delete m;
	g_pages--;
}

const Mapping *mapping_at_locked(unsigned long uaddr)
{
	auto it = g_maps.upper_bound(uaddr);
	if (it == g_maps.begin())
		return nullptr;
	--it;
	const Mapping &mp = it->second;
	return uaddr - mp.uaddr < mp.len ? &mp : nullptr;
}
} // namespace

extern "C" struct kapi_mem *kapi_mem_alloc(unsigned long pages, void **kaddr)
{
	might_sleep("kapi_mem_alloc");
	if (pages == 0)
		die("kapi_mem_alloc of 0 pages");
	if (alloc_should_fail())
		return nullptr;
	void *buf = std::aligned_alloc(kPage, pages * kPage);
	if (!buf)
		return nullptr;
	std::memset(buf, 0, pages * kPage);
	auto *m = new kapi_mem{pages, buf, 1, true};
	std::lock_guard<std::mutex> g(g_mu);
	g_mems++;
	g_pages++;
	g_last_pages = pages;
	*kaddr = buf;
	return m;
}

extern "C" void kapi_mem_free(struct kapi_mem *m)
{
	might_sleep("kapi_mem_free");
	std::lock_guard<std::mutex> g(g_mu);
	if (!m->core_holds)
		die("kapi_mem_free twice");
	m->core_holds = false;
	g_mems--;
	mem_put_locked(m);
}

extern "C" long kapi_mem_map_user(struct kapi_file *, struct kapi_mem *m, unsigned long hint,
				  unsigned long *uaddr)
{
	might_sleep("kapi_mem_map_user");
	park_if_held(fake::Hold::MapUser);
	std::lock_guard<std::mutex> g(g_mu);
	g_map_calls++;
	if (g_fail_map) {
		const int e = g_fail_map;
		g_fail_map = 0;
		return -e;
	}
	const unsigned long len = m->pages * kPage;
	unsigned long ua = reinterpret_cast<unsigned long>(m->buf);
	if (hint) {
		if (hint & (kPage - 1))
			return -kEINVAL;
		if (hint + len < hint)
			return -kEINVAL;
		for (const Range &r : g_occupied)
			if (r.overlaps(hint, len))
				return -kEEXIST;
		for (const auto &e : g_maps)
			if (Range{e.second.uaddr, e.second.len}.overlaps(hint, len))
				return -kEEXIST;
		ua = hint;
	}
	g_maps[ua] = Mapping{ua, len, m};
	m->refs++;
	*uaddr = ua;
	return 0;
}

extern "C" void kapi_mem_unmap_user(struct kapi_mem *m, unsigned long uaddr)
{
	might_sleep("kapi_mem_unmap_user");
	park_if_held(fake::Hold::UnmapUser);
	std::lock_guard<std::mutex> g(g_mu);
	g_unmap_calls++;
	auto it = g_maps.find(uaddr);
	/* Only if the mapping there is still exactly the one made for m. */
	if (it == g_maps.end() || it->second.m != m || it->second.len != m->pages * kPage)
		return;
	g_maps.erase(it);
	mem_put_locked(m);
}

extern "C" int kapi_copy_to_user(unsigned long uaddr, const void *src, unsigned long n)
{
	might_sleep("kapi_copy_to_user");
	if (uaddr < kPage || uaddr + n < uaddr)
		return -kEFAULT;
	void *dst;
	{
		std::lock_guard<std::mutex> g(g_mu);
		for (const Range &r : g_bad)
			if (r.overlaps(uaddr, n))
				return -kEFAULT;
		const Mapping *mp = mapping_at_locked(uaddr);
		if (mp) {
			if (uaddr + n - mp->uaddr > mp->len)
				return -kEFAULT;
			dst = static_cast<char *>(mp->m->buf) + (uaddr - mp->uaddr);
		} else {
			dst = reinterpret_cast<void *>(uaddr);
		}
	}
	std::memcpy(dst, src, n);
	return 0;
}

extern "C" void kapi_mb(void)
{
#if defined(__SANITIZE_THREAD__)
	/* TSan does not model fences; a seq_cst RMW is a full barrier it does see. */
	static unsigned long barrier_word;
	__atomic_fetch_add(&barrier_word, 0, __ATOMIC_SEQ_CST);
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/* The coarse clock is the manual (or real) clock, like the timers'. */
extern "C" unsigned long long kapi_clock_coarse_ns(void)
{
	return fake::now();
}

static std::mutex g_trmu;
static std::vector<fake::TraceEvent> g_trace;

/* As if a tracer had enabled the events: tests see every call unless they say otherwise. */
int kapi_trace_users = 1;	/* C linkage: declared in kapi.h */

void fake::set_tracing(bool on)
{
	__atomic_store_n(&kapi_trace_users, on ? 1 : 0, __ATOMIC_RELAXED);
}

static void trace_record(const fake::TraceEvent &e)
{
	std::lock_guard<std::mutex> g(g_trmu);
	g_trace.push_back(e);
}

extern "C" void kapi_trace_submit(unsigned int ring, unsigned int op, unsigned long long data,
				  unsigned int, unsigned long long timeout)
{
	trace_record({fake::Trace::Submit, ring, op, data, 0, timeout});
}

extern "C" void kapi_trace_complete(unsigned int ring, unsigned int op, unsigned long long data,
				    int err, unsigned long long result)
{
	trace_record({fake::Trace::Complete, ring, op, data, err, result});
}

extern "C" void kapi_trace_cancel(unsigned int ring, unsigned int op, unsigned long long data,
				  int err)
{
	trace_record({fake::Trace::Cancel, ring, op, data, err, 0});
}

extern "C" void kapi_trace_timeout(unsigned int ring, unsigned int op, unsigned long long data)
{
	trace_record({fake::Trace::Timeout, ring, op, data, 0, 0});
}

extern "C" void kapi_trace_async(unsigned int ring, unsigned int op, unsigned long long data,
				 unsigned int how)
{
	trace_record({fake::Trace::Async, ring, op, data, 0, how});
}

/* ---- Per-user accounting: one fake user per uid, the "current" one set by the test ---- */

struct kapi_user {
	int uid;
	long refs;
	unsigned long long counters[KAPI_LIMITS];
};

namespace {
std::mutex g_umu;	/* alone */
std::map<int, kapi_user *> g_users;
int g_uid = 1000;
bool g_fail_user;
std::atomic<unsigned long long> g_limits[KAPI_LIMITS] = {~0ULL, ~0ULL};
} // namespace

extern "C" struct kapi_user *kapi_user_get(void)
{
	might_sleep("kapi_user_get");
	std::lock_guard<std::mutex> g(g_umu);
	if (g_fail_user) {
		g_fail_user = false;
		return nullptr;
	}
	kapi_user *&u = g_users[g_uid];
	if (!u)
		u = new kapi_user{g_uid, 0, {}};
	u->refs++;
	return u;
}

extern "C" void kapi_user_put(struct kapi_user *u)
{
	might_sleep("kapi_user_put");
	std::lock_guard<std::mutex> g(g_umu);
	if (u->refs <= 0)
		die("kapi_user_put of a user with no reference");
	if (--u->refs)
		return;
	for (unsigned long long c : u->counters)
		if (c)
			die("user %d freed with %llu still charged", u->uid, c);
	g_users.erase(u->uid);
	delete u;
}

extern "C" unsigned long long *kapi_user_counters(struct kapi_user *u)
{
	return u->counters;
}

extern "C" unsigned long long kapi_limit(int which)
{
	if (which < 0 || which >= KAPI_LIMITS)
		die("kapi_limit(%d)", which);
	return g_limits[which].load();
}

/* ---- The test side ---- */

namespace fake {

void set_fatal_signal(bool pending)
{
	g_fatal_signal = pending;
}

std::vector<TraceEvent> trace_log()
{
	std::lock_guard<std::mutex> g(g_trmu);
	return g_trace;
}

void trace_clear()
{
	std::lock_guard<std::mutex> g(g_trmu);
	g_trace.clear();
}

void set_uid(int uid)
{
	std::lock_guard<std::mutex> g(g_umu);
	g_uid = uid;
}

void set_limit(int which, unsigned long long limit)
{
	g_limits[which] = limit;
}

unsigned long long charged(int uid, int which)
{
	std::lock_guard<std::mutex> g(g_umu);
	auto it = g_users.find(uid);
	return it == g_users.end() ? 0 : __atomic_load_n(&it->second->counters[which], __ATOMIC_ACQUIRE);
}

void fail_next_user_get()
{
	std::lock_guard<std::mutex> g(g_umu);
	g_fail_user = true;
}

void reset()
{
	g_fatal_signal = false;
	trace_clear();
	fake::set_tracing(true);
	{
		std::lock_guard<std::mutex> g(g_devmu);
		if (!g_dev.empty())
			die("fake::reset with %zu direct requests still on the device", g_dev.size());
	}
	g_dev_eagain_submit = 0;
	g_dev_eagain_late = 0;
	g_direct_end = 0;
	g_plugs = 0;
	g_plugged_submits = 0;
	g_home_running = false;
	g_tw_listings = 0;
	{
		std::lock_guard<std::mutex> g(g_twmu);
		g_tw_callbacks.clear();
	}
	{
		std::lock_guard<std::mutex> g(g_pgmu);
		if (!g_page_waits.empty())
			die("fake::reset with %zu page waits still queued", g_page_waits.size());
	}
	{
		std::lock_guard<std::mutex> g(g_rmu);
		g_reaps.clear();
	}
	g_unblock = true;
	stop_workers();
	stop_cpus();
	g_unblock = false;
	/* Before the work queue is cleared: closing may wake entries of a leaked ring. */
	close_all();
	{
		std::lock_guard<std::mutex> lk(g_tmu);
		for (auto &e : g_queue)
			e.second->pending = false;
		g_queue.clear();
		g_mode = TimerMode::Manual;
		g_now = 0;
		g_starts = g_cancels = g_callbacks = 0;
		g_fire_on_start = 0;
	}
	{
		std::lock_guard<std::mutex> lk(g_wmu);
		for (kapi_io *io : g_wq)
			io->w_pending = false;
		g_wq.clear();
		g_wmode = WorkMode::Manual;
		g_wqueued = g_wcoalesced = g_wruns = 0;
	}
	{
		std::lock_guard<std::mutex> lk(g_hold_mu);
		g_hold[0] = g_hold[1] = false;
		g_hold_cv.notify_all();
	}
	{
		std::lock_guard<std::mutex> g(g_hmu);
		for (auto &h : g_hooks)
			h = nullptr;
	}
	g_timer_cb = nullptr;
	g_work_cb = nullptr;
	{
		std::lock_guard<std::mutex> g(g_fmu);
		g_fget_log.clear();
	}
	g_file_refs = g_pinned = g_poll_entries = g_files = 0;
	for (auto *c : {&g_counts.fgets, &g_counts.fputs, &g_counts.pins, &g_counts.unpins,
			&g_counts.short_pins,
			&g_counts.rw_nowait, &g_counts.rw_blocking, &g_counts.poll_arms,
			&g_counts.poll_disarms, &g_counts.wakeups, &g_counts.wakeups_filtered,
			&g_counts.interrupts})
		*c = 0;
	for (int i = 0; i < 4; i++)
		g_counts.fput_ctx[i] = g_counts.mdl_release_ctx[i] = 0;
	munmap_all();
	{
		std::lock_guard<std::mutex> g(g_umu);
		g_users.clear();	/* a failed test's leaks are forgotten */
		g_uid = 1000;
		g_fail_user = false;
		for (auto &l : g_limits)
			l = ~0ULL;
	}
	std::lock_guard<std::mutex> g(g_mu);
	g_allocs.clear();
	g_locks = g_waitqs = g_io_sets = g_mems = g_pages = 0;
	g_fail_at = -1;
	g_alloc_calls = 0;
	g_cond_resched = 0;
	g_fail_map = 0;
	g_map_calls = g_unmap_calls = 0;
	g_occupied.clear();
	g_bad.clear();
	g_signal = false;
	g_task_work = false;
}

Live live()
{
	Live l;
	{
		std::lock_guard<std::mutex> g(g_mu);
		l.allocs = long(g_allocs.size());
		l.locks = g_locks;
		l.waitqs = g_waitqs;
		l.io_sets = g_io_sets;
		l.mems = g_mems;
		l.mappings = long(g_maps.size());
		l.page_buffers = g_pages;
	}
	l.file_refs = g_file_refs.load();
	l.pinned = g_pinned.load();
	l.poll_entries = g_poll_entries.load();
	l.files = g_files.load();
	{
		std::lock_guard<std::mutex> g(g_umu);
		l.users = long(g_users.size());
	}
	return l;
}

void fail_alloc_at(long n)
{
	std::lock_guard<std::mutex> g(g_mu);
	g_fail_at = n < 0 ? -1 : g_alloc_calls + n;
}

long alloc_calls()
{
	std::lock_guard<std::mutex> g(g_mu);
	return g_alloc_calls;
}

void fail_next_map(int err)
{
	std::lock_guard<std::mutex> g(g_mu);
	g_fail_map = err;
}

void occupy(unsigned long uaddr, unsigned long len)
{
	std::lock_guard<std::mutex> g(g_mu);
	g_occupied.push_back(Range{uaddr, len});
}

void bad_user_range(unsigned long uaddr, unsigned long len)
{
	std::lock_guard<std::mutex> g(g_mu);
	g_bad.push_back(Range{uaddr, len});
}

void hold(Hold which, bool on)
{
	std::lock_guard<std::mutex> lk(g_hold_mu);
	g_hold[int(which)] = on;
	g_hold_cv.notify_all();
}

bool held_waiting(Hold which)
{
	std::unique_lock<std::mutex> lk(g_hold_mu);
	return g_hold_cv.wait_for(lk, std::chrono::seconds(5),
				  [which] { return g_hold_waiting[int(which)]; });
}

unsigned long last_mem_pages()
{
	std::lock_guard<std::mutex> g(g_mu);
	return g_last_pages;
}

void *user_ptr(unsigned long uaddr)
{
	std::lock_guard<std::mutex> g(g_mu);
	const Mapping *mp = mapping_at_locked(uaddr);
	return mp ? static_cast<char *>(mp->m->buf) + (uaddr - mp->uaddr) : nullptr;
}

bool munmap(unsigned long uaddr)
{
	std::lock_guard<std::mutex> g(g_mu);
	auto it = g_maps.find(uaddr);
	if (it == g_maps.end())
		return false;
	kapi_mem *m = it->second.m;
	g_maps.erase(it);
	mem_put_locked(m);
	return true;
}

void munmap_all()
{
	std::lock_guard<std::mutex> g(g_mu);
	while (!g_maps.empty()) {
		kapi_mem *m = g_maps.begin()->second.m;
		g_maps.erase(g_maps.begin());
		mem_put_locked(m);
	}
}

long map_calls()
{
	std::lock_guard<std::mutex> g(g_mu);
	return g_map_calls;
}

long unmap_calls()
{
	std::lock_guard<std::mutex> g(g_mu);
	return g_unmap_calls;
}

void raise_signal()
{
	g_signal = true;
	std::lock_guard<std::mutex> g(g_mu);
	for (kapi_waitq *w : g_waitq_set) {
		std::lock_guard<std::mutex> lk(w->m);
		w->cv.notify_all();
	}
}

bool signal_pending() { return g_signal.load(); }

void raise_task_work()
{
	g_task_work = true;
	std::lock_guard<std::mutex> g(g_mu);
	for (kapi_waitq *w : g_waitq_set) {
		std::lock_guard<std::mutex> lk(w->m);
		w->cv.notify_all();
	}
}


int sleepers() { return g_sleepers.load(); }

bool wait_for_sleepers(int n, int timeout_ms)
{
	const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
	while (g_sleepers.load() < n) {
		if (std::chrono::steady_clock::now() > end)
			return false;
		std::this_thread::sleep_for(std::chrono::microseconds(50));
	}
	return true;
}

Ctx context() { return cur_ctx(); }

const char *ctx_name(Ctx c)
{
	switch (c) {
	case Ctx::Task: return "task";
	case Ctx::Work: return "work item";
	case Ctx::Irq: return "timer callback";
	case Ctx::Wakeup: return "poll wakeup";
	}
	return "?";
}

void set_timer_mode(TimerMode m, unsigned cpus)
{
	stop_cpus();
	std::lock_guard<std::mutex> lk(g_tmu);
	if (!g_queue.empty())
		die("fake::set_timer_mode with timers pending");
	g_mode = m;
	if (m == TimerMode::Real)
		for (unsigned i = 0; i < cpus; i++)
			g_cpus.emplace_back(cpu_thread);
}

TimerMode timer_mode()
{
	std::lock_guard<std::mutex> lk(g_tmu);
	return g_mode;
}

uint64_t now()
{
	std::lock_guard<std::mutex> lk(g_tmu);
	return clock_now();
}

void advance_to(uint64_t target)
{
	std::unique_lock<std::mutex> lk(g_tmu);
	if (g_mode != TimerMode::Manual)
		die("fake::advance in real timer mode");
	for (;;) {
		Timer *t = first_ready_locked(target);
		if (!t)
			break;
		if (t->deadline > g_now)
			g_now = t->deadline;
		run_callback_locked(lk, *t);
	}
	if (target > g_now)
		g_now = target;
}

void advance(uint64_t ns)
{
	advance_to(sat_add(now(), ns));
}

std::vector<TimerRef> pending_timers()
{
	std::lock_guard<std::mutex> lk(g_tmu);
	std::vector<TimerRef> v;
	for (auto &e : g_queue)
		v.push_back(TimerRef{e.second->io->set, e.second->io->index, e.second->deadline,
				     e.second->started});
	return v;
}

bool fire(const TimerRef &ref)
{
	std::unique_lock<std::mutex> lk(g_tmu);
	Timer *t = timer_of_ref_locked(ref);
	if (!t || !t->pending || t->running || t->deadline != ref.deadline)
		return false;
	run_callback_locked(lk, *t);
	return true;
}

bool fire_timer_of(kapi_io *io)
{
	std::unique_lock<std::mutex> lk(g_tmu);
	Timer &t = io->timer;
	if (!t.pending || t.running)
		return false;
	run_callback_locked(lk, t);
	return true;
}

void fire_on_next_starts(long n)
{
	std::lock_guard<std::mutex> lk(g_tmu);
	g_fire_on_start = n;
}

long timer_starts()
{
	std::lock_guard<std::mutex> lk(g_tmu);
	return g_starts;
}

long timer_cancels()
{
	std::lock_guard<std::mutex> lk(g_tmu);
	return g_cancels;
}

long callbacks_run()
{
	std::lock_guard<std::mutex> lk(g_tmu);
	return g_callbacks;
}

void set_work_mode(WorkMode m, unsigned workers)
{
	stop_workers();
	std::lock_guard<std::mutex> lk(g_wmu);
	g_wmode = m;
	if (m == WorkMode::Threaded) {
		for (unsigned i = 0; i < workers; i++)
			g_workers.emplace_back(worker_thread);
		g_wcv.notify_all();
	}
}

WorkMode work_mode()
{
	std::lock_guard<std::mutex> lk(g_wmu);
	return g_wmode;
}

bool run_one_work()
{
	std::unique_lock<std::mutex> lk(g_wmu);
	return run_one_locked(lk);
}

int run_work()
{
	int n = 0;
	std::unique_lock<std::mutex> lk(g_wmu);
	while (run_one_locked(lk))
		if (++n > 1'000'000)
			die("fake::run_work: a work item keeps requeueing itself");
	return n;
}

long work_queued()
{
	std::lock_guard<std::mutex> lk(g_wmu);
	return g_wqueued;
}

long work_coalesced()
{
	std::lock_guard<std::mutex> lk(g_wmu);
	return g_wcoalesced;
}

long work_runs()
{
	std::lock_guard<std::mutex> lk(g_wmu);
	return g_wruns;
}

long work_pending()
{
	std::lock_guard<std::mutex> lk(g_wmu);
	return long(g_wq.size());
}

bool work_idle(int timeout_ms)
{
	const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
	for (;;) {
		{
			std::lock_guard<std::mutex> lk(g_wmu);
			if (g_wq.empty() && !g_wrunning)
				return true;
		}
		if (std::chrono::steady_clock::now() > end)
			return false;
		std::this_thread::sleep_for(std::chrono::microseconds(50));
	}
}

void set_io_callbacks(void (*timer)(void *), void (*work)(void *))
{
	g_timer_cb = timer;
	g_work_cb = work;
}

kapi_io *io_at(kapi_ios *set, unsigned i)
{
	if (i >= set->count)
		die("io_at index %u of %u", i, set->count);
	return &set->io[i];
}

void pipe(int fds[2], PipeOpts o)
{
	auto p = std::make_shared<PipeBuf>();
	p->cap = o.capacity;
	p->readers = p->writers = 1;
	const unsigned nw = (o.nowait ? unsigned(kNowait) : 0u) | (o.nonblock ? unsigned(kNonblock) : 0u);
	file *r = new_file(Kind::PipeRead, kRead | kPoll | nw);
	file *w = new_file(Kind::PipeWrite, kWrite | kPoll | nw);
	r->pipe = w->pipe = p;
	fds[0] = install_fd(r);
	fds[1] = install_fd(w);
}

/* What io.c gives a regular file at most: no poll method, no O_NONBLOCK, no NOWAIT writes. */
constexpr unsigned kRegularMask = kRead | kWrite | kPread | kPwrite | kNowaitRead | kNowaitWrite | kDirect |
				   kWaitq;

int regular_file(const std::string &bytes, unsigned caps)
{
	file *f = new_file(Kind::Regular, caps & kRegularMask);
	f->reg = std::make_shared<RegBuf>();
	f->reg->bytes.assign(bytes.begin(), bytes.end());
	return install_fd(f);
}

int reopen(int fd, unsigned caps)
{
	file *old = lookup(fd);
	if (!old || !old->reg)
		die("fake::reopen(%d): not a regular file", fd);
	file *f = new_file(Kind::Regular, caps & kRegularMask);
	f->reg = old->reg;
	return install_fd(f);
}

void set_nowait_chunk(int fd, size_t chunk)
{
	file *f = lookup(fd);
	if (!f || f->kind != Kind::Regular)
		die("fake::set_nowait_chunk(%d): not a regular file", fd);
	f->nowait_chunk = chunk;
}

void set_always_eagain(int fd, bool on)
{
	file *f = lookup(fd);
	if (!f || f->kind != Kind::Regular)
		die("fake::set_always_eagain(%d): not a regular file", fd);
	f->always_eagain = on;
}

long cond_resched_calls()
{
	return g_cond_resched;
}

void set_uncached(int fd, bool uncached)
{
	file *f = lookup(fd);
	if (!f || f->kind != Kind::Regular)
		die("fake::set_uncached(%d): not a regular file", fd);
	f->uncached = uncached;
}

void set_nonblock(int fd, bool on)
{
	file *f = lookup(fd);
	if (!f || !f->pipe)
		die("fake::set_nonblock(%d): not a pipe", fd);
	if (on)
		f->caps |= kNonblock;
	else
		f->caps &= ~unsigned(kNonblock);
}

int devnull()
{
	return install_fd(new_file(Kind::Null, kRead | kWrite | kPread | kPwrite | kNowait));
}

void close(int fd)
{
	file *f;
	{
		std::lock_guard<std::mutex> g(g_fmu);
		auto it = g_fds.find(fd);
		if (it == g_fds.end())
			die("fake::close(%d): not open", fd);
		f = it->second;
		g_fds.erase(it);
	}
	file_put(f);
}

void close_all()
{
	std::vector<int> fds;
	{
		std::lock_guard<std::mutex> g(g_fmu);
		for (auto &e : g_fds)
			fds.push_back(e.first);
	}
	for (int fd : fds)
		close(fd);
}

bool fd_open(int fd) { return lookup(fd) != nullptr; }

namespace {
/* The test uses an fd it owns: it stays open while the test works on it. */
file *test_file(int fd, const char *what)
{
	file *f = lookup(fd);
	if (!f)
		die("fake::%s(%d): not open", what, fd);
	return f;
}
} // namespace

long write(int fd, const void *p, size_t n)
{
	file *f = test_file(fd, "write");
	auto *src = static_cast<const unsigned char *>(p);
	switch (f->kind) {
	case Kind::PipeWrite:
		return pipe_write(*f->pipe, src, n, false);
	case Kind::Regular:
		return reg_rw(f, const_cast<unsigned char *>(src), n, true, -1, false);
	case Kind::Null:
		return long(n);
	default:
		return -kEBADF;
	}
}

long write(int fd, const std::string &s) { return write(fd, s.data(), s.size()); }

long read(int fd, void *p, size_t n)
{
	file *f = test_file(fd, "read");
	auto *dst = static_cast<unsigned char *>(p);
	switch (f->kind) {
	case Kind::PipeRead:
		return pipe_read(*f->pipe, dst, n, false);
	case Kind::Regular:
		return reg_rw(f, dst, n, false, -1, false);
	case Kind::Null:
		return 0;
	default:
		return -kEBADF;
	}
}

std::string read_all(int fd)
{
	std::string s;
	char buf[256];
	long n;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		s.append(buf, size_t(n));
	return s;
}

std::string contents(int fd)
{
	file *f = test_file(fd, "contents");
	if (f->pipe) {
		std::lock_guard<std::mutex> g(f->pipe->m);
		return std::string(f->pipe->data.begin(), f->pipe->data.end());
	}
	if (f->reg) {
		std::lock_guard<std::mutex> g(f->reg->m);
		return std::string(f->reg->bytes.begin(), f->reg->bytes.end());
	}
	return std::string();
}

size_t pipe_space(int fd)
{
	file *f = test_file(fd, "pipe_space");
	if (!f->pipe)
		die("fake::pipe_space(%d): not a pipe", fd);
	std::lock_guard<std::mutex> g(f->pipe->m);
	return f->pipe->cap - f->pipe->data.size();
}

long long file_pos(int fd)
{
	file *f = test_file(fd, "file_pos");
	std::lock_guard<std::mutex> g(f->pos_lock);
	return f->pos;
}

void wake(int fd, unsigned key)
{
	file *f = test_file(fd, "wake");
	WaitHead *h = head_of(f);
	if (!h)
		die("fake::wake(%d): no wait queue", fd);
	wake_head(*h, key);
}

int poll_waiters(int fd)
{
	file *f = test_file(fd, "poll_waiters");
	WaitHead *h = head_of(f);
	if (!h)
		return 0;
	std::lock_guard<std::mutex> g(h->m);
	return int(h->entries.size());
}

std::vector<FgetRecord> fget_log()
{
	std::lock_guard<std::mutex> g(g_fmu);
	return g_fget_log;
}

IoCounts io_counts()
{
	IoCounts c;
	c.fgets = g_counts.fgets;
	c.fputs = g_counts.fputs;
	c.pins = g_counts.pins;
	c.short_pins = g_counts.short_pins;
	c.unpins = g_counts.unpins;
	c.rw_nowait = g_counts.rw_nowait;
	c.rw_blocking = g_counts.rw_blocking;
	c.poll_arms = g_counts.poll_arms;
	c.poll_disarms = g_counts.poll_disarms;
	c.wakeups = g_counts.wakeups;
	c.wakeups_filtered = g_counts.wakeups_filtered;
	c.interrupts = g_counts.interrupts;
	for (int i = 0; i < 4; i++) {
		c.fput_ctx[i] = g_counts.fput_ctx[i];
		c.mdl_release_ctx[i] = g_counts.mdl_release_ctx[i];
	}
	return c;
}

void set_hook(Hook h, std::function<void(kapi_io *)> fn)
{
	std::lock_guard<std::mutex> g(g_hmu);
	g_hooks[int(h)] = std::move(fn);
}

} // namespace fake

/* For probe_op.cpp, which cannot include the standard library. */
extern "C" int fake_context(void)
{
	return int(fake::context());
}
