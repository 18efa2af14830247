// SPDX-License-Identifier: MIT
/*
 * close: closing the device file (the last reference to it) cancels every
 * request in flight, writing an ECANCELED CQE for each into the still-mapped
 * ring memory, and frees every ring; a new open starts afresh. Closing a
 * duplicate descriptor cancels nothing. Process exit, even while blocked in
 * enter, cleans up without hanging.
 *
 * The library keeps its descriptor private, so this uses the raw ioctls.
 */
#include "common.h"

static void setup_or_bail(int fd, ioring_t *ring, size_t s, size_t c)
{
	if (raw_setup(fd, ring, NULL, s, c) < 0)
		tap_bail("raw setup: %s", strerror(errno));
}

/* CQEs in the ring from 0 to ctail: count those with this error and data in [lo, hi]. */
static unsigned int count_cqes(ioring_t *ring, int error, uint64_t lo, uint64_t hi)
{
	uint32_t i, tail = ring->ctrl->ctail;
	unsigned int n = 0;

	for (i = 0; i < tail && i < ring->centries; i++) {
		const cqe_t *c = &ring->cqueue[i & ring->cmask];

		n += c->error == error && c->op == IO_OP_NOP && cqe_data(c) >= lo && cqe_data(c) <= hi;
	}
	return n;
}

/* Wait for a child for at most `secs`; kill it if it is still there. */
static bool reap_within(pid_t pid, int secs, int *status)
{
	int i;

	for (i = 0; i < secs * 20; i++) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		sleep_ns(50 * NSEC_PER_MSEC);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return false;
}

/* 9 tests */
static void cancel_on_close(void)
{
	ioring_t a, b;
	int fd = raw_open();
	uint64_t i;

	if (fd < 0)
		tap_bail("open: %s", strerror(errno));
	setup_or_bail(fd, &a, 8, 8);
	setup_or_bail(fd, &b, 8, 8);
	for (i = 1; i <= 5; i++)
		push_nop(&a, CLOCKS_NEVER, i);
	push_nop(&a, 0, 6);
	EXPECT_EQ(raw_enter(fd, a.id, 6, 0), 6, "ring A: 5 NOPs that never time out and one that does");
	push_nop_flags(&b, CLOCKS_NEVER, 11, SQE_FLAGS_NO_REGS | SQE_LINK);
	push_nop_flags(&b, 0, 12, SQE_FLAGS_NO_REGS | SQE_HARDLINK);
	push_nop_flags(&b, 0, 13, SQE_FLAGS_NO_REGS);
	EXPECT_EQ(raw_enter(fd, b.id, 3, 0), 3, "ring B: a chain of 3 behind a NOP that never ends");
	sleep_ns(50 * NSEC_PER_MSEC);
	tap_ok(a.ctrl->ctail == 1 && b.ctrl->ctail == 0, "50 ms later only the timeout-0 NOP is done");

	EXPECT_EQ(close(fd), 0, "close the device file");
	tap_ok(a.ctrl->ctail == 6, "ring A: ctail advanced to 6 (is %u)", (unsigned int)a.ctrl->ctail);
	tap_ok(count_cqes(&a, ECANCELED, 1, 5) == 5 && count_cqes(&a, ETIMEDOUT, 6, 6) == 1,
	       "ring A: the 5 NOPs in flight completed ECANCELED, the other kept ETIMEDOUT");
	tap_ok(b.ctrl->ctail == 3, "ring B: ctail advanced to 3 (is %u)", (unsigned int)b.ctrl->ctail);
	tap_ok(count_cqes(&b, ECANCELED, 11, 13) == 3, "ring B: the whole chain completed ECANCELED");
	tap_ok(cqe_data(&b.cqueue[0]) == 11, "ring B: the head's CQE comes first");
	munmap(a.ctrl, ring_bytes(8, 8));
	munmap(b.ctrl, ring_bytes(8, 8));
}

