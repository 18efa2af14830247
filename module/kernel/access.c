// SPDX-License-Identifier: GPL-2.0
/*
 * Who may set up rings: the module parameters `disabled` and `group`, with
 * the meaning of the sysctls kernel.io_uring_disabled and
 * kernel.io_uring_group.
 *
 *   disabled=0  anyone (the default)
 *   disabled=1  members of `group` and holders of CAP_SYS_ADMIN
 *   disabled=2  nobody, not even CAP_SYS_ADMIN
 *
 * `group` is a gid in the initial user namespace; -1 (the default) names no
 * group. Root changes both at run time under /sys/module/pwring/parameters/.
 * Only setup is refused (EPERM): open() succeeds whatever the setting, as
 * io_uring has no open and refuses io_uring_setup(); rings set up before a
 * change keep working.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include <linux/uidgid.h>

#include "glue.h"

static int pwring_disabled;
static int pwring_group = -1;

static int pwring_set_ranged(const char *val, const struct kernel_param *kp,
			     int min, int max)
{
	int v, ret = kstrtoint(val, 0, &v);

	if (ret)
		return ret;
	if (v < min || v > max)
		return -EINVAL;
	WRITE_ONCE(*(int *)kp->arg, v);
	return 0;
}

static int pwring_set_disabled(const char *val, const struct kernel_param *kp)
{
	return pwring_set_ranged(val, kp, 0, 2);
}

static int pwring_set_group(const char *val, const struct kernel_param *kp)
{
	return pwring_set_ranged(val, kp, -1, INT_MAX);
}

static const struct kernel_param_ops pwring_disabled_ops = {
	.set = pwring_set_disabled,
	.get = param_get_int,
};

static const struct kernel_param_ops pwring_group_ops = {
	.set = pwring_set_group,
	.get = param_get_int,
};

module_param_cb(disabled, &pwring_disabled_ops, &pwring_disabled, 0644);
MODULE_PARM_DESC(disabled, "0: anyone may set up rings; 1: only `group` and CAP_SYS_ADMIN; 2: nobody");
module_param_cb(group, &pwring_group_ops, &pwring_group, 0644);
MODULE_PARM_DESC(group, "gid allowed to set up rings when disabled=1 (-1: none)");

bool pwring_may_setup(void)
{
	int disabled = READ_ONCE(pwring_disabled);
	kgid_t gid;

	if (disabled == 0)
		return true;
	if (disabled == 2)
		return false;
	if (capable(CAP_SYS_ADMIN))
		return true;
	gid = make_kgid(&init_user_ns, READ_ONCE(pwring_group));
	return gid_valid(gid) && in_group_p(gid);
}
