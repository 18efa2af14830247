// SPDX-License-Identifier: GPL-2.0
/*
 * ioring_enter (spec section 2) and the shared memory protocol: ids,
 * busy rings, consumption order and limits, one CQE per SQE, and what a
 * hostile process can do to the indices.
 */
#include "harness.h"

using namespace ht;

namespace {

class Enter : public CoreTest {};

TEST_F(Enter, BadIdIsEinval)
{
	URing r = ring(4, 4);
	for (u64 id : std::initializer_list<u64>{8, 9, 1000, 1ull << 32, (1ull << 32) + 0, ~0ull}) {
		EXPECT_EQ(enter(id, 1, 0), -EINVAL) << id;
		EXPECT_EQ(teardown(id), -EINVAL) << id;
	}
	EXPECT_EQ(r.shead(), 0u);
}

TEST_F(Enter, SlotNotSetUpIsEinval)
{
	for (u64 id = 0; id < 8; id++) {
		EXPECT_EQ(enter(id, 0, 0), -EINVAL);
		EXPECT_EQ(enter(id, 1, 1), -EINVAL);
		EXPECT_EQ(teardown(id), -EINVAL);
	}
	ring(4, 4);
	EXPECT_EQ(enter(1, 0, 0), -EINVAL);
	ASSERT_EQ(teardown(0), 0);
	EXPECT_EQ(enter(0, 0, 0), -EINVAL);
	EXPECT_EQ(teardown(0), -EINVAL);
}

TEST_F(Enter, NonZeroFlagsAreEinval)
{
	URing r = ring(4, 4);
	r.push(nop(1, 0));
	for (u32 f : {1u, 0x100u, 0x80000000u}) {
		EXPECT_EQ(enter(0, 1, 0, f), -EINVAL);
		EXPECT_EQ(teardown(0, f), -EINVAL);
	}
	/* Nothing was consumed and the ring is still there. */
	EXPECT_EQ(r.shead(), 0u);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(enter(0, 1, 0), 1);
}

TEST_F(Enter, ConsumesInOrderUpToAmountAndStopsWhenEmpty)
{
	URing r = ring(8, 16);
	for (u64 i = 0; i < 5; i++)
		r.push(nop(100 + i, 0));
	EXPECT_EQ(enter(0, 3, 0), 3);
	EXPECT_EQ(r.shead(), 3u);
	EXPECT_EQ(enter(0, 10, 0), 2);	/* only two were left */
	EXPECT_EQ(r.shead(), 5u);
	EXPECT_EQ(enter(0, 10, 0), 0);	/* empty: 0, not an error */
	EXPECT_EQ(enter(0, ~0ull, 0), 0);
	auto cqes = r.drain();
	ASSERT_EQ(cqes.size(), 5u);
	for (u64 i = 0; i < 5; i++)
		EXPECT_EQ(cqes[i].data, 100 + i);
}

TEST_F(Enter, AmountZeroConsumesNothing)
{
	URing r = ring(4, 4);
	r.push(nop(1, 0));
	EXPECT_EQ(enter(0, 0, 0), 0);
	EXPECT_EQ(r.shead(), 0u);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(enter(0, ~0ull, 0), 1);
}

TEST_F(Enter, HugeAmountTakesWhatIsReady)
{
	URing r = ring(16, 16);
	for (u64 i = 0; i < 7; i++)
		r.push(nop(i, 0));
	EXPECT_EQ(enter(0, ~0ull, 0), 7);
	EXPECT_EQ(enter(0, 1ull << 32, 0), 0);
	EXPECT_EQ(r.ctail(), 7u);
}

TEST_F(Enter, OneCqePerSqeWithOpAndDataCopied)
{
	URing r = ring(8, 8);
	/* The user may scribble over the CQ: every CQE field is written. */
	std::memset(r.cq, 0xff, sizeof(pwring_cqe) * 8);
	const u64 datas[] = {0, 1, 0xdeadbeefcafef00dull, ~0ull, 42};
	for (u64 d : datas)
		r.push(nop(d, 0));
	EXPECT_EQ(enter(0, 5, 0), 5);
	ASSERT_EQ(r.ctail(), 5u);
	for (u32 i = 0; i < 5; i++) {
		const pwring_cqe c = r.cqe_at(i);
		EXPECT_EQ(c.op, PWRING_OP_NOP);
		EXPECT_EQ(c.error, ETIMEDOUT);
		EXPECT_EQ(c.data, datas[i]);
		EXPECT_EQ(c.result, 0u);
		EXPECT_EQ(c._padding, 0u);
	}
	/* Nothing beyond the five. */
	EXPECT_EQ(r.cq[5].op, 0xffffffffu);
	EXPECT_EQ(r.cq[5].data, ~0ull);
}

TEST_F(Enter, SqeIsCopiedOnceAtConsumption)
{
	URing r = ring(4, 4);
	r.push(nop(0x1111, kNever));
	ASSERT_EQ(enter(0, 1, 0), 1);
	/* The process rewrites the consumed slot: the kernel must not look again. */
	r.sq[0] = make_sqe(PWRING_OP_READ, 0x2222, 0, PWRING_FLAGS_RESERVED);
	fake::advance(1'000'000'000);
	EXPECT_EQ(r.ctail(), 0u);
	release();
	ASSERT_EQ(r.ctail(), 1u);
	const pwring_cqe c = r.cqe_at(0);
	EXPECT_EQ(c.data, 0x1111u);
	EXPECT_EQ(c.op, PWRING_OP_NOP);
	EXPECT_EQ(c.error, ECANCELED);
}

TEST_F(Enter, KernelNeverWritesTheUserIndicesOrTheSq)
{
	URing r = ring(8, 8);
	for (u64 i = 0; i < 6; i++)
		r.push(nop(i, i % 2 ? 0 : 100));
	std::vector<pwring_sqe> sq_before(r.sq, r.sq + 8);
	r.set_chead(0);
	ASSERT_EQ(enter(0, 6, 0), 6);
	fake::advance(100);
	EXPECT_EQ(r.stail(), 6u);
	EXPECT_EQ(r.chead(), 0u);
	EXPECT_EQ(std::memcmp(sq_before.data(), r.sq, 8 * sizeof(pwring_sqe)), 0);
	EXPECT_EQ(r.ctail(), 6u);
}

TEST_F(Enter, PaddingAndReservedBytesOfCtrlUntouched)
{
	URing r = ring(8, 8);
	std::memset(r.ctrl->_pad0, 0xa5, sizeof(r.ctrl->_pad0));
	std::memset(r.ctrl->_pad1, 0xa5, sizeof(r.ctrl->_pad1));
	std::memset(r.ctrl->_reserved, 0xa5, sizeof(r.ctrl->_reserved));
	for (int round = 0; round < 5; round++) {
		for (u64 i = 0; i < 8; i++)
			r.push(nop(i, 0, regs(u32(i % 7))));
		ASSERT_EQ(enter(0, 8, 0), 8);
		r.drain();
	}
	for (unsigned char b : r.ctrl->_pad0)
		EXPECT_EQ(b, 0xa5);
	for (unsigned char b : r.ctrl->_pad1)
		EXPECT_EQ(b, 0xa5);
	for (unsigned char b : r.ctrl->_reserved)
		EXPECT_EQ(b, 0xa5);
}

TEST_F(Enter, NothingWrittenPastTheCompletionQueue)
{
	/* 8 SQEs, 4 CQEs: 192 + 512 + 128 = 832 bytes, the rest of the page is slack. */
	URing r = ring(8, 4);
	unsigned char *end = r.cq_end(), *map_end = r.map_end();
	ASSERT_LT(end, map_end);
	std::memset(end, 0xa5, size_t(map_end - end));
	u64 seq = 0;
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 4; i++)
			r.push(nop(seq++, round % 3 ? 0 : 10));
		ASSERT_EQ(enter(0, 4, 0), 4);
		fake::advance(10);
		ASSERT_EQ(r.drain().size(), 4u);
	}
	size_t touched = 0;
	for (unsigned char *p = end; p < map_end; p++)
		touched += *p != 0xa5;
	EXPECT_EQ(touched, 0u);
}

