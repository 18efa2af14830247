/* SPDX-License-Identifier: MIT */
/*
 * io.h - helpers shared by the READ/WRITE/POLL selftests (rw, rw_errors,
 * rw_timeout, poll, pipeline, rw_stress, examples), on top of common.h:
 * submitting prepared SQEs and reaping them by `data`, checking a CQE's
 * error and result, pipes that are full or empty on demand, a deterministic
 * random generator and a checksum, the kernel's pin counters, temporary
 * files and the ext4 image.
 *
 * Every SQE is prepared with the sqe_prep_*() helpers (no registers unless a
 * test names them) and carries a distinct `data`, so a test can find its CQE
 * whatever the completion order.
 */
#ifndef PWRING_SELFTEST_IO_H
#define PWRING_SELFTEST_IO_H

#include <limits.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "common.h"

/*
 * Pipes can be tried without blocking (they honour IOCB_NOWAIT and say so
 * with FMODE_NOWAIT) only on newer kernels: 6.12 yes, 6.1 no. Where they
 * cannot, a pipe READ/WRITE never completes during dispatch (the module
 * waits for readiness and a worker performs it), so timeout 0 expires.
 * Sockets honour IOCB_NOWAIT on every kernel we test.
 */
static __attribute__((unused)) int pipes_try_nowait(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return 1;
	return major > 6 || (major == 6 && minor >= 6);
}

static const char *io_section_name = "start";
static long long pins_outstanding(void);

static void io_watchdog_fired(int sig)
{
	char msg[256];
	int n;

	(void)sig;
	n = snprintf(msg, sizeof(msg), "Bail out! watchdog: stuck in \"%s\" (a request never "
		     "completed?)\n", io_section_name);
	write(STDOUT_FILENO, msg, (size_t)n);
	_exit(KSFT_FAIL);
}

/*
 * Name the part of the program that runs next and give it `secs` seconds: a
 * request that never completes makes the program bail out naming it, rather
 * than hang until the runner's time limit. With PWRING_PINS_DEBUG set in the
 * environment, each section also prints the pages pinned system wide.
 */
HELPER void section(const char *name, unsigned int secs)
{
	if (getenv("PWRING_PINS_DEBUG"))
		tap_diag("section %s: pins outstanding %lld", name, pins_outstanding());
	io_section_name = name;
	alarm(secs);
}

/* SIGPIPE is ignored by every program using this header; SIGALRM is the watchdog. */
HELPER void io_init(void)
{
	require_device();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, io_watchdog_fired);
}

/* Queue a prepared SQE; bail out when the SQ is full (a test bug). */
HELPER void push_sqe(ioring_t *ring, sqe_t *sqe)
{
	if (!sqe_push(ring, sqe))
		tap_bail("submission queue full (ring %llu)", (unsigned long long)ring->id);
}

HELPER void *ptr_of(uint64_t data)
{
	return (void *)(uintptr_t)data;
}

/*
 * Submit the n queued SQEs in one enter that waits for all of them, then pop
 * n CQEs into out (arrival order). Returns the number popped; an enter that
 * fails or consumes fewer SQEs is reported as a diagnostic.
 */
HELPER size_t submit_all(ioring_t *ring, size_t n, cqe_t *out)
{
	uint64_t r = ioring_enter(ring->id, n, n);
	size_t got;

	if (r != n)
		tap_diag("ioring_enter(%llu, %zu, %zu) = %lld (%s)", (unsigned long long)ring->id, n,
			 n, (long long)r, r == ERR ? strerror(errno) : "short");
	got = pop_cqes(ring, out, n);
	/* A short consume still completes what it consumed: wait for the rest. */
	while (got < n && r != ERR && ioring_enter(ring->id, 0, 1) != ERR)
		got += pop_cqes(ring, out + got, n - got);
	return got;
}

/* Submit one SQE and wait for its CQE. false when none came. */
HELPER bool run1(ioring_t *ring, sqe_t *sqe, cqe_t *cqe)
{
	push_sqe(ring, sqe);
	return submit_all(ring, 1, cqe) == 1;
}

/* The CQE with this data among n, or a CQE that matches nothing. */
HELPER const cqe_t *find_cqe(const cqe_t *cqes, size_t n, uint64_t data)
{
	static const cqe_t none = { .op = 0xdead, .error = -1, ._result = 0xdeadbeef };
	size_t i;

	for (i = 0; i < n; i++)
		if (cqe_data(&cqes[i]) == data)
			return &cqes[i];
	return &none;
}

HELPER const char *op_name(io_op_t op)
{
	static const char *const names[] = { "NOP", "READ", "WRITE", "POLL" };

	return op < 4 ? names[op] : "op?";
}

