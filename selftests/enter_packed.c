// SPDX-License-Identifier: MIT
/*
 * enter_packed: PWRING_IOC_ENTER_PACKED, ENTER with id, amount and wait in
 * the ioctl's argument. The fields decode as the header says, the maxima
 * mean "as many as there are" and "more than can ever come", bad ids are
 * EINVAL, and its results match the struct command's.
 */
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

/* Pop n CQEs and check each is a NOP that timed out, with data first..first+n-1. */
static void expect_nops(ioring_t *ring, unsigned int n, uint64_t first, const char *what)
{
	cqe_t cqe;
	unsigned int i, good = 0;

	for (i = 0; i < n; i++)
		good += cqe_pop(ring, &cqe) && cqe.op == IO_OP_NOP && cqe.error == ETIMEDOUT &&
			cqe_data(&cqe) == first + i;
	tap_ok(good == n && !cqe_pop(ring, &cqe), "%s: %u CQEs in order, no more", what, n);
}

int main(void)
{
	ioring_t ring;
	int fd;

	require_device();
	tap_plan(1 + 4 + 6 + 4);
	fd = raw_open();
	if (fd < 0)
		tap_bail("open: %s", strerror(errno));
	EXPECT_EQ(raw_setup(fd, &ring, NULL, 8, 8), 0, "ring 0");

	/* Ids. */
	EXPECT_ERRNO(enter_packed(fd, 1, 0, 0), EINVAL, "ring 1 not set up -> EINVAL");
	EXPECT_ERRNO(enter_packed(fd, 8, 0, 0), EINVAL, "id 8 -> EINVAL");
	EXPECT_ERRNO(enter_packed(fd, PWRING_ENTER_ID_MASK, 0, 0), EINVAL, "id 255 -> EINVAL");
	EXPECT_EQ(enter_packed(fd, 0, 0, 0), 0, "ring 0, amount 0, wait 0: 0");

	/* Amount and wait, each field on its own. */
	push_nop(&ring, 0, 1);
	push_nop(&ring, 0, 2);
	push_nop(&ring, 0, 3);
	EXPECT_EQ(enter_packed(fd, 0, 2, 0), 2, "amount 2 of 3 ready: consumed 2");
	EXPECT_EQ(enter_packed(fd, 0, 0, 2), 0, "amount 0, wait 2: returns with 2 CQEs");
	expect_nops(&ring, 2, 1, "after amount 2");
	EXPECT_EQ(enter_packed(fd, 0, PWRING_ENTER_AMOUNT_MAX, 1), 1,
		  "the maximum amount takes what is ready: 1");
	expect_nops(&ring, 1, 3, "after the maximum amount");
	push_nop(&ring, 0, 4);
	EXPECT_EQ(enter_packed(fd, 0, 1, PWRING_ENTER_WAIT_MAX), 1,
		  "the maximum wait can never be satisfied: returns the count at once");

	/* The same results as the struct command. */
	EXPECT_ERRNO(enter_packed(fd, 0, 0, PWRING_ENTER_WAIT_MAX), EBUSY,
		     "nothing consumed, unsatisfiable wait -> EBUSY (as the struct gives)");
	EXPECT_ERRNO(raw_enter(fd, 0, 0, PWRING_ENTER_WAIT_MAX), EBUSY,
		     "the struct command with that wait -> EBUSY");
	expect_nops(&ring, 1, 4, "after the maximum wait");
	EXPECT_EQ(raw_teardown(fd, 0), 0, "teardown");
	close(fd);
	return tap_done();
}
