/* SPDX-License-Identifier: GPL-2.0 */
/* Private to the C glue: what the kernel side keeps per open file and per packet. */
#ifndef PWRING_GLUE_H
#define PWRING_GLUE_H

#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/poll.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "../core/kapi.h"

struct pwring_table;
struct pwring_owner;

struct kapi_file {
	struct file *file;
	struct pwring_owner *owner;
	struct pwring_table *table;	/* the owner's */
	/*
	 * A ring mapping is made by setup calling vm_mmap() on this file; the
	 * mmap handler accepts exactly that call and refuses any mmap() that
	 * user space makes on its own. map_lock serialises setups of one file.
	 */
	struct mutex map_lock;
	struct task_struct *map_task;
	struct kapi_mem *map_mem;
};

struct kapi_waitq {
	wait_queue_head_t head;
};

#define KAPI_POLL_HEADS	2	/* wait queues one poll may register (pipes use two) */

struct kapi_poll_entry {
	struct wait_queue_entry wait;
	wait_queue_head_t *head;	/* NULL once removed, or after POLLFREE */
	struct kapi_io *io;
};

/* kapi_io.wstate, under the owner's lock */
#define KAPI_W_QUEUED	1u	/* on the owner's queue */
#define KAPI_W_RUNNING	2u	/* a thread runs its step */
#define KAPI_W_AGAIN	4u	/* queued while running: again after */

struct kapi_io {
	struct hrtimer timer;
	struct list_head qnode;		/* the owner's queue */
	unsigned int wstate;
	struct kapi_ios *ios;
	void *arg;			/* the core's packet */
	/* Of the thread whose enter submitted the request; RCU-freed. */
	const struct cred __rcu *creds;
	/* Only after the owner is gone: finishing what cancellation left. */
	struct work_struct work;
	/* Task work (tw.c): listed for the ring's home thread; bit 0: listed. */
	struct llist_node tw_node;
	unsigned long tw_listed;

	/* The thread inside a blocking call for this packet, if any. */
	spinlock_t block_lock;
	struct task_struct *blocker;
	bool interrupted;		/* we set its TIF_NOTIFY_SIGNAL */

	/* The user buffer: reached through its address, in the owner's threads. */
	unsigned long uaddr;
	unsigned long len;

	/* direct I/O: the asynchronous kiocb the device completes */
	struct kiocb kiocb;
	/* buffered reads: our entry on the wait queue of a page being read in */
	struct wait_page_queue wpq;

	/* poll */
	struct poll_table_struct pt;
	__poll_t poll_events;
	unsigned int poll_nr;
	struct kapi_poll_entry poll[KAPI_POLL_HEADS];
};

struct kapi_ios {
	struct pwring_owner *owner;	/* a reference */
	struct kapi_waitq *ring_wq;	/* the ring's enter waits here */
	unsigned int queued;		/* items of this ring on the owner's queue */
	atomic_t running;		/* items of this ring being run */
	struct work_struct reap;	/* frees the ring once its last request completed */
	void *ring;
	unsigned int count;
	struct blk_plug plug;		/* enter's, while it submits a batch */
	struct kapi_tw *tw;		/* task work for the ring's home thread (tw.c) */
	struct kapi_io *chunk[];
};

int pwring_mmap_ring(struct kapi_file *kf, struct vm_area_struct *vma);

/* owner.c: runs step(io->arg) with the credentials of the request's submitter */
void pwring_as_submitter(struct kapi_io *io, void (*step)(void *arg));

/* tw.c */
int kapi_tw_create(struct kapi_ios *ios);
void kapi_tw_destroy(struct kapi_ios *ios);
void kapi_tw_home(struct kapi_ios *ios);

/* access.c: the `disabled` and `group` parameters */
bool pwring_may_setup(void);

/* limits.c: the per-user limits */
void pwring_limits_init(void);

/* owner.c */
struct pwring_owner *pwring_owner_create(void);
struct pwring_table *pwring_owner_table(struct pwring_owner *ow);
void pwring_owner_get(struct pwring_owner *ow);
void pwring_owner_put(struct pwring_owner *ow);
int pwring_owner_claim(struct pwring_owner *ow);
int pwring_owner_check(struct pwring_owner *ow);
void pwring_owner_shutdown(struct pwring_owner *ow);
void pwring_owner_release(struct pwring_owner *ow);
long pwring_worker_handle(struct pwring_owner *ow);
void pwring_owner_forget(struct pwring_owner *ow, struct kapi_ios *ios);
void pwring_io_orphan_work(struct work_struct *work);

/* Unbound, never blocked on: frees idle rings, finishes requests of gone owners. */
extern struct workqueue_struct *pwring_wq;

#endif /* PWRING_GLUE_H */
