// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/pwring: the misc device and its ioctls. Copies arguments in, hands
 * them to the C++ core (module/core/), and nothing else.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mmu_notifier.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/workqueue.h>

#include "glue.h"
#include "../core/pwring_core.h"
#include "../../uapi/pwring.h"

static int pwring_open(struct inode *inode, struct file *file)
{
	struct kapi_file *kf = kzalloc(sizeof(*kf), GFP_KERNEL_ACCOUNT);

	if (!kf)
		return -ENOMEM;
	kf->owner = pwring_owner_create();
	if (!kf->owner) {
		kfree(kf);
		return -ENOMEM;
	}
	kf->table = pwring_owner_table(kf->owner);
	kf->file = file;
	mutex_init(&kf->map_lock);
	file->private_data = kf;
	return nonseekable_open(inode, file);
}

static int pwring_release(struct inode *inode, struct file *file)
{
	struct kapi_file *kf = file->private_data;

	/* Cancels and returns: rings go when their last request completes. */
	pwring_owner_release(kf->owner);
	kfree(kf);
	return 0;
}

/*
 * Arguments are extensible: `size` comes first, anything from the first
 * published size up is accepted, and bytes we do not know must be zero.
 */
static int pwring_copy_args(void *dst, size_t ksize, size_t min,
			    const void __user *src)
{
	u32 usize;

	if (get_user(usize, (const u32 __user *)src))
		return -EFAULT;
	if (usize < min)
		return -EINVAL;
	if (usize > PAGE_SIZE)
		return -E2BIG;
	return copy_struct_from_user(dst, ksize, src, usize);
}

/* ENTER_PACKED: the arguments are the ioctl's argument (see the uapi header). */
static long pwring_enter_packed(struct kapi_file *kf, unsigned long arg)
{
	long ret = pwring_owner_check(kf->owner);
	const struct pwring_enter_args a = {
		.size = sizeof(a),
		.id = arg & PWRING_ENTER_ID_MASK,
		.amount = (arg >> PWRING_ENTER_AMOUNT_SHIFT) & PWRING_ENTER_AMOUNT_MAX,
		.wait = arg >> PWRING_ENTER_WAIT_SHIFT,
	};

	return ret ? ret : pwring_core_enter(kf->table, &a);
}

/* RESTRICT: the entries are copied in here; the core validates them. */
static long pwring_restrict(struct kapi_file *kf, const struct pwring_restrict_args *a)
{
	struct pwring_restriction *e;
	long ret;

	if (a->nentries == 0 || a->nentries > PWRING_RESTRICT_MAX)
		return -EINVAL;
	e = memdup_array_user(u64_to_user_ptr(a->entries), a->nentries, sizeof(*e));
	if (IS_ERR(e))
		return PTR_ERR(e);
	ret = pwring_core_restrict(kf->table, a, e);
	kfree(e);
	return ret;
}

/* The commands whose argument is a struct in user memory. */
static long pwring_ioctl_struct(struct kapi_file *kf, unsigned int nr,
				void __user *uarg)
{
	union {
		struct pwring_setup_args setup;
		struct pwring_enter_args enter;
		struct pwring_teardown_args teardown;
		struct pwring_restrict_args restr;
	} a;
	int ret;

	/* The administrator may refuse setup to some or all (access.c). */
	if (nr == PWRING_IOC_NR_SETUP && !pwring_may_setup())
		return -EPERM;
	/* A ring belongs to the process that set it up: nobody else may touch it. */
	if (nr == PWRING_IOC_NR_SETUP)
		ret = pwring_owner_claim(kf->owner);
	else
		ret = pwring_owner_check(kf->owner);
	if (ret && nr >= PWRING_IOC_NR_SETUP && nr <= PWRING_IOC_NR_RESTRICT)
		return ret;
	switch (nr) {
	case PWRING_IOC_NR_ENTER:
		ret = pwring_copy_args(&a.enter, sizeof(a.enter),
				       PWRING_ENTER_ARGS_SIZE_VER0, uarg);
		return ret ? ret : pwring_core_enter(kf->table, &a.enter);
	case PWRING_IOC_NR_SETUP:
		ret = pwring_copy_args(&a.setup, sizeof(a.setup),
				       PWRING_SETUP_ARGS_SIZE_VER0, uarg);
		return ret ? ret : pwring_core_setup(kf->table, kf, &a.setup);
	case PWRING_IOC_NR_TEARDOWN:
		ret = pwring_copy_args(&a.teardown, sizeof(a.teardown),
				       PWRING_TEARDOWN_ARGS_SIZE_VER0, uarg);
		return ret ? ret : pwring_core_teardown(kf->table, &a.teardown);
	case PWRING_IOC_NR_RESTRICT:
		ret = pwring_copy_args(&a.restr, sizeof(a.restr),
				       PWRING_RESTRICT_ARGS_SIZE_VER0, uarg);
		return ret ? ret : pwring_restrict(kf, &a.restr);
	default:
		return -ENOTTY;
	}
}

