// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel companion of each packet (core/kapi.h, struct kapi_io): its
 * hrtimer, its work item, the pinned pages of its buffer, its poll wait
 * entries and the worker blocked for it, plus the file and I/O calls the
 * ops make through them.
 */
#include <linux/blkdev.h>
#include <linux/bvec.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/fsnotify.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/workqueue.h>

#include "glue.h"

#define KAPI_MDL_INLINE	4	/* pages a small buffer pins without allocating */
#define KAPI_POLL_HEADS	2	/* wait queues one poll may register (pipes use two) */

struct kapi_poll_entry {
	struct wait_queue_entry wait;
	wait_queue_head_t *head;	/* NULL once removed, or after POLLFREE */
	struct kapi_io *io;
};

struct kapi_io {
	struct hrtimer timer;
	struct work_struct work;
	void *arg;			/* the core's packet */
	const struct cred *creds;	/* of the ring's creator, for the worker */

	/* The worker inside a blocking call for this packet, if any. */
	spinlock_t block_lock;
	struct task_struct *blocker;

	/* memory descriptor list */
	unsigned long uaddr;
	unsigned long len;
	struct mm_struct *mm;		/* files without read_iter/write_iter only */
	unsigned int nr_pages;
	bool dirty;
	struct page **pages;
	struct bio_vec *bvec;
	struct page *inline_pages[KAPI_MDL_INLINE];
	struct bio_vec inline_bvec[KAPI_MDL_INLINE];

	/* poll */
	struct poll_table_struct pt;
	__poll_t poll_events;
	unsigned int poll_nr;
	struct kapi_poll_entry poll[KAPI_POLL_HEADS];
};

/*
 * Companions come in chunks, each allocated at the first use of its first
 * companion: a ring of 256 entries that keeps a few requests in flight
 * never pays for the other 250 (about 400 bytes each).
 */
#define KAPI_IO_CHUNK	32

struct kapi_ios {
	const struct cred *creds;
	unsigned int count;
	struct kapi_io *chunk[];
};

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

static void kapi_io_work(struct work_struct *work)
{
	struct kapi_io *io = container_of(work, struct kapi_io, work);
	const struct cred *old = override_creds(io->creds);

	pw_io_work(io->arg);
	revert_creds(old);
}

struct kapi_ios *kapi_ios_create(unsigned int count)
{
	struct kapi_ios *ios;

