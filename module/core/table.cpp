// SPDX-License-Identifier: GPL-2.0
/*
 * The ring table of one open /dev/pwring: eight slots, and the three calls.
 *
 * A slot's state word is both its lifecycle and its lock: setup claims a
 * free slot, enter and teardown take the busy bit of a live one, and a
 * second caller gets EBUSY instead of blocking (as in PatchworkOS).
 */
#include "ring.h"
#include "pwring_core.h"
#include "ops/table.h"

struct pwring_table {};	/* opaque to C; the real object is pw::RingTable */

namespace pw {

class RingTable : public pwring_table {
public:
	static constexpr u32 kSlots = PWRING_MAX_RINGS;

	Result<u32> setup(kapi_file *file, const pwring_setup_args &args);
	Result<u32> enter(const pwring_enter_args &args);
	Result<u32> teardown(const pwring_teardown_args &args);
	Result<u32> restrict_ring(const pwring_restrict_args &args, const pwring_restriction *entries);
	void shutdown();
	s32 snapshot(u32 id, pwring_ring_snap *s);

	/*
	 * Guards rings_[] for snapshot() (fdinfo), which runs beside enter,
	 * teardown and close: a ring leaves the table under it before it is
	 * shut down or freed, so a snapshot never sees one go. Held only for
	 * pointer updates and snapshots, which never sleep.
	 */
	kapi_lock *lock_ = nullptr;

private:
	friend class SlotGuard;
	static constexpr u32 kFree = 0, kClaimed = 1, kLive = 2, kBusy = 4;

	/* Takes ring `id` out of the table (the caller frees or shuts it down). */
	[[gnu::always_inline]] Ring *unpublish(u32 id)
	{
		IrqLockGuard g(lock_);
		Ring *ring = rings_[id];
		rings_[id] = nullptr;
		return ring;
	}

	Atomic<u32> state_[kSlots];
	Ring *rings_[kSlots] = {};
};

/* Holds the busy bit of a live slot for one enter or teardown. */
class SlotGuard {
public:
	SlotGuard(RingTable &t, u64 id) : t_(t), id_(u32(id))
	{
		if (id >= RingTable::kSlots) {
			err_ = err::EINVAL;
			return;
		}
		u32 cur = t_.state_[id_].load_acquire();
		for (;;) {
			if (!(cur & RingTable::kLive)) {
				err_ = err::EINVAL;
				return;
			}
			if (cur & RingTable::kBusy) {
				err_ = err::EBUSY;
				return;
			}
			if (t_.state_[id_].cas(cur, cur | RingTable::kBusy))
				return;
		}
	}
	~SlotGuard()
	{
		if (!err_)
			t_.state_[id_].store_release(freed_ ? RingTable::kFree : RingTable::kLive);
	}
	SlotGuard(const SlotGuard &) = delete;
	SlotGuard &operator=(const SlotGuard &) = delete;