/* Pass when the CQE has this op, error and result (data checked too). */
HELPER int expect_io(const cqe_t *c, io_op_t op, uint64_t data, int error, uint64_t result,
		     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
HELPER int expect_io(const cqe_t *c, io_op_t op, uint64_t data, int error, uint64_t result,
		     const char *fmt, ...)
{
	int ok = c->op == op && cqe_data(c) == data && c->error == error && c->_result == result;
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	tap_ok(ok, "%s: %s -> %s, result %llu", what, op_name(op),
	       error ? tap_errname(error) : "ok", (unsigned long long)result);
	if (!ok)
		tap_diag("got op %s data %llu error %s (%d) result %llu (%#llx)", op_name(c->op),
			 (unsigned long long)cqe_data(c), c->error ? tap_errname(c->error) : "0",
			 c->error, (unsigned long long)c->_result, (unsigned long long)c->_result);
	return ok;
}

/* Pass when the CQE failed with this error (the result is not checked). */
HELPER int expect_err(const cqe_t *c, io_op_t op, uint64_t data, int error, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
HELPER int expect_err(const cqe_t *c, io_op_t op, uint64_t data, int error, const char *fmt, ...)
{
	int ok = c->op == op && cqe_data(c) == data && c->error == error;
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	tap_ok(ok, "%s: %s -> %s", what, op_name(op), tap_errname(error));
	if (!ok)
		tap_diag("got op %s data %llu error %s (%d) result %llu", op_name(c->op),
			 (unsigned long long)cqe_data(c), c->error ? tap_errname(c->error) : "0",
			 c->error, (unsigned long long)c->_result);
	return ok;
}

/* ---- Files ------------------------------------------------------------------------ */

HELPER void xpipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		tap_bail("pipe: %s", strerror(errno));
}

HELPER void xsocketpair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		tap_bail("socketpair: %s", strerror(errno));
}

HELPER int xopen(const char *path, int flags, mode_t mode)
{
	int fd = open(path, flags | O_CLOEXEC, mode);

	if (fd < 0)
		tap_bail("open %s: %s", path, strerror(errno));
	return fd;
}

HELPER void set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* Write into fd (a pipe or socket) until it is full; returns the bytes written. */
HELPER size_t fill_fd(int fd)
{
	static char junk[4096];
	size_t total = 0;
	ssize_t n;

	memset(junk, 'F', sizeof(junk));
	set_nonblock(fd, true);
	for (;;) {
		n = write(fd, junk, sizeof(junk));
		if (n > 0) {
			total += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			/* A pipe may still take less than a page (a partial buffer). */
			n = write(fd, junk, 1);
			if (n == 1) {
				total++;
				continue;
			}
		}
		break;
	}
	set_nonblock(fd, false);
	return total;
}

/* Read everything readable now from fd without blocking; returns the bytes. */
HELPER size_t drain_fd(int fd, void *buf, size_t max)
{
	static char sink[65536];
	size_t total = 0;
	ssize_t n;

	set_nonblock(fd, true);
	for (;;) {
		char *dst = buf ? (char *)buf + total : sink;
		size_t room = buf ? max - total : sizeof(sink);

		if (buf && room == 0)
			break;
		n = read(fd, dst, room);
		if (n <= 0)
			break;
		total += (size_t)n;
	}
	set_nonblock(fd, false);
	return total;
}

/* ---- Data ------------------------------------------------------------------------- */

/* xorshift64*: deterministic "random" data, seeded per test. */
HELPER uint64_t rng_next(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

HELPER void fill_random(void *buf, size_t len, uint64_t seed)
{
	unsigned char *p = buf;
	uint64_t s = seed, v = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		if ((i & 7) == 0)
			v = rng_next(&s);
		p[i] = (unsigned char)(v >> ((i & 7) * 8));
	}
}

/* FNV-1a, 64 bits: a checksum, continued from `h` (start with FNV_INIT). */
#define FNV_INIT 0xcbf29ce484222325ull
HELPER uint64_t fnv1a(uint64_t h, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

HELPER bool all_bytes(const void *buf, size_t len, unsigned char c)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != c)
			return false;
	return true;
}

/* An anonymous mapping (bail on failure). */
HELPER void *xmap(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		tap_bail("mmap %zu: %s", len, strerror(errno));
	return p;
}

/* ---- Kernel counters ---------------------------------------------------------------- */

