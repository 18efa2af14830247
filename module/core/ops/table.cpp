// SPDX-License-Identifier: GPL-2.0
#include "table.h"

namespace pw {

/* In opcode order; C++ has no array designators, so the asserts keep it honest. */
static constexpr OpDef kOps[] = {
	{nop_issue, false, "nop"},
	{read_issue, true, "read"},
	{write_issue, true, "write"},
	{poll_issue, true, "poll"},
};
static_assert(PWRING_OP_NOP == 0 && PWRING_OP_READ == 1 && PWRING_OP_WRITE == 2 &&
	      PWRING_OP_POLL == 3, "opcode order");
static_assert(sizeof(kOps) / sizeof(kOps[0]) == PWRING_OP_MAX, "one entry per opcode");

const OpDef *op_lookup(u32 op)
{
	return op < PWRING_OP_MAX ? &kOps[op] : nullptr;
}

} // namespace pw