	s32 error() const { return err_; }
	Ring &ring() const { return *t_.rings_[id_]; }
	/* The ring leaves the table; its slot becomes free when the guard drops. */
	[[gnu::always_inline]] Ring *free_slot()
	{
		freed_ = true;
		return t_.unpublish(id_);
	}

private:
	RingTable &t_;
	u32 id_;
	s32 err_ = 0;
	bool freed_ = false;
};

Result<u32> RingTable::setup(kapi_file *file, const pwring_setup_args &args)
{
	u32 id = 0;
	for (;; id++) {
		if (id == kSlots)
			return Result<u32>::error(err::EMFILE);
		u32 expected = kFree;
		if (state_[id].cas(expected, kClaimed))
			break;
	}
	pwring_ring_info info;
	const Result<Ring *> r = Ring::create(file, args, id, &info);
	if (!r.ok()) {
		state_[id].store_release(kFree);
		return Result<u32>::error(r.error());
	}
	{
		IrqLockGuard g(lock_);
		rings_[id] = r.value();
	}
	state_[id].store_release(kLive);
	return id;
}

Result<u32> RingTable::enter(const pwring_enter_args &args)
{
	if (args.flags)
		return Result<u32>::error(err::EINVAL);
	SlotGuard slot(*this, args.id);
	if (slot.error())
		return Result<u32>::error(slot.error());
	return slot.ring().enter(args.amount, args.wait);
}

Result<u32> RingTable::teardown(const pwring_teardown_args &args)
{
	if (args.flags)
		return Result<u32>::error(err::EINVAL);
	SlotGuard slot(*this, args.id);
	if (slot.error())
		return Result<u32>::error(slot.error());
	if (!slot.ring().idle())
		return Result<u32>::error(err::EBUSY);
	slot.free_slot()->destroy(true);
	return 0u;
}

/*
 * Validates everything before touching the ring: a refused call changes
 * nothing. `entries` holds args.nentries entries (the glue copied them).
 */
Result<u32> RingTable::restrict_ring(const pwring_restrict_args &args, const pwring_restriction *entries)
{
	if (args.flags || args._reserved || args.nentries == 0 ||
	    args.nentries > PWRING_RESTRICT_MAX)
		return Result<u32>::error(err::EINVAL);
	for (u32 i = 0; i < args.nentries; i++) {
		const pwring_restriction &e = entries[i];
		if (e.op >= PWRING_OP_MAX || e.flags || e._reserved || e.fd < PWRING_RESTRICT_ANY_FD)
			return Result<u32>::error(err::EINVAL);
		/* NOP names no descriptor. */
		if (e.op == PWRING_OP_NOP && e.fd != PWRING_RESTRICT_ANY_FD)
			return Result<u32>::error(err::EINVAL);
	}
	SlotGuard slot(*this, args.id);
	if (slot.error())
		return Result<u32>::error(slot.error());
	return slot.ring().set_restrictions(entries, args.nentries);
}

/*
 * The file's last reference is gone, or its owner: cancel everything and
 * let each ring go when its last request completes. Nothing waits here.
 */
void RingTable::shutdown()
{
	for (u32 id = 0; id < kSlots; id++) {
		Ring *ring = unpublish(id);
		if (!ring)
			continue;
		/* The caller may be another process, or one with no mm left. */
		if (ring->shutdown())
			ring->destroy(false);
	}
}

s32 RingTable::snapshot(u32 id, pwring_ring_snap *s)
{
	if (id >= kSlots)
		return err::EINVAL;
	const u64 now = kapi_clock_coarse_ns();
	IrqLockGuard g(lock_);
	Ring *ring = rings_[id];
	if (!ring)
		return err::ENOENT;
	ring->snapshot(s, now);
	return 0;
}

} // namespace pw

using pw::RingTable;

extern "C" struct pwring_table *pwring_core_open(void)
{
	void *mem = kapi_zalloc(sizeof(RingTable));
	if (!mem)
		return nullptr;
	auto *table = new (mem) RingTable();
	table->lock_ = kapi_lock_create();
	if (!table->lock_) {
		table->~RingTable();
		kapi_free(table);
		return nullptr;
	}
	return table;
}

extern "C" void pwring_core_shutdown(struct pwring_table *t)
{
	static_cast<RingTable *>(t)->shutdown();
}

extern "C" void pwring_core_free(struct pwring_table *t)
{
	auto *table = static_cast<RingTable *>(t);
	kapi_lock_destroy(table->lock_);
	table->~RingTable();
	kapi_free(table);
}

extern "C" long pwring_core_snapshot(struct pwring_table *t, __u32 id, struct pwring_ring_snap *s)
{
	return -long(static_cast<RingTable *>(t)->snapshot(id, s));
}

extern "C" const char *pwring_core_op_name(__u32 op)
{
	const pw::OpDef *def = op < PWRING_OP_MAX ? &pw::kOpTable[op] : nullptr;
	return def ? def->name : "?";
}

extern "C" long pwring_core_setup(struct pwring_table *t, struct kapi_file *f,
				  const struct pwring_setup_args *a)
{
	return static_cast<RingTable *>(t)->setup(f, *a).to_long();
}

extern "C" long pwring_core_enter(struct pwring_table *t, const struct pwring_enter_args *a)
{
	return static_cast<RingTable *>(t)->enter(*a).to_long();
}

extern "C" long pwring_core_teardown(struct pwring_table *t, const struct pwring_teardown_args *a)
{
	return static_cast<RingTable *>(t)->teardown(*a).to_long();
}

extern "C" long pwring_core_restrict(struct pwring_table *t, const struct pwring_restrict_args *a,
				     const struct pwring_restriction *entries)
{
	return static_cast<RingTable *>(t)->restrict_ring(*a, entries).to_long();
}
