// SPDX-License-Identifier: MIT
/*
 * fdinfo: /proc/self/fdinfo/<fd> of a /dev/pwring file has a block per ring
 * ("Ring:\t<id>" then "Key:\tvalue" lines): sizes, the four indices, the
 * registers, requests in flight by state, the age of the oldest, and
 * per-op totals. Checked while requests wait (POLLs parked on a pipe, NOPs
 * sleeping, a linked successor), after they complete, and while another
 * thread sets rings up and tears them down.
 */
#include "common.h"

static char info[16384];

/* Reads fdinfo of fd into info[]; false on error. */
static bool read_fdinfo(int fd)
{
	char path[64];
	ssize_t n, len = 0;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return false;
	while ((n = read(f, info + len, sizeof(info) - 1 - (size_t)len)) > 0)
		len += n;
	close(f);
	info[len] = '\0';
	return n == 0;
}

/* The block of ring `id` in info[] (up to the next ring's), or NULL. */
static const char *ring_block(unsigned int id, const char **end)
{
	char head[32];
	const char *p, *next;

	snprintf(head, sizeof(head), "Ring:\t%u\n", id);
	p = strstr(info, head);
	if (p != info && p && p[-1] != '\n')
		p = NULL;
	if (!p)
		return NULL;
	next = strstr(p + 1, "\nRing:\t");
	*end = next ? next + 1 : p + strlen(p);
	return p;
}

/* The text after "key:\t" in ring id's block (to the end of the line), or NULL. */
static const char *field(unsigned int id, const char *key)
{
	static char val[256];
	const char *end, *p = ring_block(id, &end);
	size_t klen = strlen(key), n;

	for (; p && p < end; p = strchr(p, '\n') + 1) {
		if (!strncmp(p, key, klen) && p[klen] == ':' && p[klen + 1] == '\t') {
			p += klen + 2;
			n = strcspn(p, "\n");
			if (n >= sizeof(val))
				n = sizeof(val) - 1;
			memcpy(val, p, n);
			val[n] = '\0';
			return val;
		}
		if (!strchr(p, '\n'))
			break;
	}
	return NULL;
}

static unsigned long long num(unsigned int id, const char *key)
{
	const char *v = field(id, key);

	return v ? strtoull(v, NULL, 10) : ~0ULL;
}

/* One fdinfo number equals want. 1 test */
static void expect_num(unsigned int id, const char *key, unsigned long long want)
{
	unsigned long long got = num(id, key);

	tap_ok(got == want, "ring %u %s: %llu", id, key, want);
	if (!TAP_LAST)
		tap_diag("got %lld", (long long)got);
}

/* An Op.<name> line: submitted, completed, errors. 1 test */
static void expect_op(unsigned int id, const char *op, unsigned long long sub,
		      unsigned long long done, unsigned long long errs)
{
	char key[32];
	unsigned long long s = ~0ULL, c = ~0ULL, e = ~0ULL;
	const char *v;

	snprintf(key, sizeof(key), "Op.%s", op);
	v = field(id, key);
	if (v && sscanf(v, "submitted %llu completed %llu errors %llu", &s, &c, &e) != 3)
		v = NULL;
	tap_ok(v && s == sub && c == done && e == errs,
	       "ring %u %s: submitted %llu completed %llu errors %llu", id, key, sub, done, errs);
	if (!TAP_LAST)
		tap_diag("got \"%s\"", v ? v : "(missing)");
}

static void push_poll(ioring_t *ring, int fd, uint64_t data)
{
	sqe_t sqe;

	sqe_prep(&sqe, IO_OP_POLL, CLOCKS_NEVER, (void *)(uintptr_t)data);
	sqe.flags = SQE_FLAGS_NO_REGS;
	sqe.arg0 = (uint64_t)fd;
	sqe.arg1 = IO_POLL_READ;
	sqe_push(ring, &sqe);
}