/* A thread parked inside enter (waiting for a CQE) holds the ring busy. */
TEST_F(Enter, BusyWhileAnotherThreadIsInsideEnter)
{
	URing r = ring(8, 8);
	URing other = ring(4, 4);
	r.push(nop(1, 1000));
	Async waiter([&] { return enter(0, 1, 1); });
	ASSERT_TRUE(fake::wait_for_sleepers(1));
	r.push(nop(2, 0));
	EXPECT_EQ(enter(0, 1, 0), -EBUSY);
	EXPECT_EQ(enter(0, 0, 0), -EBUSY);
	EXPECT_EQ(enter(0, 0, 1), -EBUSY);
	EXPECT_EQ(teardown(0), -EBUSY);
	EXPECT_EQ(r.shead(), 1u);	/* the EBUSY calls consumed nothing */
	/* Other rings are independent. */
	other.push(nop(3, 0));
	EXPECT_EQ(enter(1, 1, 0), 1);
	EXPECT_EQ(fake::sleepers(), 1);
	fake::advance(1000);
	EXPECT_EQ(waiter.join(), 1);
	EXPECT_EQ(enter(0, 1, 0), 1);
}

/* A thread inside teardown holds the ring busy as well. */
TEST_F(Enter, BusyWhileAnotherThreadIsInsideTeardown)
{
	ring(4, 4);
	fake::hold(fake::Hold::UnmapUser, true);
	Async td([&] { return teardown(0); });
	ASSERT_TRUE(fake::held_waiting(fake::Hold::UnmapUser));
	EXPECT_EQ(enter(0, 0, 0), -EBUSY);
	EXPECT_EQ(enter(0, 1, 1), -EBUSY);
	EXPECT_EQ(teardown(0), -EBUSY);
	fake::hold(fake::Hold::UnmapUser, false);
	EXPECT_EQ(td.join(), 0);
	EXPECT_EQ(enter(0, 0, 0), -EINVAL);
	EXPECT_EQ(teardown(0), -EINVAL);
	EXPECT_TRUE(only_table_live());
}

