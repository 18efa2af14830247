// SPDX-License-Identifier: GPL-2.0
/*
 * The pwring:* tracepoints, defined here, and the kapi_trace_*() calls the
 * core makes. A disabled tracepoint costs the call and one static branch.
 */
#include <linux/types.h>

#include "glue.h"

#define CREATE_TRACE_POINTS
#include "pwring_trace.h"

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
