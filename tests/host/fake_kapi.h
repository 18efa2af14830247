/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The test side of tests/host/fake_kapi.cpp: a user-space implementation of
 * module/core/kapi.h with knobs for the tests.
 *
 * - Every object the core creates (zalloc, locks, wait queues, packet
 *   companions, ring memory) is counted, and so is every file reference the
 *   core takes, every pinned buffer (MDL) and every poll wait entry;
 *   live() tells what is still there.
 * - Kernel rules are checked and violations abort with a message: no
 *   sleeping or allocating in atomic context (a timer callback, a poll
 *   wakeup, under a spinlock), no recursive spinlock, no cancelling a timer
 *   from its own callback or while holding a spinlock, no double free;
 *   kapi_mdl_release() never in atomic context (unpinning dirty pages may
 *   sleep); kapi_fget() and kapi_mdl_pin() only in a thread of the
 *   submitting process (not in a work item, a timer or a wakeup: they need
 *   its file table and address space); blocking I/O (kapi_rw without
 *   nowait) only in a work item, never in enter; kapi_rw only through a
 *   pinned buffer, writable when it reads; no double fput; poll entries
 *   never armed twice or left armed when the companions are destroyed.
 * - Each packet's companion (kapi_io) has a timer and a work item.
 *   Timers run either on a manual clock (the test advances time and the
 *   expired callbacks run on the test's thread, in deadline order) or on
 *   real timer threads ("CPUs") for race tests. Work items run on a fake
 *   workqueue: in Manual mode only when a test drains it (run_work()), in
 *   Threaded mode on worker threads. Like the kernel's: queueing a pending
 *   item does nothing, an item never runs on two threads at once, and an
 *   item queued while it runs runs again afterwards.
 * - Files: an fd table of fake files. A pipe (bounded buffer, non-blocking
 *   attempts return -EAGAIN, poll masks, a wait queue per end whose wakeups
 *   only queue the waiting packets' work items, HUP/ERR when the other end
 *   closes), a regular file (bytes in memory with a file position; no poll
 *   method and no NOWAIT, so the core has a worker read it), /dev/null.
 * - User memory: a ring mapped without a hint is "mapped" at its kernel
 *   address; with a hint, at exactly the hint (user_ptr() translates). The
 *   pages live until both the core freed them and the mapping is gone, like
 *   page references do. Addresses below 4096 and bad_user_range() fault,
 *   for kapi_copy_to_user() and kapi_mdl_pin() alike. Buffers are plain
 *   memory of the test: kapi_mdl_pin() "pins" the address range.
 */
#ifndef PWRING_FAKE_KAPI_H
#define PWRING_FAKE_KAPI_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

struct kapi_ios;
struct kapi_io;
struct kapi_mem;

namespace fake {

/*
 * Back to a fresh state between tests: manual clock at 0, manual work
 * queue, no timer or worker threads, nothing pending, no knobs or hooks
 * set, counters zero, user mappings dropped, fd table empty. Objects a
 * failed test leaked are forgotten, not freed.
 */
void reset();

struct Live {
	long allocs = 0;	/* kapi_zalloc blocks */
	long locks = 0;
	long waitqs = 0;
	long io_sets = 0;	/* kapi_ios_create sets */
	long mems = 0;		/* kapi_mem objects the core holds */
	long mappings = 0;	/* user mappings (held by the "process") */
	long page_buffers = 0;	/* ring pages still referenced by either */
	long file_refs = 0;	/* kapi_fget references not put back */
	long pinned = 0;	/* MDLs pinned and not released */
	long poll_entries = 0;	/* poll wait entries on a file's queue */
	long files = 0;		/* fake struct files still existing (fd table or refs) */
	long users = 0;		/* per-user accounting objects referenced (kapi_user_get) */
	bool kernel_clean() const
	{
		return !allocs && !locks && !waitqs && !io_sets && !mems && !file_refs && !pinned &&
		       !poll_entries && !users;
	}
	bool all_clean() const { return kernel_clean() && !mappings && !page_buffers && !files; }
};
Live live();

/* ---- Failure injection ---- */
/*
 * The n-th allocating call from now (0 = the next one) fails; -1 disables.
 * Allocating calls: kapi_zalloc, kapi_lock_create, kapi_waitq_create,
 * kapi_ios_create, kapi_mem_alloc.
 */
void fail_alloc_at(long n);
long alloc_calls();		/* allocating calls so far */
/* The next kapi_mem_map_user() fails with -err. */
void fail_next_map(int err);
/* Mark a user range occupied: a hinted mapping overlapping it gets -EEXIST. */
void occupy(unsigned long uaddr, unsigned long len);
/*
 * kapi_copy_to_user() on this range fails with -EFAULT. For kapi_mdl_pin()
 * every page the range touches is unmapped: a buffer whose first page is
 * unmapped fails with -EFAULT, one that runs into an unmapped page later is
 * pinned up to that page (the transfer stops there, as read(2) would).
 */
void bad_user_range(unsigned long uaddr, unsigned long len);
/*
 * Park the next callers of kapi_mem_map_user() (inside setup: the slot is
 * claimed, not live) or kapi_mem_unmap_user() (inside teardown) until
 * released; held_waiting() waits (5 s) until a caller is parked.
 */
enum class Hold { MapUser, UnmapUser };
void hold(Hold which, bool on);
bool held_waiting(Hold which);
/* Pages of the last kapi_mem_alloc(). */
unsigned long last_mem_pages();

/* ---- Per-user limits ---- */
/*
 * kapi_user_get() answers for the user `uid` (default 1000) from now on.
 * Limits (KAPI_LIMIT_*) default to no limit. charged() reads a user's
 * counter (0 once the user is gone: a user is freed with its last
 * reference, and dies if anything is still charged then).
 */
void set_uid(int uid);
void set_limit(int which, unsigned long long limit);
unsigned long long charged(int uid, int which);
/* The next kapi_user_get() returns NULL (out of memory). */
void fail_next_user_get();

/* ---- User mappings ---- */
/* Kernel-side pointer for a user address inside a fake mapping, else nullptr. */
void *user_ptr(unsigned long uaddr);
/* The process unmaps the ring (as munmap/exit would). False if none there. */
bool munmap(unsigned long uaddr);
void munmap_all();
long map_calls();
long unmap_calls();

/* ---- Wait queues and signals ---- */
/* A signal for the next interruptible wait that would sleep (and wakes sleepers). */
void raise_signal();
/*
 * Task work that is not a signal (TIF_NOTIFY_SIGNAL) for the next
 * interruptible wait: it returns -ERESTARTSYS (-512) instead of -EINTR.
 */
void raise_task_work();
bool signal_pending();
/* Threads currently asleep in kapi_wait_*. */
int sleepers();
/* Spin until at least n threads sleep; false after timeout_ms. */
bool wait_for_sleepers(int n, int timeout_ms = 5000);

/* ---- Execution contexts ---- */
enum class Ctx {
	Task,	/* a thread of the process (test threads, enter, release) */
	Work,	/* inside a work item (kernel worker, process context) */
	Irq,	/* inside a timer callback (hard interrupt) */
	Wakeup,	/* inside a poll wakeup (waker holds the wait queue lock) */
};
Ctx context();
const char *ctx_name(Ctx c);

/* ---- Timers ---- */
enum class TimerMode { Manual, Real };
/* Real mode starts `cpus` timer threads; Manual stops them. */
void set_timer_mode(TimerMode m, unsigned cpus = 2);
TimerMode timer_mode();

/* Manual clock, in ns. */
uint64_t now();
/* Advance the manual clock, firing every timer that expires on the way. */
void advance(uint64_t ns);
/* Advance to exactly t (>= now()). */
void advance_to(uint64_t t);

struct TimerRef {
	kapi_ios *set;
	unsigned index;		/* packet index in its pool */
	uint64_t deadline;	/* absolute, on the active clock */
	uint64_t started;	/* when kapi_timer_start() was called */
};
std::vector<TimerRef> pending_timers();	/* sorted by deadline */
/*
 * Run a pending timer's callback now on the calling thread, early if need be
 * (to force an interleaving). False if it is no longer pending, is running,
 * was restarted, or its set was destroyed (stale refs are safe).
 */
bool fire(const TimerRef &t);
/* The same for the timer of a packet companion (a hook's io): false if not pending. */
bool fire_timer_of(kapi_io *io);
/*
 * The next n kapi_timer_start() calls made in "process context" (not in a
 * callback, no spinlock held) are followed at once by the timer's callback
 * on the same thread, as an interrupt arriving right after hrtimer_start().
 */
void fire_on_next_starts(long n);
long timer_starts();
long timer_cancels();
long callbacks_run();

/* ---- Work items ---- */
enum class WorkMode { Manual, Threaded };
/* Threaded mode starts `workers` worker threads; Manual stops them (queued items stay). */
void set_work_mode(WorkMode m, unsigned workers = 2);
WorkMode work_mode();
/*
 * Manual mode: run queued work items on the calling thread (as the worker)
 * until the queue is empty, including items queued meanwhile; returns how
 * many ran. run_one_work() runs at most one. Usable in Threaded mode too.
 * Note: in Manual mode, an uninterruptible wait (release) that would sleep
 * runs queued work itself, as the workqueue would while the closer sleeps.
 */
int run_work();
bool run_one_work();
/*
 * After pwring_core_shutdown(): run the reaps the core asks for
 * (kapi_reap_later) until every ring is freed, running queued work items
 * meanwhile in Manual mode. Dies if a ring never goes idle.
 */
void reap_all();
/* kapi_fatal_signal_pending() answers this. */
void set_fatal_signal(bool pending);
long work_queued();	/* items accepted by kapi_queue_work (not coalesced) */
long work_coalesced();	/* kapi_queue_work on an item already pending */
long work_runs();	/* callbacks run */
long work_pending();	/* items waiting to run now */
/* Threaded mode: spin until nothing is queued or running; false after timeout_ms. */
bool work_idle(int timeout_ms = 5000);

/* Test-only: redirect the kernel's callbacks (pw_timer_fired / pw_io_work) for fake self-tests. */
void set_io_callbacks(void (*timer)(void *), void (*work)(void *));
/* The companion of packet i of a set, for fake self-tests. */
kapi_io *io_at(kapi_ios *set, unsigned i);

/* ---- Files ---- */
/* Capability bits of kapi.h (KAPI_F_*), repeated for the tests. */
enum : unsigned {
	kRead = 1u << 0, kWrite = 1u << 1, kPread = 1u << 2, kPwrite = 1u << 3,
	kPoll = 1u << 4, kNowaitRead = 1u << 5, kNowaitWrite = 1u << 6, kNonblock = 1u << 7,
	kDirect = 1u << 8,	/* O_DIRECT: kapi_rw_direct() queues on the fake device */
	kWaitq = 1u << 9,	/* buffered reads wait for pages asynchronously (kapi_rw_waitq) */
	kNowait = kNowaitRead | kNowaitWrite,
};
/* Kernel poll bits. */
enum : unsigned {
	kIn = 0x0001, kOut = 0x0004, kErr = 0x0008, kHup = 0x0010, kRdNorm = 0x0040,
	kWrNorm = 0x0100,
};

struct PipeOpts {
	size_t capacity = 4096;
	bool nowait = true;	/* FMODE_NOWAIT: false models a pollable file that cannot try */
	bool nonblock = false;	/* O_NONBLOCK on both ends: never waits, answers EAGAIN */
};
/* A pipe: fds[0] reads, fds[1] writes. */
void pipe(int fds[2], PipeOpts o = PipeOpts());
/*
 * A regular file with these bytes, opened with caps. By default readable
 * without blocking (buffered reads of cached pages, as on tmpfs or a fast
 * disk) but not writable so: writes go to the worker. No poll method.
 */
constexpr unsigned kRegularCaps = kRead | kWrite | kPread | kPwrite | kNowaitRead;
int regular_file(const std::string &bytes, unsigned caps = kRegularCaps);
/* Another open file (own position) of the same regular file. */
int reopen(int fd, unsigned caps);
/* Pages of a regular file not in the page cache: a non-blocking read says EAGAIN. */
void set_uncached(int fd, bool uncached);
/*
 * A regular file whose non-blocking reads and writes move at most `chunk`
 * bytes a call, as /dev/zero does under IOCB_NOWAIT when it should yield
 * the CPU (0: no limit).
 */
void set_nowait_chunk(int fd, size_t chunk);
/* A regular file whose every read says EAGAIN, blocking or not (some devices do). */
void set_always_eagain(int fd, bool on);
/*
 * The fake block device behind kDirect files: kapi_rw_direct() queues each
 * request here (-EIOCBQUEUED) and nothing moves until the test completes
 * them, oldest first, as the device's interrupt would (in_atomic() is true
 * in pw_rw_done). The data moves at completion. device_eagain_at_submit(n):
 * the next n non-blocking submissions say EAGAIN; device_eagain_late(n): the
 * next n non-blocking completions are -EAGAIN (BLK_STS_AGAIN).
 */
size_t device_pending();
size_t device_complete(size_t max = ~size_t(0));
void device_eagain_at_submit(int n);
void device_eagain_late(int n);
long direct_end_calls();	/* kapi_rw_direct_end() */
/*
 * kapi_plug_start() calls, and direct submissions made under a plug. A
 * plugged request reaches the device (device_complete() sees it) only at
 * kapi_plug_finish().
 */
long plugs();
long plugged_submits();
/*
 * Task work (kapi_task_work): the ring's home thread is asleep unless set
 * running; then listings wait for run_task_work(), which runs them as that
 * thread on its way back to user space (returns how many ran), instead of
 * going to workers. task_work_listings(): listings that queued a callback.
 */
void set_home_running(bool on);
long run_task_work();
long task_work_listings();
size_t task_work_pending();
/*
 * A kWaitq file that is uncached queues page waits (kapi_rw_waitq:
 * -EIOCBQUEUED). pages_arrive(fd): its pages are read in (it becomes
 * cached) and every waiter is woken, in atomic context, as unlock_page()
 * would. Returns the number woken.
 */
size_t pages_arrive(int fd);
size_t page_waiters();

/* kapi_cond_resched() calls so far. */
long cond_resched_calls();
/* fcntl(F_SETFL, O_NONBLOCK) on a pipe end. */
void set_nonblock(int fd, bool on);
int devnull();
/* Drop the fd (close(2)): the file goes when the core's references are gone too. */
void close(int fd);
void close_all();
bool fd_open(int fd);

/*
 * The other processes on a file, non-blocking: write to a pipe's write end
 * (or a regular file at its position), read from a pipe's read end (or a
 * regular file). Returns bytes, or -errno (-EAGAIN, -EPIPE, -EBADF).
 * Pipe writes and reads wake the other end's wait queue.
 */
long write(int fd, const void *p, size_t n);
long write(int fd, const std::string &s);
long read(int fd, void *p, size_t n);
std::string read_all(int fd);	/* what a non-blocking read takes now */
/* Contents of the pipe (either end) or regular file, without consuming. */
std::string contents(int fd);
size_t pipe_space(int fd);
long long file_pos(int fd);
/*
 * Wake the wait queue of the pipe end fd with this key (0 = no key: every
 * entry), without changing any state: a wakeup for someone else's event.
 */
void wake(int fd, unsigned key);
/* Poll entries currently queued on the pipe end fd. */
int poll_waiters(int fd);

/* kapi_fget() calls in order: fd, result, calling thread and its context. */
struct FgetRecord {
	int fd;
	bool ok;
	std::thread::id tid;
	Ctx ctx;
};
std::vector<FgetRecord> fget_log();

struct IoCounts {
	long fgets = 0, fputs = 0;
	long pins = 0, unpins = 0;		/* successful pins; releases of a pinned MDL */
	long short_pins = 0;			/* pins that covered less than asked */
	long rw_nowait = 0, rw_blocking = 0;	/* kapi_rw calls */
	long poll_arms = 0, poll_disarms = 0;
	long wakeups = 0;			/* poll entries woken (work queued) */
	long wakeups_filtered = 0;		/* poll entries a wakeup's key did not match */
	long interrupts = 0;			/* blocking calls kapi_io_interrupt() broke */
	long fput_ctx[4] = {};			/* kapi_fput per Ctx */
	long mdl_release_ctx[4] = {};		/* kapi_mdl_release per Ctx (pinned or not) */
};
IoCounts io_counts();

/* ---- Hooks: run test code inside a kapi call, to force an interleaving ---- */
enum class Hook {
	PollArmed,	/* kapi_poll_arm(): entries queued, before the mask is taken */
	PollMask,	/* kapi_poll_mask(): on entry */
	Rw,		/* kapi_rw(): on entry */
	MdlRelease,	/* kapi_mdl_release(): on entry */
	DirectSubmit,	/* kapi_rw_direct(): on entry */
};
/*
 * fn(io) runs in the caller's context (see context()) each time until
 * cleared (nullptr); io is the packet's companion, nullptr for PollMask.
 * It may fire timers (fire_timer_of), run work (run_work), or read, write
 * and wake files, as other CPUs could at that instant.
 */
void set_hook(Hook h, std::function<void(kapi_io *)> fn);

/* ---- Tracepoints: every kapi_trace_*() call, in order ---- */
enum class Trace { Submit, Complete, Cancel, Timeout, Async };
struct TraceEvent {
	Trace what;
	unsigned ring, op;
	uint64_t data;
	int err;		/* Complete, Cancel */
	uint64_t value;		/* Complete: result; Submit: timeout; Async: the state */
};
std::vector<TraceEvent> trace_log();
void trace_clear();
/* Enables or disables the events (kapi_trace_users): on by default, back on at reset(). */
void set_tracing(bool on);

} // namespace fake

#endif /* PWRING_FAKE_KAPI_H */
