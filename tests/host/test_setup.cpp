// SPDX-License-Identifier: GPL-2.0
/* ioring_setup (spec section 2): validation, geometry, ids, mapping, unwinding. */
#include "harness.h"

using namespace ht;

namespace {

class Setup : public CoreTest {};

u64 pages_for(u64 s, u64 c)
{
	return (PWRING_SQ_OFFSET + 64 * s + 32 * c + 4095) / 4096;
}

TEST_F(Setup, RejectsZeroSizes)
{
	pwring_ring_info info{};
	EXPECT_EQ(setup(&info, 0, 8), -EINVAL);
	EXPECT_EQ(setup(&info, 8, 0), -EINVAL);
	EXPECT_EQ(setup(&info, 0, 0), -EINVAL);
	EXPECT_EQ(alloc_calls(), 0);
}

TEST_F(Setup, RejectsNonPowersOfTwo)
{
	pwring_ring_info info{};
	for (u64 bad : {3ull, 6ull, 12ull, 100ull, 65535ull, (1ull << 32) + 1, ~0ull}) {
		EXPECT_EQ(setup(&info, bad, 8), -EINVAL) << "sentries " << bad;
		EXPECT_EQ(setup(&info, 8, bad), -EINVAL) << "centries " << bad;
	}
	EXPECT_EQ(alloc_calls(), 0);
}

TEST_F(Setup, RejectsCentriesOfPoolLimitOrMore)
{
	pwring_ring_info info{};
	/* centries must be below 65535 (u16 pool index); 65535 is not a power of two either. */
	for (u64 bad : {65536ull, 1ull << 17, 1ull << 31, 1ull << 32, 1ull << 63})
		EXPECT_EQ(setup(&info, 8, bad), -EINVAL) << "centries " << bad;
	EXPECT_EQ(alloc_calls(), 0);
	/* The largest legal one works. */
	EXPECT_EQ(setup(&info, 1, 32768), 0);
	EXPECT_EQ(info.centries, 32768u);
	EXPECT_EQ(info.cmask, 32767u);
}

TEST_F(Setup, RejectsNullRing)
{
	EXPECT_EQ(setup_raw(0, 0, 8, 8), -EINVAL);
	EXPECT_EQ(alloc_calls(), 0);
}

TEST_F(Setup, RejectsNonZeroFlags)
{
	pwring_ring_info info{};
	for (u32 f : {1u, 2u, 0x80000000u, ~0u})
		EXPECT_EQ(setup_raw(reinterpret_cast<u64>(&info), 0, 8, 8, f), -EINVAL) << f;
	EXPECT_EQ(alloc_calls(), 0);
}

TEST_F(Setup, RejectsUnalignedAddress)
{
	pwring_ring_info info{};
	for (u64 a : {1ull, 0x1234ull, 0x7f0000000001ull, 0x7f0000000800ull, 0x7f0000000fffull})
		EXPECT_EQ(setup(&info, 8, 8, a), -EINVAL) << std::hex << a;
	EXPECT_EQ(alloc_calls(), 0);
}

TEST_F(Setup, NoMemoryAt1024PagesOrMore)
{
	pwring_ring_info info{};
	/* 65536 SQEs alone are 4 MiB: 1025 pages with the control block. */
	ASSERT_GE(pages_for(65536, 1), 1024u);
	EXPECT_EQ(setup(&info, 65536, 1), -ENOMEM);
	EXPECT_EQ(setup(&info, 65536, 32768), -ENOMEM);
	EXPECT_EQ(setup(&info, 1ull << 20, 1), -ENOMEM);
	/* Sizes whose byte count overflows 64 bits must not wrap into a small ring. */
	EXPECT_EQ(setup(&info, 1ull << 58, 1), -ENOMEM);	/* 64 * 2^58 == 2^64 */
	EXPECT_EQ(setup(&info, 1ull << 59, 1), -ENOMEM);
	EXPECT_EQ(setup(&info, 1ull << 63, 1), -ENOMEM);
	EXPECT_EQ(setup(&info, 1ull << 63, 32768), -ENOMEM);
	EXPECT_EQ(alloc_calls(), 0);
	EXPECT_TRUE(only_table_live());
}

TEST_F(Setup, LargestRingsFit)
{
	pwring_ring_info info{};
	ASSERT_LT(pages_for(32768, 32768), 1024u);
	ASSERT_EQ(setup(&info, 32768, 32768), 0);
	EXPECT_EQ(fake::last_mem_pages(), pages_for(32768, 32768));
	EXPECT_EQ(info.sentries, 32768u);
	EXPECT_EQ(info.centries, 32768u);
}

TEST_F(Setup, PageCountIsCeilingOfBytes)
{
	const u64 cases[][2] = {{1, 1}, {1, 2}, {16, 64}, {32, 64}, {63 + 1, 1}, {8, 8},
				{32, 16}, {128, 256}, {1024, 1}, {1, 1024}, {4096, 8192}};
	for (const auto &c : cases) {
		pwring_ring_info info{};
		const long id = setup(&info, c[0], c[1]);
		ASSERT_GE(id, 0);
		EXPECT_EQ(fake::last_mem_pages(), pages_for(c[0], c[1]))
			<< c[0] << " x " << c[1];
		ASSERT_EQ(teardown(u64(id)), 0);
	}
}

TEST_F(Setup, RingInfoFields)
{
	pwring_ring_info info;
	std::memset(&info, 0xee, sizeof(info));
	ASSERT_EQ(setup(&info, 8, 16), 0);
	EXPECT_EQ(info.id, 0u);
	EXPECT_NE(info.ctrl, 0u);
	EXPECT_EQ(info.ctrl % 4096, 0u);
	EXPECT_EQ(info.squeue, info.ctrl + 192);
	EXPECT_EQ(info.sentries, 8u);
	EXPECT_EQ(info.smask, 7u);
	EXPECT_EQ(info.cqueue, info.ctrl + 192 + 8 * 64);
	EXPECT_EQ(info.centries, 16u);
	EXPECT_EQ(info.cmask, 15u);
	/* The addresses are user addresses of one mapping of the ring pages. */
	EXPECT_NE(fake::user_ptr(info.ctrl), nullptr);
	EXPECT_EQ(static_cast<char *>(fake::user_ptr(info.cqueue)),
		  static_cast<char *>(fake::user_ptr(info.ctrl)) + 192 + 8 * 64);
	EXPECT_EQ(fake::live().mappings, 1);

	pwring_ring_info info2{};
	ASSERT_EQ(setup(&info2, 1, 1), 1);
	EXPECT_EQ(info2.id, 1u);
	EXPECT_EQ(info2.smask, 0u);
	EXPECT_EQ(info2.cmask, 0u);
	EXPECT_EQ(info2.cqueue, info2.ctrl + 192 + 64);
}

TEST_F(Setup, RingMemoryIsZeroed)
{
	URing r = ring(64, 128);
	const unsigned char *p = reinterpret_cast<unsigned char *>(r.ctrl);
	const size_t n = size_t(r.map_end() - p);
	EXPECT_EQ(n, pages_for(64, 128) * 4096);
	size_t nonzero = 0;
	for (size_t i = 0; i < n; i++)
		nonzero += p[i] != 0;
	EXPECT_EQ(nonzero, 0u);
	EXPECT_EQ(r.shead(), 0u);
	EXPECT_EQ(r.ctail(), 0u);
	for (u32 k = 0; k < PWRING_REGS_MAX; k++)
		EXPECT_EQ(r.reg(k), 0u);
}

TEST_F(Setup, FreshMemoryAfterTeardownAndSetup)
{
	URing r = ring(8, 8);
	std::memset(r.ctrl, 0x5a, size_t(r.map_end() - reinterpret_cast<unsigned char *>(r.ctrl)));
	ASSERT_EQ(teardown(0), 0);
	URing r2 = ring(8, 8);
	ASSERT_EQ(r2.id(), 0u);
	const unsigned char *p = reinterpret_cast<unsigned char *>(r2.ctrl);
	size_t nonzero = 0;
	for (const unsigned char *q = p; q < r2.map_end(); q++)
		nonzero += *q != 0;
	EXPECT_EQ(nonzero, 0u);
}

TEST_F(Setup, EmfileOnNinthRing)
{
	pwring_ring_info info[9]{};
	for (u32 i = 0; i < 8; i++)
		ASSERT_EQ(setup(&info[i], 4, 4), long(i));
	const fake::Live before = fake::live();
	const long calls = alloc_calls();
	EXPECT_EQ(setup(&info[8], 4, 4), -EMFILE);
	EXPECT_EQ(alloc_calls(), calls);
	const fake::Live after = fake::live();
	EXPECT_EQ(after.allocs, before.allocs);
	EXPECT_EQ(after.mappings, before.mappings);
	/* Distinct rings, distinct mappings. */
	for (u32 i = 0; i < 8; i++)
		for (u32 j = i + 1; j < 8; j++)
			EXPECT_NE(info[i].ctrl, info[j].ctrl);
}

TEST_F(Setup, IdIsLowestFreeSlot)
{
	pwring_ring_info info{};
	for (u32 i = 0; i < 8; i++)
		ASSERT_EQ(setup(&info, 2, 2), long(i));
	ASSERT_EQ(teardown(5), 0);
	ASSERT_EQ(teardown(2), 0);
	ASSERT_EQ(teardown(7), 0);
	EXPECT_EQ(setup(&info, 2, 2), 2);
	EXPECT_EQ(info.id, 2u);
	EXPECT_EQ(setup(&info, 2, 2), 5);
	EXPECT_EQ(setup(&info, 2, 2), 7);
	EXPECT_EQ(setup(&info, 2, 2), -EMFILE);
}

TEST_F(Setup, FailedSetupLeavesSlotFree)
{
	pwring_ring_info info{};
	ASSERT_EQ(setup(&info, 2, 2), 0);
	EXPECT_EQ(setup(&info, 3, 2), -EINVAL);
	EXPECT_EQ(setup(&info, 2, 2), 1);
}

TEST_F(Setup, BadRingPointerIsEfaultAndUndone)
{
	/* Addresses the fake faults on: below 4096, and a range the test declares bad. */
	static char bad_area[4096];
	fake::bad_user_range(reinterpret_cast<unsigned long>(bad_area), sizeof(bad_area));
	pwring_ring_info first{};
	ASSERT_EQ(setup(&first, 4, 4), 0);
	const fake::Live base = fake::live();
	const long maps = fake::map_calls();
	for (u64 bad : std::initializer_list<u64>{1, 8, 4095, reinterpret_cast<u64>(bad_area), ~0ull - 8}) {
		const long unmaps = fake::unmap_calls();
		EXPECT_EQ(setup_raw(bad, 0, 8, 8), -EFAULT) << std::hex << bad;
		/* It got as far as mapping, then everything was undone. */
		EXPECT_EQ(fake::unmap_calls(), unmaps + 1);
		const fake::Live l = fake::live();
		EXPECT_EQ(l.allocs, base.allocs);
		EXPECT_EQ(l.locks, base.locks);
		EXPECT_EQ(l.waitqs, base.waitqs);
		EXPECT_EQ(l.io_sets, base.io_sets);
		EXPECT_EQ(l.mems, base.mems);
		EXPECT_EQ(l.mappings, base.mappings);
		EXPECT_EQ(l.page_buffers, base.page_buffers);
	}
	EXPECT_GT(fake::map_calls(), maps);
	/* The slot the failed setups claimed is free again. */
	pwring_ring_info info{};
	EXPECT_EQ(setup(&info, 4, 4), 1);
	EXPECT_EQ(enter(2, 1, 0), -EINVAL);
}

TEST_F(Setup, AddressIsHonouredExactly)
{
	const u64 hint = 0x7f1234560000ull;
	pwring_ring_info info{};
	ASSERT_EQ(setup(&info, 16, 16, hint), 0);
	EXPECT_EQ(info.ctrl, hint);
	EXPECT_EQ(info.squeue, hint + 192);
	EXPECT_EQ(info.cqueue, hint + 192 + 16 * 64);
	URing r;
	r.attach(info);
	ASSERT_NE(r.ctrl, nullptr);
	/* The ring works through that mapping. */
	r.push(nop(7, 0));
	EXPECT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).data, 7u);
	EXPECT_EQ(teardown(0), 0);
	EXPECT_EQ(fake::user_ptr(hint), nullptr);
	EXPECT_EQ(fake::live().mappings, 0);
}

