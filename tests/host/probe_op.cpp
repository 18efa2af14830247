// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only ops (see probe_op.h). Built like the core (freestanding, no
 * standard library) because it uses the core's own headers.
 */
#include "../../module/core/ring.h"
#include "../../module/core/ops/table.h"
#include "probe_op.h"

namespace {

using namespace pw;

constexpr u32 kMaxRecords = 1u << 16;

struct Slot {
	probe_record rec;
	Irp *irp;		/* queued and not yet taken by anyone: live */
	bool live;
	u32 frames;
};

/* A test-side spinlock on the core's atomics (TSan sees through them). */
Atomic<u32> g_lock;
Slot g_slots[kMaxRecords];
Atomic<u32> g_count;	/* written under the lock, read without */
Atomic<u32> g_frames, g_cancels;
Atomic<const u32 *> g_ctail;

struct Locked {
	Locked()
	{
		for (;;) {
			u32 expected = 0;
			if (g_lock.cas(expected, 1))
				return;
			__builtin_ia32_pause();
		}
	}
	~Locked() { g_lock.store_release(0); }
};

/* Called with the lock held. */
u32 record(Irp &irp, bool queued)
{
	const u32 i = g_count.load_relaxed();
	if (i >= kMaxRecords)
		__builtin_trap();
	Slot &s = g_slots[i];
	const u64 *args = &irp.sqe.arg0;
	s.rec = probe_record{};
	s.rec.timeout = irp.sqe.timeout;
	s.rec.data = irp.sqe.data;
	s.rec.op = irp.sqe.op;
	s.rec.flags = irp.sqe.flags;
	for (u32 k = 0; k < 5; k++)
		s.rec.args[k] = args[k];
	const u32 *ctail = g_ctail.load_acquire();
	s.rec.ctail_at_issue = ctail ? __atomic_load_n(ctail, __ATOMIC_ACQUIRE) : 0;
	s.rec.serial = i;
	s.rec.ctx_at_issue = u32(fake_context());
	s.irp = queued ? &irp : nullptr;
	s.live = false;
	s.frames = 0;
	g_count.store_release(i + 1);
	return i;
}

void probe_frame(Irp &, void *ctx)
{
	const u32 i = u32(uptr(ctx));
	g_frames.fetch_add(1);
	Locked l;
	g_slots[i].frames++;
}

void probe_cancel(Irp &irp);
constexpr AsyncOps kProbeAsync = {probe_cancel, nullptr};

void probe_cancel(Irp &irp)
{
	/* The canceller owns the packet now: the op lets go of it. */
	const u32 i = u32(uptr(irp.frames[0].ctx));
	g_cancels.fetch_add(1);
	Locked l;
	g_slots[i].live = false;
}

Issue probe_sync_issue(Irp &irp)
{
	{
		Locked l;
		record(irp, false);
	}
	irp.err = s32(irp.sqe.arg2);
	irp.result = irp.sqe.arg1;
	return Issue::Done;
}

Issue probe_queued_issue(Irp &irp)
{
	/* Recorded and armed in one step: a completer never sees it half-issued. */
	Locked l;
	const u32 i = record(irp, true);
	irp.push_frame(probe_frame, reinterpret_cast<void *>(uptr(i)));
	if (!irp.arm(&kProbeAsync)) {
		irp.err = irp.cancelled_error();
		return Issue::Done;
	}
	g_slots[i].live = true;
	return Issue::Queued;
}

/* Like PROBE_OP_SYNC, but issued only in a thread of the submitter (needs_task). */
Issue probe_task_issue(Irp &irp)
{
	{
		Locked l;
		record(irp, false);
	}
	irp.err = s32(irp.sqe.arg2);
	irp.result = irp.sqe.arg1;
	return Issue::Done;
}

constexpr OpDef kSync = {probe_sync_issue, false, "probe-sync"};
constexpr OpDef kQueued = {probe_queued_issue, false, "probe-queued"};
constexpr OpDef kTask = {probe_task_issue, true, "probe-task"};

} // namespace

/*
 * -Wl,--wrap=_ZN2pw16op_lookup_beyondEj routes the core's lookups of opcodes
 * outside the ABI here.
 */
extern "C" const pw::OpDef *__real__ZN2pw16op_lookup_beyondEj(pw::u32 op);
extern "C" const pw::OpDef *__wrap__ZN2pw16op_lookup_beyondEj(pw::u32 op)
{
	if (op == PROBE_OP_SYNC)
		return &kSync;
	if (op == PROBE_OP_QUEUED)
		return &kQueued;
	if (op == PROBE_OP_TASK)
		return &kTask;
	return __real__ZN2pw16op_lookup_beyondEj(op);
}

extern "C" void probe_reset(void)
{
	Locked l;
	g_count.store_release(0);
	g_frames.store_relaxed(0);
	g_cancels.store_relaxed(0);
	g_ctail.store_release(nullptr);
}

extern "C" void probe_watch_ctail(const unsigned int *ctail)
{
	g_ctail.store_release(ctail);
}

extern "C" unsigned int probe_count(void)
{
	return g_count.load_acquire();
}

extern "C" int probe_get(unsigned int i, struct probe_record *out)
{
	Locked l;
	if (i >= g_count.load_relaxed())
		return 0;
	*out = g_slots[i].rec;
	out->frames_run = g_slots[i].frames;
	return 1;
}

extern "C" int probe_complete(unsigned int i, int err, unsigned long long result)
{
	Irp *irp;
	{
		Locked l;
		if (i >= g_count.load_relaxed() || !g_slots[i].live)
			return 0;
		irp = g_slots[i].irp;
		if (!irp->claim(&kProbeAsync))
			return 0;	/* a canceller won; it will let go of the record */
		g_slots[i].live = false;
	}
	irp->err = err;
	irp->result = result;
	irp->ring->complete_async(*irp);
	return 1;
}

extern "C" unsigned int probe_frames_run(void)
{
	return g_frames.load_acquire();
}

extern "C" unsigned int probe_cancels(void)
{
	return g_cancels.load_acquire();
}
