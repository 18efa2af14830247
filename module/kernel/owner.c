// SPDX-License-Identifier: GPL-2.0
/*
 * The owner of an open /dev/pwring: the process (mm) that set up its first
 * ring, and where the asynchronous steps of its requests run.
 *
 * Every step of a request that does not run inside the submitter's own
 * enter runs in a *worker*: a thread of the owning process that libpwring
 * lends to the kernel (PWRING_IOC_WORKER, then PWRING_IOC_WORK on the
 * handle). A worker is the process in every way the kernel can see: its mm
 * and file table, rlimits, namespaces, memory cgroup and I/O accounting;
 * each request's steps run with the credentials of the thread whose enter
 * submitted it (override_creds). No queue or thread is shared between
 * owners, so one process's blocked requests delay nobody else's.
 *
 * The pool grows on demand: a worker that takes an item while no other
 * worker is idle first returns PWRING_WORK_SPAWN (the item stays queued), so
 * the library starts one more thread before anything blocks. Idle workers
 * beyond one retire after a while.
 *
 * A file with no worker (a program not using libpwring) still works: the
 * items of a ring then run in that ring's own enter (kapi_work_run), which
 * then blocks as read(2) would.
 *
 * Exit: an mmu_notifier on the owner's mm tells us when the mm goes away
 * (the last thread exited, or exec replaced it): then, as at the last
 * close, everything is cancelled and the rings are freed as soon as their
 * last request completes, whoever else still holds the file.
 */
#include <linux/anon_inodes.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>

#include "glue.h"
#include "../core/pwring_core.h"
#include "../../uapi/pwring.h"

/*
 * A worker with nothing to do for this long retires, unless it is the last
 * idle one. As with io-wq, a process has a thread per blocked request: its
 * own, charged to it and bounded by its RLIMIT_NPROC (and max_workers).
 */
#define PWRING_WORKER_IDLE	(10 * HZ)

static unsigned int max_workers = 4096;
module_param(max_workers, uint, 0644);
MODULE_PARM_DESC(max_workers,
		 "Workers one open file may have (threads of its process; RLIMIT_NPROC bounds them too)");

struct pwring_owner {
	struct kref ref;
	struct pwring_table *table;	/* freed with the owner */
	struct mmu_notifier mn;
	struct mm_struct *mm;		/* NULL until the first setup */

	/* Serialises claim and shutdown; shut: everything was cancelled. */
	struct mutex state_lock;
	bool shut;

	spinlock_t lock;		/* the queue, the counts, dead; taken from any context */
	struct list_head queue;		/* kapi_io items waiting for a worker */
	wait_queue_head_t idle_wq;	/* idle workers, woken one at a time */
	unsigned int workers;		/* threads inside PWRING_IOC_WORK */
	unsigned int idle;
	unsigned int queued;		/* items on the queue */
	unsigned int spawning;		/* workers asked for, not yet arrived */
	bool dead;			/* workers retire; items go to pwring_wq */
};

static void pwring_owner_free(struct kref *ref)
{
	struct pwring_owner *ow = container_of(ref, struct pwring_owner, ref);

	pwring_core_free(ow->table);
	kfree(ow);
}

void pwring_owner_get(struct pwring_owner *ow)
{
	kref_get(&ow->ref);
}

void pwring_owner_put(struct pwring_owner *ow)
{
	kref_put(&ow->ref, pwring_owner_free);
}

struct pwring_owner *pwring_owner_create(void)
{
	struct pwring_owner *ow = kzalloc(sizeof(*ow), GFP_KERNEL_ACCOUNT);

	if (!ow)
		return NULL;
	ow->table = pwring_core_open();
	if (!ow->table) {
		kfree(ow);
		return NULL;
	}
	kref_init(&ow->ref);
	mutex_init(&ow->state_lock);
	spin_lock_init(&ow->lock);
	INIT_LIST_HEAD(&ow->queue);
	init_waitqueue_head(&ow->idle_wq);
	return ow;
}

struct pwring_table *pwring_owner_table(struct pwring_owner *ow)
{
	return ow->table;
}

