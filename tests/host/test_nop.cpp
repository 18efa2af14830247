// SPDX-License-Identifier: GPL-2.0
/*
 * NOP and its timeout (spec section 3), on the manual clock; opcodes and
 * flag bits that complete with an error in their CQE.
 */
#include "harness.h"

using namespace ht;

namespace {

class Nop : public CoreTest {};

TEST_F(Nop, TimeoutZeroCompletesDuringEnter)
{
	URing r = ring(4, 4);
	r.push(nop(5, 0));
	EXPECT_EQ(enter(0, 1, 0), 1);
	/* Already there when enter returns, no timer involved. */
	ASSERT_EQ(r.ctail(), 1u);
	const pwring_cqe c = r.cqe_at(0);
	EXPECT_EQ(c.error, ETIMEDOUT);
	EXPECT_EQ(c.result, 0u);
	EXPECT_EQ(c.data, 5u);
	EXPECT_EQ(c.op, PWRING_OP_NOP);
	EXPECT_EQ(fake::timer_starts(), 0);
	EXPECT_EQ(teardown(0), 0);
}

TEST_F(Nop, TimeoutExpiresExactlyAtDeadline)
{
	URing r = ring(4, 4);
	r.push(nop(9, 1000));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(fake::pending_timers().size(), 1u);
	EXPECT_EQ(fake::pending_timers()[0].deadline, 1000u);
	fake::advance(999);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(teardown(0), -EBUSY);
	fake::advance(1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_EQ(r.cqe_at(0).data, 9u);
	EXPECT_EQ(r.cqe_at(0).result, 0u);
	EXPECT_TRUE(fake::pending_timers().empty());
	EXPECT_EQ(teardown(0), 0);
}

TEST_F(Nop, TimeoutCountsFromDispatch)
{
	URing r = ring(4, 4);
	fake::advance(500);
	r.push(nop(1, 1000));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::advance_to(1499);
	EXPECT_EQ(r.ctail(), 0u);
	fake::advance_to(1500);
	EXPECT_EQ(r.ctail(), 1u);
}

TEST_F(Nop, TimeoutsCompleteInDeadlineOrder)
{
	URing r = ring(8, 8);
	const u64 t[] = {300, 100, 200, 1, 250};
	for (u64 i = 0; i < 5; i++)
		r.push(nop(t[i], t[i]));
	ASSERT_EQ(enter(0, 5, 0), 5);
	EXPECT_EQ(fake::pending_timers().size(), 5u);
	fake::advance(150);
	EXPECT_EQ(r.ctail(), 2u);
	fake::advance(1000);
	auto cqes = r.drain();
	ASSERT_EQ(cqes.size(), 5u);
	const u64 order[] = {1, 100, 200, 250, 300};
	for (int i = 0; i < 5; i++) {
		EXPECT_EQ(cqes[i].data, order[i]);
		EXPECT_EQ(cqes[i].error, ETIMEDOUT);
	}
}

TEST_F(Nop, NeverCompletesUntilReleaseCancelsIt)
{
	URing r = ring(4, 4);
	r.push(nop(0xabc, kNever));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(fake::timer_starts(), 0);	/* no timer for CLOCKS_NEVER */
	fake::advance(~0ull / 2);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(teardown(0), -EBUSY);
	EXPECT_EQ(enter(0, 0, 0), 0);
	release();
	ASSERT_EQ(r.ctail(), 1u);
	const pwring_cqe c = r.cqe_at(0);
	EXPECT_EQ(c.error, ECANCELED);
	EXPECT_EQ(c.data, 0xabcu);
	EXPECT_EQ(c.result, 0u);
	EXPECT_EQ(c.op, PWRING_OP_NOP);
}

TEST_F(Nop, HugeFiniteTimeoutDoesNotWrap)
{
	URing r = ring(4, 4);
	fake::advance(12345);
	r.push(nop(1, kNever - 1));
	r.push(nop(2, 1ull << 63));
	ASSERT_EQ(enter(0, 2, 0), 2);
	fake::advance(1ull << 62);
	EXPECT_EQ(r.ctail(), 0u);
	release();
	EXPECT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(0).error, ECANCELED);
	EXPECT_EQ(r.cqe_at(1).error, ECANCELED);
}

TEST_F(Nop, UnknownOpIsEinvalInItsCqe)
{
	URing r = ring(8, 8);
	const u32 ops[] = {PWRING_OP_MAX, 5, 99, 0x7fffffff, 0xffffffff};
	for (u32 op : ops)
		r.push(make_sqe(op, op, kNever));	/* would never complete if it were a NOP */
	ASSERT_EQ(enter(0, 5, 0), 5);
	ASSERT_EQ(r.ctail(), 5u);
	for (u32 i = 0; i < 5; i++) {
		const pwring_cqe c = r.cqe_at(i);
		EXPECT_EQ(c.op, ops[i]);
		EXPECT_EQ(c.error, EINVAL) << ops[i];
		EXPECT_EQ(c.data, ops[i]);
		EXPECT_EQ(c.result, 0u);
	}
	EXPECT_EQ(fake::timer_starts(), 0);
	EXPECT_EQ(teardown(0), 0);
}

TEST_F(Nop, EachReservedFlagBitIsEinval)
{
	URing r = ring(16, 16);
	for (u32 bit = 20; bit < 32; bit++)
		r.push(nop(bit, 100, kNoRegs | (1u << bit)));
	ASSERT_EQ(enter(0, 12, 0), 12);
	ASSERT_EQ(r.ctail(), 12u);
	for (u32 i = 0; i < 12; i++) {
		EXPECT_EQ(r.cqe_at(i).error, EINVAL) << "bit " << i + 20;
		EXPECT_EQ(r.cqe_at(i).data, 20u + i);
	}
	EXPECT_EQ(fake::timer_starts(), 0);
	r.push(nop(1, 0, kNoRegs | PWRING_FLAGS_RESERVED));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.cqe_at(12).error, EINVAL);
	EXPECT_EQ(teardown(0), 0);
}

