// SPDX-License-Identifier: MIT
/*
 * stress: many requests, every CQE accounted for. 100,000 timeout-0 NOPs in
 * batches, reaped as they come, each identified by its data (a sequence
 * number) and seen exactly once; then 20,000 NOPs with scattered short
 * timeouts through a small completion queue; then 10,000 hardlinked pairs,
 * the second of each pair completing after the first.
 */
#include "common.h"

struct run {
	const char *name;
	size_t total;        /* NOPs to submit */
	size_t sentries, centries;
	uint64_t max_timeout; /* ns; timeouts spread over [0, max_timeout] */
	bool pairs;          /* hardlink 2k to 2k+1; one whole SQ per enter, waited for */
};

struct result {
	size_t completed, dupes, unknown, wrong_error, misordered, enter_errors;
	uint32_t ctail;
	bool teardown;
};

static uint64_t timeout_of(const struct run *r, size_t seq)
{
	if (!r->max_timeout)
		return 0;
	return (seq * 2654435761u) % (r->max_timeout + 1);
}

static void drive(const struct run *r, struct result *res)
{
	unsigned char *seen = calloc(r->total, 1);
	size_t next = 0;
	ioring_t ring;
	cqe_t cqe;
	sqe_t sqe;

	memset(res, 0, sizeof(*res));
	if (!seen)
		tap_bail("out of memory");
	if (ioring_setup(&ring, NULL, r->sentries, r->centries) == ERR)
		tap_bail("ioring_setup(%zu, %zu): %s", r->sentries, r->centries, strerror(errno));

	while (res->completed < r->total) {
		/* Fill the SQ; pairs go in whole. */
		while (next < r->total && ioring_sq_space(&ring) >= (r->pairs ? 2u : 1u)) {
			sqe_prep_nop(&sqe, timeout_of(r, next), (void *)(uintptr_t)next);
			if (r->pairs && next % 2 == 0)
				sqe_set_hardlink(&sqe);
			sqe_push(&ring, &sqe);
			next++;
		}
		if (r->pairs) {
			/*
			 * A pair must not be split between two enter calls (the
			 * chain would end with the first): with centries twice
			 * sentries and everything reaped, a whole SQ is admitted.
			 */
			size_t queued = ring.sentries - ioring_sq_space(&ring);

			if (ioring_enter(ring.id, queued, queued) != queued)
				res->enter_errors++;
		} else if (ioring_enter(ring.id, ring.sentries, 0) == ERR) {
			if (errno != EBUSY)
				res->enter_errors++;
			/* Backpressure: wait for something to reap. */
			if (ioring_enter(ring.id, 0, 1) == ERR) {
				tap_diag("enter(0, 1) after EBUSY: %s (completed %zu)", strerror(errno),
					 res->completed);
				res->enter_errors++;
				break;
			}
		}
		while (cqe_pop(&ring, &cqe)) {
			uintptr_t seq = cqe_data(&cqe);

			res->completed++;
			if (seq >= r->total) {
				res->unknown++;
				continue;
			}
			if (seen[seq]++)
				res->dupes++;
			if (cqe.error != ETIMEDOUT || cqe.op != IO_OP_NOP)
				res->wrong_error++;
			if (r->pairs && seq % 2 == 1 && !seen[seq - 1])
				res->misordered++;
		}
		if (res->enter_errors > 100)
			break;
	}
	res->ctail = ring.ctrl->ctail;
	res->teardown = ioring_teardown(ring.id) == 0;
	free(seen);
}

static void report(const struct run *r, const struct result *res)
{
	size_t missing = r->total > res->completed ? r->total - res->completed : 0;

	tap_ok(res->completed == r->total && !res->dupes && !res->unknown && !missing,
	       "%s: %zu CQEs for %zu NOPs, each seen exactly once", r->name, res->completed,
	       r->total);
	if (!TAP_LAST)
		tap_diag("duplicates %zu, unknown data %zu, missing %zu", res->dupes, res->unknown,
			 missing);
	tap_ok(!res->wrong_error && !res->enter_errors, "%s: all ETIMEDOUT, no enter errors", r->name);
	if (!TAP_LAST)
		tap_diag("wrong error %zu, enter errors %zu", res->wrong_error, res->enter_errors);
	tap_ok(res->ctail == (uint32_t)r->total && res->teardown, "%s: ctail = %zu, teardown ok",
	       r->name, r->total);
	if (r->pairs)
		tap_ok(!res->misordered, "%s: no second of a pair before its first (%zu)", r->name,
		       res->misordered);
}

int main(void)
{
	static const struct run runs[] = {
		{ "100k NOPs", 100000, 256, 256, 0, false },
		{ "20k timed NOPs", 20000, 64, 16, 2 * NSEC_PER_MSEC, false },
		{ "10k hardlinked pairs", 20000, 128, 256, 0, true },
	};
	struct result res;
	uint64_t t0;
	size_t i;

	require_device();
	tap_plan(3 + 3 + 4);
	for (i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		t0 = now_ns();
		drive(&runs[i], &res);
		tap_diag("%s took %.3f s", runs[i].name, (now_ns() - t0) / 1e9);
		report(&runs[i], &res);
	}
	return tap_done();
}