/* ---- items ------------------------------------------------------------ */

/* step(io->arg) with the credentials of the request's submitter. */
void pwring_as_submitter(struct kapi_io *io, void (*step)(void *arg))
{
	const struct cred *creds, *old = NULL;

	/* RCU: the request's next use may replace them. */
	rcu_read_lock();
	creds = rcu_dereference(io->creds);
	creds = creds ? get_cred_rcu(creds) : NULL;
	rcu_read_unlock();
	if (creds)
		old = override_creds(creds);
	step(io->arg);
	if (creds) {
		revert_creds(old);
		put_cred(creds);
	}
}

/* A step of one request, in the worker that runs it. */
static void pwring_run_item(struct kapi_io *io)
{
	pwring_as_submitter(io, pw_io_work);
}

/* pwring_wq: only once the owner is gone, for what cancellation left to finish. */
void pwring_io_orphan_work(struct work_struct *work)
{
	pwring_run_item(container_of(work, struct kapi_io, work));
}

static void pwring_item_queue_locked(struct pwring_owner *ow, struct kapi_io *io)
{
	io->wstate |= KAPI_W_QUEUED;
	list_add_tail(&io->qnode, &ow->queue);
	io->ios->queued++;
	ow->queued++;
}

void kapi_queue_work(struct kapi_io *io)
{
	struct pwring_owner *ow = io->ios->owner;
	wait_queue_head_t *wake = NULL;
	unsigned long flags;

	spin_lock_irqsave(&ow->lock, flags);
	if (io->wstate & KAPI_W_RUNNING) {
		io->wstate |= KAPI_W_AGAIN;	/* its worker queues it again */
	} else if (io->wstate & KAPI_W_QUEUED) {
		;	/* queued already, as queue_work() would say */
	} else if (ow->dead && list_empty(&ow->queue)) {
		/*
		 * Everything was cancelled and no worker is left: what remains
		 * are completions (no I/O can start on a cancelled request),
		 * which a kernel worker may finish.
		 */
		queue_work(pwring_wq, &io->work);
	} else {
		pwring_item_queue_locked(ow, io);
		wake = ow->workers ? &ow->idle_wq : &io->ios->ring_wq->head;
	}
	spin_unlock_irqrestore(&ow->lock, flags);
	if (wake)
		wake_up(wake);
}

/* Takes io off the queue for the calling thread; under ow->lock. */
static void pwring_item_take(struct pwring_owner *ow, struct kapi_io *io)
{
	list_del_init(&io->qnode);
	io->ios->queued--;
	ow->queued--;
	io->wstate = KAPI_W_RUNNING;
	atomic_inc(&io->ios->running);
}

/* After the step: queue it again if it was asked meanwhile; under ow->lock. */
static void pwring_item_done(struct pwring_owner *ow, struct kapi_io *io)
{
	struct kapi_ios *ios = io->ios;
	bool again = io->wstate & KAPI_W_AGAIN;

	io->wstate = 0;
	if (again)
		pwring_item_queue_locked(ow, io);
	/* The ring may be freed once this is 0 (kapi_ios_destroy waits for it). */
	if (atomic_dec_and_test(&ios->running))
		wake_up_var(&ios->running);
}

/* A ring being freed: its stale entries leave the queue. */
void pwring_owner_forget(struct pwring_owner *ow, struct kapi_ios *ios)
{
	struct kapi_io *io, *tmp;

	spin_lock_irq(&ow->lock);
	list_for_each_entry_safe(io, tmp, &ow->queue, qnode) {
		if (io->ios != ios)
			continue;
		list_del_init(&io->qnode);
		io->wstate = 0;
		ios->queued--;
		ow->queued--;
	}
	spin_unlock_irq(&ow->lock);
}

/* ---- the enter fallback (no worker lent) --------------------------------- */

int kapi_work_pending(struct kapi_ios *ios)
{
	return !READ_ONCE(ios->owner->workers) && READ_ONCE(ios->queued) &&
	       !signal_pending(current);
}