TEST_F(Enter, EbusyDoesNotBlock)
{
	URing r = ring(4, 4);
	r.push(nop(1, kNever));
	Async waiter([&] { return enter(0, 1, 1); });
	ASSERT_TRUE(fake::wait_for_sleepers(1));
	/* Many calls from here, all EBUSY at once, none sleeps. */
	for (int i = 0; i < 1000; i++)
		ASSERT_EQ(enter(0, 1, 1), -EBUSY);
	EXPECT_EQ(fake::sleepers(), 1);
	fake::raise_signal();
	EXPECT_EQ(waiter.join(), 1);
}

TEST_F(Enter, StailFarAheadReadsEachSlotOnce)
{
	URing r = ring(8, 16);
	for (u64 i = 0; i < 8; i++)
		r.sq[i] = nop(1000 + i, 0);
	r.set_stail(1000);	/* claims 1000 SQEs in an 8-entry queue */
	EXPECT_EQ(enter(0, ~0ull, 0), 8);
	EXPECT_EQ(r.shead(), 8u);
	auto cqes = r.drain();
	ASSERT_EQ(cqes.size(), 8u);
	for (u64 i = 0; i < 8; i++)
		EXPECT_EQ(cqes[i].data, 1000 + i);
	/* Each call is bounded by the queue size again. */
	EXPECT_EQ(enter(0, ~0ull, 0), 8);
	EXPECT_EQ(r.shead(), 16u);
	cqes = r.drain();
	ASSERT_EQ(cqes.size(), 8u);
	for (u64 i = 0; i < 8; i++)
		EXPECT_EQ(cqes[i].data, 1000 + i);
}

TEST_F(Enter, StailBehindShead)
{
	URing r = ring(4, 16);
	for (u64 i = 0; i < 4; i++)
		r.push(nop(i, 0));
	ASSERT_EQ(enter(0, 4, 0), 4);
	r.drain();
	/* stail moved backwards: stail - shead wraps to ~4 billion. */
	r.set_stail(1);
	const long n = enter(0, ~0ull, 0);
	EXPECT_GE(n, 0);
	EXPECT_LE(n, 4);	/* never more than one pass over the queue */
	EXPECT_EQ(r.shead(), 4u + u32(n));
	EXPECT_EQ(r.ready(), u32(n));
}

