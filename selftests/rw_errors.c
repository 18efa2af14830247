// SPDX-License-Identifier: MIT
/*
 * rw_errors: every error of READ and WRITE comes back in the CQE, never as a
 * failed enter, and leaves no side effect: EBADF (fd not open, out of range,
 * or not open for that direction), EFAULT (NULL, unmapped, partly unmapped,
 * read-only for a READ, kernel or wrapping buffers), EINVAL (offset below -1;
 * a file that cannot be read or written at all), ESPIPE (an offset on a pipe
 * or socket), EISDIR, and what the file's own operation returns (eventfd's
 * EINVAL for a short count, EPIPE, ENOSPC, EFBIG...). Where a system call can
 * do the same thing, its errno is checked to agree. Then all of them go in one
 * batch: one enter consumes them all, each CQE with its own error.
 */
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "io.h"

#define KERNEL_ADDR ((void *)0xffffffff81000000ull)

static ioring_t ring;
static unsigned int enter_failures;

struct ecase {
	const char *what;
	sqe_t sqe;
	int want;    /* expected CQE error */
	int sys;     /* errno of the equivalent system call, or 0 when none */
};

#define MAX_CASES 64
static struct ecase cases[MAX_CASES];
static size_t ncases;

/* errno of a system call expected to fail (0 if it succeeded). */
static int sys_errno(ssize_t r)
{
	return r < 0 ? errno : 0;
}

static void add_case(const char *what, const sqe_t *sqe, int want, int sys)
{
	struct ecase *c = &cases[ncases];

	if (ncases == MAX_CASES)
		tap_bail("too many cases");
	c->what = what;
	c->sqe = *sqe;
	c->sqe.data = ptr_of(ncases + 1);
	c->want = want;
	c->sys = sys;
	ncases++;
}

static sqe_t rd(int fd, void *buf, size_t count, ssize_t off)
{
	sqe_t s;

	sqe_prep_read(&s, fd, buf, count, off, CLOCKS_NEVER, NULL);
	return s;
}

static sqe_t wr(int fd, const void *buf, size_t count, ssize_t off)
{
	sqe_t s;

	sqe_prep_write(&s, fd, buf, count, off, CLOCKS_NEVER, NULL);
	return s;
}

/* Run one case alone: 1 test. */
static void run_case(const struct ecase *c)
{
	sqe_t sqe = c->sqe;
	cqe_t cqe = { .op = 0xdead, .error = -1 };
	uint64_t r;

	push_sqe(&ring, &sqe);
	r = ioring_enter(ring.id, 1, 1);
	if (r != 1) {
		enter_failures++;
		tap_diag("enter returned %lld (%s)", (long long)r, strerror(errno));
	}
	pop_cqes(&ring, &cqe, 1);
	tap_ok(cqe.op == sqe.op && cqe.error == c->want && cqe.data == c->sqe.data &&
	       (c->sys == 0 || c->sys == c->want),
	       "%s: %s -> %s%s", c->what, op_name(sqe.op), tap_errname(c->want),
	       c->sys ? " (the system call agrees)" : "");
	if (!TAP_LAST)
		tap_diag("CQE: op %u error %s (%d) result %llu; system call errno %s", cqe.op,
			 cqe.error ? tap_errname(cqe.error) : "0", cqe.error,
			 (unsigned long long)cqe._result, c->sys ? tap_errname(c->sys) : "-");
}

