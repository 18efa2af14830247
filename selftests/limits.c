// SPDX-License-Identifier: MIT
/*
 * limits: the per-user limits `max_user_requests` (requests in flight;
 * beyond it enter consumes nothing more, EAGAIN when it consumed nothing)
 * and `max_user_ring_bytes` (ring pages; beyond it setup fails ENOMEM).
 * A user's requests are given back as they complete and its ring bytes
 * when the ring goes, so the same work fits again afterwards; another user
 * is not held back (uid 65534 in a forked child). The parameters are
 * restored at exit. Runs as root (skips otherwise). On the debug kernel a
 * charge left behind is a WARNING (the run fails) and a leaked per-user
 * object a kmemleak report.
 */
#include <grp.h>

#include "common.h"

#define PARAMS "/sys/module/pwring/parameters/"
#define NOBODY 65534

static unsigned long long saved_requests, saved_bytes;

static unsigned long long read_param(const char *name)
{
	char path[128], buf[32];
	int fd, n;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return strtoull(buf, NULL, 0);
}

static void set_param(const char *name, unsigned long long v)
{
	char path[128], buf[32];
	int fd, ok;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	snprintf(buf, sizeof(buf), "%llu", v);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ok = fd >= 0 && write(fd, buf, strlen(buf)) == (ssize_t)strlen(buf);
	if (fd >= 0)
		close(fd);
	if (!ok)
		tap_bail("writing %s to %s: %s", buf, name, strerror(errno));
}

static void restore(void)
{
	set_param("max_user_requests", saved_requests);
	set_param("max_user_ring_bytes", saved_bytes);
}

/* n NOPs that wait `ms` each, pushed on a raw ring. */
static void push_nops(ioring_t *ring, unsigned n, unsigned ms)
{
	for (unsigned i = 0; i < n; i++)
		push_nop(ring, ms ? ms * NSEC_PER_MSEC : CLOCKS_NEVER, i);
}

/* 5 tests: the limit on requests in flight, and what completion gives back. */
static void test_requests(void)
{
	ioring_t ring;
	int fd = raw_open(), id;
	long n;

	set_param("max_user_requests", 2);
	id = raw_setup(fd, &ring, NULL, 8, 8);
	if (id < 0)
		tap_bail("setup: %s", strerror(errno));
	push_nops(&ring, 3, 50);
	n = raw_enter(fd, id, 3, 0);
	tap_ok(n == 2, "max_user_requests=2: enter of 3 NOPs consumes 2 (got %ld)", n);
	errno = 0;
	n = raw_enter(fd, id, 1, 0);
	tap_ok(n == -1 && errno == EAGAIN, "the third fails EAGAIN (got %ld, %s)", n, strerror(errno));
	tap_ok(ring.ctrl->shead == 2, "and stays in the SQ (shead %u)", ring.ctrl->shead);
	/* Both complete (ETIMEDOUT): their charges are given back. */
	n = raw_enter(fd, id, 0, 2);
	{
		cqe_t c[2];

		tap_ok(n == 0 && wait_pop(&ring, c, 2) && c[0].error == ETIMEDOUT,
		       "the two in flight complete");
	}
	n = raw_enter(fd, id, 1, 1);
	tap_ok(n == 1, "once they completed, the third is consumed (got %ld)", n);
	close(fd);
	set_param("max_user_requests", saved_requests);
}

static void nobody_submits(void *arg)
{
	ioring_t ring;
	int fd, id;

	(void)arg;
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		_exit(10);
	fd = raw_open();
	id = raw_setup(fd, &ring, NULL, 4, 4);
	if (id < 0)
		_exit(11);
	push_nops(&ring, 2, 0);
	_exit(raw_enter(fd, id, 2, 0) == 2 ? 0 : 12);
}

/* 2 tests: the limit is per user. */
static void test_per_user(void)
{
	ioring_t ring;
	int fd = raw_open(), id, status;
	long n;

	set_param("max_user_requests", 2);
	id = raw_setup(fd, &ring, NULL, 4, 4);
	if (id < 0)
		tap_bail("setup: %s", strerror(errno));
	push_nops(&ring, 2, 0);
	n = raw_enter(fd, id, 2, 0);
	tap_ok(n == 2, "root has its 2 requests in flight (got %ld)", n);
	status = run_child(nobody_submits, NULL);
	tap_ok(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "meanwhile uid %d gets its own 2 (status %#x)", NOBODY, status);
	close(fd);	/* cancels root's two */
	set_param("max_user_requests", saved_requests);
}

/* 4 tests: ring bytes. */
static void test_ring_bytes(void)
{
	ioring_t a, b;
	int fd = raw_open(), ida, idb;

	/* (64, 64): 192 + 4096 + 2048 bytes, 2 pages; (1, 1): 1 page */
	set_param("max_user_ring_bytes", 2 * PAGE);
	ida = raw_setup(fd, &a, NULL, 64, 64);
	tap_ok(ida >= 0, "max_user_ring_bytes=8192: a 2-page ring is set up");
	errno = 0;
	idb = raw_setup(fd, &b, NULL, 1, 1);
	tap_ok(idb == -1 && errno == ENOMEM, "one more page fails ENOMEM (%s)", strerror(errno));
	tap_ok(ida >= 0 && raw_teardown(fd, ida) == 0, "teardown gives the pages back");
	idb = raw_setup(fd, &b, NULL, 1, 1);
	tap_ok(idb >= 0, "then the 1-page ring fits");
	close(fd);
	set_param("max_user_ring_bytes", saved_bytes);
}

int main(void)
{
	require_device();
	if (geteuid() != 0)
		tap_skip_all("needs root");
	saved_requests = read_param("max_user_requests");
	saved_bytes = read_param("max_user_ring_bytes");
	if (!saved_requests || !saved_bytes)
		tap_skip_all("no " PARAMS "max_user_{requests,ring_bytes} (module without limits)");
	tap_plan(2 + 5 + 2 + 4);
	atexit(restore);
	tap_ok(saved_requests == 1ULL << 20, "max_user_requests defaults to 1048576 (is %llu)",
	       saved_requests);
	tap_ok(saved_bytes % PAGE == 0,
	       "max_user_ring_bytes defaults to an eighth of RAM (is %llu)", saved_bytes);
	test_requests();
	test_per_user();
	test_ring_bytes();
	restore();
	return tap_done();
}
