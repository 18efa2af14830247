// SPDX-License-Identifier: GPL-2.0
/*
 * Per-user limits: the module parameters `max_user_requests` and
 * `max_user_ring_bytes`, and the per-user object that holds the counters
 * the core charges against them (core/limits.h does the counting).
 *
 * Like epoll's max_user_watches, the limits are per user (the real uid, as
 * struct user_struct counts a user's processes, epoll watches and locked
 * memory) and root changes them at run time under
 * /sys/module/pwring/parameters/; counts already charged stay charged.
 * The per-user object holds a reference to that user_struct (get_uid),
 * as io_uring's ring context does, and is found in a small hash table
 * keyed by it; it goes when its last ring goes.
 */
#include <linux/cred.h>
#include <linux/hashtable.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/refcount.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "glue.h"

/*
 * Defaults no honest program meets: a million requests in flight (a full
 * CQ of the largest ring is 32767, eight rings a file), and an eighth of
 * RAM in ring pages (set at load, see pwring_limits_init()), the way
 * epoll sizes max_user_watches from memory.
 */
static unsigned long pwring_max_user_requests = 1UL << 20;
static unsigned long pwring_max_user_ring_bytes;

module_param_named(max_user_requests, pwring_max_user_requests, ulong, 0644);
MODULE_PARM_DESC(max_user_requests, "requests one user may have in flight (enter fails EAGAIN beyond)");
module_param_named(max_user_ring_bytes, pwring_max_user_ring_bytes, ulong, 0644);
MODULE_PARM_DESC(max_user_ring_bytes, "bytes of ring memory one user's rings may hold (setup fails ENOMEM beyond; default RAM/8)");

struct kapi_user {
	struct hlist_node node;
	refcount_t refs;
	struct user_struct *user;	/* a reference (get_uid) */
	unsigned long long counters[KAPI_LIMITS];	/* the core's (atomics) */
};

#define PWRING_USER_BITS 6
static DEFINE_HASHTABLE(pwring_users, PWRING_USER_BITS);
static DEFINE_SPINLOCK(pwring_users_lock);

void pwring_limits_init(void)
{
	/* An administrator's value given at load time wins. */
	if (!pwring_max_user_ring_bytes)
		pwring_max_user_ring_bytes = (totalram_pages() / 8) << PAGE_SHIFT;
}

unsigned long long kapi_limit(int which)
{
	return which == KAPI_LIMIT_REQUESTS ? READ_ONCE(pwring_max_user_requests)
					    : READ_ONCE(pwring_max_user_ring_bytes);
}

struct kapi_user *kapi_user_get(void)
{
	struct user_struct *user = current_user();
	struct kapi_user *u, *fresh;

	spin_lock(&pwring_users_lock);
	hash_for_each_possible(pwring_users, u, node, (unsigned long)user) {
		if (u->user == user) {
			refcount_inc(&u->refs);
			spin_unlock(&pwring_users_lock);
			return u;
		}
	}
	spin_unlock(&pwring_users_lock);

	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL_ACCOUNT);
	if (!fresh)
		return NULL;
	refcount_set(&fresh->refs, 1);
	fresh->user = get_uid(user);

	spin_lock(&pwring_users_lock);
	/* Another setup of the same user may have added it meanwhile. */
	hash_for_each_possible(pwring_users, u, node, (unsigned long)user) {
		if (u->user == user) {
			refcount_inc(&u->refs);
			spin_unlock(&pwring_users_lock);
			free_uid(fresh->user);
			kfree(fresh);
			return u;
		}
	}
	hash_add(pwring_users, &fresh->node, (unsigned long)user);
	spin_unlock(&pwring_users_lock);
	return fresh;
}

void kapi_user_put(struct kapi_user *u)
{
	bool last;

	/* Process context: a ring is destroyed by teardown, close or the reap work. */
	spin_lock(&pwring_users_lock);
	last = refcount_dec_and_test(&u->refs);
	if (last)
		hash_del(&u->node);
	spin_unlock(&pwring_users_lock);
	if (!last)
		return;
	/* Every charge was given back by the rings that held this reference. */
	WARN_ON_ONCE(u->counters[KAPI_LIMIT_REQUESTS] || u->counters[KAPI_LIMIT_RING_BYTES]);
	free_uid(u->user);
	kfree(u);
}

unsigned long long *kapi_user_counters(struct kapi_user *u)
{
	return u->counters;
}
