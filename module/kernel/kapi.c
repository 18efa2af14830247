// SPDX-License-Identifier: GPL-2.0
/* The kernel side of core/kapi.h: allocation, locks, wait queues, user copies. */
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "glue.h"

void *kapi_zalloc(unsigned long size)
{
	return kvzalloc(size, GFP_KERNEL_ACCOUNT);
}

void *kapi_alloc(unsigned long size)
{
	return kvmalloc(size, GFP_KERNEL_ACCOUNT);
}

void kapi_free(void *p)
{
	kvfree(p);
}

struct kapi_lock {
	spinlock_t lock;	/* a ring's completion lock, taken with irqsave */
};

struct kapi_lock *kapi_lock_create(void)
{
	struct kapi_lock *l = kmalloc(sizeof(*l), GFP_KERNEL_ACCOUNT);

	if (l)
		spin_lock_init(&l->lock);
	return l;
}

void kapi_lock_destroy(struct kapi_lock *l)
{
	kfree(l);
}

/* The core pairs these two around its critical sections (IrqLockGuard). */
unsigned long kapi_lock_irqsave(struct kapi_lock *l)
	__acquires(&l->lock)
{
	unsigned long flags;

	spin_lock_irqsave(&l->lock, flags);
	return flags;
}

void kapi_unlock_irqrestore(struct kapi_lock *l, unsigned long flags)
	__releases(&l->lock)
{
	spin_unlock_irqrestore(&l->lock, flags);
}

struct kapi_waitq *kapi_waitq_create(void)
{
	struct kapi_waitq *w = kmalloc(sizeof(*w), GFP_KERNEL_ACCOUNT);

	if (w)
		init_waitqueue_head(&w->head);
	return w;
}

void kapi_waitq_destroy(struct kapi_waitq *w)
{
	kfree(w);
}

int kapi_wait_interruptible(struct kapi_waitq *w, kapi_cond_fn cond, void *arg)
{
	if (!wait_event_interruptible(w->head, cond(arg)))
		return 0;
	/*
	 * A real signal ends the wait with EINTR. Only task work to run
	 * (TIF_NOTIFY_SIGNAL, e.g. io_uring's in the same thread) is not a
	 * signal: -ERESTARTSYS lets the core have the call restarted.
	 */
	return task_sigpending(current) ? -EINTR : -ERESTARTSYS;
}

void kapi_wake(struct kapi_waitq *w)
{
	if (wq_has_sleeper(&w->head))
		wake_up_all(&w->head);
}

void kapi_wake_sync(struct kapi_waitq *w)
{
	if (wq_has_sleeper(&w->head))
		__wake_up_sync(&w->head, TASK_NORMAL);
}

int kapi_copy_to_user(unsigned long uaddr, const void *src, unsigned long n)
{
	return copy_to_user((void __user *)uaddr, src, n) ? -EFAULT : 0;
}

void kapi_mb(void)
{
	/* The core has no kernel headers: its full barrier (see its callers). */
	smp_mb();
}

int kapi_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

unsigned long long kapi_clock_coarse_ns(void)
{
	return ktime_get_coarse_ns();
}