/*
 * Pages pinned with FOLL_PIN system wide: nr_foll_pin_acquired -
 * nr_foll_pin_released from /proc/vmstat, or -1 if unavailable, after
 * /proc/sys/vm/stat_refresh has folded the per-CPU counter deltas (without
 * that the totals lag by up to a few dozen pages per CPU). The guests run
 * nothing else that pins, so a difference is ours.
 */
static __attribute__((unused)) long long pins_outstanding(void)
{
	long long acquired = -1, released = -1, v;
	char name[64];
	FILE *f;
	int fd;

	/* Fold the per-CPU deltas into the totals first (root only; else approximate). */
	fd = open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0)
			tap_diag("stat_refresh: %s", strerror(errno));
		close(fd);
	}
	f = fopen("/proc/vmstat", "re");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", name, &v) == 2) {
		if (!strcmp(name, "nr_foll_pin_acquired"))
			acquired = v;
		else if (!strcmp(name, "nr_foll_pin_released"))
			released = v;
	}
	fclose(f);
	return acquired < 0 || released < 0 ? -1 : acquired - released;
}

/* Wait up to 2 s for the outstanding pin count to come back to `want`. */
HELPER long long pins_settle(long long want)
{
	long long got = pins_outstanding();
	int i;

	for (i = 0; i < 200 && got != want; i++) {
		sleep_ns(10 * NSEC_PER_MSEC);
		got = pins_outstanding();
	}
	return got;
}

/* ---- Temporary files and the ext4 image ------------------------------------------------ */

/* A new empty file in dir, O_RDWR, unlinked at once. */
HELPER int tmpfile_in(const char *dir)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/pwring-io.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		tap_bail("mkostemp in %s: %s", dir, strerror(errno));
	unlink(path);
	return fd;
}

/* Directory of this program's executable (the image and examples live there). */
HELPER void self_dir(char *out, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", out, len - 1);
	char *slash;

	if (n <= 0) {
		snprintf(out, len, ".");
		return;
	}
	out[n] = 0;
	slash = strrchr(out, '/');
	if (slash)
		*slash = 0;
}

HELPER int run_cmd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
HELPER int run_cmd(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(NULL);
	st = system(cmd);
	return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * Mount a private copy of ext4.img (built next to the tests by `make
 * selftests`) on a new directory under /tmp through a loop device. Returns
 * the mount point (static), or NULL with a reason: no image, no loop device,
 * no ext4 in the kernel (Debian's cloud kernels have both as modules that
 * the test initramfs does not carry).
 */
HELPER const char *ext4_mount(char *reason, size_t rlen)
{
	static char mnt[PATH_MAX], img[PATH_MAX + 32];
	char dir[PATH_MAX], src[PATH_MAX + 16];
	struct stat st;

	self_dir(dir, sizeof(dir));
	snprintf(src, sizeof(src), "%s/ext4.img", dir);
	if (stat(src, &st) < 0 || st.st_size == 0) {
		snprintf(reason, rlen, "no ext4.img next to the test (mkfs.ext4 missing at build time?)");
		return NULL;
	}
	snprintf(mnt, sizeof(mnt), "/tmp/pwring-ext4.XXXXXX");
	if (!mkdtemp(mnt)) {
		snprintf(reason, rlen, "mkdtemp: %s", strerror(errno));
		return NULL;
	}
	snprintf(img, sizeof(img), "%s.img", mnt);
	if (run_cmd("cp '%s' '%s'", src, img) != 0 ||
	    run_cmd("mount -t ext4 -o loop '%s' '%s' 2>/dev/null", img, mnt) != 0) {
		snprintf(reason, rlen, "cannot mount an ext4 image through a loop device "
			 "(no ext4 or loop in this kernel?)");
		unlink(img);
		rmdir(mnt);
		return NULL;
	}
	return mnt;
}

HELPER void ext4_umount(const char *mnt)
{
	char img[PATH_MAX + 32];

	snprintf(img, sizeof(img), "%s.img", mnt);
	if (run_cmd("umount -d '%s'", mnt) != 0)
		tap_diag("umount %s failed", mnt);
	rmdir(mnt);
	unlink(img);
}

/* A thread that writes `len` bytes of `buf` to `fd` after `delay` ns (time in `at`). */
struct later {
	int fd;
	uint64_t delay;
	const void *buf;
	size_t len;
	uint64_t at;
};

static __attribute__((unused)) void *write_later(void *arg)
{
	struct later *l = arg;

	sleep_ns(l->delay);
	l->at = now_ns();
	if (write(l->fd, l->buf, l->len) != (ssize_t)l->len)
		tap_diag("write_later: %s", strerror(errno));
	return NULL;
}

#endif /* PWRING_SELFTEST_IO_H */
