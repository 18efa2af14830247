// SPDX-License-Identifier: MIT
/*
 * trace: the pwring:* tracepoints, through tracefs. The events are enabled
 * in a trace instance of our own (so nothing else is disturbed), a small
 * workload runs (a NOP that times out, a READ of a pipe that has data, a
 * READ that waits for data, a POLL cancelled by close), and the recorded
 * events are checked field by field. Skips when tracefs is not there and
 * cannot be mounted.
 */
#include <sys/mount.h>
#include <sys/stat.h>

#include "common.h"

#define TAG 0x7ace0000ULL	/* user data of our requests: TAG + n */

static char inst[256];
static char trace[65536];

/* The tracefs root: mounted already, or mounted here. NULL if neither. */
static const char *tracefs(void)
{
	static const char *const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char path[128];
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/instances", dirs[i]);
		if (!access(path, F_OK))
			return dirs[i];
	}
	if (!mount("nodev", dirs[0], "tracefs", 0, NULL) && !access("/sys/kernel/tracing/instances", F_OK))
		return dirs[0];
	return NULL;
}

static bool put(const char *file, const char *val)
{
	char path[512];
	bool ok;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", inst, file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok;
}

static bool read_trace(void)
{
	char path[512];
	ssize_t n, len = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/trace", inst);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	while ((n = read(fd, trace + len, sizeof(trace) - 1 - (size_t)len)) > 0)
		len += n;
	close(fd);
	trace[len] = '\0';
	return n == 0;
}

/*
 * The line of event `ev` for request TAG + n, copied to line[]: the text
 * from "ev: " on. NULL if there is none.
 */
static const char *event(const char *ev, unsigned int n)
{
	static char line[512];
	char name[64], data[64];
	const char *p;
	size_t len;

	snprintf(name, sizeof(name), " %s: ", ev);
	snprintf(data, sizeof(data), " user_data 0x%llx ", TAG + n);
	for (p = trace; (p = strstr(p, name)); p++) {
		len = strcspn(p, "\n");
		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, p + 1, len - 1);
		line[len - 1] = ' ';	/* every field, the last too, ends in a space */
		line[len] = '\0';
		if (strstr(line, data))
			return line;
	}
	return NULL;
}

/* Event ev of request n exists and contains every one of the fields. 1 test */
static void expect_event(const char *ev, unsigned int n, const char *fields)
{
	const char *line = event(ev, n);
	char want[256], *f, *save = NULL;
	bool ok = line;

	snprintf(want, sizeof(want), "%s", fields);
	for (f = strtok_r(want, ",", &save); ok && f; f = strtok_r(NULL, ",", &save)) {
		char field[128];

		snprintf(field, sizeof(field), " %s ", f);
		ok = strstr(line, field) != NULL;
	}
	tap_ok(ok, "%s of request %u: %s", ev, n, fields);
	if (!TAP_LAST)
		tap_diag("got: %s", line ? line : "(no such event)");
}

static void push(ioring_t *ring, io_op_t op, uint64_t timeout, unsigned int n, int fd, void *buf,
		 size_t len)
{
	sqe_t sqe;

	sqe_prep(&sqe, op, timeout, (void *)(uintptr_t)(TAG + n));
	sqe.flags = SQE_FLAGS_NO_REGS;
	sqe.arg0 = (uint64_t)fd;
	sqe.arg1 = op == IO_OP_POLL ? IO_POLL_READ : (uint64_t)(uintptr_t)buf;
	sqe.arg2 = len;
	sqe.arg3 = (uint64_t)-1;
	sqe_push(ring, &sqe);
}

