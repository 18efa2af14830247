/* SPDX-License-Identifier: MIT */
/*
 * iso.h - helpers of the isolation selftests (isolation, exit_cancel,
 * async_close; spec section 5), on top of io.h:
 *
 *  - results recorded by forked children in shared memory and printed by the
 *    parent as TAP lines (a child that dies early leaves its missing lines as
 *    failures, so the plan always holds);
 *  - dropping to an unprivileged uid;
 *  - the descriptor libpwring opened, passing descriptors with SCM_RIGHTS;
 *  - the module's use count (/sys/module/pwring/refcnt);
 *  - the test-only module stuckdev.ko (/dev/pwring-stuck, see
 *    tests/stuckdev/stuckdev.c), installed next to the tests as
 *    stuckdev-<uname -r>.ko: loaded on demand, unloaded at the end.
 */
#ifndef PWRING_SELFTEST_ISO_H
#define PWRING_SELFTEST_ISO_H

#include <dirent.h>
#include <grp.h>
#include <poll.h>
#include <sys/resource.h>

#include "io.h"

#define MS NSEC_PER_MSEC

/* ---- Results from children ------------------------------------------------------------ */

#define REC_MAX 48

struct rec {
	int ok;
	int skip;
	char desc[200];
	char diag[240];
};

struct shared_recs {
	int n;
	struct rec r[REC_MAX];
	/* Free for each test's own handshakes. */
	volatile int flag[8];
	volatile int64_t val[8];
};

static struct shared_recs *recs;
static int rec_mine = -1;	/* this process's last slot (for rec_diag) */

/* A slot of its own for this result (children may record concurrently); NULL when full. */
HELPER struct rec *rec_slot(void)
{
	int i = __atomic_fetch_add(&recs->n, 1, __ATOMIC_ACQ_REL);

	if (i >= REC_MAX)
		return NULL;
	rec_mine = i;
	return &recs->r[i];
}

