// SPDX-License-Identifier: GPL-2.0
/* The kernel side of core/kapi.h: allocation, locks, wait queues, hrtimers. */
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "glue.h"

void *kapi_zalloc(unsigned long size)
{
	return kvzalloc(size, GFP_KERNEL_ACCOUNT);
}

void kapi_free(void *p)
{
	kvfree(p);
}

struct kapi_lock {
	spinlock_t lock;
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

unsigned long kapi_lock_irqsave(struct kapi_lock *l)
{
	unsigned long flags;

	spin_lock_irqsave(&l->lock, flags);
	return flags;
}

void kapi_unlock_irqrestore(struct kapi_lock *l, unsigned long flags)
{
	spin_unlock_irqrestore(&l->lock, flags);
}

struct kapi_waitq {
	wait_queue_head_t head;
};

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
	/* -EINTR, not -ERESTARTSYS: a restarted enter would submit again. */
	return wait_event_interruptible(w->head, cond(arg)) ? -EINTR : 0;
}

void kapi_wait_uninterruptible(struct kapi_waitq *w, kapi_cond_fn cond, void *arg)
{
	wait_event(w->head, cond(arg));
}

void kapi_wake(struct kapi_waitq *w)
{
	if (wq_has_sleeper(&w->head))
		wake_up_all(&w->head);
}

struct kapi_timer {
	struct hrtimer timer;
	kapi_timer_fn fn;
	void *arg;
};

/* struct kapi_timers is never defined: it is an array of struct kapi_timer. */
static struct kapi_timer *kapi_timer_at(struct kapi_timers *ts, unsigned int i)
{
	return (struct kapi_timer *)ts + i;
}

static enum hrtimer_restart kapi_timer_expired(struct hrtimer *timer)
{
	struct kapi_timer *t = container_of(timer, struct kapi_timer, timer);

	t->fn(t->arg);
	return HRTIMER_NORESTART;
}

struct kapi_timers *kapi_timers_create(unsigned int count, kapi_timer_fn fn,
				       void *arg0, unsigned long arg_stride)
{
	struct kapi_timers *ts = kvcalloc(count, sizeof(struct kapi_timer),
					  GFP_KERNEL_ACCOUNT);
	unsigned int i;

	if (!ts)
		return NULL;
	for (i = 0; i < count; i++) {
		struct kapi_timer *t = kapi_timer_at(ts, i);

		hrtimer_init(&t->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
		t->timer.function = kapi_timer_expired;
		t->fn = fn;
		t->arg = (char *)arg0 + i * arg_stride;
	}
	return ts;
}

void kapi_timers_destroy(struct kapi_timers *ts, unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++)
		hrtimer_cancel(&kapi_timer_at(ts, i)->timer);
	kvfree(ts);
}

void kapi_timer_start(struct kapi_timers *ts, unsigned int i, unsigned long long ns)
{
	/* hrtimer adds "now" with saturation; keep the interval itself in range. */
	ktime_t rel = ns > (unsigned long long)KTIME_MAX ? KTIME_MAX : ns_to_ktime(ns);

	hrtimer_start(&kapi_timer_at(ts, i)->timer, rel, HRTIMER_MODE_REL);
}

void kapi_timer_cancel(struct kapi_timers *ts, unsigned int i)
{
	hrtimer_cancel(&kapi_timer_at(ts, i)->timer);
}

int kapi_copy_to_user(unsigned long uaddr, const void *src, unsigned long n)
{
	return copy_to_user((void __user *)uaddr, src, n) ? -EFAULT : 0;
}

void kapi_mb(void)
{
	smp_mb();
}