TEST_F(Setup, OccupiedAddressFailsWithoutReplacing)
{
	const u64 hint = 0x7f0000100000ull;
	fake::occupy(hint + 4096, 4096);	/* overlaps the second page of a 2-page ring */
	pwring_ring_info info{};
	EXPECT_EQ(setup(&info, 32, 64, hint), -EEXIST);
	EXPECT_TRUE(only_table_live());
	/* Another ring's mapping is occupied too. */
	ASSERT_EQ(setup(&info, 1, 1, hint + 0x10000), 0);
	EXPECT_EQ(setup(&info, 1, 1, hint + 0x10000), -EEXIST);
	EXPECT_EQ(info.ctrl, hint + 0x10000);	/* untouched by the failed call */
	EXPECT_EQ(fake::live().mappings, 1);
	/* The failed attempts left the slot free. */
	EXPECT_EQ(setup(&info, 1, 1), 1);
}

TEST_F(Setup, MappingFailurePropagatesAndUnwinds)
{
	pwring_ring_info info{};
	fake::fail_next_map(ENOMEM);
	EXPECT_EQ(setup(&info, 8, 8), -ENOMEM);
	EXPECT_TRUE(only_table_live());
	EXPECT_EQ(setup(&info, 8, 8), 0);
}

TEST_F(Setup, EveryAllocationFailureUnwinds)
{
	pwring_ring_info keep{};
	ASSERT_EQ(setup(&keep, 2, 2), 0);	/* a ring that must survive all of this */
	const fake::Live base = fake::live();
	const long before = alloc_calls();
	pwring_ring_info probe{};
	ASSERT_EQ(setup(&probe, 8, 8), 1);
	const long needed = alloc_calls() - before;
	ASSERT_EQ(teardown(1), 0);
	EXPECT_GE(needed, 5);	/* ring, lock, wait queue, pages, pool, packet companions */
	for (long n = 0; n < needed; n++) {
		fake::fail_alloc_at(n);
		pwring_ring_info info{};
		EXPECT_EQ(setup(&info, 8, 8), -ENOMEM) << "allocation " << n << " failed";
		const fake::Live l = fake::live();
		EXPECT_EQ(l.allocs, base.allocs) << n;
		EXPECT_EQ(l.locks, base.locks) << n;
		EXPECT_EQ(l.waitqs, base.waitqs) << n;
		EXPECT_EQ(l.io_sets, base.io_sets) << n;
		EXPECT_EQ(l.mems, base.mems) << n;
		EXPECT_EQ(l.mappings, base.mappings) << n;
		EXPECT_EQ(l.page_buffers, base.page_buffers) << n;
	}
	fake::fail_alloc_at(-1);
	pwring_ring_info info{};
	EXPECT_EQ(setup(&info, 8, 8), 1);
}

