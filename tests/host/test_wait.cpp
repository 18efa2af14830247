// SPDX-License-Identifier: GPL-2.0
/*
 * The wait of ioring_enter (spec section 2): until ctail - chead >= wait;
 * amount 0 with wait > 0 waits; an unsatisfiable wait returns at once; a
 * signal ends the sleep with EINTR or the consumed count.
 */
#include "harness.h"

using namespace ht;

namespace {

class Wait : public CoreTest {};

TEST_F(Wait, ReturnsOnceEnoughCqesAreAvailable)
{
	URing r = ring(8, 8);
	r.push(nop(1, 100));
	r.push(nop(2, 200));
	r.push(nop(3, 300));
	Async waiter([&] { return enter(0, 3, 2); });
	ASSERT_TRUE(fake::wait_for_sleepers(1));
	EXPECT_EQ(r.shead(), 3u);
	fake::advance_to(100);
	std::this_thread::sleep_for(std::chrono::milliseconds(5));
	EXPECT_FALSE(waiter.done());	/* one CQE is not enough */
	EXPECT_EQ(fake::sleepers(), 1);
	fake::advance_to(200);
	EXPECT_EQ(waiter.join(), 3);
	EXPECT_EQ(r.ready(), 2u);
}

TEST_F(Wait, UnreapedCqesCount)
{
	URing r = ring(8, 8);
	r.push(nop(1, 0));
	r.push(nop(2, 0));
	ASSERT_EQ(enter(0, 2, 0), 2);
	/* Already two available: no sleep. */
	EXPECT_EQ(enter(0, 0, 2), 0);
	EXPECT_EQ(enter(0, 0, 1), 0);
	EXPECT_EQ(fake::sleepers(), 0);
	/* After reaping one, wait 2 needs one more. */
	pwring_cqe c;
	ASSERT_TRUE(r.pop(&c));
	r.push(nop(3, 50));
	Async waiter([&] { return enter(0, 1, 2); });
	ASSERT_TRUE(fake::wait_for_sleepers(1));
	fake::advance(50);
	EXPECT_EQ(waiter.join(), 1);
}

TEST_F(Wait, AmountZeroWithWaitWaits)
{
	URing r = ring(8, 8);
	r.push(nop(1, 100));
	ASSERT_EQ(enter(0, 1, 0), 1);
	Async waiter([&] { return enter(0, 0, 1); });
	ASSERT_TRUE(fake::wait_for_sleepers(1));
	fake::advance(100);
	EXPECT_EQ(waiter.join(), 0);
	EXPECT_EQ(r.ready(), 1u);
}

TEST_F(Wait, WaitSatisfiedDuringEnterDoesNotSleep)
{
	URing r = ring(8, 8);
	for (u64 i = 0; i < 3; i++)
		r.push(nop(i, 0));
	EXPECT_EQ(enter(0, 3, 3), 3);
	EXPECT_EQ(r.ready(), 3u);
}

TEST_F(Wait, UnsatisfiableWaitReturnsAtOnce)
{
	URing r = ring(8, 8);
	/* Nothing in flight, nothing unreaped. */
	EXPECT_EQ(enter(0, 0, 1), -EBUSY);
	EXPECT_EQ(enter(0, 5, 1), -EBUSY);	/* SQ empty too */
	/* One consumed (and in flight), five wanted: the count, at once. */
	r.push(nop(1, 1000));
	EXPECT_EQ(enter(0, 1, 5), 1);
	/* One in flight + one unreaped < 3. */
	r.push(nop(2, 0));
	EXPECT_EQ(enter(0, 1, 3), 1);
	EXPECT_EQ(enter(0, 0, 3), -EBUSY);
	/* More than the CQ could ever hold. */
	EXPECT_EQ(enter(0, 0, 9), -EBUSY);
	EXPECT_EQ(enter(0, 0, ~0ull), -EBUSY);
	EXPECT_EQ(enter(0, 0, 1ull << 32), -EBUSY);
	EXPECT_EQ(fake::sleepers(), 0);
	/* Exactly reachable (1 in flight + 1 unreaped = 2) does sleep. */
	Async waiter([&] { return enter(0, 0, 2); });
	ASSERT_TRUE(fake::wait_for_sleepers(1));
	fake::advance(1000);
	EXPECT_EQ(waiter.join(), 0);
}

TEST_F(Wait, SignalEndsWaitWithEintrWhenNothingConsumed)
{
	URing r = ring(8, 8);
	r.push(nop(1, 1000));
	ASSERT_EQ(enter(0, 1, 0), 1);
	Async waiter([&] { return enter(0, 0, 1); });
	ASSERT_TRUE(fake::wait_for_sleepers(1));
	fake::raise_signal();
	EXPECT_EQ(waiter.join(), -EINTR);
	EXPECT_FALSE(fake::signal_pending());
	/* The request itself is not affected. */
	fake::advance(1000);
	EXPECT_EQ(r.ready(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	/* And the ring is not left busy. */
	EXPECT_EQ(enter(0, 0, 1), 0);
}

TEST_F(Wait, SignalAfterConsumingReturnsTheCount)
{
	URing r = ring(8, 8);
	r.push(nop(1, kNever));
	r.push(nop(2, kNever));
	Async waiter([&] { return enter(0, 2, 1); });
	ASSERT_TRUE(fake::wait_for_sleepers(1));
	fake::raise_signal();
	EXPECT_EQ(waiter.join(), 2);
	EXPECT_EQ(r.shead(), 2u);
	EXPECT_EQ(teardown(0), -EBUSY);
}

TEST_F(Wait, PendingSignalInterruptsBeforeSleeping)
{
	URing r = ring(8, 8);
	r.push(nop(1, 100));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::raise_signal();
	EXPECT_EQ(enter(0, 0, 1), -EINTR);
	/* A wait that is already satisfied returns 0 and leaves the signal pending. */
	fake::advance(100);
	fake::raise_signal();
	EXPECT_EQ(enter(0, 0, 1), 0);
	EXPECT_TRUE(fake::signal_pending());
}

TEST_F(Wait, SignalDoesNotUndoConsumption)
{
	/* Consumed SQEs stay consumed: restarting the call would submit them twice. */
	URing r = ring(8, 8);
	for (u64 i = 0; i < 3; i++)
		r.push(nop(i, 100));
	fake::raise_signal();
	EXPECT_EQ(enter(0, 3, 3), 3);
	EXPECT_EQ(r.shead(), 3u);
	fake::advance(100);
	EXPECT_EQ(r.ready(), 3u);
}

} // namespace

namespace {

constexpr long kERESTARTSYS = 512;	/* kernel-internal: the glue restarts the ioctl */

class WaitTaskWork : public CoreTest {};

/*
 * Task work that is not a signal (TIF_NOTIFY_SIGNAL, e.g. io_uring used by
 * the same thread) ends the sleep with -ERESTARTSYS, so the ioctl restarts
 * transparently, but only if the call consumed nothing: a restart after
 * consuming would submit the SQEs again. A real signal still means EINTR.
 */
TEST_F(WaitTaskWork, RestartsOnlyWhenNothingWasConsumed)
{
	URing r = ring(8, 8);
	r.push(nop(1, kNever));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::raise_task_work();
	EXPECT_EQ(enter(0, 0, 1), -kERESTARTSYS);
	r.push(nop(2, kNever));
	fake::raise_task_work();
	EXPECT_EQ(enter(0, 1, 1), 1);	/* consumed one: the count, never a restart */
	EXPECT_EQ(r.shead(), 2u);
	fake::raise_signal();
	fake::raise_task_work();
	EXPECT_EQ(enter(0, 0, 1), -EINTR);	/* the signal wins */
	EXPECT_EQ(enter(0, 0, 1), -kERESTARTSYS);
	/* A sleeper woken by task work. */
	Async waiter([&] { return enter(0, 0, 1); });
	ASSERT_TRUE(fake::wait_for_sleepers(1));
	fake::raise_task_work();
	EXPECT_EQ(waiter.join(), -kERESTARTSYS);
	EXPECT_EQ(r.ctail(), 0u);
}

} // namespace
