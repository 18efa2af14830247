/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Entry points of the C++ core, called by the kernel glue (main.c) with
 * arguments already copied from user space. They return a value >= 0 or a
 * negative errno, the ioctl convention.
 */
#ifndef PWRING_CORE_H
#define PWRING_CORE_H

/* The core includes it through base.h first, with its own integer types. */
#include "../../uapi/pwring.h"

#ifdef __cplusplus
extern "C" {
#endif

struct kapi_file;
struct pwring_setup_args;
struct pwring_enter_args;
struct pwring_teardown_args;
struct pwring_restrict_args;
struct pwring_restriction;
struct pwring_table;

struct pwring_table *pwring_core_open(void);
/*
 * Last close or owner exit: cancels everything in flight and frees every
 * ring, at once if idle, else when its last request completes. Once only.
 */
void pwring_core_shutdown(struct pwring_table *t);
/* After shutdown, when nothing refers to the table any more. */
void pwring_core_free(struct pwring_table *t);
long pwring_core_setup(struct pwring_table *t, struct kapi_file *f,
		       const struct pwring_setup_args *a);
long pwring_core_enter(struct pwring_table *t, const struct pwring_enter_args *a);
long pwring_core_teardown(struct pwring_table *t, const struct pwring_teardown_args *a);
/* `entries`: a->nentries entries (at most PWRING_RESTRICT_MAX), copied in by the caller. */
long pwring_core_restrict(struct pwring_table *t, const struct pwring_restrict_args *a,
			  const struct pwring_restriction *entries);

/*
 * Where a request in flight is (fdinfo; the same values are the `how` of
 * the pwring_async tracepoint, from PWRING_ST_SLEEP on).
 */
enum pwring_state {
	PWRING_ST_LINKED,	/* admitted, waiting for its predecessor in a chain */
	PWRING_ST_RUNNING,	/* being issued, retried or finished by a thread */
	PWRING_ST_SLEEP,	/* a NOP waiting for its timeout */
	PWRING_ST_POLL,		/* parked on a file's wait queue */
	PWRING_ST_QUEUED,	/* queued: for a worker (or run by one), task work or enter */
	PWRING_ST_DEFERRED,	/* a successor waiting for the submitter's next enter */
	PWRING_ST_DIRECT,	/* direct I/O: the device has it */
	PWRING_ST_PAGES,	/* a buffered read waiting for pages being read in */
	PWRING_ST_COUNT
};

/* Per-op counters: one slot per opcode, then one for invalid opcodes. */
#define PWRING_STAT_OPS		5

/* What fdinfo prints about one ring: a snapshot, not an atomic one. */
struct pwring_ring_snap {
	__u32 id;
	__u32 sentries, centries;
	__u32 shead, stail, chead, ctail;	/* as the shared page has them */
	__u32 inflight;				/* admitted, no CQE yet */
	__u32 states[PWRING_ST_COUNT];		/* inflight, by state */
	__u32 dying;				/* shut down, not freed yet */
	__u64 regs[PWRING_REGS_MAX];
	__u64 submitted[PWRING_STAT_OPS];	/* SQEs admitted */
	__u64 completed[PWRING_STAT_OPS];	/* CQEs posted */
	__u64 errors[PWRING_STAT_OPS];		/* CQEs posted with an error */
	__u64 oldest_ns;			/* age of the oldest in flight, 0 if none */
};

/*
 * Any context that may spin (fdinfo): fills *s for ring `id` and returns 0,
 * or -ENOENT if there is no such ring. Never sleeps; the ring cannot be
 * freed meanwhile.
 */
long pwring_core_snapshot(struct pwring_table *t, __u32 id, struct pwring_ring_snap *s);
/* Name of an opcode for fdinfo and the tracepoints ("?" beyond the ABI). */
const char *pwring_core_op_name(__u32 op);

#ifdef __cplusplus
}
#endif

#endif /* PWRING_CORE_H */
