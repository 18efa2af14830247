/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C interface between the freestanding C++ core and the kernel.
 *
 * Everything the core needs from Linux goes through these functions: they
 * are implemented by the C files in module/kernel/ against the real kernel and by
 * tests/host/fake_kapi.cpp in user space. Kernel objects stay opaque here,
 * because kernel headers do not compile as C++.
 */
#ifndef PWRING_KAPI_H
#define PWRING_KAPI_H

#ifdef __cplusplus
extern "C" {
#endif

struct kapi_lock;	/* spinlock_t, taken with interrupts disabled */
struct kapi_waitq;	/* wait_queue_head_t */
struct kapi_ios;	/* the kernel companions of a packet pool */
struct kapi_io;		/* one packet's companion */
struct kapi_mem;	/* zeroed ring pages, mapped for the kernel */
struct kapi_file;	/* the open /dev/pwring file */

/* Memory. Never used on the submit/complete path. kapi_alloc() does not zero. */
void *kapi_zalloc(unsigned long size);
void *kapi_alloc(unsigned long size);
void kapi_free(void *p);

struct kapi_lock *kapi_lock_create(void);
void kapi_lock_destroy(struct kapi_lock *l);
unsigned long kapi_lock_irqsave(struct kapi_lock *l);
void kapi_unlock_irqrestore(struct kapi_lock *l, unsigned long flags);

/*
 * Wait queues. The condition is a callback so that the kernel side can use
 * wait_event_*() as is. kapi_wait_interruptible() returns 0, -EINTR for a
 * signal, or -ERESTARTSYS (-512) when only task work interrupted the wait
 * (the call may then be restarted transparently); kapi_wake() is cheap when
 * nobody sleeps.
 */
typedef int (*kapi_cond_fn)(void *arg);
struct kapi_waitq *kapi_waitq_create(void);
void kapi_waitq_destroy(struct kapi_waitq *w);
int kapi_wait_interruptible(struct kapi_waitq *w, kapi_cond_fn cond, void *arg);
void kapi_wake(struct kapi_waitq *w);
/* The same, for a waker about to sleep (WF_SYNC): the scheduler may keep the wakee local. */
void kapi_wake_sync(struct kapi_waitq *w);

/*
 * The kernel companion of each packet (struct kapi_io): an hrtimer, a place
 * on the owner's work queue, the buffer's address range and up to two poll
 * wait entries. A pool's set is created at setup (for the ring `ring`,
 * whose enter waits on `ring_wq`), but companion i is made only at its
 * first use, by kapi_io_init(), for the core's packet `arg`. The kernel
 * calls back:
 *   pw_timer_fired(arg)  hrtimer expiry, hard interrupt context
 *   pw_io_work(arg)      a queued step (kapi_queue_work), process context:
 *                        a thread of the owning process (a worker it lent,
 *                        or the ring's own enter when it lent none), with
 *                        the credentials kapi_io_hold_creds() recorded
 *   pw_poll_wake(arg, sync) a poll wakeup, atomic (the wait queue's lock held; sync: the
 *                        waker is about to sleep):
 *                        queues the step or hands the retry to enter
 *   pw_io_run(arg, in_enter) a step listed with kapi_task_work(), run by a
 *                        thread of the owner that must not block: the ring's
 *                        own enter (in_enter), or the thread it was listed
 *                        for, on its way back to user space
 *   pw_ring_reap(ring)   after kapi_reap_later(): process context, the ring
 *                        is idle and nobody else will touch it
 * kapi_ios_destroy() cancels timers of the first `used` companions (the
 * others were never touched) and waits for callbacks and steps still
 * returning.
 */
struct kapi_ios *kapi_ios_create(unsigned int count, struct kapi_file *f,
				 struct kapi_waitq *ring_wq, void *ring);
void kapi_ios_destroy(struct kapi_ios *ios, unsigned int count, unsigned int used);
/*
 * Companion i's first use, in index order (destroy covers the first `used`):
 * may allocate, so NULL when out of memory.
 */
struct kapi_io *kapi_io_init(struct kapi_ios *ios, unsigned int i, void *arg);
void pw_timer_fired(void *arg);
void pw_io_work(void *arg);
void pw_io_run(void *arg, int in_enter);
void pw_poll_wake(void *arg, int sync);
void pw_ring_reap(void *ring);

/*
 * In the submitter's enter, as a request goes asynchronous: its steps run
 * with these credentials, and the calling thread becomes the one its ring's
 * task work is for (kapi_task_work).
 */
void kapi_io_hold_creds(struct kapi_io *io);
/*
 * Any context, for a step that must not block, when no thread is in the
 * ring's enter: lists it for the thread that last sent a request of the
 * ring asynchronous, which runs it (pw_io_run(arg, 0)) on its way back to
 * user space, as io_uring's task work; to a worker (kapi_queue_work) when
 * that thread is asleep or gone. kapi_task_work_run(): the ring's enter
 * runs what is listed (pw_io_run(arg, 1)).
 */
void kapi_task_work(struct kapi_io *io);
void kapi_task_work_run(struct kapi_ios *ios);
/* Any context: pw_ring_reap(ring) runs soon, elsewhere. */
void kapi_reap_later(struct kapi_ios *ios);
/*
 * A file whose owner lent no worker runs the queued steps of a ring in that
 * ring's enter: kapi_work_pending() says there are some (and no signal is
 * pending), kapi_work_run() runs them, once each.
 */
int kapi_work_pending(struct kapi_ios *ios);
void kapi_work_run(struct kapi_ios *ios);
/*
 * Enter, around a batch of submissions: the block layer holds the requests
 * of the calling thread and issues them together at kapi_plug_finish() (as
 * io_uring plugs its submit loop); `nr` is how many may follow. One plug per
 * ring at a time (enter is single-threaded per ring); nothing may wait in
 * between.
 */
void kapi_plug_start(struct kapi_ios *ios, unsigned int nr);
void kapi_plug_finish(struct kapi_ios *ios);
/* A fatal signal is pending for the calling thread. */
int kapi_fatal_signal_pending(void);

/*
 * Interruptible blocking. A queued step brackets a blocking call with
 * kapi_block_begin() and kapi_block_end(); kapi_io_interrupt() (any context)
 * breaks a call inside the bracket as a signal would, and the call returns
 * -EINTR or what it moved before. Outside the bracket it does nothing, so
 * the worker checks for a cancellation after kapi_block_begin().
 */
void kapi_block_begin(struct kapi_io *io);
void kapi_block_end(struct kapi_io *io);
void kapi_io_interrupt(struct kapi_io *io);

/* Relative, in nanoseconds. Cancel waits for a running callback: never from its own. */
void kapi_timer_start(struct kapi_io *io, unsigned long long ns);
void kapi_timer_cancel(struct kapi_io *io);
void kapi_queue_work(struct kapi_io *io);
/* True in interrupt context or with interrupts off. */
int kapi_in_atomic(void);
/* cond_resched(): a long loop in process context lets others run. */
void kapi_cond_resched(void);

/* Files: a reference from the caller's file table, or NULL. */
struct file;
struct file *kapi_fget(unsigned int fd);
void kapi_fput(struct file *f);
enum {
	KAPI_F_READ = 1 << 0,	/* opened for reading */
	KAPI_F_WRITE = 1 << 1,	/* opened for writing */
	KAPI_F_PREAD = 1 << 2,	/* explicit offsets allowed */
	KAPI_F_PWRITE = 1 << 3,
	KAPI_F_POLL = 1 << 4,	/* has a poll method */
	KAPI_F_NOWAIT_READ = 1 << 5,	/* a read can be tried without blocking */
	KAPI_F_NOWAIT_WRITE = 1 << 6,	/* a write can be tried without blocking */
	KAPI_F_NONBLOCK = 1 << 7,	/* O_NONBLOCK: the file itself never waits */
	KAPI_F_DIRECT = 1 << 8,	/* O_DIRECT regular file or block device: kapi_rw_direct() */
	KAPI_F_WAITQ = 1 << 9,	/* buffered reads can wait for pages asynchronously: kapi_rw_waitq() */
};
unsigned int kapi_file_caps(struct file *f);

/*
 * Memory descriptor list: records [uaddr, uaddr + len) of the caller's
 * address space as io's buffer, after checking that it is mapped in full
 * (writable when the kernel will write to it). Pins nothing: every access
 * is made from a thread of the owning process. Returns len, or -EFAULT.
 */
long kapi_mdl_pin(struct kapi_io *io, unsigned long uaddr, unsigned long len, int for_write);
void kapi_mdl_release(struct kapi_io *io);

/*
 * Reads or writes the buffer, from `skip` bytes into it, at file
 * offset `offset + skip`; offset -1 uses and advances the file position
 * under the file's position lock, like read(2)/write(2). With nowait, returns -EAGAIN instead of blocking (also
 * when the file cannot be tried without blocking). Bytes, or -errno; an
 * interrupted call gives -EINTR, never the kernel's internal restart codes.
 */
long kapi_rw(struct kapi_io *io, struct file *f, int write, long long offset,
	     unsigned long skip, int nowait);

/*
 * Direct I/O with an asynchronous kiocb, at `offset + skip`: returns
 * -EIOCBQUEUED once the device has it, after which pw_rw_done(arg, result)
 * is called from the device's completion (any context, interrupts
 * included; possibly before this call returns), or the result at once.
 * With nowait, -EAGAIN where submitting would block.
 * kapi_rw_direct_end() does, in task context, what the syscalls do after
 * a transfer (fsnotify, I/O accounting) once the result is known.
 */
long kapi_rw_direct(struct kapi_io *io, struct file *f, int write, long long offset,
		    unsigned long skip, int nowait);
void kapi_rw_direct_end(struct kapi_io *io, struct file *f, int write, long result);
void pw_rw_done(void *arg, long result);

/*
 * A buffered read at `offset + skip` that, where it would wait for a page
 * being read in, queues a wait entry instead and returns -EIOCBQUEUED
 * (IOCB_WAITQ): pw_page_ready(arg) is then called (any context) once the
 * page is unlocked, and the read can be tried again. Bytes otherwise, or
 * -errno; -EAGAIN if it cannot wait that way.
 */
long kapi_rw_waitq(struct kapi_io *io, struct file *f, long long offset, unsigned long skip);
void pw_page_ready(void *arg);

/*
 * Poll: kapi_poll_arm() adds io's wait entries to the file's wait queues
 * (wakeups with any of `events`, or none said, call pw_poll_wake()) and
 * returns the current mask; kapi_poll_mask() only returns it.
 */
unsigned int kapi_poll_arm(struct kapi_io *io, struct file *f, unsigned int events);
unsigned int kapi_poll_mask(struct file *f);
void kapi_poll_disarm(struct kapi_io *io);

/*
 * Ring memory: `pages` zeroed pages, mapped contiguously at *kaddr for the
 * kernel. kapi_mem_map_user() maps the same pages into the caller's address
 * space (exactly at `hint` when non-zero, never replacing a mapping) with a
 * mapping that cannot grow, move, split or be inherited. The user mapping
 * holds its own page references, so kapi_mem_free() never pulls pages out
 * from under it. kapi_mem_unmap_user() removes the mapping only if the
 * caller's address space still has exactly the one made for `m`.
 */
struct kapi_mem *kapi_mem_alloc(unsigned long pages, void **kaddr);
void kapi_mem_free(struct kapi_mem *m);
long kapi_mem_map_user(struct kapi_file *f, struct kapi_mem *m,
		       unsigned long hint, unsigned long *uaddr);
void kapi_mem_unmap_user(struct kapi_mem *m, unsigned long uaddr);

/*
 * Per-user limits (module/kernel/limits.c). A ring charges the real user of
 * the thread that set it up: kapi_user_get() returns a reference to that
 * user's counters (NULL when out of memory), kapi_user_put() drops it
 * (process context). kapi_user_counters() gives the KAPI_LIMITS counters
 * the core keeps there (atomics, core/limits.h); kapi_limit() the current
 * limit for each, which root may change at any time.
 */
struct kapi_user;
enum {
	KAPI_LIMIT_REQUESTS = 0,	/* requests in flight */
	KAPI_LIMIT_RING_BYTES = 1,	/* bytes of ring pages */
	KAPI_LIMITS = 2,
};
struct kapi_user *kapi_user_get(void);
void kapi_user_put(struct kapi_user *u);
unsigned long long *kapi_user_counters(struct kapi_user *u);
unsigned long long kapi_limit(int which);

/* Returns 0 or -EFAULT. */
int kapi_copy_to_user(unsigned long uaddr, const void *src, unsigned long n);

/* Monotonic time in ns, at tick resolution (cheap: ktime_get_coarse_ns). */
unsigned long long kapi_clock_coarse_ns(void);

/*
 * The pwring:* tracepoints (module/kernel/pwring_trace.h). `how` is a
 * pwring_state. kapi_trace_users counts the enabled pwring:* events (their
 * reg/unreg callbacks keep it): the core tests it inline, kapi_tracing(), and
 * makes no call at all while nobody traces, as a static key would.
 */
extern int kapi_trace_users;
void kapi_trace_submit(unsigned int ring, unsigned int op, unsigned long long data,
		       unsigned int flags, unsigned long long timeout);
void kapi_trace_complete(unsigned int ring, unsigned int op, unsigned long long data,
			 int err, unsigned long long result);
void kapi_trace_cancel(unsigned int ring, unsigned int op, unsigned long long data, int err);
void kapi_trace_timeout(unsigned int ring, unsigned int op, unsigned long long data);
void kapi_trace_async(unsigned int ring, unsigned int op, unsigned long long data,
		      unsigned int how);

/* Full memory barrier (smp_mb). */
void kapi_mb(void);

#ifdef __cplusplus
}

/* Is any pwring:* tracepoint enabled? A relaxed load: an event enabled a
 * moment ago may miss the requests already past this test. */
[[gnu::always_inline]] inline bool kapi_tracing()
{
	return __builtin_expect(__atomic_load_n(&kapi_trace_users, __ATOMIC_RELAXED) != 0, 0);
}
#endif

#endif /* PWRING_KAPI_H */