TEST_F(Setup, SlotIsNotLiveWhileSetupRuns)
{
	fake::hold(fake::Hold::MapUser, true);
	pwring_ring_info info{};
	Async a([&] { return setup(&info, 4, 4); });
	ASSERT_TRUE(fake::held_waiting(fake::Hold::MapUser));
	/* Slot 0 is claimed but not live: enter and teardown see no ring. */
	EXPECT_EQ(enter(0, 1, 0), -EINVAL);
	EXPECT_EQ(teardown(0), -EINVAL);
	fake::hold(fake::Hold::MapUser, false);
	EXPECT_EQ(a.join(), 0);
	EXPECT_EQ(enter(0, 0, 0), 0);
}

TEST_F(Setup, ConcurrentSetupsGetDistinctLowestIds)
{
	fake::hold(fake::Hold::MapUser, true);
	pwring_ring_info a_info{}, b_info{};
	Async a([&] { return setup(&a_info, 4, 4); });
	ASSERT_TRUE(fake::held_waiting(fake::Hold::MapUser));
	/* Slot 0 is claimed by the blocked setup: this one takes slot 1. */
	Async b([&] { return setup(&b_info, 4, 4); });
	std::this_thread::sleep_for(std::chrono::milliseconds(20));
	fake::hold(fake::Hold::MapUser, false);
	const long ia = a.join(), ib = b.join();
	EXPECT_EQ(ia, 0);
	EXPECT_EQ(ib, 1);
	EXPECT_EQ(a_info.id, 0u);
	EXPECT_EQ(b_info.id, 1u);
}

