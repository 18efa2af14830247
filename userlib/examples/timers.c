// SPDX-License-Identifier: MIT
/*
 * timers - independent timers on one ring. NOPs are PatchworkOS's sleep: each
 * completes with ETIMEDOUT when its timeout runs out. Five of them, submitted
 * together in a shuffled order, complete in the order of their deadlines; the
 * program waits for them one at a time with ioring_enter(id, 0, 1), which
 * waits without submitting anything (pwring lets amount be 0 when waiting).
 *
 * Usage: timers [MILLISECONDS...]   (default: 400 100 300 0 200)
 * Exit status 0 when every timer fired, in deadline order, never early.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/ioring.h>

#define MAX_TIMERS 64

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * IORING_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	static const char *const defaults[] = { "400", "100", "300", "0", "200" };
	uint64_t timeout[MAX_TIMERS], start, at, last = 0, last_deadline = 0;
	size_t n = argc > 1 ? (size_t)argc - 1 : 5, done = 0, i;
	int failures = 0;
	ioring_t ring;
	ioring_id_t id;
	sqe_t sqe;
	cqe_t cqe;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (n > MAX_TIMERS) {
		fprintf(stderr, "timers: at most %d timers\n", MAX_TIMERS);
		return 2;
	}
	for (i = 0; i < n; i++)
		timeout[i] = strtoull(argc > 1 ? argv[i + 1] : defaults[i], NULL, 10) *
			     IORING_NSEC_PER_MSEC;

	id = ioring_setup(&ring, NULL, MAX_TIMERS, MAX_TIMERS);
	if (id == ERR) {
		fprintf(stderr, "timers: ioring_setup: %s\n", strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		/* data: the timer's index; no registers, no links */
		sqe_prep_nop(&sqe, timeout[i], (void *)(uintptr_t)i);
		sqe_push(&ring, &sqe);
	}
	printf("timers: %zu NOPs on ring %llu, submitted together\n", n, (unsigned long long)id);
	start = now_ns();
	if (ioring_enter(id, n, 0) != n) {
		fprintf(stderr, "timers: ioring_enter: %s\n", strerror(errno));
		return 1;
	}

	while (done < n) {
		if (!cqe_pop(&ring, &cqe)) {
			if (ioring_enter(id, 0, 1) == ERR && errno != EINTR) {
				fprintf(stderr, "timers: ioring_enter (wait): %s\n", strerror(errno));
				return 1;
			}
			continue;
		}
		at = now_ns() - start;
		i = (size_t)(uintptr_t)cqe.data;
		if (i >= n) {
			printf("  FAILED: a CQE with unknown data %zu\n", i);
			return 1;
		}
		printf("  timer %zu (%4llu ms): %s after %8.3f ms\n", i,
		       (unsigned long long)(timeout[i] / IORING_NSEC_PER_MSEC),
		       cqe.error == ETIMEDOUT ? "fired" : strerror(cqe.error), at / 1e6);
		if (cqe.error != ETIMEDOUT || at < timeout[i] || timeout[i] < last_deadline) {
			printf("    FAILED: expected ETIMEDOUT, not before its deadline, in order\n");
			failures++;
		}
		last_deadline = timeout[i];
		last = at;
		done++;
	}
	printf("timers: all %zu fired within %.3f ms: %s\n", n, last / 1e6,
	       failures ? "FAIL" : "PASS");
	ioring_teardown(id);
	return failures ? 1 : 0;
}
