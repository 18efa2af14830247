// SPDX-License-Identifier: MIT
/*
 * teardown: ioring_teardown() - ids, EBUSY while requests are in flight (the
 * ring stays usable), unmapping, freeing the slot, and leaving other rings and
 * the address space alone.
 *
 * Written with kselftest_harness.h: every TEST runs in a child of its own,
 * so each starts without rings.
 */
#include "kselftest_harness.h"
#include "common.h"

/* Ids that name no ring: EINVAL. */
FIXTURE(no_ring) {};
FIXTURE_VARIANT(no_ring) {
	uint64_t id;
};
FIXTURE_VARIANT_ADD(no_ring, ring0_before_setup) { .id = 0 };
FIXTURE_VARIANT_ADD(no_ring, id8) { .id = 8 };
FIXTURE_VARIANT_ADD(no_ring, id_max) { .id = UINT64_MAX };
FIXTURE_SETUP(no_ring) {}
FIXTURE_TEARDOWN(no_ring) {}

TEST_F(no_ring, einval)
{
	EXPECT_EQ(-EINVAL, RESULT(ioring_teardown(variant->id)));
}

/* One 4/4 ring, set up before each test. */
FIXTURE(ring) {
	ioring_t ring;
	ioring_id_t id;
};

FIXTURE_SETUP(ring)
{
	self->id = ioring_setup(&self->ring, NULL, 4, 4);
	ASSERT_NE(ERR, self->id) TH_LOG("ioring_setup: %s", strerror(errno));
}

FIXTURE_TEARDOWN(ring) {}

/* In flight: EBUSY, and the ring keeps working. */
TEST_F(ring, ebusy_while_in_flight)
{
	ASSERT_TRUE(push_nop(&self->ring, 300 * NSEC_PER_MSEC, 1));
	ASSERT_EQ(1, RESULT(ioring_enter(self->id, 1, 0)));
	EXPECT_EQ(-EBUSY, RESULT(ioring_teardown(self->id)));
}

TEST_F(ring, usable_after_ebusy)
{
	cqe_t cqes[2];

	push_nop(&self->ring, 300 * NSEC_PER_MSEC, 1);
	ASSERT_EQ(1, RESULT(ioring_enter(self->id, 1, 0)));
	ASSERT_EQ(-EBUSY, RESULT(ioring_teardown(self->id)));
	push_nop(&self->ring, 0, 2);
	EXPECT_EQ(1, RESULT(ioring_enter(self->id, 1, 0)));
	/* Both complete, the 0 ms NOP first. */
	ASSERT_TRUE(wait_pop(&self->ring, cqes, 2));
	EXPECT_EQ(2u, cqe_data(&cqes[0]));
	EXPECT_EQ(1u, cqe_data(&cqes[1]));
}

/* Unreaped CQEs with nothing in flight do not hold the ring. */
TEST_F(ring, unreaped_cqes_do_not_block)
{
	push_nop(&self->ring, 0, 3);
	ASSERT_EQ(1, RESULT(ioring_enter(self->id, 1, 1)));
	EXPECT_EQ(0, RESULT(ioring_teardown(self->id)));
}

/* Gone: the id, the mapping. */
TEST_F(ring, id_gone)
{
	ASSERT_EQ(0, RESULT(ioring_teardown(self->id)));
	EXPECT_EQ(-EINVAL, RESULT(ioring_teardown(self->id)));
	EXPECT_EQ(-EINVAL, RESULT(ioring_enter(self->id, 1, 0)));
}

TEST_F(ring, pages_unmapped)
{
	void *ctrl = self->ring.ctrl;
	int status;

	ASSERT_EQ(0, RESULT(ioring_teardown(self->id)));
	EXPECT_TRUE(range_unmapped(ctrl, ring_bytes(4, 4)));
	EXPECT_TRUE(segv_in_child(ctrl, &status))
		TH_LOG("touching %p after teardown: wait status %#x", ctrl, status);
}

TEST_F(ring, slot_reused)
{
	ioring_t again;

	ASSERT_EQ(0, RESULT(ioring_teardown(self->id)));
	EXPECT_EQ(self->id, ioring_setup(&again, NULL, 4, 4));
}

/* Other rings are not affected. */
TEST_F(ring, other_ring_unaffected)
{
	ioring_t other;
	ioring_id_t id2 = ioring_setup(&other, NULL, 4, 4);
	cqe_t cqe;

	ASSERT_NE(ERR, id2);
	EXPECT_EQ(0, RESULT(ioring_teardown(self->id)));
	push_nop(&other, 0, 4);
	EXPECT_EQ(1, RESULT(ioring_enter(id2, 1, 1)));
	ASSERT_TRUE(cqe_pop(&other, &cqe));
	EXPECT_EQ(4u, cqe_data(&cqe));
	EXPECT_EQ(0, RESULT(ioring_teardown(id2)));
}

/* A ring at a fixed address gives the range back, and fresh zero pages come. */
TEST(fixed_address_released)
{
	size_t len = ring_bytes(4, 4);
	unsigned char *addr = free_address(len), *remap;
	ioring_t ring;

	ASSERT_NE(NULL, addr);
	EXPECT_EQ(0u, ioring_setup(&ring, addr, 4, 4)) TH_LOG("a ring at %p", addr);
	EXPECT_EQ(0, RESULT(ioring_teardown(0)));
	remap = mmap(addr, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	ASSERT_EQ(addr, remap) TH_LOG("MAP_FIXED_NOREPLACE: %s", strerror(errno));
	EXPECT_EQ(0, addr[0]);
	EXPECT_EQ(0, addr[len - 1]);
	munmap(remap, len);
}

int main(int argc, char **argv)
{
	require_device();
	return test_harness_run(argc, argv);
}
