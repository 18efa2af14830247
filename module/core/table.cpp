// SPDX-License-Identifier: GPL-2.0
/*
 * The ring table of one open /dev/pwring: eight slots, and the three calls.
 *
 * A slot's state word is both its lifecycle and its lock: setup claims a
 * free slot, enter and teardown take the busy bit of a live one, and a
 * second caller gets EBUSY instead of blocking (as in PatchworkOS).
 */
#include "pwring_core.h"
#include "ring.h"

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

private:
	friend class SlotGuard;
	static constexpr u32 kFree = 0, kClaimed = 1, kLive = 2, kBusy = 4;

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
	/* The ring is gone: the slot becomes free when the guard drops. */
	void free_slot()
	{
		t_.rings_[id_] = nullptr;
		freed_ = true;
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
	rings_[id] = r.value();
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
	slot.ring().destroy(true);
	slot.free_slot();
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
		Ring *ring = rings_[id];
		if (!ring)
			continue;
		rings_[id] = nullptr;
		/* The caller may be another process, or one with no mm left. */
		if (ring->shutdown())
			ring->destroy(false);
	}
}

} // namespace pw

using pw::RingTable;

extern "C" struct pwring_table *pwring_core_open(void)
{
	void *mem = kapi_zalloc(sizeof(RingTable));
	return mem ? new (mem) RingTable() : nullptr;
}

extern "C" void pwring_core_shutdown(struct pwring_table *t)
{
	static_cast<RingTable *>(t)->shutdown();
}

extern "C" void pwring_core_free(struct pwring_table *t)
{
	auto *table = static_cast<RingTable *>(t);
	table->~RingTable();
	kapi_free(table);
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