static void push_read(ioring_t *ring, int fd, void *buf, size_t n, uint64_t data)
{
	sqe_t sqe;

	sqe_prep(&sqe, IO_OP_READ, CLOCKS_NEVER, (void *)(uintptr_t)data);
	sqe.flags = SQE_FLAGS_NO_REGS;
	sqe.arg0 = (uint64_t)fd;
	sqe.arg1 = (uint64_t)(uintptr_t)buf;
	sqe.arg2 = n;
	sqe.arg3 = (uint64_t)-1;
	sqe_push(ring, &sqe);
}

/* Two idle rings: a block each with their sizes and zero indices. 9 tests */
static void idle_rings(int fd)
{
	tap_ok(read_fdinfo(fd), "fdinfo of a /dev/pwring file can be read");
	expect_num(0, "SqEntries", 16);
	expect_num(0, "CqEntries", 32);
	expect_num(1, "SqEntries", 4);
	expect_num(1, "CqEntries", 4);
	expect_num(0, "SqHead", 0);
	expect_num(0, "CqTail", 0);
	expect_num(0, "Inflight", 0);
	expect_op(0, "nop", 0, 0, 0);
}

/* Requests parked in every easy state, then completed. 26 tests */
static void in_flight(int fd, ioring_t *a, ioring_t *b)
{
	static char rbuf[32];
	int p[2], q[2], i;
	const char *regs;
	cqe_t cqe[8];

	if (pipe(p) || pipe(q))
		tap_bail("pipe: %s", strerror(errno));
	/* Ring 0: three POLLs, two sleeping NOPs, a NOP that times out at once, a linked one. */
	for (i = 0; i < 3; i++)
		push_poll(a, p[0], 10 + i);
	push_nop(a, 60000 * NSEC_PER_MSEC, 20);
	push_nop(a, 0, 21);
	push_nop_flags(a, 60000 * NSEC_PER_MSEC, 22, SQE_FLAGS_NO_REGS | SQE_LINK);
	push_nop(a, 0, 23);
	a->ctrl->regs[2] = 4242;
	if (raw_enter(fd, a->id, 7, 0) != 7)
		tap_diag("enter: %s", strerror(errno));
	/* Ring 1: a READ parked on an empty pipe. */
	push_read(b, q[0], rbuf, sizeof(rbuf), 30);
	if (raw_enter(fd, b->id, 1, 0) != 1)
		tap_diag("enter: %s", strerror(errno));
	sleep_ns(300 * NSEC_PER_MSEC);

	tap_ok(read_fdinfo(fd), "fdinfo read with requests in flight");
	expect_num(0, "SqHead", 7);
	expect_num(0, "SqTail", 7);
	expect_num(0, "CqTail", 1);
	expect_num(0, "CqHead", 0);
	expect_num(0, "Inflight", 6);
	expect_num(0, "Polling", 3);
	expect_num(0, "Sleeping", 2);
	expect_num(0, "Linked", 1);
	expect_num(0, "Queued", 0);
	expect_op(0, "nop", 4, 1, 1);
	expect_op(0, "poll", 3, 0, 0);
	regs = field(0, "Regs");
	tap_ok(regs && !strcmp(regs, "0 0 4242 0 0 0 0"), "ring 0 Regs: the shared registers");
	if (!TAP_LAST)
		tap_diag("got \"%s\"", regs ? regs : "(missing)");
	tap_ok(num(0, "OldestNs") >= 200 * NSEC_PER_MSEC && num(0, "OldestNs") < 600000 * NSEC_PER_MSEC,
	       "ring 0 OldestNs: at least 200 ms after 300 ms");
	if (!TAP_LAST)
		tap_diag("got %llu", num(0, "OldestNs"));
	expect_num(1, "Inflight", 1);
	expect_num(1, "Polling", 1);
	expect_op(1, "read", 1, 0, 0);

	/* Data on both pipes: the POLLs and the READ complete. */
	if (write(p[1], "x", 1) != 1 || write(q[1], "hello", 5) != 5)
		tap_diag("write: %s", strerror(errno));
	if (raw_enter(fd, a->id, 0, 4) < 0 || raw_enter(fd, b->id, 0, 1) < 0)
		tap_diag("enter (wait): %s", strerror(errno));
	tap_ok(read_fdinfo(fd), "fdinfo read after the completions");
	expect_num(0, "Inflight", 3);
	expect_num(0, "Polling", 0);
	expect_num(0, "CqTail", 4);
	expect_op(0, "poll", 3, 3, 0);
	expect_num(1, "Inflight", 0);
	expect_num(1, "OldestNs", 0);
	expect_op(1, "read", 1, 1, 0);
	tap_ok(pop_cqes(b, cqe, 8) == 1 && cqe[0].error == 0 && cqe[0]._result == 5,
	       "the READ read the 5 bytes");
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

struct churn {
	int fd;
	volatile bool stop;
	unsigned int reads, blocks;
	bool bad;
};

static void *reader(void *arg)
{
	struct churn *c = arg;
	char path[64], buf[8192];
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", c->fd);
	while (!c->stop) {
		f = open(path, O_RDONLY | O_CLOEXEC);
		if (f < 0) {
			c->bad = true;
			break;
		}
		while ((n = read(f, buf, sizeof(buf) - 1)) > 0) {
			buf[n] = '\0';
			for (char *p = buf; (p = strstr(p, "Ring:\t")); p++)
				c->blocks++;
		}
		if (n < 0)
			c->bad = true;
		close(f);
		c->reads++;
	}
	return NULL;
}

/* fdinfo read in a loop while rings come and go with requests in flight. 2 tests */
static void churn(void)
{
	struct churn c = { .fd = raw_open() };
	pthread_t th;
	uint64_t end;
	unsigned int rounds = 0;
	int i;

	if (c.fd < 0 || pthread_create(&th, NULL, reader, &c))
		tap_bail("churn setup: %s", strerror(errno));
	end = now_ns() + 1500 * NSEC_PER_MSEC;
	while (now_ns() < end) {
		ioring_t r;

		if (raw_setup(c.fd, &r, NULL, 8, 8) < 0)
			break;
		for (i = 0; i < 8; i++)
			push_nop(&r, i % 2 ? 0 : 2 * NSEC_PER_MSEC, i);
		if (raw_enter(c.fd, r.id, 8, 8) != 8)
			break;
		r.ctrl->chead = r.ctrl->ctail;
		if (raw_teardown(c.fd, r.id))
			break;
		rounds++;
	}
	/* The last ring goes with the file, requests still in flight. */
	{
		ioring_t r;

		if (raw_setup(c.fd, &r, NULL, 8, 8) >= 0) {
			push_nop(&r, 60000 * NSEC_PER_MSEC, 99);
			if (raw_enter(c.fd, r.id, 1, 0) != 1)
				c.bad = true;
		}
	}
	c.stop = true;
	pthread_join(th, NULL);
	tap_ok(rounds > 10 && !c.bad, "%u setup/enter/teardown rounds beside fdinfo reads", rounds);
	tap_ok(c.reads > 0, "fdinfo was read %u times (%u ring blocks seen)", c.reads, c.blocks);
	close(c.fd);
}

int main(void)
{
	ioring_t a, b;
	int fd;

	require_device();
	tap_plan(9 + 26 + 2);
	fd = raw_open();
	if (fd < 0 || raw_setup(fd, &a, NULL, 16, 32) < 0 || raw_setup(fd, &b, NULL, 4, 4) < 0)
		tap_bail("setup: %s", strerror(errno));
	if (access("/proc/self/fdinfo", F_OK))
		tap_skip_all("no /proc/self/fdinfo");
	idle_rings(fd);
	in_flight(fd, &a, &b);
	close(fd);
	churn();
	return tap_done();
}