/* 3 tests */
static void reopen(void)
{
	ioring_t ring;
	int fd = raw_open();
	cqe_t cqe;

	EXPECT_EQ(raw_setup(fd, &ring, NULL, 4, 4), 0, "a new open: setup gets ring 0 again");
	push_nop(&ring, 0, 1);
	EXPECT_EQ(raw_enter(fd, 0, 1, 1), 1, "and the ring works");
	tap_ok(cqe_pop(&ring, &cqe) && cqe.error == ETIMEDOUT, "its NOP times out");
	close(fd);
	munmap(ring.ctrl, ring_bytes(4, 4));
}

/* 4 tests */
static void dup_close(void)
{
	ioring_t ring;
	int fd = raw_open(), fd2;

	setup_or_bail(fd, &ring, 4, 4);
	push_nop(&ring, CLOCKS_NEVER, 1);
	raw_enter(fd, ring.id, 1, 0);
	fd2 = dup(fd);
	EXPECT_EQ(close(fd), 0, "close the original of a dup'ed descriptor");
	sleep_ns(50 * NSEC_PER_MSEC);
	tap_ok(ring.ctrl->ctail == 0, "the request in flight was not cancelled");
	push_nop(&ring, 0, 2);
	EXPECT_EQ(raw_enter(fd2, ring.id, 1, 1), 1, "the ring works through the duplicate");
	close(fd2);
	tap_ok(ring.ctrl->ctail == 2 && count_cqes(&ring, ECANCELED, 1, 1) == 1,
	       "closing the last descriptor cancels it");
	munmap(ring.ctrl, ring_bytes(4, 4));
}

/* 3 tests */
static void exit_cleanup(void)
{
	int status;
	pid_t pid;

	/* Exit with requests in flight. */
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		ioring_t ring;
		int i;

		if (ioring_setup(&ring, NULL, 8, 8) == ERR)
			_exit(2);
		for (i = 0; i < 8; i++)
			push_nop(&ring, CLOCKS_NEVER, i);
		_exit(ioring_enter(ring.id, 8, 0) == 8 ? 0 : 3);
	}
	tap_ok(pid > 0 && reap_within(pid, 20, &status) && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0, "a process exiting with 8 requests in flight is gone");

	/* SIGKILL while blocked in enter waiting. */
	pid = fork();
	if (pid == 0) {
		ioring_t ring;

		if (ioring_setup(&ring, NULL, 4, 4) == ERR)
			_exit(2);
		push_nop(&ring, CLOCKS_NEVER, 1);
		ioring_enter(ring.id, 1, 1);
		_exit(3);
	}
	if (!wait_in_ioctl(pid, pid))
		tap_diag("the child was not seen waiting in enter");
	kill(pid, SIGKILL);
	tap_ok(pid > 0 && reap_within(pid, 20, &status) && WIFSIGNALED(status) &&
	       WTERMSIG(status) == SIGKILL, "SIGKILL ends a process waiting in enter");

	/* SIGTERM (default action) too: the wait is interruptible, not just killable. */
	pid = fork();
	if (pid == 0) {
		ioring_t ring;

		if (ioring_setup(&ring, NULL, 4, 4) == ERR)
			_exit(2);
		push_nop(&ring, CLOCKS_NEVER, 1);
		ioring_enter(ring.id, 1, 1);
		_exit(3);
	}
	if (!wait_in_ioctl(pid, pid))
		tap_diag("the child was not seen waiting in enter");
	kill(pid, SIGTERM);
	tap_ok(pid > 0 && reap_within(pid, 20, &status) && WIFSIGNALED(status) &&
	       WTERMSIG(status) == SIGTERM, "SIGTERM ends a process waiting in enter");
}

int main(void)
{
	require_device();
	tap_plan(9 + 3 + 4 + 3);
	cancel_on_close();
	reopen();
	dup_close();
	exit_cleanup();
	return tap_done();
}
