// SPDX-License-Identifier: MIT
/*
 * regs: the seven shared registers. At completion the result (0 for a NOP) is
 * stored into the register the save specifier names, before the CQE is
 * published; SQE_REG_NONE stores nothing; flags == 0 means "load everything
 * from regs[0], save into regs[0]" (the PatchworkOS quirk). Also checks the
 * library's specifier builders bit by bit.
 */
#include "common.h"

#define MARK(i) (0x1000 + (uint64_t)(i) * 0x111)

static void preset(ioring_t *ring)
{
	unsigned int i;

	for (i = 0; i < SQE_REGS_MAX; i++)
		ioring_reg_store(ring, i, MARK(i));
}

/* Registers differing from their mark: bit i set when regs[i] changed. */
static unsigned int changed(ioring_t *ring)
{
	unsigned int i, mask = 0;

	for (i = 0; i < SQE_REGS_MAX; i++)
		if (ioring_reg_load(ring, i) != MARK(i))
			mask |= 1u << i;
	return mask;
}

static void show_regs(ioring_t *ring)
{
	unsigned int i;

	for (i = 0; i < SQE_REGS_MAX; i++)
		tap_diag("regs[%u] = %#llx (preset %#llx)", i,
			 (unsigned long long)ioring_reg_load(ring, i), (unsigned long long)MARK(i));
}

/* Preset, run one timeout-0 NOP with these flags, return what changed. */
static unsigned int nop_with(ioring_t *ring, sqe_flags_t flags, cqe_t *cqe)
{
	preset(ring);
	push_nop_flags(ring, 0, flags, flags);
	if (ioring_enter(ring->id, 1, 1) != 1)
		tap_diag("ioring_enter: %s", strerror(errno));
	if (!cqe_pop(ring, cqe))
		memset(cqe, 0xff, sizeof(*cqe));
	return changed(ring);
}

/* 5 tests: the builders, no kernel involved */
static void builders(void)
{
	sqe_t sqe;

	tap_ok(SQE_FLAGS_NO_REGS == 0x3ffff, "SQE_FLAGS_NO_REGS = 0x3ffff (all six specifiers 7)");
	tap_ok(SQE_FLAGS_SAVE(SQE_REG3) == (0x3ffffu & ~(7u << 15)) + (3u << 15),
	       "SQE_FLAGS_SAVE(3): loads none, save 3");
	tap_ok(SQE_FLAGS_LOAD(SQE_LOAD2, SQE_REG5) == (0x3ffffu & ~(7u << 6)) + (5u << 6),
	       "SQE_FLAGS_LOAD(SQE_LOAD2, 5): arg2 from 5, the rest none");
	sqe_prep_nop(&sqe, 0, NULL);
	sqe_load_reg(&sqe, SQE_LOAD4, SQE_REG0);
	sqe_save_reg(&sqe, SQE_REG6);
	sqe_set_link(&sqe);
	tap_ok(sqe.flags == ((0x3ffffu & ~(7u << 12) & ~(7u << 15)) | (6u << 15) | SQE_LINK),
	       "sqe_load_reg(4, 0) + sqe_save_reg(6) + sqe_set_link: %#x", sqe.flags);
	sqe_prep_nop(&sqe, 5, (void *)1);
	tap_ok(sqe.flags == SQE_FLAGS_NO_REGS && !sqe.arg0 && !sqe.arg1 && !sqe.arg2 && !sqe.arg3 &&
	       !sqe.arg4 && sqe.timeout == 5 && sqe.op == IO_OP_NOP,
	       "sqe_prep_nop: no registers, zero arguments");
}

int main(void)
{
	unsigned int k, mask, i;
	sqe_flags_t flags;
	ioring_t ring;
	cqe_t cqe;
	bool ok, zero;

	require_device();
	tap_plan(5 + 1 + 7 + 1 + 2 + 1 + 1 + 1 + 1);
	builders();
	if (ioring_setup(&ring, NULL, 8, 8) == ERR)
		tap_bail("ioring_setup: %s", strerror(errno));
	zero = true;
	for (i = 0; i < SQE_REGS_MAX; i++)
		zero &= ioring_reg_load(&ring, i) == 0;
	tap_ok(zero, "a new ring's registers are 0");

	for (k = 0; k < SQE_REGS_MAX; k++) {
		mask = nop_with(&ring, SQE_FLAGS_SAVE(k), &cqe);
		tap_ok(cqe.error == ETIMEDOUT && mask == 1u << k && ioring_reg_load(&ring, k) == 0,
		       "save specifier %u: regs[%u] = 0, the others untouched", k, k);
		if (!TAP_LAST) {
			tap_diag("CQE error %s, changed mask %#x", tap_errname(cqe.error), mask);
			show_regs(&ring);
		}
	}

	mask = nop_with(&ring, SQE_FLAGS_NO_REGS, &cqe);
	tap_ok(cqe.error == ETIMEDOUT && mask == 0, "SQE_FLAGS_NO_REGS: no register changes");
	if (!TAP_LAST)
		show_regs(&ring);

	mask = nop_with(&ring, 0, &cqe);
	tap_ok(cqe.error == ETIMEDOUT, "flags 0 is a valid NOP (%s)", tap_errname(cqe.error));
	tap_ok(mask == 1u && ioring_reg_load(&ring, 0) == 0,
	       "flags 0 saves into regs[0] (the quirk), nothing else changes");
	if (!TAP_LAST)
		show_regs(&ring);

	flags = SQE_FLAGS_NO_REGS;
	for (i = 0; i < 5; i++)
		flags = SQE_FLAGS_REG(flags, SQE_LOAD0 + 3 * i, i + 1);
	mask = nop_with(&ring, flags, &cqe);
	tap_ok(cqe.error == ETIMEDOUT && mask == 0,
	       "loading all five arguments from registers 1..5 changes no register");

	/* Saving into a register never reads it: any old value is replaced. */
	ioring_reg_store(&ring, 4, UINT64_MAX);
	push_nop_flags(&ring, 0, 9, SQE_FLAGS_SAVE(4) | SQE_HARDLINK);
	push_nop_flags(&ring, 0, 10, SQE_FLAGS_SAVE(5));
	ioring_reg_store(&ring, 5, 12345);
	ioring_enter(ring.id, 2, 2);
	tap_ok(pop_cqes(&ring, &cqe, 1) && pop_cqes(&ring, &cqe, 1) && ioring_reg_load(&ring, 4) == 0 &&
	       ioring_reg_load(&ring, 5) == 0, "a hardlinked pair saves into regs[4] and regs[5]");

	/*
	 * The register is stored before the CQE is published: poll ctail (no
	 * enter wait), then read the register at once. Repeated to catch a race.
	 */
	ok = true;
	for (i = 0; i < 500 && ok; i++) {
		uint32_t tail = ring.ctrl->ctail;

		ioring_reg_store(&ring, 2, i + 1);
		push_nop_flags(&ring, i % 2 ? 0 : 1000, i, SQE_FLAGS_SAVE(2));
		if (ioring_enter(ring.id, 1, 0) != 1) {
			ok = false;
			break;
		}
		while (atomic_load_explicit(&ring.ctrl->ctail, memory_order_acquire) == tail)
			;
		ok = ioring_reg_load(&ring, 2) == 0;
		pop_cqes(&ring, &cqe, 1);
	}
	tap_ok(ok, "every CQE, as soon as it is visible, finds its result in the register (%u runs)",
	       i);

	EXPECT_EQ(ioring_teardown(ring.id), 0, "teardown");
	return tap_done();
}