/* Runs, once each, the items of this ring queued when we looked. */
void kapi_work_run(struct kapi_ios *ios)
{
	struct pwring_owner *ow = ios->owner;
	struct kapi_io *io, *tmp;
	LIST_HEAD(mine);

	spin_lock_irq(&ow->lock);
	if (ow->workers) {
		spin_unlock_irq(&ow->lock);
		return;
	}
	list_for_each_entry_safe(io, tmp, &ow->queue, qnode) {
		if (io->ios != ios)
			continue;
		pwring_item_take(ow, io);
		list_add_tail(&io->qnode, &mine);
	}
	spin_unlock_irq(&ow->lock);

	while (!list_empty(&mine)) {
		io = list_first_entry(&mine, struct kapi_io, qnode);
		list_del_init(&io->qnode);
		pwring_run_item(io);
		spin_lock_irq(&ow->lock);
		pwring_item_done(ow, io);
		spin_unlock_irq(&ow->lock);
	}
}

/* ---- workers ------------------------------------------------------------ */

/*
 * Waits for an item, exclusively (one wakeup, one worker), with ow->lock
 * held around it. False when the worker should retire: it was idle for a
 * while, and another worker is idle too.
 */
static bool pwring_worker_wait(struct pwring_owner *ow)
{
	DEFINE_WAIT(wait);
	long left = PWRING_WORKER_IDLE;
	bool stay = true;

	ow->idle++;
	ow->spawning = 0;	/* one is idle: those still coming are extra */
	for (;;) {
		prepare_to_wait_exclusive(&ow->idle_wq, &wait, TASK_INTERRUPTIBLE);
		if (!list_empty(&ow->queue) || ow->dead || signal_pending(current))
			break;
		if (!left) {
			if (ow->idle > 1) {
				stay = false;
				break;
			}
			left = PWRING_WORKER_IDLE;
		}
		spin_unlock_irq(&ow->lock);
		left = schedule_timeout(left);
		spin_lock_irq(&ow->lock);
	}
	finish_wait(&ow->idle_wq, &wait);
	ow->idle--;
	return stay;
}

static long pwring_work(struct pwring_owner *ow, unsigned long why)
{
	struct kapi_io *io;
	long ret;

	if (why > PWRING_WORK_NO_SPAWN)
		return -EINVAL;
	spin_lock_irq(&ow->lock);
	if (why != PWRING_WORK_AGAIN && ow->spawning)
		ow->spawning--;
	ow->workers++;
	for (;;) {
		if (ow->dead) {
			ret = PWRING_WORK_RETIRE;
			break;
		}
		if (signal_pending(current)) {
			/* Workers block signals; a fatal one ends the thread. */
			ret = -EINTR;
			break;
		}
		io = list_first_entry_or_null(&ow->queue, struct kapi_io, qnode);
		if (!io) {
			if (!pwring_worker_wait(ow)) {
				ret = PWRING_WORK_RETIRE;
				break;
			}
			continue;
		}
		/*
		 * Keep one worker idle for the next item: ask for more first,
		 * as many as there are items waiting (16 at a time at most).
		 */
		if (!ow->idle && !ow->spawning && ow->workers < READ_ONCE(max_workers)) {
			ow->spawning = min3(ow->queued, READ_ONCE(max_workers) - ow->workers,
					    PWRING_WORK_SPAWN_MAX);
			ret = ow->spawning;
			break;
		}
		pwring_item_take(ow, io);
		spin_unlock_irq(&ow->lock);
		pwring_run_item(io);
		cond_resched();
		spin_lock_irq(&ow->lock);
		pwring_item_done(ow, io);
	}
	ow->workers--;
	/* The last worker left with items queued: their rings' enters run them. */
	if (!ow->workers && !ow->dead)
		list_for_each_entry(io, &ow->queue, qnode)
			wake_up(&io->ios->ring_wq->head);
	spin_unlock_irq(&ow->lock);
	return ret;
}

