// SPDX-License-Identifier: MIT
/*
 * restrict: PWRING_IOC_RESTRICT (ioring_restrict()) locks a ring for good to
 * an allow-list of operations and descriptors. Requests outside it complete
 * with EACCES, one CQE each, and touch no file; a descriptor loaded from a
 * register is checked after the load; EACCES breaks an SQE_LINK chain like
 * any error; the list can be neither replaced nor loosened (EPERM); bad
 * entries are EINVAL and change nothing; a forked child may not restrict
 * the parent's ring (EPERM); other rings of the file are not affected.
 */
#include "common.h"

/* Enter n SQEs already pushed, wait for their n CQEs; false on any failure. */
static bool run(ioring_t *ring, ioring_id_t id, cqe_t *out, size_t n)
{
	return ioring_enter(id, n, n) == n && pop_cqes(ring, out, n) == n;
}

/* CQEs come in completion order (a pipe may go through a worker): find one by data. */
static const cqe_t *by_data(const cqe_t *c, size_t n, uintptr_t data)
{
	static const cqe_t none = { .error = -1 };

	for (size_t i = 0; i < n; i++)
		if (cqe_data(&c[i]) == data)
			return &c[i];
	return &none;
}

static ioring_restriction_t allow(io_op_t op, int fd)
{
	ioring_restriction_t r = { .op = op, .fd = fd };

	return r;
}

/* 10 tests */
static void test_list(void)
{
	int a[2], b[2];
	char out[8] = { 0 };
	ioring_t ring;
	ioring_id_t id;
	sqe_t sqe;
	cqe_t c[6];
	ioring_restriction_t list[3];

	if (pipe(a) || pipe(b))
		tap_bail("pipe: %s", strerror(errno));
	id = ioring_setup(&ring, NULL, 8, 8);
	if (id == ERR)
		tap_bail("setup: %s", strerror(errno));
	list[0] = allow(IO_OP_READ, a[0]);
	list[1] = allow(IO_OP_WRITE, a[1]);
	list[2] = allow(IO_OP_POLL, IORING_RESTRICT_ANY_FD);
	EXPECT_EQ(ioring_restrict(id, list, 3), 0, "READ a[0], WRITE a[1], POLL any: locked");

	sqe_prep_write(&sqe, a[1], "abc", 3, -1, CLOCKS_NEVER, (void *)1);
	sqe_push(&ring, &sqe);
	sqe_prep_read(&sqe, a[0], out, 3, -1, CLOCKS_NEVER, (void *)2);
	sqe_push(&ring, &sqe);
	sqe_prep_write(&sqe, b[1], "xyz", 3, -1, CLOCKS_NEVER, (void *)3);
	sqe_push(&ring, &sqe);
	sqe_prep_read(&sqe, b[0], out, 3, -1, 0, (void *)4);
	sqe_push(&ring, &sqe);
	sqe_prep_nop(&sqe, 1000, (void *)5);
	sqe_push(&ring, &sqe);
	sqe_prep_poll(&sqe, b[1], IO_POLL_WRITE, CLOCKS_NEVER, (void *)6);
	sqe_push(&ring, &sqe);
	if (!run(&ring, id, c, 6))
		tap_bail("enter: %s", strerror(errno));
	tap_ok(by_data(c, 6, 1)->error == 0 && by_data(c, 6, 1)->_result == 3, "WRITE on a[1] runs");
	tap_ok(by_data(c, 6, 2)->error == 0 && memcmp(out, "abc", 3) == 0, "READ on a[0] runs");
	tap_ok(by_data(c, 6, 3)->error == EACCES && by_data(c, 6, 3)->op == IO_OP_WRITE,
	       "WRITE on b[1]: EACCES (%d)", by_data(c, 6, 3)->error);
	tap_ok(by_data(c, 6, 4)->error == EACCES, "READ on b[0]: EACCES (%d)", by_data(c, 6, 4)->error);
	tap_ok(by_data(c, 6, 5)->error == EACCES && by_data(c, 6, 5)->op == IO_OP_NOP,
	       "NOP, not listed: EACCES (%d)", by_data(c, 6, 5)->error);
	tap_ok(by_data(c, 6, 6)->error == 0, "POLL on any descriptor runs (%d)", by_data(c, 6, 6)->error);
	{
		char buf[8];
		int fl = fcntl(b[0], F_GETFL);

		fcntl(b[0], F_SETFL, fl | O_NONBLOCK);
		tap_ok(read(b[0], buf, sizeof(buf)) == -1 && errno == EAGAIN,
		       "the refused WRITE wrote nothing");
	}
	/* Register substitution: the SQE names a[1], the register b[1]. */
	ioring_reg_store(&ring, 2, (uint64_t)b[1]);
	sqe_prep_write(&sqe, a[1], "r", 1, -1, CLOCKS_NEVER, (void *)7);
	sqe_load_reg(&sqe, SQE_LOAD0, 2);
	sqe_push(&ring, &sqe);
	tap_ok(run(&ring, id, c, 1) && c[0].error == EACCES,
	       "a forbidden descriptor loaded from a register: EACCES");
	EXPECT_EQ(ioring_teardown(id), 0, "teardown of a restricted ring");
	close(a[0]); close(a[1]); close(b[0]); close(b[1]);
}