HELPER void recs_init(void)
{
	recs = mmap(NULL, sizeof(*recs), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (recs == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
}

HELPER void recs_reset(void)
{
	memset(recs, 0, sizeof(*recs));
	rec_mine = -1;
}

/* In a child: one result line, printed later by the parent. Returns ok. */
__attribute__((format(printf, 2, 3)))
HELPER int rec_ok(int ok, const char *fmt, ...)
{
	struct rec *r = rec_slot();
	va_list ap;

	tap_last = !!ok;
	if (!r)
		return ok;
	r->ok = !!ok;
	va_start(ap, fmt);
	vsnprintf(r->desc, sizeof(r->desc), fmt, ap);
	va_end(ap);
	tap_last = !!ok;	/* TAP_LAST works in children too */
	return ok;
}

/* In a child: a step that must work failed; record why (the parent pads the rest). */
HELPER void rec_broken(const char *what)
{
	rec_ok(0, "%s failed: %s", what, strerror(errno));
}

/* In a child: a diagnostic for the last result line. */
__attribute__((format(printf, 1, 2)))
HELPER void rec_diag(const char *fmt, ...)
{
	va_list ap;

	if (rec_mine < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(recs->r[rec_mine].diag, sizeof(recs->r[0].diag), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3)))
HELPER void rec_skip(const char *reason, const char *fmt, ...)
{
	struct rec *r = rec_slot();
	va_list ap;

	if (!r)
		return;
	r->ok = 1;
	r->skip = 1;
	va_start(ap, fmt);
	vsnprintf(r->desc, sizeof(r->desc), fmt, ap);
	va_end(ap);
	snprintf(r->diag, sizeof(r->diag), "%s", reason);
}

/*
 * In the parent: print the child's `expected` results; lines it never
 * recorded fail, naming how it ended (`status` from waitpid, or -1).
 */
HELPER void recs_emit(int expected, const char *who, int status)
{
	int i;

	for (i = 0; i < expected; i++) {
		struct rec *r = &recs->r[i];

		if (i >= recs->n) {
			tap_ok(0, "%s: result %d never reported", who, i + 1);
			if (status == -1)
				tap_diag("the child could not be waited for");
			else if (WIFSIGNALED(status))
				tap_diag("the child was killed by signal %d", WTERMSIG(status));
			else
				tap_diag("the child exited with %d", WEXITSTATUS(status));
			continue;
		}
		if (r->skip) {
			tap_skip(r->diag, "%s", r->desc);
			continue;
		}
		tap_ok(r->ok, "%s", r->desc);
		if (r->diag[0])
			tap_diag("%s", r->diag);
	}
	if (recs->n > expected)
		tap_diag("%s: %d results beyond the %d expected were dropped", who,
			 recs->n - expected, expected);
}

/* Fork; the child runs fn(arg) and exits 0 (output flushed). */
HELPER pid_t spawn(void (*fn)(void *), void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		tap_bail("fork: %s", strerror(errno));
	if (pid == 0) {
		alarm(0);
		signal(SIGALRM, SIG_DFL);
		fn(arg);
		fflush(NULL);
		_exit(0);
	}
	return pid;
}

/* waitpid with a limit: the status, or -1 after `ms` (the child is then killed). */
HELPER int wait_child(pid_t pid, unsigned int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * MS;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		if (now_ns() > end) {
			tap_diag("child %d still running after %u ms: killing it", (int)pid, ms);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		sleep_ns(5 * MS);
	}
}

/* waitpid for up to `ms`: the status, or -2 while it still runs (not killed). */
HELPER int wait_child_for(pid_t pid, unsigned int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * MS;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		if (now_ns() > end)
			return -2;
		sleep_ns(5 * MS);
	}
}

/* Spawn, wait (limit `ms`), print `expected` results. */
HELPER void run_recorded(void (*fn)(void *), void *arg, int expected, const char *who,
			 unsigned int ms)
{
	pid_t pid;

	recs_reset();
	pid = spawn(fn, arg);
	recs_emit(expected, who, wait_child(pid, ms));
}

/* ---- Credentials ---------------------------------------------------------------------- */

#define USER_A 1000
#define USER_B 1001
#define USER_OTHER 1234

/* Become uid/gid `id` for good (no supplementary groups). false on failure. */
HELPER bool drop_to(unsigned int id)
{
	if (setgroups(0, NULL) < 0 || setresgid(id, id, id) < 0 || setresuid(id, id, id) < 0)
		return false;
	return geteuid() == id;
}

/* ---- Descriptors ------------------------------------------------------------------------ */

/* The lowest descriptor of this process on /dev/pwring (libpwring's), or -1. */
HELPER int lib_dev_fd(void)
{
	char path[300], target[256];
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *d;
	int best = -1, fd;
	ssize_t len;

	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		fd = atoi(d->d_name);
		if (d->d_name[0] < '0' || d->d_name[0] > '9' || fd == dirfd(dir))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		if (strcmp(target, PWRING_DEVICE_PATH) == 0 && (best < 0 || fd < best))
			best = fd;
	}
	closedir(dir);
	return best;
}