int main(void)
{
	static char buf[8192];
	void *volatile nul = NULL; /* hidden from the compiler's null checks */
	int null, wronly, rdonly, opath, closed, dir, efd, epfd, full, reg, p[2], q[2], sv[2];
	unsigned char *ro, *none, *half, *unmapped;
	size_t i, got, matched = 0;
	cqe_t cqes[MAX_CASES];
	sqe_t s;

	io_init();
	section("rw_errors", 120);
	if (ioring_setup(&ring, NULL, 64, 64) == ERR)
		tap_bail("ioring_setup: %s", strerror(errno));

	null = xopen("/dev/null", O_RDWR, 0);
	wronly = xopen("/dev/null", O_WRONLY, 0);
	rdonly = xopen("/dev/zero", O_RDONLY, 0);
	opath = xopen("/dev/zero", O_PATH, 0);
	dir = xopen("/tmp", O_RDONLY | O_DIRECTORY, 0);
	efd = eventfd(1, EFD_CLOEXEC);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	full = open("/dev/full", O_WRONLY | O_CLOEXEC);
	reg = tmpfile_in("/tmp");
	pwrite(reg, "0123456789", 10, 0);
	xpipe(p);
	xpipe(q);
	close(q[0]); /* q: a pipe without a reader */
	xsocketpair(sv);
	ro = xmap(PAGE, PROT_READ);
	none = xmap(PAGE, PROT_NONE);
	half = xmap(2 * PAGE, PROT_READ | PROT_WRITE);
	munmap(half + PAGE, PAGE);
	unmapped = xmap(PAGE, PROT_READ | PROT_WRITE);
	munmap(unmapped, PAGE);
	/* A descriptor number that was open and is closed (nothing reuses it). */
	closed = dup2(null, 900);
	close(closed);

	/* EBADF */
	s = rd(1000, buf, 10, IO_OFF_CUR);
	add_case("EBADF: fd 1000, not open", &s, EBADF, sys_errno(read(1000, buf, 10)));
	s = wr(1000, buf, 10, IO_OFF_CUR);
	add_case("EBADF: fd 1000, not open", &s, EBADF, sys_errno(write(1000, buf, 10)));
	s = rd(-1, buf, 10, IO_OFF_CUR);
	add_case("EBADF: fd -1", &s, EBADF, sys_errno(read(-1, buf, 10)));
	s = rd(null, buf, 10, IO_OFF_CUR);
	s.arg0 = (1ull << 32) | (uint64_t)null;
	add_case("EBADF: fd 2^32 + an open fd (no truncation to 32 bits)", &s, EBADF, 0);
	s = wr(closed, buf, 10, IO_OFF_CUR);
	add_case("EBADF: an fd closed before submission", &s, EBADF, 0);
	s = rd(wronly, buf, 10, IO_OFF_CUR);
	add_case("EBADF: READ on a write-only fd", &s, EBADF, sys_errno(read(wronly, buf, 10)));
	s = wr(rdonly, buf, 10, IO_OFF_CUR);
	add_case("EBADF: WRITE on a read-only fd", &s, EBADF, sys_errno(write(rdonly, buf, 10)));
	s = rd(p[1], buf, 10, IO_OFF_CUR);
	add_case("EBADF: READ on a pipe's write end", &s, EBADF, sys_errno(read(p[1], buf, 10)));
	s = wr(p[0], buf, 10, IO_OFF_CUR);
	add_case("EBADF: WRITE on a pipe's read end", &s, EBADF, sys_errno(write(p[0], buf, 10)));
	s = rd(opath, buf, 10, IO_OFF_CUR);
	add_case("EBADF: READ on an O_PATH fd", &s, EBADF, sys_errno(read(opath, buf, 10)));

	/* EFAULT */
	s = rd(rdonly, NULL, 10, IO_OFF_CUR);
	add_case("EFAULT: READ into NULL", &s, EFAULT, sys_errno(read(rdonly, nul, 10)));
	s = rd(rdonly, unmapped, 10, IO_OFF_CUR);
	add_case("EFAULT: READ into an unmapped buffer", &s, EFAULT,
		 sys_errno(read(rdonly, unmapped, 10)));
	s = rd(rdonly, half + PAGE - 10, 100, IO_OFF_CUR);
	add_case("EFAULT: READ into a buffer whose second page is unmapped", &s, EFAULT, 0);
	s = rd(rdonly, ro, 10, IO_OFF_CUR);
	add_case("EFAULT: READ into a read-only mapping", &s, EFAULT, sys_errno(read(rdonly, ro, 10)));
	s = rd(rdonly, KERNEL_ADDR, 10, IO_OFF_CUR);
	add_case("EFAULT: READ into a kernel address", &s, EFAULT,
		 sys_errno(read(rdonly, KERNEL_ADDR, 10)));
	s = wr(null, KERNEL_ADDR, 10, IO_OFF_CUR);
	add_case("EFAULT: WRITE from a kernel address", &s, EFAULT, 0);
	s = wr(p[1], unmapped, 10, IO_OFF_CUR);
	add_case("EFAULT: WRITE from an unmapped buffer to a pipe", &s, EFAULT,
		 sys_errno(write(p[1], unmapped, 10)));
	s = wr(p[1], none, 10, IO_OFF_CUR);
	add_case("EFAULT: WRITE from a PROT_NONE mapping", &s, EFAULT,
		 sys_errno(write(p[1], none, 10)));
	s = rd(rdonly, (void *)0x7ffffffff000ull, 2 * PAGE, IO_OFF_CUR);
	add_case("EFAULT: READ into a buffer crossing the top of user space", &s, EFAULT,
		 sys_errno(read(rdonly, (void *)0x7ffffffff000ull, 2 * PAGE)));
	s = rd(rdonly, (void *)(uintptr_t)(UINT64_MAX - 10), 100, IO_OFF_CUR);
	add_case("EFAULT: READ into a buffer that wraps around the address space", &s, EFAULT, 0);

	/* EINVAL */
	s = rd(reg, buf, 10, -2);
	add_case("EINVAL: READ at offset -2", &s, EINVAL, sys_errno(pread(reg, buf, 10, -2)));
	s = wr(reg, buf, 10, -2);
	add_case("EINVAL: WRITE at offset -2", &s, EINVAL, sys_errno(pwrite(reg, buf, 10, -2)));
	s = rd(reg, buf, 10, INT64_MIN);
	add_case("EINVAL: READ at offset INT64_MIN", &s, EINVAL,
		 sys_errno(pread(reg, buf, 10, INT64_MIN)));
	s = rd(epfd, buf, 10, IO_OFF_CUR);
	add_case("EINVAL: READ on an epoll fd (a file without read)", &s, EINVAL,
		 sys_errno(read(epfd, buf, 10)));
	s = wr(epfd, buf, 10, IO_OFF_CUR);
	add_case("EINVAL: WRITE on an epoll fd (a file without write)", &s, EINVAL,
		 sys_errno(write(epfd, buf, 10)));

	/* ESPIPE */
	s = rd(p[0], buf, 10, 0);
	add_case("ESPIPE: READ at offset 0 on a pipe", &s, ESPIPE, sys_errno(pread(p[0], buf, 10, 0)));
	s = wr(p[1], buf, 10, 0);
	add_case("ESPIPE: WRITE at offset 0 on a pipe", &s, ESPIPE,
		 sys_errno(pwrite(p[1], buf, 10, 0)));
	s = rd(sv[0], buf, 10, 5);
	add_case("ESPIPE: READ at offset 5 on a socket", &s, ESPIPE,
		 sys_errno(pread(sv[0], buf, 10, 5)));
	s = wr(sv[0], buf, 10, 0);
	add_case("ESPIPE: WRITE at offset 0 on a socket", &s, ESPIPE,
		 sys_errno(pwrite(sv[0], buf, 10, 0)));

	/* EISDIR */
	s = rd(dir, buf, 10, IO_OFF_CUR);
	add_case("EISDIR: READ on a directory", &s, EISDIR, sys_errno(read(dir, buf, 10)));
	s = rd(dir, buf, 10, 0);
	add_case("EISDIR: READ on a directory at offset 0", &s, EISDIR,
		 sys_errno(pread(dir, buf, 10, 0)));

	/* The file's own operation. */
	s = rd(efd, buf, 4, IO_OFF_CUR);
	add_case("eventfd: READ of 4 bytes (< 8)", &s, EINVAL, sys_errno(read(efd, buf, 4)));
	s = wr(efd, buf, 4, IO_OFF_CUR);
	add_case("eventfd: WRITE of 4 bytes (< 8)", &s, EINVAL, sys_errno(write(efd, buf, 4)));
	s = wr(q[1], "x", 1, IO_OFF_CUR);
	add_case("EPIPE: WRITE to a pipe without a reader", &s, EPIPE, sys_errno(write(q[1], "x", 1)));
	if (full >= 0) {
		s = wr(full, buf, 10, IO_OFF_CUR);
		add_case("ENOSPC: WRITE to /dev/full", &s, ENOSPC, sys_errno(write(full, buf, 10)));
	}
	{
		int e = sys_errno(pwrite(reg, buf, 10, INT64_MAX - 4));

		s = wr(reg, buf, 10, INT64_MAX - 4);
		add_case(e == EFBIG ? "EFBIG: WRITE ending beyond the largest offset"
				    : "WRITE ending beyond the largest offset (pwrite's errno)",
			 &s, e ? e : EFBIG, e);
	}

	tap_plan((unsigned int)ncases + 7 + (full >= 0 ? 0 : 1));

	for (i = 0; i < ncases; i++)
		run_case(&cases[i]);
	if (full < 0)
		tap_skip("no /dev/full", "ENOSPC: WRITE to /dev/full");

	/* No side effects: the pipe's data is still there after EFAULT and ESPIPE. */
	write(p[1], "intact", 6);
	s = rd(p[0], unmapped, 6, IO_OFF_CUR);
	s.data = ptr_of(900);
	run1(&ring, &s, cqes);
	s = rd(p[0], half + PAGE - 3, 6, IO_OFF_CUR);
	s.data = ptr_of(901);
	run1(&ring, &s, cqes + 1);
	s = rd(p[0], buf, 6, 0);
	s.data = ptr_of(902);
	run1(&ring, &s, cqes + 2);
	memset(buf, 0, sizeof(buf));
	tap_ok(cqes[0].error == EFAULT && cqes[1].error == EFAULT && cqes[2].error == ESPIPE &&
	       read(p[0], buf, sizeof(buf)) == 6 && !memcmp(buf, "intact", 6),
	       "EFAULT (unmapped, partly unmapped) and ESPIPE READs consumed nothing from the pipe");
	s = wr(p[1], half + PAGE - 3, 6, IO_OFF_CUR);
	s.data = ptr_of(903);
	run1(&ring, &s, cqes);
	tap_ok(cqes[0].error == EFAULT && drain_fd(p[0], NULL, 0) == 0,
	       "a WRITE from a partly unmapped buffer put nothing into the pipe");
	tap_ok(pread(reg, buf, 20, 0) == 10 && !memcmp(buf, "0123456789", 10),
	       "the regular file is untouched by the failed WRITEs");
	{
		long long before = pins_outstanding();

		s = rd(rdonly, half + PAGE - 10, 100, IO_OFF_CUR);
		s.data = ptr_of(904);
		run1(&ring, &s, cqes);
		tap_ok(cqes[0].error == EFAULT && (before < 0 || pins_settle(before) == before),
		       "a READ failing EFAULT on its second page leaves no page pinned");
	}

	/* All at once: one enter consumes every case; each CQE has its own error. */
	for (i = 0; i < ncases; i++) {
		s = cases[i].sqe;
		push_sqe(&ring, &s);
	}
	got = submit_all(&ring, ncases, cqes);
	for (i = 0; i < got; i++) {
		size_t k = cqe_data(&cqes[i]) - 1;

		if (k < ncases && cqes[i].error == cases[k].want && cqes[i].op == cases[k].sqe.op)
			matched++;
		else
			tap_diag("batch CQE data %llu: error %s", (unsigned long long)cqe_data(&cqes[i]),
				 tap_errname(cqes[i].error));
	}
	tap_ok(got == ncases && matched == ncases,
	       "all %zu in one batch: every CQE carries its own error (%zu matched)", ncases,
	       matched);
	tap_ok(enter_failures == 0, "no enter call failed: errors only ever came back in CQEs");
	EXPECT_EQ(ioring_teardown(ring.id), 0, "teardown: nothing left in flight");
	return tap_done();
}
