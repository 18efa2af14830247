// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel companion of each packet (core/kapi.h, struct kapi_io): its
 * hrtimer, its place on the owner's work queue (owner.c), its buffer, its
 * poll wait entries and the thread blocked for it, plus the file and I/O
 * calls the ops make through them. Every call that touches the buffer runs
 * in a thread of the owning process (the submitter's enter or a worker it
 * lent), so the buffer is reached through its user address, as read(2)
 * does, and nothing is pinned while a request waits.
 */
#include <linux/blkdev.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fsnotify.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/xacct.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/version.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>

#include "glue.h"

/*
 * Companions come in chunks, each allocated at the first use of its first
 * companion: a ring of 256 entries that keeps a few requests in flight
 * never pays for the other 250.
 */
#define KAPI_IO_CHUNK	32

static struct kapi_io *kapi_io_of(struct kapi_ios *ios, unsigned int i)
{
	return &ios->chunk[i / KAPI_IO_CHUNK][i % KAPI_IO_CHUNK];
}

struct workqueue_struct *pwring_wq;

static enum hrtimer_restart kapi_io_timer(struct hrtimer *timer)
{
	pw_timer_fired(container_of(timer, struct kapi_io, timer)->arg);
	return HRTIMER_NORESTART;
}

static void kapi_ios_reap(struct work_struct *work)
{
	pw_ring_reap(container_of(work, struct kapi_ios, reap)->ring);
	/* destroy_workqueue() at unload waits for us to return. */
	module_put(THIS_MODULE);
}

struct kapi_ios *kapi_ios_create(unsigned int count, struct kapi_file *f,
				 struct kapi_waitq *ring_wq, void *ring)
{
	struct kapi_ios *ios;

	ios = kzalloc(struct_size(ios, chunk, DIV_ROUND_UP(count, KAPI_IO_CHUNK)),
		      GFP_KERNEL_ACCOUNT);
	if (!ios)
		return NULL;
	ios->owner = f->owner;
	pwring_owner_get(ios->owner);
	ios->ring_wq = ring_wq;
	ios->ring = ring;
	if (kapi_tw_create(ios)) {
		pwring_owner_put(ios->owner);
		kfree(ios);
		return NULL;
	}
	atomic_set(&ios->running, 0);
	INIT_WORK(&ios->reap, kapi_ios_reap);
	ios->count = count;
	return ios;
}

struct kapi_io *kapi_io_init(struct kapi_ios *ios, unsigned int i, void *arg)
{
	struct kapi_io **chunk = &ios->chunk[i / KAPI_IO_CHUNK];
	struct kapi_io *io;