/* 3 tests */
static void test_links(void)
{
	ioring_t ring;
	ioring_id_t id;
	sqe_t sqe;
	cqe_t c[3];
	ioring_restriction_t r = allow(IO_OP_POLL, IORING_RESTRICT_ANY_FD);

	id = ioring_setup(&ring, NULL, 8, 8);
	if (id == ERR || ioring_restrict(id, &r, 1) == ERR)
		tap_bail("setup/restrict: %s", strerror(errno));
	sqe_prep_nop(&sqe, 1000, (void *)1);
	sqe_set_link(&sqe);
	sqe_push(&ring, &sqe);
	sqe_prep_poll(&sqe, 1, IO_POLL_WRITE, CLOCKS_NEVER, (void *)2);
	sqe_set_hardlink(&sqe);
	sqe_push(&ring, &sqe);
	sqe_prep_poll(&sqe, 1, IO_POLL_WRITE, CLOCKS_NEVER, (void *)3);
	sqe_push(&ring, &sqe);
	if (!run(&ring, id, c, 3))
		tap_bail("enter: %s", strerror(errno));
	tap_ok(by_data(c, 3, 1)->error == EACCES, "a refused head: EACCES");
	tap_ok(by_data(c, 3, 2)->error == ECANCELED, "its SQE_LINK successor: ECANCELED (%d)",
	       by_data(c, 3, 2)->error);
	tap_ok(by_data(c, 3, 3)->error == ECANCELED, "and the rest of the chain (%d)",
	       by_data(c, 3, 3)->error);
	ioring_teardown(id);
}

static void child_restrict(void *arg)
{
	struct pwring_restrict_args *a = arg;
	int fd = (int)a->_reserved;

	a->_reserved = 0;
	_exit(ioctl(fd, PWRING_IOC_RESTRICT, a) == -1 && errno == EPERM ? 0 : 1);
}

