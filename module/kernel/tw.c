// SPDX-License-Identifier: GPL-2.0
/*
 * Task work: where a wakeup or a device completion goes when no thread of
 * the owner is inside the ring's enter. As io_uring does, the step is
 * listed for a thread of the submitting process (the one that last sent a
 * request of this ring asynchronous, its "home") and run by that thread on
 * its way back to user space (task_work_add, TWA_RESUME): no other thread
 * wakes, nothing switches context. TWA_RESUME does not interrupt sleeps, so
 * a home asleep in some other call gets nothing: its steps go to a worker,
 * as does everything once the home thread is exiting.
 *
 * The ring's enter also runs what is listed (kapi_task_work_run), so a step
 * listed just as the home thread entered never waits for it to leave.
 *
 * The callback head lives in a small object of its own, referenced by the
 * ring and by a queued callback: a ring may be freed while its callback
 * still sits on the home thread's list.
 */
#include <linux/llist.h>
#include <linux/module.h>
#include <linux/refcount.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/task_work.h>

#include "glue.h"

struct kapi_tw {
	struct callback_head cb;	/* on the home thread's task_works while queued */
	struct llist_head list;		/* kapi_io items for the home thread */
	atomic_t queued;		/* cb is on (or about to be on) task_works */
	refcount_t ref;			/* the ring's, and a queued callback's */
	raw_spinlock_t lock;		/* task and ios; taken in hard IRQ, also on RT */
	struct task_struct *task;	/* the home thread, a reference */
	struct kapi_ios *ios;		/* NULL once the ring is being freed */
};

static void kapi_tw_put(struct kapi_tw *tw)
{
	if (refcount_dec_and_test(&tw->ref)) {
		if (tw->task)
			put_task_struct(tw->task);
		kfree(tw);
	}
}

/* Off the list (it may be listed again from now on), in listing order. */
static struct llist_node *kapi_tw_take(struct kapi_tw *tw)
{
	struct llist_node *n = llist_del_all(&tw->list);

	return llist_reverse_order(n);
}

static void kapi_tw_each(struct llist_node *n, void (*fn)(struct kapi_io *io, void *arg), void *arg)
{
	while (n) {
		struct kapi_io *io = llist_entry(n, struct kapi_io, tw_node);

		n = n->next;
		clear_bit_unlock(0, &io->tw_listed);
		fn(io, arg);
	}
}

static void kapi_tw_to_worker(struct kapi_io *io, void *arg)
{
	kapi_queue_work(io);
}

static void kapi_tw_step(void *arg)
{
	pw_io_run(arg, 0);
}

static void kapi_tw_run_one(struct kapi_io *io, void *in_enter)
{
	if (in_enter)
		pw_io_run(io->arg, 1);
	else	/* as a worker would: with the request's credentials */
		pwring_as_submitter(io, kapi_tw_step);
}

/* In the home thread, on its way to user space (or exiting). */
static void kapi_tw_callback(struct callback_head *cb)
{
	struct kapi_tw *tw = container_of(cb, struct kapi_tw, cb);
	struct kapi_ios *ios;

	/* From here on a new listing queues the callback again. */
	atomic_set(&tw->queued, 0);
	/*
	 * The reset before the list is read (atomic_set() is a plain store, so
	 * a full barrier): pairs with the lister's llist_add() and
	 * atomic_xchg(), so a listing either sees the reset or is taken here.
	 */
	smp_mb();
	raw_spin_lock_irq(&tw->lock);
	ios = tw->ios;
	if (ios)
		atomic_inc(&ios->running);	/* kapi_ios_destroy() waits for us */
	raw_spin_unlock_irq(&tw->lock);
	if (ios) {
		/* Exiting: no mm any more (exit_mm came first): workers take it. */
		bool exiting = (current->flags & PF_EXITING) || !current->mm;

		kapi_tw_each(kapi_tw_take(tw), exiting ? kapi_tw_to_worker : kapi_tw_run_one, NULL);
		if (atomic_dec_and_test(&ios->running))
			wake_up_var(&ios->running);
	}
	kapi_tw_put(tw);
	module_put(THIS_MODULE);
}

