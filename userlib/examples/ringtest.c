// SPDX-License-Identifier: MIT
/*
 * ringtest - PatchworkOS's ring test, on Linux: two one-second NOPs, the first
 * hardlinked to the second, submitted and waited for with one
 * ioring_enter(id, 2, 2). Both time out, about one second apart.
 *
 * Exit status 0 when everything matches, 1 otherwise. Timing is judged with a
 * slack of PWRING_SLACK_MS (default 500) per sleep after each deadline;
 * nothing may ever complete before its deadline.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ringtest.h"

static int failures;

static void check(int ok, const char *what)
{
	if (!ok) {
		printf("  FAILED: %s\n", what);
		failures++;
	}
}

static double secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

int main(void)
{
	const char *env = getenv("PWRING_SLACK_MS");
	uint64_t slack = (env && atoi(env) > 0 ? (uint64_t)atoi(env) : 500) * IORING_NSEC_PER_MSEC;
	struct ringtest_result r;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ringtest: the PatchworkOS ring test on Linux (pwring)\n");
	printf("  two NOPs sleeping %.3f s each; the first is hardlinked and saves its result\n"
	       "  into register 0, the second is linked; one ioring_enter(id, 2, 2)\n",
	       secs(RINGTEST_TIMEOUT));
	if (ringtest_run(&r)) {
		printf("  %s: %s\nringtest: FAIL\n", r.failed, strerror(r.error));
		return 1;
	}
	printf("  ring %llu: ioring_enter consumed %llu SQEs, returned after %.3f s\n",
	       (unsigned long long)r.id, (unsigned long long)r.consumed, secs(r.enter_ns));
	check(r.consumed == 2, "enter consumed both SQEs");
	check(r.ncqes == 2, "two CQEs are there when enter returns");
	check(r.enter_ns >= 2 * RINGTEST_TIMEOUT, "enter waited for both sleeps");

	for (i = 0; i < r.ncqes; i++) {
		const cqe_t *c = &r.cqes[i];

		printf("  CQE %zu: op %u, error %s, data %lu, result %llu, seen at %.3f s", i + 1,
		       c->op, c->error == ETIMEDOUT ? "ETIMEDOUT" : strerror(c->error),
		       (unsigned long)(uintptr_t)c->data, (unsigned long long)c->_result,
		       secs(r.seen_ns[i]));
		if (i)
			printf(" (%.3f s after the first)", secs(r.seen_ns[i] - r.seen_ns[i - 1]));
		printf("\n");
		check(c->op == IO_OP_NOP, "the CQE's op is NOP");
		check(c->error == ETIMEDOUT, "the NOP timed out");
		check((uintptr_t)c->data == i + 1, "the CQEs come in submission order");
	}
	if (r.ncqes == 2) {
		check(r.seen_ns[0] >= RINGTEST_TIMEOUT, "the first NOP slept a full second");
		check(r.seen_ns[0] <= RINGTEST_TIMEOUT + slack, "the first NOP woke in time");
		check(r.seen_ns[1] >= 2 * RINGTEST_TIMEOUT,
		      "the second NOP started only after the first completed");
		check(r.seen_ns[1] <= 2 * (RINGTEST_TIMEOUT + slack), "the second NOP woke in time");
	}
	printf("  register 0: %llu (preset to %#llx)\n", (unsigned long long)r.reg0,
	       (unsigned long long)RINGTEST_REG0_MARKER);
	check(r.reg0 == 0, "the first NOP saved its result (0) into register 0");

	printf("ringtest: %s\n", failures ? "FAIL" : "PASS");
	return failures ? 1 : 0;
}
