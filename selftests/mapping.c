// SPDX-License-Identifier: MIT
/*
 * mapping: the ring's user mapping. It cannot be grown or moved with mremap,
 * is not inherited by fork (not even after MADV_DOFORK), may be unmapped by the user (teardown still
 * works), and teardown never unmaps what the user mapped there afterwards.
 */
#include "common.h"

static ioring_t setup_or_bail(void)
{
	ioring_t ring;

	if (ioring_setup(&ring, NULL, 4, 4) == ERR)
		tap_bail("ioring_setup: %s", strerror(errno));
	return ring;
}

static bool nop_works(ioring_t *ring, uint64_t data)
{
	cqe_t cqe;

	push_nop(ring, 0, data);
	return ioring_enter(ring->id, 1, 1) == 1 && cqe_pop(ring, &cqe) &&
	       cqe_data(&cqe) == data && cqe.error == ETIMEDOUT;
}

static void expect_mremap_fails(void *ret, const char *what)
{
	int err = errno;

	tap_ok(ret == MAP_FAILED, "%s fails%s%s", what, ret == MAP_FAILED ? ": " : "",
	       ret == MAP_FAILED ? tap_errname(err) : "");
	if (ret != MAP_FAILED)
		tap_diag("mremap returned %p", ret);
}

/* 5 tests */
static void test_mremap(void)
{
	ioring_t ring = setup_or_bail();
	size_t len = ring_bytes(4, 4);
	void *to = free_address(4 * len), *ret;

	ret = mremap(ring.ctrl, len, 2 * len, 0);
	expect_mremap_fails(ret, "mremap growing the ring in place");
	ret = mremap(ring.ctrl, len, 2 * len, MREMAP_MAYMOVE);
	expect_mremap_fails(ret, "mremap growing the ring (may move)");
	ret = mremap(ring.ctrl, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	expect_mremap_fails(ret, "mremap moving the ring");
	tap_ok(nop_works(&ring, 1), "the ring still works where it was");
	EXPECT_EQ(ioring_teardown(ring.id), 0, "teardown");
}

/* 4 tests */
static void test_fork(void)
{
	ioring_t ring = setup_or_bail();
	int ret;

	ioring_reg_store(&ring, 0, 77);
	ret = madvise(ring.ctrl, ring_bytes(4, 4), MADV_DOFORK);
	if (ret && errno == ENOSYS)	/* the debug kernel has no madvise */
		tap_skip("no madvise(2) in this kernel", "madvise(MADV_DOFORK) on the ring");
	else
		EXPECT_ERRNO(ret, EINVAL, "madvise(MADV_DOFORK) cannot make the ring inheritable");
	expect_segv(ring.ctrl, "in a forked child, the ring");
	tap_ok(ioring_reg_load(&ring, 0) == 77 && nop_works(&ring, 2),
	       "the parent's ring is unaffected by the child");
	EXPECT_EQ(ioring_teardown(ring.id), 0, "teardown");
}

/* 10 tests */
static void test_user_munmap(void)
{
	ioring_t ring = setup_or_bail();
	size_t len = ring_bytes(4, 4), i;
	unsigned char *page, *at = (unsigned char *)ring.ctrl;
	bool intact;

	EXPECT_EQ(munmap(ring.ctrl, len), 0, "the user unmaps the ring");
	EXPECT_EQ(ioring_teardown(ring.id), 0, "teardown still succeeds");
	EXPECT_ERRNO(ioring_teardown(ring.id), EINVAL, "and freed the slot");

	/* A request completing into an unmapped ring. */
	ring = setup_or_bail();
	push_nop(&ring, 100 * NSEC_PER_MSEC, 3);
	EXPECT_EQ(ioring_enter(ring.id, 1, 0), 1, "a 100 ms NOP in flight");
	munmap(ring.ctrl, len);
	EXPECT_EQ(ioring_enter(ring.id, 0, 1), 0, "after munmap, enter still waits for its CQE");
	EXPECT_EQ(ioring_teardown(ring.id), 0, "and teardown works");

	/* Something new at the old address survives teardown. */
	ring = setup_or_bail();
	at = (unsigned char *)ring.ctrl;
	munmap(ring.ctrl, len);
	page = mmap(at, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	tap_ok(page == at, "a fresh anonymous mapping takes the ring's old address");
	if (page != at)
		tap_bail("mmap: %s", strerror(errno));
	for (i = 0; i < len; i++)
		page[i] = (unsigned char)(i ^ 0x5a);
	EXPECT_EQ(ioring_teardown(ring.id), 0, "teardown");
	tap_ok(!range_unmapped(page, PAGE) && !range_unmapped(page + len - PAGE, PAGE),
	       "the new mapping is still there");
	intact = true;
	for (i = 0; i < len; i++)
		intact &= page[i] == (unsigned char)(i ^ 0x5a);
	tap_ok(intact, "and its content is intact");
	munmap(page, len);
}

int main(void)
{
	require_device();
	tap_plan(5 + 4 + 10);
	test_mremap();
	test_fork();
	test_user_munmap();
	return tap_done();
}