/* Queues the callback on the home thread; false if it cannot take it. */
static bool kapi_tw_kick(struct kapi_tw *tw)
{
	unsigned long flags;
	bool ok = false;

	raw_spin_lock_irqsave(&tw->lock, flags);
	/* Asleep elsewhere, TWA_RESUME would wait for it: a worker is quicker. */
	if (tw->task && task_is_running(tw->task) && !(tw->task->flags & PF_EXITING)) {
		/* A queued callback holds the module: it may outlive the ring. */
		__module_get(THIS_MODULE);
		refcount_inc(&tw->ref);
		ok = !task_work_add(tw->task, &tw->cb, TWA_RESUME);
		if (!ok) {
			refcount_dec(&tw->ref);	/* the ring still holds one */
			module_put(THIS_MODULE);
		}
	}
	raw_spin_unlock_irqrestore(&tw->lock, flags);
	return ok;
}

/* Any context. */
void kapi_task_work(struct kapi_io *io)
{
	struct kapi_tw *tw = io->ios->tw;

	if (test_and_set_bit_lock(0, &io->tw_listed))
		return;	/* listed already: the run finds it woken */
	llist_add(&io->tw_node, &tw->list);
	/* Pairs with the callback's reset: one of us sees the other. */
	smp_mb__before_atomic();
	if (atomic_xchg(&tw->queued, 1))
		return;
	if (kapi_tw_kick(tw))
		return;
	/* Nobody to run it: what is listed goes to workers. */
	atomic_set(&tw->queued, 0);
	/* The reset before the list is taken, as in the callback. */
	smp_mb();
	kapi_tw_each(kapi_tw_take(tw), kapi_tw_to_worker, NULL);
}

/* The ring's enter: runs what is listed, as its own. */
void kapi_task_work_run(struct kapi_ios *ios)
{
	kapi_tw_each(kapi_tw_take(ios->tw), kapi_tw_run_one, (void *)1);
}

/* In the submitter's enter, as a request goes asynchronous: the home is this thread. */
void kapi_tw_home(struct kapi_ios *ios)
{
	struct kapi_tw *tw = ios->tw;
	struct task_struct *old;
	unsigned long flags;

	if (READ_ONCE(tw->task) == current)
		return;
	get_task_struct(current);
	raw_spin_lock_irqsave(&tw->lock, flags);
	old = tw->task;
	WRITE_ONCE(tw->task, current);
	raw_spin_unlock_irqrestore(&tw->lock, flags);
	if (old)
		put_task_struct(old);
}

int kapi_tw_create(struct kapi_ios *ios)
{
	struct kapi_tw *tw = kzalloc(sizeof(*tw), GFP_KERNEL_ACCOUNT);

	if (!tw)
		return -ENOMEM;
	init_task_work(&tw->cb, kapi_tw_callback);
	init_llist_head(&tw->list);
	refcount_set(&tw->ref, 1);
	raw_spin_lock_init(&tw->lock);
	tw->ios = ios;
	ios->tw = tw;
	return 0;
}

/*
 * The ring is idle and being freed: whatever is still listed is stale (a
 * wakeup of a request that completed since). A callback still queued finds
 * no ring and only drops its reference; one running has ios->running raised,
 * which kapi_ios_destroy() waits for after this.
 */
void kapi_tw_destroy(struct kapi_ios *ios)
{
	struct kapi_tw *tw = ios->tw;

	if (!tw)
		return;
	raw_spin_lock_irq(&tw->lock);
	tw->ios = NULL;
	raw_spin_unlock_irq(&tw->lock);
	ios->tw = NULL;
	kapi_tw_put(tw);
}