TEST_F(Nop, ReservedBitsCheckedForEveryOp)
{
	URing r = ring(8, 8);
	const u32 ops[] = {PWRING_OP_READ, PWRING_OP_WRITE, PWRING_OP_POLL, 77};
	for (u32 op : ops)
		r.push(make_sqe(op, op, 0, kNoRegs | (1u << 31)));
	ASSERT_EQ(enter(0, 4, 0), 4);
	for (u32 i = 0; i < 4; i++)
		EXPECT_EQ(r.cqe_at(i).error, EINVAL);
	/* Rejected before the op looked at its fd. */
	EXPECT_TRUE(fake::fget_log().empty());
}

/*
 * READ, WRITE and POLL exist now (they were EOPNOTSUPP): on an fd that is
 * not open, READ and WRITE fail EBADF in their CQE and POLL reports NVAL
 * as its result (like poll(2)), error 0. Nothing is left behind.
 */
TEST_F(Nop, ReadWritePollOnAnFdThatIsNotOpen)
{
	URing r = ring(8, 8);
	char buf[8];
	r.push(read_sqe(11, 42, buf, sizeof(buf)));
	r.push(write_sqe(12, 42, buf, sizeof(buf)));
	r.push(poll_sqe(13, 42, PWRING_POLL_READ));
	ASSERT_EQ(enter(0, 3, 0), 3);
	ASSERT_EQ(r.ctail(), 3u);
	const u32 ops[] = {PWRING_OP_READ, PWRING_OP_WRITE, PWRING_OP_POLL};
	for (u32 i = 0; i < 3; i++) {
		EXPECT_EQ(r.cqe_at(i).op, ops[i]);
		EXPECT_EQ(r.cqe_at(i).data, 11 + i);
	}
	EXPECT_EQ(r.cqe_at(0).error, EBADF);
	EXPECT_EQ(r.cqe_at(0).result, 0u);
	EXPECT_EQ(r.cqe_at(1).error, EBADF);
	EXPECT_EQ(r.cqe_at(2).error, 0);
	EXPECT_EQ(r.cqe_at(2).result, PWRING_POLL_NVAL);
	EXPECT_EQ(fake::fget_log().size(), 3u);
	EXPECT_EQ(fake::live().file_refs, 0);
	EXPECT_EQ(fake::timer_starts(), 0);
	EXPECT_EQ(teardown(0), 0);
}

TEST_F(Nop, NopIgnoresItsArguments)
{
	URing r = ring(4, 4);
	r.push(make_sqe(PWRING_OP_NOP, 1, 0, kNoRegs, ~0ull, 12345, ~0ull, 1, 2));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_EQ(r.cqe_at(0).result, 0u);
}

/* A timer interrupt right after hrtimer_start(), before the op armed its
 * slot: the dispatcher, not the timer, completes the packet, once. */
TEST_F(Nop, TimerFiringBeforeTheOpIsArmed)
{
	URing r = ring(8, 8);
	fake::fire_on_next_starts(3);
	for (u64 i = 0; i < 3; i++)
		r.push(nop(i, 1000 + i));
	ASSERT_EQ(enter(0, 3, 0), 3);
	EXPECT_EQ(fake::callbacks_run(), 3);
	ASSERT_EQ(r.ctail(), 3u);
	for (u32 i = 0; i < 3; i++) {
		EXPECT_EQ(r.cqe_at(i).error, ETIMEDOUT);
		EXPECT_EQ(r.cqe_at(i).data, i);
	}
	EXPECT_TRUE(fake::pending_timers().empty());
	fake::advance(1'000'000);
	EXPECT_EQ(r.ctail(), 3u);
	EXPECT_EQ(teardown(0), 0);
}

/* Firing a timer explicitly, out of deadline order, from another thread. */
TEST_F(Nop, TimerFiredFromAnotherThread)
{
	URing r = ring(8, 8);
	for (u64 i = 0; i < 4; i++)
		r.push(nop(i, 1000 * (i + 1)));
	ASSERT_EQ(enter(0, 4, 0), 4);
	auto timers = fake::pending_timers();
	ASSERT_EQ(timers.size(), 4u);
	std::thread th([&] { EXPECT_TRUE(fake::fire(timers[3])); });
	th.join();
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).data, 3u);
	EXPECT_FALSE(fake::fire(timers[3]));	/* not pending any more */
	fake::advance(10'000);
	EXPECT_EQ(r.ctail(), 4u);
}

} // namespace
