// SPDX-License-Identifier: MIT
/*
 * teardown: ioring_teardown() - ids, EBUSY while requests are in flight (the
 * ring stays usable), unmapping, freeing the slot, and leaving other rings and
 * the address space alone.
 */
#include "common.h"

int main(void)
{
	ioring_t ring, other;
	size_t len = ring_bytes(4, 4);
	unsigned char *addr, *remap;
	ioring_id_t id, id2;
	cqe_t cqes[2];
	void *ctrl;

	require_device();
	tap_plan(3 + 6 + 5 + 3 + 4);

	EXPECT_ERRNO(ioring_teardown(0), EINVAL, "ring 0 before any setup -> EINVAL");
	EXPECT_ERRNO(ioring_teardown(8), EINVAL, "id 8 -> EINVAL");
	EXPECT_ERRNO(ioring_teardown(UINT64_MAX), EINVAL, "id UINT64_MAX -> EINVAL");

	/* In flight: EBUSY, and the ring keeps working. */
	id = ioring_setup(&ring, NULL, 4, 4);
	if (id == ERR)
		tap_bail("ioring_setup: %s", strerror(errno));
	push_nop(&ring, 300 * NSEC_PER_MSEC, 1);
	EXPECT_EQ(ioring_enter(id, 1, 0), 1, "a 300 ms NOP in flight");
	EXPECT_ERRNO(ioring_teardown(id), EBUSY, "teardown with a request in flight -> EBUSY");
	push_nop(&ring, 0, 2);
	EXPECT_EQ(ioring_enter(id, 1, 0), 1, "the ring still takes SQEs");
	tap_ok(wait_pop(&ring, cqes, 2) &&
	       ((cqe_data(&cqes[0]) == 2 && cqe_data(&cqes[1]) == 1)), "both complete, 0 ms first");
	push_nop(&ring, 0, 3);
	EXPECT_EQ(ioring_enter(id, 1, 1), 1, "a last NOP, its CQE left unreaped");
	EXPECT_EQ(ioring_teardown(id), 0, "teardown with unreaped CQEs but nothing in flight works");

	/* Gone: the id, the mapping. */
	ctrl = ring.ctrl;
	EXPECT_ERRNO(ioring_teardown(id), EINVAL, "a second teardown -> EINVAL");
	EXPECT_ERRNO(ioring_enter(id, 1, 0), EINVAL, "enter on the torn down ring -> EINVAL");
	tap_ok(range_unmapped(ctrl, len), "the ring's pages are unmapped");
	expect_segv(ctrl, "after teardown");
	EXPECT_EQ(ioring_setup(&ring, NULL, 4, 4), id, "the freed slot is reused");

	/* Other rings are not affected. */
	id2 = ioring_setup(&other, NULL, 4, 4);
	EXPECT_EQ(ioring_teardown(id), 0, "teardown of the first of two rings");
	push_nop(&other, 0, 4);
	ioring_enter(id2, 1, 1);
	tap_ok(id2 != ERR && cqe_pop(&other, &cqes[0]) && cqe_data(&cqes[0]) == 4,
	       "the second ring still works");
	EXPECT_EQ(ioring_teardown(id2), 0, "teardown of the second");

	/* A ring at a fixed address gives the range back. */
	addr = free_address(len);
	id = ioring_setup(&ring, addr, 4, 4);
	EXPECT_EQ(id, 0, "a ring at a chosen address %p", addr);
	EXPECT_EQ(ioring_teardown(id), 0, "torn down");
	remap = mmap(addr, len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	tap_ok(remap == addr, "the range can be mapped again (MAP_FIXED_NOREPLACE)");
	tap_ok(remap == addr && addr[0] == 0 && addr[len - 1] == 0, "and holds fresh zero pages");
	if (remap != MAP_FAILED)
		munmap(remap, len);
	return tap_done();
}