static long pwring_worker_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct pwring_owner *ow = file->private_data;
	long ret;

	if (cmd != PWRING_IOC_WORK)
		return -ENOTTY;
	ret = pwring_owner_check(ow);
	return ret ? ret : pwring_work(ow, arg);
}

static int pwring_worker_release(struct inode *inode, struct file *file)
{
	pwring_owner_put(file->private_data);
	return 0;
}

/*
 * The worker handle is a file of its own: a thread blocked in WORK holds
 * the handle, never the device file, so closing the device still cancels.
 */
static const struct file_operations pwring_worker_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= pwring_worker_ioctl,
	.release	= pwring_worker_release,
};

long pwring_worker_handle(struct pwring_owner *ow)
{
	int fd;

	if (!ow->mm)
		return -EINVAL;	/* no ring set up yet: nothing to work for */
	pwring_owner_get(ow);
	fd = anon_inode_getfd("[pwring-worker]", &pwring_worker_fops, ow, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		pwring_owner_put(ow);
	return fd;
}

/* ---- ownership and exit ------------------------------------------------- */

/* Cancels everything and frees the rings once idle; first call only. */
void pwring_owner_shutdown(struct pwring_owner *ow)
{
	struct kapi_io *io, *tmp;

	mutex_lock(&ow->state_lock);
	if (ow->shut) {
		mutex_unlock(&ow->state_lock);
		return;
	}
	ow->shut = true;
	spin_lock_irq(&ow->lock);
	ow->dead = true;
	spin_unlock_irq(&ow->lock);
	wake_up_all(&ow->idle_wq);
	/* Cancels every request; a ring is freed when its last one completes. */
	pwring_core_shutdown(ow->table);
	/*
	 * What is still queued can only finish (a cancelled request starts no
	 * I/O), and no worker is coming back for it.
	 */
	spin_lock_irq(&ow->lock);
	list_for_each_entry_safe(io, tmp, &ow->queue, qnode) {
		list_del_init(&io->qnode);
		io->wstate = 0;
		io->ios->queued--;
		ow->queued--;
		queue_work(pwring_wq, &io->work);
	}
	spin_unlock_irq(&ow->lock);
	mutex_unlock(&ow->state_lock);
}

static void pwring_mn_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	pwring_owner_shutdown(container_of(mn, struct pwring_owner, mn));
}

static void pwring_mn_free(struct mmu_notifier *mn)
{
	pwring_owner_put(container_of(mn, struct pwring_owner, mn));
}

static const struct mmu_notifier_ops pwring_mn_ops = {
	.release	= pwring_mn_release,
	.free_notifier	= pwring_mn_free,
};

/* Enter, teardown, workers: only the owner's threads (before any setup, no ring answers). */
int pwring_owner_check(struct pwring_owner *ow)
{
	struct mm_struct *mm = READ_ONCE(ow->mm);

	return !mm || mm == current->mm ? 0 : -EPERM;
}

/* Setup: the first one makes the caller's process the owner. */
int pwring_owner_claim(struct pwring_owner *ow)
{
	int ret = 0;

	if (likely(READ_ONCE(ow->mm)))
		return pwring_owner_check(ow);
	mutex_lock(&ow->state_lock);
	if (ow->mm) {
		ret = ow->mm == current->mm ? 0 : -EPERM;
	} else if (ow->shut || !current->mm) {
		ret = -EPERM;
	} else {
		ow->mn.ops = &pwring_mn_ops;
		pwring_owner_get(ow);	/* the notifier's, put by pwring_mn_free */
		ret = mmu_notifier_register(&ow->mn, current->mm);
		if (ret)
			pwring_owner_put(ow);
		else
			WRITE_ONCE(ow->mm, current->mm);
	}
	mutex_unlock(&ow->state_lock);
	return ret;
}

/* Last close of the device file. */
void pwring_owner_release(struct pwring_owner *ow)
{
	pwring_owner_shutdown(ow);
	/* The notifier holds the mm (not its pages) until freed, after an SRCU grace period. */
	if (ow->mm)
		mmu_notifier_put(&ow->mn);
	pwring_owner_put(ow);
}
