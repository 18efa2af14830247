/* SPDX-License-Identifier: MIT */
/*
 * tap.h - the pwring selftests' reporting calls, a thin layer over the
 * kernel's kselftest.h (tools/testing/selftests/kselftest.h): the output is
 * kselftest's own TAP 13, its counters and its exit codes.
 *
 *   tap_plan(n);                       ksft_print_header(), ksft_set_plan(n)
 *   tap_ok(cond, "desc %d", x);        "ok N desc" / "not ok N desc"
 *   tap_diag("...");                   "# ..." (after a result: its diagnostics)
 *   tap_skip("reason", "desc");        "ok N # SKIP desc: reason"
 *   tap_skip_all("reason");            "1..0 # SKIP reason", exit 4
 *   tap_bail("reason");                "Bail out! reason", totals, exit 1
 *   return tap_done();                 totals; 0 pass, 1 fail, 4 all skipped
 *
 * EXPECT_ERRNO(call, E, desc...) passes when `call` returns ERR (or -1) with
 * errno E; EXPECT_EQ(call, v, desc...) when it returns v. Both print what they
 * got on failure and evaluate to nothing; TAP_LAST is the last verdict.
 *
 * Programs written with kselftest_harness.h include it before this file: the
 * harness has EXPECT_EQ of its own, so the two macros above are not defined
 * then (and tap_ok() must not be called from a harness TEST: the harness
 * prints one result per TEST).
 */
#ifndef PWRING_SELFTEST_TAP_H
#define PWRING_SELFTEST_TAP_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kselftest.h"

static int tap_last, tap_header_done;
#define TAP_LAST tap_last

__attribute__((format(printf, 1, 0)))
static inline void tap_vdiag(const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	ksft_print_msg("%s\n", line);
}

__attribute__((format(printf, 1, 2)))
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vdiag(fmt, ap);
	va_end(ap);
}

static inline void tap_header(void)
{
	if (!tap_header_done)
		ksft_print_header();
	tap_header_done = 1;
}

static inline void tap_plan(unsigned int n)
{
	tap_header();
	ksft_set_plan(n);
}

__attribute__((noreturn))
static inline void tap_skip_all(const char *reason)
{
	tap_header();
	ksft_exit_skip("%s\n", reason);
}

/* One result; the description is formatted here, kselftest prints it. */
__attribute__((format(printf, 2, 0)))
static inline int tap_vresult(int cond, const char *fmt, va_list ap)
{
	char desc[512];

	vsnprintf(desc, sizeof(desc), fmt, ap);
	if (cond)
		ksft_test_result_pass("%s\n", desc);
	else
		ksft_test_result_fail("%s\n", desc);
	tap_last = !!cond;
	return tap_last;
}

__attribute__((format(printf, 2, 3)))
static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = tap_vresult(cond, fmt, ap);
	va_end(ap);
	return ret;
}

__attribute__((format(printf, 2, 3)))
static inline void tap_skip(const char *reason, const char *fmt, ...)
{
	char desc[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	ksft_test_result_skip("%s: %s\n", desc, reason);
}

/* Stop here: a precondition of the remaining tests failed (exit 1). */
__attribute__((noreturn, format(printf, 1, 2)))
static inline void tap_bail(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fflush(stdout);
	ksft_exit_fail_msg("%s\n", line);
}

/*
 * Exit code for main(): the totals line, then KSFT_FAIL when a case failed or
 * the plan was not followed, KSFT_SKIP when every case skipped.
 */
static inline int tap_done(void)
{
	unsigned int run = ksft_test_num();
	int failed = ksft_get_fail_cnt() + ksft_get_error_cnt();

	ksft_print_cnts();	/* also says when the plan was not followed */
	fflush(stdout);
	if (failed || run != ksft_plan)
		return KSFT_FAIL;
	return run && (unsigned int)ksft_get_xskip_cnt() == run ? KSFT_SKIP : KSFT_PASS;
}

static inline const char *tap_errname(int e)
{
	const char *name = strerrorname_np(e);

	return name ? name : "E?";
}

__attribute__((format(printf, 4, 0)))
static inline void tap_check_errno(uint64_t ret, int err, int want, const char *fmt, va_list ap)
{
	int ok = ret == (uint64_t)-1 && err == want;

	tap_vresult(ok, fmt, ap);
	if (!ok) {
		if (ret == (uint64_t)-1)
			tap_diag("expected %s, got errno %s (%d)", tap_errname(want), tap_errname(err),
				 err);
		else
			tap_diag("expected failure with %s, got success: %llu", tap_errname(want),
				 (unsigned long long)ret);
	}
}

__attribute__((format(printf, 4, 0)))
static inline void tap_check_eq(uint64_t ret, int err, uint64_t want, const char *fmt, va_list ap)
{
	int ok = ret == want;

	tap_vresult(ok, fmt, ap);
	if (!ok) {
		if (ret == (uint64_t)-1)
			tap_diag("expected %llu, got failure: errno %s (%d)",
				 (unsigned long long)want, tap_errname(err), err);
		else
			tap_diag("expected %llu, got %llu", (unsigned long long)want,
				 (unsigned long long)ret);
	}
}

__attribute__((format(printf, 4, 5)))
static inline void tap_errno_(uint64_t ret, int err, int want, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_check_errno(ret, err, want, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 4, 5)))
static inline void tap_eq_(uint64_t ret, int err, uint64_t want, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_check_eq(ret, err, want, fmt, ap);
	va_end(ap);
}

#ifndef __KSELFTEST_HARNESS_H
/* errno is read after `call` (a sequence point), never before. */
#define EXPECT_ERRNO(call, want, ...)                                                   \
	do {                                                                            \
		uint64_t tap_ret_ = (uint64_t)(int64_t)(call);                          \
		int tap_err_ = errno;                                                   \
		tap_errno_(tap_ret_, tap_err_, (want), __VA_ARGS__);                    \
	} while (0)

#define EXPECT_EQ(call, want, ...)                                                      \
	do {                                                                            \
		uint64_t tap_ret_ = (uint64_t)(call);                                   \
		int tap_err_ = errno;                                                   \
		tap_eq_(tap_ret_, tap_err_, (uint64_t)(want), __VA_ARGS__);             \
	} while (0)
#endif

#endif /* PWRING_SELFTEST_TAP_H */