	ios = kzalloc(struct_size(ios, chunk, DIV_ROUND_UP(count, KAPI_IO_CHUNK)),
		      GFP_KERNEL_ACCOUNT);
	if (!ios)
		return NULL;
	ios->creds = get_current_cred();
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
	io->creds = ios->creds;
	hrtimer_init(&io->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	io->timer.function = kapi_io_timer;
	INIT_WORK(&io->work, kapi_io_work);
	spin_lock_init(&io->block_lock);
	return io;
}

/*
 * A blocking call (a 6.1 pipe after poll said "ready", a tty, a file without
 * non-blocking support) can wait forever once another reader took the data.
 * A cancellation breaks it as io_uring breaks its io-wq threads' calls: by
 * TIF_NOTIFY_SIGNAL, which makes signal_pending() true, so interruptible
 * waits return -ERESTARTSYS. The flag is ours only inside the bracket: the
 * worker is a shared kworker, so it is cleared before the bracket ends, after
 * which no interrupter can find the task any more.
 */
void kapi_block_begin(struct kapi_io *io)
{
	unsigned long flags;

	if (WARN_ON_ONCE(!(current->flags & PF_KTHREAD)))
		return;	/* only workers: a user thread's flag belongs to its task work */
	spin_lock_irqsave(&io->block_lock, flags);
	io->blocker = current;
	spin_unlock_irqrestore(&io->block_lock, flags);
}

void kapi_block_end(struct kapi_io *io)
{
	unsigned long flags;

	if (!(current->flags & PF_KTHREAD))
		return;
	spin_lock_irqsave(&io->block_lock, flags);
	io->blocker = NULL;
	spin_unlock_irqrestore(&io->block_lock, flags);
	clear_notify_signal();
}

void kapi_io_interrupt(struct kapi_io *io)
{
	unsigned long flags;

	spin_lock_irqsave(&io->block_lock, flags);
	if (io->blocker) {
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

void kapi_ios_destroy(struct kapi_ios *ios, unsigned int count, unsigned int used)
{
	unsigned int i;

	for (i = 0; i < used; i++) {
		hrtimer_cancel(&kapi_io_of(ios, i)->timer);
		cancel_work_sync(&kapi_io_of(ios, i)->work);
	}
	for (i = 0; i < DIV_ROUND_UP(count, KAPI_IO_CHUNK); i++)
		kfree(ios->chunk[i]);
	put_cred(ios->creds);
	kfree(ios);
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

void kapi_queue_work(struct kapi_io *io)
{
	queue_work(pwring_wq, &io->work);
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
	       (f->f_op->poll ? KAPI_F_POLL : 0);
}

long kapi_mdl_pin(struct kapi_io *io, unsigned long uaddr, unsigned long len, int for_write)
{
	unsigned long off = offset_in_page(uaddr), rem;
	unsigned int nr, i;
	long pinned;

	io->uaddr = uaddr;
	io->len = len;
	io->nr_pages = 0;
	if (!len)
		return 0;
	if (uaddr + len < uaddr)
		return -EFAULT;
	nr = DIV_ROUND_UP(off + len, PAGE_SIZE);
	io->pages = io->inline_pages;
	io->bvec = io->inline_bvec;
	if (nr > KAPI_MDL_INLINE) {
		io->pages = kvmalloc_array(nr, sizeof(*io->pages), GFP_KERNEL_ACCOUNT);
		io->bvec = kvmalloc_array(nr, sizeof(*io->bvec), GFP_KERNEL_ACCOUNT);
		if (!io->pages || !io->bvec)
			goto nomem;
	}
	pinned = pin_user_pages_fast(uaddr - off, nr, for_write ? FOLL_WRITE : 0, io->pages);
	/* All or nothing: a buffer mapped only partly is EFAULT, before any I/O. */
	if (pinned != nr) {
		if (pinned > 0)
			unpin_user_pages(io->pages, pinned);
		kapi_mdl_release(io);
		return pinned < 0 ? pinned : -EFAULT;
	}
	rem = len;
	for (i = 0; i < nr; i++) {
		struct bio_vec *bv = &io->bvec[i];

		bv->bv_page = io->pages[i];
		bv->bv_offset = i ? 0 : off;
		bv->bv_len = min(rem, PAGE_SIZE - bv->bv_offset);
		rem -= bv->bv_len;
	}
	io->nr_pages = nr;
	io->dirty = for_write;
	return io->len;
nomem:
	kapi_mdl_release(io);
	return -ENOMEM;
}

void kapi_mdl_release(struct kapi_io *io)
{
	if (io->nr_pages) {
		/* Sleeps (page lock) when dirtying: the core calls us in task context. */
		if (io->dirty)
			unpin_user_pages_dirty_lock(io->pages, io->nr_pages, true);
		else
			unpin_user_pages(io->pages, io->nr_pages);
		io->nr_pages = 0;
	}
	if (io->mm) {
		mmput(io->mm);
		io->mm = NULL;
	}
	if (io->pages && io->pages != io->inline_pages)
		kvfree(io->pages);
	if (io->bvec && io->bvec != io->inline_bvec)
		kvfree(io->bvec);
	io->pages = NULL;
	io->bvec = NULL;
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
	ret = write ? f->f_op->write_iter(&kiocb, it) : f->f_op->read_iter(&kiocb, it);
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

/*
 * Files with only ->read/->write (eventfd's write, /dev/full...) take a user
 * address: the worker borrows the submitter's mm for the call.
 */
static ssize_t kapi_rw_user(struct kapi_io *io, struct file *f, int write,
			    unsigned long skip, loff_t *ppos)
{
	bool borrow = current->flags & PF_KTHREAD;
	void __user *buf = (void __user *)(io->uaddr + skip);
	size_t count = io->len - skip;
	ssize_t ret;

	if (borrow && !io->mm)
		return -EFAULT;
	ret = rw_verify_area(write ? WRITE : READ, f, ppos, count);
	if (ret)
		return ret;
	if (borrow)
		kthread_use_mm(io->mm);
	ret = write ? f->f_op->write(f, buf, count, ppos) : f->f_op->read(f, buf, count, ppos);
	if (borrow)
		kthread_unuse_mm(io->mm);
	if (ret > 0) {
		if (write)
			fsnotify_modify(f);
		else
			fsnotify_access(f);
	}
	return ret;
}

/* The pinned buffer from `skip` on, through the file's iter method. */
static ssize_t kapi_rw_iter(struct kapi_io *io, struct file *f, int write,
			    unsigned long skip, loff_t *ppos, int nowait)
{
	struct iov_iter it;

	iov_iter_bvec(&it, write ? ITER_SOURCE : ITER_DEST, io->bvec, io->nr_pages, io->len);
	iov_iter_advance(&it, skip);
	if (nowait && !(f->f_mode & FMODE_NOWAIT))
		return kapi_iter_nowait(f, &it, ppos, write);
	if (write)
		return vfs_iter_write(f, &it, ppos, nowait ? RWF_NOWAIT : 0);
	return vfs_iter_read(f, &it, ppos, nowait ? RWF_NOWAIT : 0);
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
	if (nowait && !kapi_nowait_ok(f, write)) {
		/* The worker will do it; a ->read/->write file needs our mm then. */
		if (!iter && !io->mm)
			io->mm = get_task_mm(current);
		return -EAGAIN;
	}
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

static int kapi_poll_wake(struct wait_queue_entry *wait, unsigned int mode, int sync, void *key)
{
	struct kapi_poll_entry *pe = container_of(wait, struct kapi_poll_entry, wait);
	__poll_t mask = key_to_poll(key);

	if (mask && !(mask & (pe->io->poll_events | POLLFREE)))
		return 0;
	if (unlikely(mask & POLLFREE)) {
		/* The queue is going away (signalfd...): leave it now, under its lock. */
		list_del_init(&wait->entry);
		smp_store_release(&pe->head, NULL);
	}
	pw_poll_wake(pe->io->arg, sync);
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
		wait_queue_head_t *head = smp_load_acquire(&pe->head);

		if (head) {
			remove_wait_queue(head, &pe->wait);
			pe->head = NULL;
		}
	}
	rcu_read_unlock();
	io->poll_nr = 0;
}
