// SPDX-License-Identifier: GPL-2.0
#include "table.h"

namespace pw {

/* In opcode order; C++ has no array designators, so the asserts keep it honest. */
const OpDef kOpTable[] = {
	{nop_issue, false, "nop", true},
	{read_issue, true, "read", false},
	{write_issue, true, "write", false},
	{poll_issue, true, "poll", false},
};
static_assert(PWRING_OP_NOP == 0 && PWRING_OP_READ == 1 && PWRING_OP_WRITE == 2 &&
	      PWRING_OP_POLL == 3, "opcode order");
static_assert(sizeof(kOpTable) / sizeof(kOpTable[0]) == PWRING_OP_MAX, "one entry per opcode");

const OpDef *op_lookup_beyond(u32)
{
	return nullptr;
}

} // namespace pw