static long pwring_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct kapi_file *kf = file->private_data;

	/* The hot command first, without the struct path's stack union. */
	if (cmd == PWRING_IOC_ENTER_PACKED)
		return pwring_enter_packed(kf, arg);
	if (cmd == PWRING_IOC_WORKER) {
		long ret = pwring_owner_check(kf->owner);

		return ret ? ret : pwring_worker_handle(kf->owner);
	}
	if (_IOC_TYPE(cmd) != PWRING_IOC_MAGIC)
		return -ENOTTY;
	return pwring_ioctl_struct(kf, _IOC_NR(cmd), (void __user *)arg);
}

#ifdef CONFIG_COMPAT
/* A 32-bit argument cannot hold the packed ENTER: such callers use the struct. */
static long pwring_compat_ioctl(struct file *file, unsigned int cmd,
				unsigned long arg)
{
	if (cmd == PWRING_IOC_ENTER_PACKED || cmd == PWRING_IOC_WORKER)
		return -ENOTTY;
	return compat_ptr_ioctl(file, cmd, arg);
}
#else
#define pwring_compat_ioctl NULL
#endif

static int pwring_mmap(struct file *file, struct vm_area_struct *vma)
{
	return pwring_mmap_ring(file->private_data, vma);
}

#ifdef CONFIG_PROC_FS
/* fdinfo keys of the request states, indexed by enum pwring_state. */
static const char *const pwring_state_keys[PWRING_ST_COUNT] = {
	[PWRING_ST_LINKED]	= "Linked",
	[PWRING_ST_RUNNING]	= "Running",
	[PWRING_ST_SLEEP]	= "Sleeping",
	[PWRING_ST_POLL]	= "Polling",
	[PWRING_ST_QUEUED]	= "Queued",
	[PWRING_ST_DEFERRED]	= "Deferred",
	[PWRING_ST_DIRECT]	= "Direct",
	[PWRING_ST_PAGES]	= "PageWait",
};

static void pwring_show_ring(struct seq_file *m, const struct pwring_ring_snap *s)
{
	unsigned int i;

	seq_printf(m, "Ring:\t%u\n", s->id);
	seq_printf(m, "SqEntries:\t%u\n", s->sentries);
	seq_printf(m, "CqEntries:\t%u\n", s->centries);
	seq_printf(m, "SqHead:\t%u\n", s->shead);
	seq_printf(m, "SqTail:\t%u\n", s->stail);
	seq_printf(m, "CqHead:\t%u\n", s->chead);
	seq_printf(m, "CqTail:\t%u\n", s->ctail);
	seq_puts(m, "Regs:\t");
	for (i = 0; i < PWRING_REGS_MAX; i++)
		seq_printf(m, i ? " %llu" : "%llu", s->regs[i]);
	seq_putc(m, '\n');
	seq_printf(m, "Inflight:\t%u\n", s->inflight);
	for (i = 0; i < PWRING_ST_COUNT; i++)
		seq_printf(m, "%s:\t%u\n", pwring_state_keys[i], s->states[i]);
	seq_printf(m, "OldestNs:\t%llu\n", s->oldest_ns);
	for (i = 0; i < PWRING_STAT_OPS; i++)
		seq_printf(m, "Op.%s:\tsubmitted %llu completed %llu errors %llu\n",
			   i < PWRING_OP_MAX ? pwring_core_op_name(i) : "invalid",
			   s->submitted[i], s->completed[i], s->errors[i]);
}

/*
 * /proc/<pid>/fdinfo/<fd>: a block per ring. The core copies each ring's
 * numbers under its table lock (never sleeping); printing happens after.
 * The open file holds the owner, and with it the table, for the call.
 */
static void pwring_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct kapi_file *kf = file->private_data;
	struct pwring_ring_snap s;
	u32 id;

	for (id = 0; id < PWRING_MAX_RINGS; id++)
		if (!pwring_core_snapshot(kf->table, id, &s))
			pwring_show_ring(m, &s);
}
#endif

static const struct file_operations pwring_fops = {
	.owner		= THIS_MODULE,
	.open		= pwring_open,
	.release	= pwring_release,
	.unlocked_ioctl	= pwring_ioctl,
	.compat_ioctl	= pwring_compat_ioctl,
	.mmap		= pwring_mmap,
#ifdef CONFIG_PROC_FS
	.show_fdinfo	= pwring_show_fdinfo,
#endif
};

static struct miscdevice pwring_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= PWRING_DEVICE_NAME,
	.fops	= &pwring_fops,
	.mode	= 0666,
};

static int __init pwring_init(void)
{
	int ret;

	pwring_limits_init();
	/*
	 * Requests run in threads of their owners (owner.c). This queue only
	 * frees idle rings and finishes what cancellation left of the
	 * requests of owners that are gone: short items that never block.
	 */
	pwring_wq = alloc_workqueue("pwring", WQ_UNBOUND, 0);
	if (!pwring_wq)
		return -ENOMEM;
	ret = misc_register(&pwring_misc);
	if (ret)
		destroy_workqueue(pwring_wq);
	return ret;
}

static void __exit pwring_exit(void)
{
	misc_deregister(&pwring_misc);
	/* Owners freed after an SRCU grace period (their mmu_notifier). */
	mmu_notifier_synchronize();
	destroy_workqueue(pwring_wq);
}

module_init(pwring_init);
module_exit(pwring_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("PatchworkOS I/O ring for Linux");
