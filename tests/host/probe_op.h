/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Test-only ops, linked into the host test binary without touching the core:
 * the link uses -Wl,--wrap on pw::op_lookup_beyond(), which the core calls
 * for opcodes outside the ABI, so these three extra opcodes reach
 * probe_op.cpp.
 *
 * PROBE_OP_SYNC   records its SQE as dispatched (after register loads) and
 *                 completes during its issue: error = arg2, result = arg1.
 * PROBE_OP_QUEUED records its SQE, pushes a frame and arms its cancellation
 *                 slot; it completes when a test calls probe_complete(), or
 *                 by timeout / cancellation like any queued op.
 * PROBE_OP_TASK   like PROBE_OP_SYNC, but declared needs_task (like READ,
 *                 WRITE and POLL): a successor of an asynchronous completion
 *                 is deferred to the next enter.
 *
 * Records are kept in dispatch order. Plain C types: the test files cannot
 * include the core's headers together with the standard library.
 */
#ifndef PWRING_PROBE_OP_H
#define PWRING_PROBE_OP_H

#ifdef __cplusplus
extern "C" {
#endif

#define PROBE_OP_SYNC	0x7e57u
#define PROBE_OP_QUEUED	0x7e58u
#define PROBE_OP_TASK	0x7e59u

struct probe_record {
	unsigned long long timeout, data;
	unsigned int op, flags;
	unsigned long long args[5];	/* as the op saw them, after register loads */
	unsigned int ctail_at_issue;	/* ctail read at issue (probe_watch_ctail) */
	unsigned int serial;
	unsigned int frames_run;	/* times its frame ran (queued probes) */
	unsigned int ctx_at_issue;	/* fake::Ctx of the issuing thread */
};

/* fake::Ctx of the calling thread (fake_kapi.cpp), for the probes. */
int fake_context(void);

void probe_reset(void);
/* While set, each issue records the ctail word at this address (acquire). */
void probe_watch_ctail(const unsigned int *ctail);
unsigned int probe_count(void);
int probe_get(unsigned int i, struct probe_record *out);
/*
 * Completes queued record i with (err, result) if it is still pending and
 * the op wins the race against timeout and cancellation: 1 if it did, 0 if
 * someone else completed it first. Safe from any thread, also while the ring
 * is being released (a record is dead once its packet left the op).
 */
int probe_complete(unsigned int i, int err, unsigned long long result);
/* Frames run (one per queued probe that completed, whoever completed it). */
unsigned int probe_frames_run(void);
/* CancelFn calls (one per queued probe that a timeout or cancellation took). */
unsigned int probe_cancels(void);

#ifdef __cplusplus
}
#endif

#endif /* PWRING_PROBE_OP_H */
