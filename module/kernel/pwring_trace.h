/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The pwring:* tracepoints. The core reaches them through the kapi_trace_*()
 * wrappers in trace.c (the one file that defines them, CREATE_TRACE_POINTS);
 * docs/observability.md describes the events and their fields.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM pwring

#if !defined(PWRING_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define PWRING_TRACE_H

#include <linux/tracepoint.h>

#include "../core/pwring_core.h"

/* Keep kapi_trace_users, the core's inline test (trace.c). */
int pwring_trace_reg(void);
void pwring_trace_unreg(void);

/* User space tools decode the symbolic fields with these values. */
TRACE_DEFINE_ENUM(PWRING_ST_SLEEP);
TRACE_DEFINE_ENUM(PWRING_ST_POLL);
TRACE_DEFINE_ENUM(PWRING_ST_QUEUED);
TRACE_DEFINE_ENUM(PWRING_ST_DEFERRED);
TRACE_DEFINE_ENUM(PWRING_ST_DIRECT);
TRACE_DEFINE_ENUM(PWRING_ST_PAGES);

#define pwring_show_op(op)					\
	__print_symbolic(op,					\
		{ PWRING_OP_NOP,	"NOP" },		\
		{ PWRING_OP_READ,	"READ" },		\
		{ PWRING_OP_WRITE,	"WRITE" },		\
		{ PWRING_OP_POLL,	"POLL" })

#define pwring_show_reason(r)					\
	__print_symbolic(r,					\
		{ PWRING_ST_SLEEP,	"sleep" },		\
		{ PWRING_ST_POLL,	"poll" },		\
		{ PWRING_ST_QUEUED,	"queued" },		\
		{ PWRING_ST_DEFERRED,	"deferred" },		\
		{ PWRING_ST_DIRECT,	"direct" },		\
		{ PWRING_ST_PAGES,	"pages" })

/* An SQE admitted by enter: its packet is on its way. */
TRACE_EVENT_FN(pwring_submit,
	       TP_PROTO(unsigned int ring, unsigned int op, u64 user_data,
			unsigned int flags, u64 timeout),
	       TP_ARGS(ring, op, user_data, flags, timeout),
	       TP_STRUCT__entry(__field(unsigned int, ring)
				__field(unsigned int, op)
				__field(u64, user_data)
				__field(unsigned int, flags)
				__field(u64, timeout)),
	       TP_fast_assign(__entry->ring = ring;
			      __entry->op = op;
			      __entry->user_data = user_data;
			      __entry->flags = flags;
			      __entry->timeout = timeout;),
	       TP_printk("ring %u op %s user_data 0x%llx flags 0x%x timeout %llu",
			 __entry->ring, pwring_show_op(__entry->op),
			 __entry->user_data, __entry->flags, __entry->timeout),
	       pwring_trace_reg, pwring_trace_unreg
);

/* Its CQE: the error (0 or a positive errno) and the result. */
TRACE_EVENT_FN(pwring_complete,
	       TP_PROTO(unsigned int ring, unsigned int op, u64 user_data,
			int error, u64 result),
	       TP_ARGS(ring, op, user_data, error, result),
	       TP_STRUCT__entry(__field(unsigned int, ring)
				__field(unsigned int, op)
				__field(u64, user_data)
				__field(int, error)
				__field(u64, result)),
	       TP_fast_assign(__entry->ring = ring;
			      __entry->op = op;
			      __entry->user_data = user_data;
			      __entry->error = error;
			      __entry->result = result;),
	       TP_printk("ring %u op %s user_data 0x%llx error %d result %llu",
			 __entry->ring, pwring_show_op(__entry->op),
			 __entry->user_data, __entry->error, __entry->result),
	       pwring_trace_reg, pwring_trace_unreg
);

/* Close, exit or teardown cancels a request in flight (error: ECANCELED). */
TRACE_EVENT_FN(pwring_cancel,
	       TP_PROTO(unsigned int ring, unsigned int op, u64 user_data,
			int error),
	       TP_ARGS(ring, op, user_data, error),
	       TP_STRUCT__entry(__field(unsigned int, ring)
				__field(unsigned int, op)
				__field(u64, user_data)
				__field(int, error)),
	       TP_fast_assign(__entry->ring = ring;
			      __entry->op = op;
			      __entry->user_data = user_data;
			      __entry->error = error;),
	       TP_printk("ring %u op %s user_data 0x%llx error %d",
			 __entry->ring, pwring_show_op(__entry->op),
			 __entry->user_data, __entry->error),
	       pwring_trace_reg, pwring_trace_unreg
);

/* A request's deadline expired while it was in flight (it completes ETIMEDOUT). */
TRACE_EVENT_FN(pwring_timeout,
	       TP_PROTO(unsigned int ring, unsigned int op, u64 user_data),
	       TP_ARGS(ring, op, user_data),
	       TP_STRUCT__entry(__field(unsigned int, ring)
				__field(unsigned int, op)
				__field(u64, user_data)),
	       TP_fast_assign(__entry->ring = ring;
			      __entry->op = op;
			      __entry->user_data = user_data;),
	       TP_printk("ring %u op %s user_data 0x%llx",
			 __entry->ring, pwring_show_op(__entry->op),
			 __entry->user_data),
	       pwring_trace_reg, pwring_trace_unreg
);

/* The request goes asynchronous: where it waits, or who runs it next. */
TRACE_EVENT_FN(pwring_async,
	       TP_PROTO(unsigned int ring, unsigned int op, u64 user_data,
			unsigned int reason),
	       TP_ARGS(ring, op, user_data, reason),
	       TP_STRUCT__entry(__field(unsigned int, ring)
				__field(unsigned int, op)
				__field(u64, user_data)
				__field(unsigned int, reason)),
	       TP_fast_assign(__entry->ring = ring;
			      __entry->op = op;
			      __entry->user_data = user_data;
			      __entry->reason = reason;),
	       TP_printk("ring %u op %s user_data 0x%llx reason %s",
			 __entry->ring, pwring_show_op(__entry->op),
			 __entry->user_data, pwring_show_reason(__entry->reason)),
	       pwring_trace_reg, pwring_trace_unreg
);

#endif /* PWRING_TRACE_H */

/* Out of tree: define_trace.h finds this file through its -I in Kbuild. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE pwring_trace
#include <trace/define_trace.h>
