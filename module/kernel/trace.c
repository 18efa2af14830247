// SPDX-License-Identifier: GPL-2.0
/*
 * The pwring:* tracepoints, defined here, and the kapi_trace_*() calls the
 * core makes. The core calls them only while kapi_trace_users is nonzero,
 * so a ring nobody traces pays one load per event, not a call.
 */
#include <linux/types.h>

#include "glue.h"

#define CREATE_TRACE_POINTS
#include "pwring_trace.h"

int kapi_trace_users;

/*
 * Called under tracepoints_mutex, before an event's first probe is added and
 * after its last is gone: one count for the five events.
 */
int pwring_trace_reg(void)
{
	WRITE_ONCE(kapi_trace_users, kapi_trace_users + 1);
	return 0;
}

void pwring_trace_unreg(void)
{
	WRITE_ONCE(kapi_trace_users, kapi_trace_users - 1);
}

void kapi_trace_submit(unsigned int ring, unsigned int op, unsigned long long data,
		       unsigned int flags, unsigned long long timeout)
{
	trace_pwring_submit(ring, op, data, flags, timeout);
}

void kapi_trace_complete(unsigned int ring, unsigned int op, unsigned long long data,
			 int err, unsigned long long result)
{
	trace_pwring_complete(ring, op, data, err, result);
}

void kapi_trace_cancel(unsigned int ring, unsigned int op, unsigned long long data, int err)
{
	trace_pwring_cancel(ring, op, data, err);
}

void kapi_trace_timeout(unsigned int ring, unsigned int op, unsigned long long data)
{
	trace_pwring_timeout(ring, op, data);
}

void kapi_trace_async(unsigned int ring, unsigned int op, unsigned long long data,
		      unsigned int how)
{
	trace_pwring_async(ring, op, data, how);
}
