/* SPDX-License-Identifier: MIT */
/*
 * tap.h - TAP 13 output for the pwring selftests, kselftest style.
 *
 *   tap_plan(n);                       "TAP version 13" and "1..n"
 *   tap_ok(cond, "desc %d", x);        "ok N - desc" / "not ok N - desc"
 *   tap_diag("...");                   "# ..." (after a result: its diagnostics)
 *   tap_skip("reason", "desc");        "ok N - desc # SKIP reason"
 *   tap_skip_all("reason");            "1..0 # SKIP reason", exit 4
 *   tap_bail("reason");                "Bail out! reason", exit 1
 *   return tap_done();                 exit code: 0 pass, 1 fail, 4 all skipped
 *
 * EXPECT_ERRNO(call, E, desc...) passes when `call` returns ERR (or -1) with
 * errno E; EXPECT_EQ(call, v, desc...) when it returns v. Both print what they
 * got on failure and evaluate to nothing; TAP_LAST is the last verdict.
 */
#ifndef PWRING_SELFTEST_TAP_H
#define PWRING_SELFTEST_TAP_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KSFT_PASS 0
#define KSFT_FAIL 1
#define KSFT_SKIP 4

static unsigned int tap_planned, tap_count, tap_failed, tap_skipped;
static int tap_last;
#define TAP_LAST tap_last

static inline void tap_vline(const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
}

__attribute__((format(printf, 1, 2)))
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline("# ", fmt, ap);
	va_end(ap);
}

static inline void tap_plan(unsigned int n)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_planned = n;
	printf("TAP version 13\n1..%u\n", n);
}

__attribute__((noreturn))
static inline void tap_skip_all(const char *reason)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..0 # SKIP %s\n", reason);
	exit(KSFT_SKIP);
}

__attribute__((format(printf, 2, 3)))
static inline int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	if (!cond)
		tap_failed++;
	printf("%s %u - ", cond ? "ok" : "not ok", tap_count);
	va_start(ap, fmt);
	tap_vline("", fmt, ap);
	va_end(ap);
	tap_last = !!cond;
	return tap_last;
}

__attribute__((format(printf, 2, 3)))
static inline void tap_skip(const char *reason, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	tap_skipped++;
	printf("ok %u - ", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" # SKIP %s\n", reason);
}

/* Stop here: a precondition of the remaining tests failed (exit 1). */
__attribute__((noreturn, format(printf, 1, 2)))
static inline void tap_bail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline("Bail out! ", fmt, ap);
	va_end(ap);
	fflush(stdout);
	exit(KSFT_FAIL);
}

/* Exit code for main(): also fails when the plan was not followed. */
static inline int tap_done(void)
{
	if (tap_count != tap_planned) {
		tap_diag("planned %u tests but ran %u", tap_planned, tap_count);
		tap_failed++;
	}
	tap_diag("totals: pass:%u fail:%u skip:%u", tap_count - tap_failed - tap_skipped,
		 tap_failed, tap_skipped);
	fflush(stdout);
	if (tap_failed)
		return KSFT_FAIL;
	return tap_count && tap_skipped == tap_count ? KSFT_SKIP : KSFT_PASS;
}

static inline const char *tap_errname(int e)
{
	const char *name = strerrorname_np(e);

	return name ? name : "E?";
}

static inline void tap_check_errno(uint64_t ret, int err, int want, const char *fmt, va_list ap)
{
	int ok = ret == (uint64_t)-1 && err == want;

	tap_count++;
	if (!ok)
		tap_failed++;
	printf("%s %u - ", ok ? "ok" : "not ok", tap_count);
	tap_vline("", fmt, ap);
	if (!ok) {
		if (ret == (uint64_t)-1)
			tap_diag("expected %s, got errno %s (%d)", tap_errname(want), tap_errname(err),
				 err);
		else
			tap_diag("expected failure with %s, got success: %llu", tap_errname(want),
				 (unsigned long long)ret);
	}
	tap_last = ok;
}

static inline void tap_check_eq(uint64_t ret, int err, uint64_t want, const char *fmt, va_list ap)
{
	int ok = ret == want;

	tap_count++;
	if (!ok)
		tap_failed++;
	printf("%s %u - ", ok ? "ok" : "not ok", tap_count);
	tap_vline("", fmt, ap);
	if (!ok) {
		if (ret == (uint64_t)-1)
			tap_diag("expected %llu, got failure: errno %s (%d)",
				 (unsigned long long)want, tap_errname(err), err);
		else
			tap_diag("expected %llu, got %llu", (unsigned long long)want,
				 (unsigned long long)ret);
	}
	tap_last = ok;
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

#endif /* PWRING_SELFTEST_TAP_H */