/* The workload. Returns false if it could not run. */
static bool workload(void)
{
	static char b1[16], b2[16];
	int fd = raw_open(), p[2], q[2], r[2];
	ioring_t ring;
	cqe_t cqe[4];

	if (fd < 0 || raw_setup(fd, &ring, NULL, 8, 8) < 0 || pipe(p) || pipe(q) || pipe(r))
		return false;
	/* 1: a NOP of 10 ms. */
	push(&ring, IO_OP_NOP, 10 * NSEC_PER_MSEC, 1, 0, NULL, 0);
	if (raw_enter(fd, ring.id, 1, 1) != 1)
		return false;
	/* 2: a READ of a pipe with 5 bytes in it, done during enter. */
	if (write(p[1], "hello", 5) != 5)
		return false;
	push(&ring, IO_OP_READ, CLOCKS_NEVER, 2, p[0], b1, sizeof(b1));
	if (raw_enter(fd, ring.id, 1, 1) != 1)
		return false;
	/* 3: a READ that waits for its 3 bytes. */
	push(&ring, IO_OP_READ, CLOCKS_NEVER, 3, q[0], b2, sizeof(b2));
	if (raw_enter(fd, ring.id, 1, 0) != 1 || write(q[1], "abc", 3) != 3 ||
	    raw_enter(fd, ring.id, 0, 3) < 0)
		return false;
	pop_cqes(&ring, cqe, 4);
	/* 4: a POLL that never fires, cancelled by close. */
	push(&ring, IO_OP_POLL, CLOCKS_NEVER, 4, r[0], NULL, 0);
	if (raw_enter(fd, ring.id, 1, 0) != 1)
		return false;
	close(fd);
	/* The cancelled request completes without waiting for anyone. */
	sleep_ns(200 * NSEC_PER_MSEC);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	close(r[0]);
	close(r[1]);
	return true;
}

int main(void)
{
	const char *root;
	char path[512];
	bool ran;

	require_device();
	root = tracefs();
	if (!root)
		tap_skip_all("no tracefs (not mounted, cannot mount it)");
	snprintf(path, sizeof(path), "%s/events/pwring/pwring_submit", root);
	if (access(path, F_OK)) {
		/* The module is loaded: its events must be there. */
		tap_plan(1);
		tap_ok(0, "%s exists", path);
		return tap_done();
	}
	snprintf(inst, sizeof(inst), "%s/instances/pwring_selftest_%d", root, getpid());
	if (mkdir(inst, 0700))
		tap_skip_all("cannot create a trace instance");
	tap_plan(18);
	tap_ok(put("events/pwring/enable", "1") && put("tracing_on", "1"),
	       "pwring events enabled in a trace instance");
	ran = workload();
	put("events/pwring/enable", "0");
	tap_ok(ran, "the workload ran");
	tap_ok(read_trace(), "the trace was read");

	expect_event("pwring_submit", 1, "ring 0,op NOP,flags 0x3ffff,timeout 10000000");
	expect_event("pwring_async", 1, "op NOP,reason sleep");
	expect_event("pwring_timeout", 1, "ring 0,op NOP");
	expect_event("pwring_complete", 1, "ring 0,op NOP,error 110,result 0");
	tap_ok(!event("pwring_cancel", 1), "no pwring_cancel for the NOP that timed out");

	expect_event("pwring_submit", 2, "op READ,timeout 18446744073709551615");
	expect_event("pwring_complete", 2, "op READ,error 0,result 5");
	/*
	 * Where pipes cannot be tried without blocking (no FMODE_NOWAIT, as on
	 * 6.1), even a READ with data waits for poll's word first.
	 */
	tap_ok(!event("pwring_async", 2) || strstr(event("pwring_async", 2), " reason poll "),
	       "the READ with data went asynchronous only to poll, if at all");

	expect_event("pwring_submit", 3, "op READ");
	expect_event("pwring_async", 3, "op READ,reason poll");
	expect_event("pwring_complete", 3, "op READ,error 0,result 3");

	expect_event("pwring_submit", 4, "op POLL");
	expect_event("pwring_async", 4, "op POLL,reason poll");
	expect_event("pwring_cancel", 4, "ring 0,op POLL,error 125");
	expect_event("pwring_complete", 4, "op POLL,error 125");

	if (rmdir(inst))
		tap_diag("rmdir %s: %s", inst, strerror(errno));
	return tap_done();
}
