/* SPDX-License-Identifier: GPL-2.0 */
/* Private to the C glue: what the kernel side keeps per open file. */
#ifndef PWRING_GLUE_H
#define PWRING_GLUE_H

#include <linux/mm_types.h>
#include <linux/mutex.h>

#include "../core/kapi.h"

struct pwring_table;

struct kapi_file {
	struct file *file;
	struct pwring_table *table;
	/*
	 * A ring mapping is made by setup calling vm_mmap() on this file; the
	 * mmap handler accepts exactly that call and refuses any mmap() that
	 * user space makes on its own. map_lock serialises setups of one file.
	 */
	struct mutex map_lock;
	struct task_struct *map_task;
	struct kapi_mem *map_mem;
};

int pwring_mmap_ring(struct kapi_file *kf, struct vm_area_struct *vma);

/* Poll retries, blocking I/O and completions that must leave IRQ context. */
extern struct workqueue_struct *pwring_wq;

#endif /* PWRING_GLUE_H */
