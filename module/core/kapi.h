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
struct kapi_timers;	/* an array of hrtimers */
struct kapi_mem;	/* zeroed ring pages, mapped for the kernel */
struct kapi_file;	/* the open /dev/pwring file */

/* Memory. Never used on the submit/complete path. */
void *kapi_zalloc(unsigned long size);
void kapi_free(void *p);

struct kapi_lock *kapi_lock_create(void);
void kapi_lock_destroy(struct kapi_lock *l);
unsigned long kapi_lock_irqsave(struct kapi_lock *l);
void kapi_unlock_irqrestore(struct kapi_lock *l, unsigned long flags);

/*
 * Wait queues. The condition is a callback so that the kernel side can use
 * wait_event_*() as is. kapi_wait_interruptible() returns 0 or -EINTR;
 * kapi_wake() is cheap when nobody sleeps.
 */
typedef int (*kapi_cond_fn)(void *arg);
struct kapi_waitq *kapi_waitq_create(void);
void kapi_waitq_destroy(struct kapi_waitq *w);
int kapi_wait_interruptible(struct kapi_waitq *w, kapi_cond_fn cond, void *arg);
void kapi_wait_uninterruptible(struct kapi_waitq *w, kapi_cond_fn cond, void *arg);
void kapi_wake(struct kapi_waitq *w);

/*
 * One-shot high resolution timers, relative, in nanoseconds. The callback
 * runs in hard interrupt context. kapi_timer_cancel() waits for a running
 * callback, so it must never be called from that timer's own callback.
 */
typedef void (*kapi_timer_fn)(void *arg);
struct kapi_timers *kapi_timers_create(unsigned int count, kapi_timer_fn fn,
				       void *arg0, unsigned long arg_stride);
void kapi_timers_destroy(struct kapi_timers *t, unsigned int count);
void kapi_timer_start(struct kapi_timers *t, unsigned int i, unsigned long long ns);
void kapi_timer_cancel(struct kapi_timers *t, unsigned int i);

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

/* Returns 0 or -EFAULT. */
int kapi_copy_to_user(unsigned long uaddr, const void *src, unsigned long n);

/* Full memory barrier (smp_mb). */
void kapi_mb(void);

#ifdef __cplusplus
}
#endif

#endif /* PWRING_KAPI_H */