TEST_F(Enter, HostileCheadOnlyStallsItsRing)
{
	URing r = ring(8, 8);
	URing other = ring(8, 8);
	unsigned char *end = r.cq_end(), *map_end = r.map_end();
	std::memset(end, 0xa5, size_t(map_end - end));
	/* Some honest traffic first, so that ctail is not 0. */
	for (int round = 0; round < 5; round++) {
		for (u64 i = 0; i < 4; i++)
			r.push(nop(i, 0));
		ASSERT_EQ(enter(0, 4, 0), 4);
		r.drain();
	}
	const u32 ct = r.ctail();
	for (u32 bad : {ct + 1, ct + 0x80000000u, ct - 9, ct - 8, 0xdeadbeefu, ~0u, ct - 3}) {
		r.set_chead(bad);
		for (u64 i = 0; i < 8; i++)
			r.push(nop(i, 0));
		const u32 before = r.ctail();
		const long n = enter(0, 8, 0);
		/* Either nothing is admitted, or what is admitted completes in the ring. */
		if (n < 0)
			EXPECT_EQ(n, -EBUSY) << bad;
		else
			EXPECT_EQ(r.ctail() - before, u32(n)) << bad;
		EXPECT_LE(r.ctail() - before, 8u);
		/* A wait never hangs on a bogus chead either. */
		const long w = enter(0, 0, 1);
		EXPECT_TRUE(w == 0 || w == -EBUSY) << w;
		/* Back to a consistent state for the next value. */
		r.set_chead(r.ctail());
		r.set_stail(r.shead());
	}
	size_t touched = 0;
	for (unsigned char *p = end; p < map_end; p++)
		touched += *p != 0xa5;
	EXPECT_EQ(touched, 0u);
	/* Sane again: works as usual, and the other ring never noticed. */
	r.push(nop(77, 0));
	EXPECT_EQ(enter(0, 1, 0), 1);
	other.push(nop(1, 0));
	EXPECT_EQ(enter(1, 1, 0), 1);
	EXPECT_EQ(other.ctail(), 1u);
}

TEST_F(Enter, CheadClaimingUnreadCqesOverwritesOnlyInsideTheRing)
{
	/* The process lies that it reaped everything: the kernel may reuse slots,
	 * which only hurts that process; indices stay masked and counted. */
	URing r = ring(4, 4);
	unsigned char *end = r.cq_end(), *map_end = r.map_end();
	std::memset(end, 0xa5, size_t(map_end - end));
	u64 seq = 0;
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 4; i++)
			r.push(nop(seq++, 0));
		ASSERT_EQ(enter(0, 4, 0), 4);
		r.set_chead(r.ctail());
	}
	EXPECT_EQ(r.ctail(), 80u);
	EXPECT_EQ(r.cqe_at(79).data, 79u);
	size_t touched = 0;
	for (unsigned char *p = end; p < map_end; p++)
		touched += *p != 0xa5;
	EXPECT_EQ(touched, 0u);
}

TEST_F(Enter, TeardownBusyAndInflightRules)
{
	URing r = ring(4, 4);
	r.push(nop(1, 100));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(teardown(0), -EBUSY);	/* in flight */
	fake::advance(99);
	EXPECT_EQ(teardown(0), -EBUSY);
	fake::advance(1);
	ASSERT_EQ(r.ctail(), 1u);
	/* Unreaped CQEs do not keep a ring alive. */
	const long unmaps = fake::unmap_calls();
	EXPECT_EQ(teardown(0), 0);
	EXPECT_EQ(fake::unmap_calls(), unmaps + 1);
	EXPECT_TRUE(only_table_live());
	EXPECT_EQ(enter(0, 0, 0), -EINVAL);
}

TEST_F(Enter, TeardownAfterProcessUnmappedTheRing)
{
	URing r = ring(4, 4);
	ASSERT_TRUE(fake::munmap(r.info.ctrl));
	EXPECT_EQ(teardown(0), 0);
	EXPECT_TRUE(only_table_live());
}

/*
 * A fatal signal ends enter between SQEs (spec §5): the SQEs consumed so far
 * get their CQEs, the rest stay in the queue, and the count says where it
 * stopped. The check runs every 64 SQEs, so a huge batch is cut short early.
 */
TEST_F(Enter, FatalSignalStopsBetweenSqes)
{
	URing r = ring(256, 256);
	for (u64 i = 0; i < 200; i++)
		r.push(nop(i, 0));
	fake::set_fatal_signal(true);
	const long n = enter(0, 200, 0);
	fake::set_fatal_signal(false);
	EXPECT_GT(n, 0);
	EXPECT_LT(n, 200);
	EXPECT_EQ(r.shead(), u32(n));
	auto cqes = r.drain();
	ASSERT_EQ(cqes.size(), size_t(n));
	for (long i = 0; i < n; i++) {
		EXPECT_EQ(cqes[i].data, u64(i));
		EXPECT_EQ(cqes[i].error, ETIMEDOUT);
	}
	/* The rest is still there for the next enter. */
	EXPECT_EQ(enter(0, 200, 0), 200 - n);
	EXPECT_EQ(r.drain().size(), size_t(200 - n));
}

} // namespace