/* Send fd (and one byte) over a unix socket. */
HELPER int send_fd(int sock, int fd)
{
	char byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;

	memset(&u, 0, sizeof(u));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

/* Receive a descriptor sent by send_fd(); -1 on failure. */
HELPER int recv_fd(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			      .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	int fd = -1;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* poll(2) one descriptor for `events` up to `ms`; the revents (0 on timeout). */
HELPER int poll_one(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r > 0 ? p.revents : 0;
}

/* ---- Numbers from files --------------------------------------------------------------- */

HELPER long long read_ll(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtoll(buf, NULL, 10);
}

HELPER int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* A field of /proc/self/io ("rchar", "wchar", ...), or -1. */
HELPER long long proc_io(const char *field)
{
	char name[64];
	long long v, got = -1;
	FILE *f = fopen("/proc/self/io", "re");

	if (!f)
		return -1;
	while (fscanf(f, "%63[^:]: %lld\n", name, &v) == 2)
		if (!strcmp(name, field))
			got = v;
	fclose(f);
	return got;
}

/* ---- The module's use count ------------------------------------------------------------ */

#define PWRING_REFCNT "/sys/module/pwring/refcnt"

HELPER long long pwring_refcnt(void)
{
	return read_ll(PWRING_REFCNT);
}

/* Wait up to `ms` for the use count to be `want`; returns the last value read. */
HELPER long long refcnt_settle(long long want, unsigned int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * MS;
	long long got;

	for (;;) {
		got = pwring_refcnt();
		if (got == want || now_ns() > end)
			return got;
		sleep_ns(20 * MS);
	}
}

/* ---- stuckdev.ko ---------------------------------------------------------------------- */

#define STUCK_PATH "/dev/pwring-stuck"
#define STUCK_PARAMS "/sys/module/stuckdev/parameters/"
#define STUCKDEV_IOC_RELEASE _IO('S', 1)	/* open the gate: nobody sleeps */
#define STUCKDEV_IOC_ARM _IO('S', 2)		/* close it: reads sleep again */

/* Load stuckdev-<uname -r>.ko from next to this program; false with a reason. */
HELPER bool stuck_load(char *reason, size_t rlen)
{
	char dir[PATH_MAX], ko[PATH_MAX + 300];
	struct utsname u;
	int i;

	if (access(STUCK_PATH, F_OK) == 0)
		return true;
	self_dir(dir, sizeof(dir));
	uname(&u);
	snprintf(ko, sizeof(ko), "%s/stuckdev-%s.ko", dir, u.release);
	if (access(ko, R_OK) != 0) {
		snprintf(reason, rlen, "no %s (make stuckdev)", ko);
		return false;
	}
	if (run_cmd("insmod '%s'", ko) != 0) {
		snprintf(reason, rlen, "insmod %s failed", ko);
		return false;
	}
	/* devtmpfs creates the node asynchronously. */
	for (i = 0; i < 200 && access(STUCK_PATH, F_OK) != 0; i++)
		sleep_ns(10 * MS);
	if (access(STUCK_PATH, F_OK) != 0) {
		snprintf(reason, rlen, "%s did not appear", STUCK_PATH);
		return false;
	}
	return true;
}

HELPER long long stuck_sleeping(void)
{
	return read_ll(STUCK_PARAMS "sleeping");
}

HELPER void stuck_ioctl(unsigned long cmd, const char *what)
{
	int fd = open(STUCK_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0 || ioctl(fd, cmd) < 0)
		tap_diag("%s %s: %s", what, STUCK_PATH, strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Wake every reader asleep in /dev/pwring-stuck; later reads do not sleep. */
HELPER void stuck_release(void)
{
	stuck_ioctl(STUCKDEV_IOC_RELEASE, "releasing");
}

/* Make reads of /dev/pwring-stuck sleep (again). */
HELPER void stuck_arm(void)
{
	stuck_ioctl(STUCKDEV_IOC_ARM, "arming");
}

/* Wait up to `ms` until at least `n` readers sleep; the count seen last. */
HELPER long long stuck_wait_sleeping(long long n, unsigned int ms)
{
	uint64_t end = now_ns() + (uint64_t)ms * MS;
	long long got;

	for (;;) {
		got = stuck_sleeping();
		if (got >= n || now_ns() > end)
			return got;
		sleep_ns(10 * MS);
	}
}

HELPER void stuck_unload(void)
{
	int i;

	stuck_release();
	for (i = 0; i < 100 && stuck_sleeping() > 0; i++)
		sleep_ns(20 * MS);
	for (i = 0; i < 50; i++) {
		if (run_cmd("rmmod stuckdev 2>/dev/null") == 0)
			return;
		sleep_ns(100 * MS);
	}
	tap_diag("rmmod stuckdev failed (a reader still holds it?)");
}

#endif /* PWRING_SELFTEST_ISO_H */
