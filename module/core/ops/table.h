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
	/*
	 * Completes only by its timeout or a cancellation, never during its
	 * issue (NOP): with timeout 0 it expires at dispatch, without being
	 * issued or touching its cancellation slot or timer.
	 */
	bool timeout_only;
};

/* Indexed by opcode, PWRING_OP_MAX entries. */
extern const OpDef kOpTable[];

/*
 * An opcode outside the ABI: nullptr. Out of line so that the host tests can
 * add probe opcodes (-Wl,--wrap); the ABI's opcodes never get here.
 */
const OpDef *op_lookup_beyond(u32 op);

/* Inline: the submit loop looks up every SQE. */
inline const OpDef *op_lookup(u32 op)
{
	return op < PWRING_OP_MAX ? &kOpTable[op] : op_lookup_beyond(op);
}

/* One issue function per op family, each in its own file. */
Issue nop_issue(Irp &irp);
Issue read_issue(Irp &irp);
Issue write_issue(Irp &irp);
Issue poll_issue(Irp &irp);

} // namespace pw

#endif /* PWRING_OPS_TABLE_H */
