// SPDX-License-Identifier: MIT
/*
 * enter_packed: PWRING_IOC_ENTER_PACKED, ENTER with id, amount and wait in
 * the ioctl's argument. The fields decode as the header says, the maxima
 * mean "as many as there are" and "more than can ever come", bad ids are
 * EINVAL, and its results match the struct command's.
 *
 * Written with kselftest_harness.h: each TEST runs in a child of its own,
 * with a descriptor of its own and ring 0 (8/8) set up.
 */
#include "kselftest_harness.h"
#include "common.h"

static unsigned long pack(uint64_t id, uint64_t amount, uint64_t wait)
{
	return (unsigned long)(id | amount << PWRING_ENTER_AMOUNT_SHIFT |
			       wait << PWRING_ENTER_WAIT_SHIFT);
}

static long enter_packed(int fd, uint64_t id, uint64_t amount, uint64_t wait)
{
	return ioctl(fd, PWRING_IOC_ENTER_PACKED, pack(id, amount, wait));
}

/* Pop n CQEs: true when each is a NOP that timed out, data first..first+n-1, and no more. */
static bool nops_in_order(ioring_t *ring, unsigned int n, uint64_t first)
{
	unsigned int i, good = 0;
	cqe_t cqe;

	for (i = 0; i < n; i++)
		good += cqe_pop(ring, &cqe) && cqe.op == IO_OP_NOP && cqe.error == ETIMEDOUT &&
			cqe_data(&cqe) == first + i;
	return good == n && !cqe_pop(ring, &cqe);
}

/* A descriptor of its own with ring 0 (8/8). */
static void open_ring0(struct __test_metadata *_metadata, int *fd, ioring_t *ring)
{
	*fd = raw_open();
	ASSERT_LE(0, *fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, RESULT(raw_setup(*fd, ring, NULL, 8, 8)));
}

/* Ring 1 is not set up; 8 is past the table; 255 is the field's maximum. */
FIXTURE(bad_id) {
	int fd;
	ioring_t ring;
};
FIXTURE_VARIANT(bad_id) {
	uint64_t id;
};
FIXTURE_VARIANT_ADD(bad_id, ring1) { .id = 1 };
FIXTURE_VARIANT_ADD(bad_id, id8) { .id = 8 };
FIXTURE_VARIANT_ADD(bad_id, id255) { .id = PWRING_ENTER_ID_MASK };

FIXTURE_SETUP(bad_id)
{
	open_ring0(_metadata, &self->fd, &self->ring);
}

FIXTURE_TEARDOWN(bad_id)
{
	close(self->fd);
}

TEST_F(bad_id, einval)
{
	EXPECT_EQ(-EINVAL, RESULT(enter_packed(self->fd, variant->id, 0, 0)));
}

FIXTURE(packed) {
	int fd;
	ioring_t ring;
};

FIXTURE_SETUP(packed)
{
	open_ring0(_metadata, &self->fd, &self->ring);
}

FIXTURE_TEARDOWN(packed)
{
	close(self->fd);
}

TEST_F(packed, nothing_to_do)
{
	EXPECT_EQ(0, RESULT(enter_packed(self->fd, 0, 0, 0)));
}

/* Amount and wait, each field on its own. */
TEST_F(packed, amount_then_wait)
{
	push_nop(&self->ring, 0, 1);
	push_nop(&self->ring, 0, 2);
	push_nop(&self->ring, 0, 3);
	EXPECT_EQ(2, RESULT(enter_packed(self->fd, 0, 2, 0))) TH_LOG("amount 2 of 3 ready");
	EXPECT_EQ(0, RESULT(enter_packed(self->fd, 0, 0, 2))) TH_LOG("amount 0, wait 2");
	EXPECT_TRUE(nops_in_order(&self->ring, 2, 1));
}

TEST_F(packed, amount_max_takes_what_is_ready)
{
	push_nop(&self->ring, 0, 3);
	EXPECT_EQ(1, RESULT(enter_packed(self->fd, 0, PWRING_ENTER_AMOUNT_MAX, 1)));
	EXPECT_TRUE(nops_in_order(&self->ring, 1, 3));
}

/* The maximum wait can never be satisfied: the count comes back at once. */
TEST_F(packed, wait_max_returns_at_once)
{
	push_nop(&self->ring, 0, 4);
	EXPECT_EQ(1, RESULT(enter_packed(self->fd, 0, 1, PWRING_ENTER_WAIT_MAX)));
	EXPECT_TRUE(nops_in_order(&self->ring, 1, 4));
}

/* The same results as the struct command: nothing consumed, unsatisfiable wait. */
TEST_F(packed, ebusy_as_the_struct_gives)
{
	EXPECT_EQ(-EBUSY, RESULT(enter_packed(self->fd, 0, 0, PWRING_ENTER_WAIT_MAX)));
	EXPECT_EQ(-EBUSY, RESULT(raw_enter(self->fd, 0, 0, PWRING_ENTER_WAIT_MAX)));
}

TEST_F(packed, teardown_after_use)
{
	push_nop(&self->ring, 0, 5);
	ASSERT_EQ(1, RESULT(enter_packed(self->fd, 0, 1, 1)));
	EXPECT_EQ(0, RESULT(raw_teardown(self->fd, 0)));
}

int main(int argc, char **argv)
{
	require_device();
	return test_harness_run(argc, argv);
}