TEST_F(Setup, CoreIgnoresSizeField)
{
	/* The glue validates `size`; the core takes the struct as copied. */
	pwring_ring_info info{};
	pwring_setup_args a{};
	a.size = 0;
	a.ring = reinterpret_cast<u64>(&info);
	a.sentries = 2;
	a.centries = 2;
	EXPECT_EQ(pwring_core_setup(t_, nullptr, &a), 0);
}

/*
 * Packets are built in chunks of 32 as the ring first needs them: setup
 * allocates none, and a chunk that cannot be had fails the enter that needed
 * it with ENOMEM, consuming nothing; the next enter tries again.
 */
TEST_F(Setup, PacketChunksComeWithUseAndTheirFailureIsEnomem)
{
	URing r = ring(64, 64);
	const long before = alloc_calls();
	for (u32 i = 0; i < 32; i++)
		r.push(nop(i, 0));
	ASSERT_EQ(enter(0, 32, 32), 32);
	EXPECT_EQ(alloc_calls() - before, 2);	/* the first chunk: packets and companions */
	r.drain();
	for (u32 i = 0; i < 33; i++)
		r.push(nop(i, kNever));
	fake::fail_alloc_at(0);		/* the second chunk's packets */
	EXPECT_EQ(enter(0, 33, 0), 32) << "the first chunk's 32 are recycled, then it stops";
	EXPECT_EQ(r.ctrl->shead, 64u);
	fake::fail_alloc_at(0);
	EXPECT_EQ(enter(0, 1, 0), -ENOMEM);
	EXPECT_EQ(r.ctrl->shead, 64u) << "the failed enter consumed nothing";
	fake::fail_alloc_at(1);		/* the second chunk's companions */
	EXPECT_EQ(enter(0, 1, 0), -ENOMEM);
	fake::fail_alloc_at(-1);
	EXPECT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.ctrl->shead, 65u);
	release();
	EXPECT_EQ(r.ctail(), 65u);	/* the 32 timeout-0 NOPs, then 33 cancelled */
}

} // namespace
