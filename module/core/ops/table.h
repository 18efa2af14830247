/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The op table, indexed by opcode. The ring core knows nothing about any op:
 * it looks the op up, lets it issue, and completes the packet when the op
 * says it is done (synchronously) or when the op, a timeout or a
 * cancellation completes it later.
 */
#ifndef PWRING_OPS_TABLE_H
#define PWRING_OPS_TABLE_H

#include "../irp.h"

namespace pw {

enum class Issue : u8 {
	Done,	/* irp.err and irp.result are set; the caller completes */
	Queued,	/* the cancellation slot is armed; someone else completes */
};

using IssueFn = Issue (*)(Irp &irp);

struct OpDef {
	IssueFn issue;
	bool needs_task;	/* issue in a thread of the submitting process */
	const char *name;
};

/* nullptr for an opcode outside the ABI. */
const OpDef *op_lookup(u32 op);

/* One issue function per op family, each in its own file. */
Issue nop_issue(Irp &irp);
Issue read_issue(Irp &irp);
Issue write_issue(Irp &irp);
Issue poll_issue(Irp &irp);

} // namespace pw

#endif /* PWRING_OPS_TABLE_H */