	if (!*chunk) {
		unsigned int n = min(ios->count - i, KAPI_IO_CHUNK);

		*chunk = kmalloc_array(n, sizeof(**chunk), GFP_KERNEL_ACCOUNT);
		if (!*chunk)
			return NULL;
	}
	io = kapi_io_of(ios, i);
	memset(io, 0, sizeof(*io));
	io->arg = arg;
	io->ios = ios;
	INIT_LIST_HEAD(&io->qnode);
	hrtimer_init(&io->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	io->timer.function = kapi_io_timer;
	INIT_WORK(&io->work, pwring_io_orphan_work);
	spin_lock_init(&io->block_lock);
	return io;
}

/* In the submitter's enter, as the request goes asynchronous. */
void kapi_io_hold_creds(struct kapi_io *io)
{
	const struct cred *cur = current_cred(), *old;

	kapi_tw_home(io->ios);
	if (rcu_access_pointer(io->creds) == cur)
		return;
	old = rcu_replace_pointer(io->creds, get_cred(cur), true);
	if (old)
		put_cred(old);	/* RCU-freed: a worker may still be taking it */
}

/* Once the ring is idle: frees it from pwring_wq, never from the caller's context. */
void kapi_reap_later(struct kapi_ios *ios)
{
	__module_get(THIS_MODULE);
	queue_work(pwring_wq, &ios->reap);
}

void kapi_plug_start(struct kapi_ios *ios, unsigned int nr)
{
	blk_start_plug(&ios->plug);
	/*
	 * What blk_start_plug_nr_ios() (not exported) adds: the block layer
	 * allocates that many requests at once for the first of them (at most
	 * 32, the block layer's own bound). Not when a plug was there already.
	 */
	if (current->plug == &ios->plug)
		ios->plug.nr_ios = min(nr, 32U);
}

void kapi_plug_finish(struct kapi_ios *ios)
{
	blk_finish_plug(&ios->plug);
}

/*
 * A blocking call (a 6.1 pipe after poll said "ready", a tty, a file without
 * non-blocking support) can wait forever once another reader took the data.
 * A cancellation breaks it as io_uring breaks its io-wq threads' calls: by
 * TIF_NOTIFY_SIGNAL, which makes signal_pending() true, so interruptible
 * waits return -ERESTARTSYS. The caller is a worker or an enter (threads of
 * the owner): the flag is cleared before the bracket ends if we set it and
 * no task work of the thread's own needs it, after which no interrupter can
 * find the thread any more.
 */
void kapi_block_begin(struct kapi_io *io)
{
	unsigned long flags;

	spin_lock_irqsave(&io->block_lock, flags);
	io->blocker = current;
	io->interrupted = false;
	spin_unlock_irqrestore(&io->block_lock, flags);
}

void kapi_block_end(struct kapi_io *io)
{
	unsigned long flags;
	bool ours;

	spin_lock_irqsave(&io->block_lock, flags);
	io->blocker = NULL;
	ours = io->interrupted;
	spin_unlock_irqrestore(&io->block_lock, flags);
	if (ours && !READ_ONCE(current->task_works))
		clear_notify_signal();
}

void kapi_io_interrupt(struct kapi_io *io)
{
	unsigned long flags;

	spin_lock_irqsave(&io->block_lock, flags);
	if (io->blocker) {
		io->interrupted = true;
		set_tsk_thread_flag(io->blocker, TIF_NOTIFY_SIGNAL);
		/*
		 * wake_up_state(TASK_INTERRUPTIBLE) is not exported; a wakeup
		 * of an uninterruptible sleep is a spurious one, which every
		 * kernel sleep already tolerates (wake_q makes them too).
		 */
		wake_up_process(io->blocker);
	}
	spin_unlock_irqrestore(&io->block_lock, flags);
}

/*
 * The ring is idle (every request completed): stop the timers, let threads
 * still returning from a step of ours leave, drop stale queue entries.
 */
void kapi_ios_destroy(struct kapi_ios *ios, unsigned int count, unsigned int used)
{
	struct pwring_owner *ow = ios->owner;
	unsigned int i;

	for (i = 0; i < used; i++)
		hrtimer_cancel(&kapi_io_of(ios, i)->timer);
	kapi_tw_destroy(ios);
	wait_var_event(&ios->running, !atomic_read(&ios->running));
	pwring_owner_forget(ow, ios);
	for (i = 0; i < used; i++) {
		struct kapi_io *io = kapi_io_of(ios, i);

		const struct cred *creds = rcu_access_pointer(io->creds);

		cancel_work_sync(&io->work);
		if (creds)
			put_cred(creds);
	}
	for (i = 0; i < DIV_ROUND_UP(count, KAPI_IO_CHUNK); i++)
		kfree(ios->chunk[i]);
	kfree(ios);
	pwring_owner_put(ow);
}

void kapi_timer_start(struct kapi_io *io, unsigned long long ns)
{
	/* hrtimer adds "now" with saturation; keep the interval itself in range. */
	ktime_t rel = ns > (unsigned long long)KTIME_MAX ? KTIME_MAX : ns_to_ktime(ns);

	hrtimer_start(&io->timer, rel, HRTIMER_MODE_REL);
}

void kapi_timer_cancel(struct kapi_io *io)
{
	hrtimer_cancel(&io->timer);
}

int kapi_in_atomic(void)
{
	return in_interrupt() || irqs_disabled();
}

void kapi_cond_resched(void)
{
	cond_resched();
}

struct file *kapi_fget(unsigned int fd)
{
	return fget(fd);
}

void kapi_fput(struct file *f)
{
	fput(f);
}

/*
 * Can a read or write be tried without blocking? io_uring's rule: files that
 * say so (FMODE_NOWAIT), sockets (they honour IOCB_NOWAIT even where they do
 * not say so, as on 6.1), and buffered reads of regular files whose device
 * does not block on submission (tmpfs has none). Only through the iter ops.
 */
static bool kapi_nowait_ok(struct file *f, int write)
{
	struct inode *inode = file_inode(f);
	struct block_device *bdev = inode->i_sb->s_bdev;

	if (write ? !f->f_op->write_iter : !f->f_op->read_iter)
		return false;
	if (f->f_mode & FMODE_NOWAIT)
		return true;
	if (S_ISSOCK(inode->i_mode))
		return true;
	return S_ISREG(inode->i_mode) && !write && (!bdev || bdev_nowait(bdev));
}

/* O_DIRECT on a block device or a regular file: the kiocb can be asynchronous. */
static bool kapi_direct_ok(struct file *f)
{
	umode_t mode = file_inode(f)->i_mode;

	return (f->f_flags & O_DIRECT) && (S_ISREG(mode) || S_ISBLK(mode)) &&
	       f->f_op->read_iter && f->f_op->write_iter;
}

/* Buffered reads that wait for pages asynchronously (io_uring's since 5.9). */
static bool kapi_waitq_ok(struct file *f)
{
	umode_t mode = file_inode(f)->i_mode;

	if (!f->f_op->read_iter || (f->f_flags & O_DIRECT) || !(S_ISREG(mode) || S_ISBLK(mode)))
		return false;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
	return f->f_op->fop_flags & FOP_BUFFER_RASYNC;
#else
	return f->f_mode & FMODE_BUF_RASYNC;
#endif
}

unsigned int kapi_file_caps(struct file *f)
{
	fmode_t m = f->f_mode;
	umode_t mode = file_inode(f)->i_mode;

	return ((m & FMODE_READ) ? KAPI_F_READ : 0) |
	       ((m & FMODE_WRITE) ? KAPI_F_WRITE : 0) |
	       ((m & FMODE_PREAD) ? KAPI_F_PREAD : 0) |
	       ((m & FMODE_PWRITE) ? KAPI_F_PWRITE : 0) |
	       (kapi_nowait_ok(f, 0) ? KAPI_F_NOWAIT_READ : 0) |
	       (kapi_nowait_ok(f, 1) ? KAPI_F_NOWAIT_WRITE : 0) |
	       ((f->f_flags & O_NONBLOCK) && !S_ISREG(mode) ? KAPI_F_NONBLOCK : 0) |
	       (kapi_direct_ok(f) ? KAPI_F_DIRECT : 0) |
	       (kapi_waitq_ok(f) ? KAPI_F_WAITQ : 0) |
	       (f->f_op->poll ? KAPI_F_POLL : 0);
}

/*
 * The buffer of a READ or WRITE is recorded by its address: every attempt
 * runs in a thread of the process that owns it. All or nothing, before any
 * I/O: a buffer that is not mapped in full (writable, for READ) is EFAULT.
 * A buffer within one page needs no check (its first access faults or not);
 * a larger one is looked up a batch of pages at a time, lockless for mapped
 * pages, and nothing stays pinned (faulting it in would write to it).
 */
#define KAPI_BUF_BATCH	16

long kapi_mdl_pin(struct kapi_io *io, unsigned long uaddr, unsigned long len, int for_write)
{
	unsigned long addr = uaddr & PAGE_MASK, nr;
	struct page *pages[KAPI_BUF_BATCH];

	io->uaddr = uaddr;
	io->len = len;
	if (!len)
		return 0;
	if (uaddr + len < uaddr || !access_ok((void __user *)uaddr, len))
		return -EFAULT;
	nr = DIV_ROUND_UP(offset_in_page(uaddr) + len, PAGE_SIZE);
	if (nr == 1)
		return len;
	while (nr) {
		int n = min_t(unsigned long, nr, KAPI_BUF_BATCH);
		int got = get_user_pages_fast(addr, n, for_write ? FOLL_WRITE : 0, pages);
		int i;

		for (i = 0; i < got; i++)
			put_page(pages[i]);
		if (got != n)
			return got < 0 && got != -ENOMEM ? got : -EFAULT;
		addr += (unsigned long)n << PAGE_SHIFT;
		nr -= n;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return len;
}

void kapi_mdl_release(struct kapi_io *io)
{
	io->uaddr = 0;
	io->len = 0;
}

/* After a transfer, what read(2) and write(2) do: fsnotify, and /proc/<pid>/io. */
static void kapi_transferred(struct file *f, int write, ssize_t ret, bool notify)
{
	if (ret > 0 && notify) {
		if (write)
			fsnotify_modify(f);
		else
			fsnotify_access(f);
	}
	if (write) {
		if (ret > 0)
			add_wchar(current, ret);
		inc_syscw(current);
	} else {
		if (ret > 0)
			add_rchar(current, ret);
		inc_syscr(current);
	}
}

/*
 * A non-blocking attempt on a file that honours IOCB_NOWAIT without saying
 * so (FMODE_NOWAIT): what vfs_iter_read/write do, with our own kiocb.
 */
static ssize_t kapi_iter_nowait(struct file *f, struct iov_iter *it, loff_t *ppos, int write)
{
	struct kiocb kiocb;
	ssize_t ret;

	init_sync_kiocb(&kiocb, f);
	kiocb.ki_flags |= IOCB_NOWAIT;
	kiocb.ki_pos = ppos ? *ppos : 0;
	ret = rw_verify_area(write ? WRITE : READ, f, &kiocb.ki_pos, iov_iter_count(it));
	if (ret)
		return ret;
	if (write)
		file_start_write(f);
	ret = write ? f->f_op->write_iter(&kiocb, it) : f->f_op->read_iter(&kiocb, it);
	if (write)
		file_end_write(f);
	if (ret > 0) {
		if (ppos)
			*ppos = kiocb.ki_pos;
		if (write)
			fsnotify_modify(f);
		else
			fsnotify_access(f);
	}
	return ret;
}

/* Files with only ->read/->write (eventfd's write, /dev/full...) take the user address. */
static ssize_t kapi_rw_user(struct kapi_io *io, struct file *f, int write,
			    unsigned long skip, loff_t *ppos)
{
	void __user *buf = (void __user *)(io->uaddr + skip);
	size_t count = io->len - skip;
	ssize_t ret;

	ret = rw_verify_area(write ? WRITE : READ, f, ppos, count);
	if (ret)
		return ret;
	if (write)
		file_start_write(f);
	ret = write ? f->f_op->write(f, buf, count, ppos) : f->f_op->read(f, buf, count, ppos);
	if (write)
		file_end_write(f);
	kapi_transferred(f, write, ret, true);
	return ret;
}

/*
 * vfs_iter_write() takes freeze protection itself only since 6.8; before,
 * its callers did (as write(2) does).
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 8, 0)
#define KAPI_ITER_WRITE_FREEZE	1
#else
#define KAPI_ITER_WRITE_FREEZE	0
#endif

/* The buffer from `skip` on, through the file's iter method. */
static ssize_t kapi_rw_iter(struct kapi_io *io, struct file *f, int write,
			    unsigned long skip, loff_t *ppos, int nowait)
{
	void __user *buf = (void __user *)(io->uaddr + skip);
	size_t count = io->len - skip;
	struct iov_iter it;
	ssize_t ret;

	iov_iter_ubuf(&it, write ? ITER_SOURCE : ITER_DEST, buf, count);
	if (nowait && !(f->f_mode & FMODE_NOWAIT)) {
		ret = kapi_iter_nowait(f, &it, ppos, write);
	} else if (write) {
		if (KAPI_ITER_WRITE_FREEZE)
			file_start_write(f);
		ret = vfs_iter_write(f, &it, ppos, nowait ? RWF_NOWAIT : 0);
		if (KAPI_ITER_WRITE_FREEZE)
			file_end_write(f);
	} else {
		ret = vfs_iter_read(f, &it, ppos, nowait ? RWF_NOWAIT : 0);
	}
	/* vfs_iter_*() and kapi_iter_nowait() did fsnotify. */
	kapi_transferred(f, write, ret, false);
	return ret;
}

/*
 * The file position is serialised as read(2) does it (fdget_pos); a
 * non-blocking attempt only tries the lock, a worker's can be interrupted.
 * Returns whether the lock is held, or -errno.
 */
static int kapi_pos_lock(struct file *f, int nowait)
{
	if (!(f->f_mode & FMODE_ATOMIC_POS))
		return 0;
	if (nowait)
		return mutex_trylock(&f->f_pos_lock) ? 1 : -EAGAIN;
	return mutex_lock_interruptible(&f->f_pos_lock) ? -EINTR : 1;
}

/* What the core may see of an error: no restart codes, no EOPNOTSUPP for nowait. */
static long kapi_rw_result(ssize_t ret, int nowait)
{
	/* Some paths refuse IOCB_NOWAIT outright (ext4 buffered writes): retry blocking. */
	if (nowait && ret == -EOPNOTSUPP)
		return -EAGAIN;
	/* The restart codes mean nothing outside a system call. */
	if (ret == -ERESTARTSYS || ret == -ERESTARTNOINTR || ret == -ERESTARTNOHAND ||
	    ret == -ERESTART_RESTARTBLOCK)
		return -EINTR;
	return ret;
}

long kapi_rw(struct kapi_io *io, struct file *f, int write, long long offset,
	     unsigned long skip, int nowait)
{
	bool iter = write ? !!f->f_op->write_iter : !!f->f_op->read_iter;
	bool use_pos = offset < 0;
	loff_t pos = use_pos ? 0 : offset + skip, *ppos;
	int locked = 0;
	ssize_t ret;

	if (S_ISDIR(file_inode(f)->i_mode))
		return -EISDIR;
	if (!iter && !(write ? !!f->f_op->write : !!f->f_op->read))
		return -EINVAL;
	if (nowait && !kapi_nowait_ok(f, write))
		return -EAGAIN;	/* a worker will do it */
	if (use_pos) {
		locked = kapi_pos_lock(f, nowait);
		if (locked < 0)
			return locked;
		pos = f->f_pos;
	}
	ppos = (f->f_mode & FMODE_STREAM) ? NULL : &pos;
	if (iter)
		ret = kapi_rw_iter(io, f, write, skip, ppos, nowait);
	else
		ret = kapi_rw_user(io, f, write, skip, ppos);
	if (use_pos && ret >= 0 && ppos)
		f->f_pos = pos;
	if (locked)
		mutex_unlock(&f->f_pos_lock);
	return kapi_rw_result(ret, nowait);
}

/*
 * Freeze protection of an asynchronous write is taken by the submitter and
 * dropped by the completion, maybe in interrupt context: lockdep is told it
 * changes hands, as the kernel's own kiocb_start_write() does since 6.6.
 * A non-blocking attempt only tries it, as io_uring does: on a frozen file
 * system the write goes to a worker instead of blocking enter until thaw.
 */
static bool kapi_direct_start_write(struct kiocb *kiocb)
{
	struct inode *inode = file_inode(kiocb->ki_filp);

	if (!S_ISREG(inode->i_mode))
		return true;
	if (!(kiocb->ki_flags & IOCB_NOWAIT))
		sb_start_write(inode->i_sb);
	else if (!sb_start_write_trylock(inode->i_sb))
		return false;
	__sb_writers_release(inode->i_sb, SB_FREEZE_WRITE);
	return true;
}

static void kapi_direct_end_write(struct kiocb *kiocb)
{
	struct inode *inode = file_inode(kiocb->ki_filp);

	if (!S_ISREG(inode->i_mode))
		return;
	/* kiocb_end_write() since 6.6: the completion takes lockdep's ownership back. */
	__sb_writers_acquired(inode->i_sb, SB_FREEZE_WRITE);
	sb_end_write(inode->i_sb);
}

/* The device is done (any context): bounded work, then the core takes it to task context. */
static void kapi_direct_complete(struct kiocb *kiocb, long res)
{
	struct kapi_io *io = container_of(kiocb, struct kapi_io, kiocb);

	if (kiocb->ki_flags & IOCB_WRITE)
		kapi_direct_end_write(kiocb);
	pw_rw_done(io->arg, kapi_rw_result(res, 0));
}

long kapi_rw_direct(struct kapi_io *io, struct file *f, int write, long long offset,
		    unsigned long skip, int nowait)
{
	struct kiocb *kiocb = &io->kiocb;
	struct iov_iter it;
	ssize_t ret;

	init_sync_kiocb(kiocb, f);
	kiocb->ki_complete = kapi_direct_complete;
	kiocb->ki_pos = offset + skip;
	if (nowait)
		kiocb->ki_flags |= IOCB_NOWAIT;
	ret = rw_verify_area(write ? WRITE : READ, f, &kiocb->ki_pos, io->len - skip);
	if (ret)
		return ret;
	iov_iter_ubuf(&it, write ? ITER_SOURCE : ITER_DEST,
		      (void __user *)(io->uaddr + skip), io->len - skip);
	if (write) {
		kiocb->ki_flags |= IOCB_WRITE;
		if (!kapi_direct_start_write(kiocb))
			return -EAGAIN;
		ret = f->f_op->write_iter(kiocb, &it);
	} else {
		ret = f->f_op->read_iter(kiocb, &it);
	}
	if (ret == -EIOCBQUEUED)
		return ret;	/* kiocb and io now belong to the completion */
	if (write)
		kapi_direct_end_write(kiocb);
	return kapi_rw_result(ret, nowait);
}

/* Task context, once the result is known: what read(2)/write(2) do after a transfer. */
void kapi_rw_direct_end(struct kapi_io *io, struct file *f, int write, long result)
{
	kapi_transferred(f, write, result, true);
}

/* The page we waited for is unlocked (any context): the read can go on. */
static int kapi_page_wake(struct wait_queue_entry *wait, unsigned int mode, int sync, void *arg)
{
	struct wait_page_queue *wpq = container_of(wait, struct wait_page_queue, wait);
	struct kapi_io *io = container_of(wpq, struct kapi_io, wpq);

	if (!wake_page_match(wpq, arg))
		return 0;
	/* Off the page's queue before the packet can move on: nothing of ours stays there. */
	list_del_init(&wait->entry);
	pw_page_ready(io->arg);
	return 1;
}

long kapi_rw_waitq(struct kapi_io *io, struct file *f, long long offset, unsigned long skip)
{
	struct kiocb kiocb;
	struct iov_iter it;
	ssize_t ret;

	init_sync_kiocb(&kiocb, f);
	kiocb.ki_flags |= IOCB_WAITQ;
	kiocb.ki_pos = offset + skip;
	init_waitqueue_func_entry(&io->wpq.wait, kapi_page_wake);
	kiocb.ki_waitq = &io->wpq;
	ret = rw_verify_area(READ, f, &kiocb.ki_pos, io->len - skip);
	if (ret)
		return ret;
	iov_iter_ubuf(&it, ITER_DEST, (void __user *)(io->uaddr + skip), io->len - skip);
	ret = f->f_op->read_iter(&kiocb, &it);
	if (ret != -EIOCBQUEUED)
		kapi_transferred(f, 0, ret, true);
	if (ret == -EIOCBQUEUED)
		return ret;	/* io->wpq is on the page's wait queue */
	return kapi_rw_result(ret, 1);
}

static int kapi_poll_wake(struct wait_queue_entry *wait, unsigned int mode, int sync, void *key)
{
	struct kapi_poll_entry *pe = container_of(wait, struct kapi_poll_entry, wait);
	__poll_t mask = key_to_poll(key);

	if (mask && !(mask & (pe->io->poll_events | POLLFREE)))
		return 0;
	pw_poll_wake(pe->io->arg, sync);
	if (unlikely(mask & POLLFREE)) {
		/*
		 * The queue is going away (signalfd...): leave it under its
		 * lock, as the very last step. Once head reads NULL, a finish
		 * skips the queue's lock and the ring may go: nothing of ours
		 * may be touched after this store.
		 */
		list_del_init(&wait->entry);
		/* Pairs with the acquire in kapi_poll_disarm(): the removal is seen first. */
		smp_store_release(&pe->head, NULL);
	}
	return 1;
}

static void kapi_poll_queue(struct file *f, wait_queue_head_t *head, poll_table *pt)
{
	struct kapi_io *io = container_of(pt, struct kapi_io, pt);
	struct kapi_poll_entry *pe;

	/* A file with more queues than we keep is woken through the ones we have. */
	if (io->poll_nr >= KAPI_POLL_HEADS)
		return;
	pe = &io->poll[io->poll_nr++];
	init_waitqueue_func_entry(&pe->wait, kapi_poll_wake);
	pe->io = io;
	pe->head = head;
	add_wait_queue(head, &pe->wait);
}

unsigned int kapi_poll_arm(struct kapi_io *io, struct file *f, unsigned int events)
{
	io->poll_events = (__force __poll_t)events;
	io->poll_nr = 0;
	init_poll_funcptr(&io->pt, kapi_poll_queue);
	io->pt._key = io->poll_events;
	return (__force unsigned int)vfs_poll(f, &io->pt);
}

unsigned int kapi_poll_mask(struct file *f)
{
	return (__force unsigned int)vfs_poll(f, NULL);
}

void kapi_poll_disarm(struct kapi_io *io)
{
	unsigned int i;

	/* POLLFREE queues are freed after an RCU grace period. */
	rcu_read_lock();
	for (i = 0; i < io->poll_nr; i++) {
		struct kapi_poll_entry *pe = &io->poll[i];
		/* Pairs with POLLFREE's release in kapi_poll_wake(). */
		wait_queue_head_t *head = smp_load_acquire(&pe->head);

		if (head) {
			remove_wait_queue(head, &pe->wait);
			pe->head = NULL;
		}
	}
	rcu_read_unlock();
	io->poll_nr = 0;
}