/* 14 tests */
static void test_errors(void)
{
	ioring_t ring, other;
	ioring_id_t id, oid;
	sqe_t sqe;
	cqe_t c;
	ioring_restriction_t r[IORING_RESTRICT_MAX + 1];
	int fd, status;

	id = ioring_setup(&ring, NULL, 8, 8);
	oid = ioring_setup(&other, NULL, 8, 8);
	if (id == ERR || oid == ERR)
		tap_bail("setup: %s", strerror(errno));
	for (unsigned i = 0; i <= IORING_RESTRICT_MAX; i++)
		r[i] = allow(IO_OP_NOP, IORING_RESTRICT_ANY_FD);
	EXPECT_ERRNO(ioring_restrict(id, r, 0), EINVAL, "no entries: EINVAL");
	EXPECT_ERRNO(ioring_restrict(id, r, IORING_RESTRICT_MAX + 1), EINVAL, "65 entries: EINVAL");
	r[1] = allow(IO_OP_MAX, IORING_RESTRICT_ANY_FD);
	EXPECT_ERRNO(ioring_restrict(id, r, 2), EINVAL, "an unknown op: EINVAL");
	r[1] = allow(IO_OP_NOP, 0);
	EXPECT_ERRNO(ioring_restrict(id, r, 2), EINVAL, "NOP with a descriptor: EINVAL");
	r[1] = allow(IO_OP_READ, -2);
	EXPECT_ERRNO(ioring_restrict(id, r, 2), EINVAL, "fd -2: EINVAL");
	r[1] = allow(IO_OP_READ, 0);
	r[1].flags = 1;
	EXPECT_ERRNO(ioring_restrict(id, r, 2), EINVAL, "entry flags: EINVAL");
	EXPECT_ERRNO(ioring_restrict(7, r, 1), EINVAL, "no such ring: EINVAL");
	EXPECT_ERRNO(ioring_restrict(id, (void *)8, 1), EFAULT, "entries not readable: EFAULT");
	{
		/* What libpwring never sends: the argument's own reserved fields. */
		ioring_t raw_ring;
		int rfd = raw_open();
		struct pwring_restrict_args a = { .size = sizeof(a), .entries = (uintptr_t)r,
						  .nentries = 1 };

		if (rfd < 0 || raw_setup(rfd, &raw_ring, NULL, 4, 4) < 0)
			tap_bail("raw setup: %s", strerror(errno));
		a.id = raw_ring.id;
		a.flags = 1;
		EXPECT_ERRNO(ioctl(rfd, PWRING_IOC_RESTRICT, &a), EINVAL, "args.flags 1: EINVAL");
		a.flags = 0;
		a._reserved = 1;
		EXPECT_ERRNO(ioctl(rfd, PWRING_IOC_RESTRICT, &a), EINVAL, "args._reserved 1: EINVAL");
		close(rfd);
	}
	/* Nothing of that changed the ring: READ still runs. */
	sqe_prep_read(&sqe, 0, NULL, 0, -1, CLOCKS_NEVER, (void *)1);
	sqe_push(&ring, &sqe);
	tap_ok(run(&ring, id, &c, 1) && c.error != EACCES, "refused calls left it unrestricted");

	EXPECT_EQ(ioring_restrict(id, r, 1), 0, "NOP only: locked");
	r[0] = allow(IO_OP_READ, IORING_RESTRICT_ANY_FD);
	EXPECT_ERRNO(ioring_restrict(id, r, 1), EPERM, "locking again (looser): EPERM");

	/* A raw fork child shares the file but not the ring. */
	fd = raw_open();
	{
		ioring_t raw;
		int rid = raw_setup(fd, &raw, NULL, 4, 4);
		struct pwring_restrict_args a = {
			.size = sizeof(a), .id = (uint64_t)rid,
			.entries = (uint64_t)(uintptr_t)r, .nentries = 1,
			._reserved = (uint32_t)fd,
		};

		status = run_child(child_restrict, &a);
		tap_ok(rid >= 0 && status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		       "a forked child restricting the parent's ring: EPERM");
	}
	close(fd);
	ioring_teardown(id);
	ioring_teardown(oid);
}

/* 2 tests */
static void test_struct(void)
{
	struct { struct pwring_restrict_args a; uint64_t tail; } big;
	ioring_restriction_t r = allow(IO_OP_NOP, IORING_RESTRICT_ANY_FD);
	ioring_t ring;
	int fd = raw_open(), id = raw_setup(fd, &ring, NULL, 4, 4);

	memset(&big, 0, sizeof(big));
	big.a = (struct pwring_restrict_args){ .size = sizeof(big), .id = (uint64_t)id,
					       .entries = (uint64_t)(uintptr_t)&r, .nentries = 1 };
	big.tail = 1;
	EXPECT_ERRNO(ioctl(fd, PWRING_IOC_RESTRICT, &big), E2BIG, "a non-zero tail: E2BIG");
	big.tail = 0;
	EXPECT_EQ(ioctl(fd, PWRING_IOC_RESTRICT, &big), 0, "a larger struct with a zero tail works");
	close(fd);
}

int main(void)
{
	require_device();
	tap_plan(10 + 3 + 14 + 2);
	test_list();
	test_links();
	test_errors();
	test_struct();
	return tap_done();
}
