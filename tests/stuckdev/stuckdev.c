// SPDX-License-Identifier: GPL-2.0
/*
 * stuckdev: a test-only character device, /dev/pwring-stuck, whose read(2)
 * sleeps uninterruptibly until released. The pwring selftests use it to park
 * a request in a worker that no signal, timeout or cancellation can wake
 * (spec section 5: "nobody waits for someone else's I/O").
 *
 *   read(2)    while the gate is closed (as at load), sleeps in
 *              TASK_UNINTERRUPTIBLE (TASK_KILLABLE when the module parameter
 *              `killable` is 1) until it opens, then returns 0 (end of file);
 *              -EINTR when a killable sleep is broken by a fatal signal.
 *              With the gate open it returns 0 at once. With O_NONBLOCK and
 *              the gate closed: -EAGAIN.
 *   ioctl(STUCKDEV_IOC_RELEASE), or write(2) of anything but "arm": opens
 *              the gate, waking every sleeper; later reads do not sleep.
 *   ioctl(STUCKDEV_IOC_ARM), or write(2) of "arm": closes the gate again.
 *   /sys/module/stuckdev/parameters/sleeping   readers asleep right now
 *   /sys/module/stuckdev/parameters/woken      readers released so far
 *
 * The device has no poll method on purpose: a ring must hand a read of it
 * to a worker. Never load it outside tests.
 */
#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#define STUCKDEV_IOC_RELEASE _IO('S', 1)
#define STUCKDEV_IOC_ARM _IO('S', 2)

static DECLARE_WAIT_QUEUE_HEAD(stuck_wq);
static bool stuck_open_gate;
static atomic_t stuck_sleeping = ATOMIC_INIT(0);
static atomic_t stuck_woken = ATOMIC_INIT(0);

static bool killable;
module_param(killable, bool, 0644);
MODULE_PARM_DESC(killable, "sleep in TASK_KILLABLE instead of TASK_UNINTERRUPTIBLE");

static int stuck_get_atomic(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read((atomic_t *)kp->arg));
}

static const struct kernel_param_ops stuck_counter_ops = {
	.get = stuck_get_atomic,
};
module_param_cb(sleeping, &stuck_counter_ops, &stuck_sleeping, 0444);
MODULE_PARM_DESC(sleeping, "readers asleep now");
module_param_cb(woken, &stuck_counter_ops, &stuck_woken, 0444);
MODULE_PARM_DESC(woken, "readers released so far");

static void stuck_release_all(void)
{
	WRITE_ONCE(stuck_open_gate, true);
	wake_up_all(&stuck_wq);
}

static void stuck_arm(void)
{
	WRITE_ONCE(stuck_open_gate, false);
}

static ssize_t stuck_read(struct file *file, char __user *buf, size_t len, loff_t *pos)
{
	int ret = 0;

	if (READ_ONCE(stuck_open_gate))
		return 0;
	if (file->f_flags & O_NONBLOCK)
		return -EAGAIN;
	atomic_inc(&stuck_sleeping);
	if (READ_ONCE(killable))
		ret = wait_event_killable(stuck_wq, READ_ONCE(stuck_open_gate));
	else
		wait_event(stuck_wq, READ_ONCE(stuck_open_gate));
	atomic_dec(&stuck_sleeping);
	if (ret)
		return -EINTR;
	atomic_inc(&stuck_woken);
	return 0;
}

static ssize_t stuck_write(struct file *file, const char __user *buf, size_t len, loff_t *pos)
{
	char word[4] = "";

	if (len == 3 && copy_from_user(word, buf, 3) == 0 && memcmp(word, "arm", 3) == 0)
		stuck_arm();
	else
		stuck_release_all();
	return len;
}

static long stuck_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case STUCKDEV_IOC_RELEASE:
		stuck_release_all();
		return 0;
	case STUCKDEV_IOC_ARM:
		stuck_arm();
		return 0;
	}
	return -ENOTTY;
}

static const struct file_operations stuck_fops = {
	.owner = THIS_MODULE,
	.read = stuck_read,
	.write = stuck_write,
	.unlocked_ioctl = stuck_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice stuck_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pwring-stuck",
	.fops = &stuck_fops,
	.mode = 0666,
};

static int __init stuck_init(void)
{
	return misc_register(&stuck_misc);
}

static void __exit stuck_exit(void)
{
	/* Open files hold the module: nobody can be asleep here. */
	misc_deregister(&stuck_misc);
}

module_init(stuck_init);
module_exit(stuck_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("pwring selftests: a device whose read sleeps until released");
