// SPDX-License-Identifier: GPL-2.0
/*
 * POLL (spec section 3): one-shot, completes when a requested event, ERROR
 * or HUP is pending; the result is the events in PatchworkOS bits; an fd
 * that is not open reports NVAL. Wakeups only queue the packet's work item,
 * which rechecks the mask and re-arms when the wakeup was for someone
 * else's event. Manual clock and manual work queue.
 */
#include "harness.h"

using namespace ht;

namespace {

constexpr u64 kR = PWRING_POLL_READ, kW = PWRING_POLL_WRITE, kE = PWRING_POLL_ERROR,
	      kH = PWRING_POLL_HUP, kN = PWRING_POLL_NVAL;

class Poll : public CoreTest {
protected:
	int p_[2] = {-1, -1};
	void SetUp() override
	{
		CoreTest::SetUp();
		fake::pipe(p_, fake::PipeOpts{8, true});
	}
	static void expect_released()
	{
		EXPECT_EQ(fake::live().file_refs, 0);
		EXPECT_EQ(fake::live().poll_entries, 0);
	}
};

TEST_F(Poll, ReadyAtIssueCompletesDuringEnter)
{
	URing r = ring(4, 4);
	ASSERT_EQ(fake::write(p_[1], "x"), 1);
	r.push(poll_sqe(1, p_[0], kR));
	r.push(poll_sqe(2, p_[1], kW));
	r.push(poll_sqe(3, p_[0], kR | kW));	/* a read end is never writable */
	ASSERT_EQ(enter(0, 3, 0), 3);
	ASSERT_EQ(r.ctail(), 3u);
	EXPECT_EQ(r.cqe_at(0).op, PWRING_OP_POLL);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(r.cqe_at(0).result, kR);
	EXPECT_EQ(r.cqe_at(1).result, kW);
	EXPECT_EQ(r.cqe_at(2).result, kR);
	EXPECT_EQ(fake::contents(p_[0]), "x");	/* POLL consumes nothing */
	EXPECT_EQ(fake::work_queued(), 0);
	expect_released();
}

TEST_F(Poll, WaitsForTheEvent)
{
	URing r = ring(4, 4);
	r.push(poll_sqe(1, p_[0], kR));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::poll_waiters(p_[0]), 1);
	EXPECT_EQ(fake::live().file_refs, 1);
	EXPECT_EQ(fake::live().pinned, 0);	/* no buffer */
	ASSERT_EQ(fake::write(p_[1], "x"), 1);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, kR);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	expect_released();
	EXPECT_EQ(teardown(0), 0);
}

/* A wakeup whose key is not among the events never even queues the work item. */
TEST_F(Poll, WakeupForAnotherEventIsFilteredOut)
{
	URing r = ring(4, 4);
	r.push(poll_sqe(1, p_[0], kR));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::wake(p_[0], fake::kOut | fake::kWrNorm);
	EXPECT_EQ(fake::work_pending(), 0);
	EXPECT_EQ(fake::io_counts().wakeups_filtered, 1);
	EXPECT_EQ(r.ctail(), 0u);
}

/* A wakeup without a key (or for data someone else took): recheck, re-arm, wait on. */
TEST_F(Poll, WakeupForSomeoneElsesEventRearms)
{
	URing r = ring(4, 4);
	r.push(poll_sqe(1, p_[0], kR));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::wake(p_[0], 0);
	EXPECT_EQ(fake::run_work(), 1);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::poll_waiters(p_[0]), 1);
	/* Data arrives, but another reader takes it before the work item runs. */
	ASSERT_EQ(fake::write(p_[1], "x"), 1);
	char c;
	ASSERT_EQ(fake::read(p_[0], &c, 1), 1);
	EXPECT_EQ(fake::run_work(), 1);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::poll_waiters(p_[0]), 1);
	/* Still armed: a real event completes it, once. */
	ASSERT_EQ(fake::write(p_[1], "y"), 1);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, kR);
	fake::wake(p_[0], 0);
	EXPECT_EQ(fake::run_work(), 0);	/* entries are gone */
	EXPECT_EQ(r.ctail(), 1u);
	expect_released();
}

TEST_F(Poll, HupWhenTheWriterCloses)
{
	URing r = ring(4, 4);
	r.push(poll_sqe(1, p_[0], kR));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::close(p_[1]);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(r.cqe_at(0).result, kH);
}

TEST_F(Poll, ErrorWhenTheReaderCloses)
{
	URing r = ring(4, 4);
	ASSERT_EQ(fake::write(p_[1], "01234567"), 8);	/* full */
	r.push(poll_sqe(1, p_[1], kW));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.ctail(), 0u);
	fake::close(p_[0]);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, kE);	/* still full: not writable */
}

/* Events 0: only ERROR and HUP are waited for. */
TEST_F(Poll, NoEventsWaitsForErrorOrHup)
{
	URing r = ring(4, 4);
	ASSERT_EQ(fake::write(p_[1], "x"), 1);
	r.push(poll_sqe(1, p_[0], 0));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.ctail(), 0u);
	ASSERT_EQ(fake::write(p_[1], "y"), 1);
	fake::run_work();
	EXPECT_EQ(r.ctail(), 0u);	/* IN was not asked for */
	fake::close(p_[1]);
	fake::run_work();
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, kH);	/* only the event that counts */
}

TEST_F(Poll, FdThatIsNotOpenIsNval)
{
	URing r = ring(4, 4);
	r.push(poll_sqe(1, 99, kR));
	r.push(poll_sqe(2, -1, kR));
	r.push(make_sqe(PWRING_OP_POLL, 3, kNever, kNoRegs, 1ull << 31, kR));
	ASSERT_EQ(enter(0, 3, 0), 3);
	ASSERT_EQ(r.ctail(), 3u);
	for (u32 i = 0; i < 3; i++) {
		EXPECT_EQ(r.cqe_at(i).error, 0);
		EXPECT_EQ(r.cqe_at(i).result, kN);
	}
	expect_released();
}

/* No poll method: always ready for reading and writing (DEFAULT_POLLMASK). */
TEST_F(Poll, FilesWithoutPollAreAlwaysReady)
{
	URing r = ring(4, 4);
	const int f = fake::regular_file("x");
	const int n = fake::devnull();
	r.push(poll_sqe(1, f, kR | kW));
	r.push(poll_sqe(2, n, kW));
	ASSERT_EQ(enter(0, 2, 0), 2);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(0).result, kR | kW);
	EXPECT_EQ(r.cqe_at(1).result, kW);
	expect_released();
}

TEST_F(Poll, TimeoutIsFinishedByTheWorkItem)
{
	URing r = ring(4, 4);
	r.push(poll_sqe(1, p_[0], kR, 500));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::advance(500);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_EQ(r.cqe_at(0).result, 0u);
	EXPECT_EQ(fake::io_counts().fput_ctx[int(fake::Ctx::Irq)], 0);
	/* The event after the timeout finds nobody. */
	ASSERT_EQ(fake::write(p_[1], "x"), 1);
	EXPECT_EQ(fake::run_work(), 0);
	expect_released();
}

TEST_F(Poll, TimeoutZero)
{
	URing r = ring(4, 4);
	r.push(poll_sqe(1, p_[0], kR, 0));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	ASSERT_EQ(fake::write(p_[1], "x"), 1);
	r.push(poll_sqe(2, p_[0], kR, 0));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(1).error, 0);
	EXPECT_EQ(r.cqe_at(1).result, kR);
	expect_released();
}

TEST_F(Poll, ReleaseCancelsPendingPolls)
{
	URing r = ring(8, 8);
	int q[2];
	fake::pipe(q, fake::PipeOpts{8, true});
	ASSERT_EQ(fake::write(q[1], "01234567"), 8);	/* full */
	r.push(poll_sqe(1, p_[0], kR));			/* empty */
	r.push(poll_sqe(2, p_[0], kR, 100000));
	r.push(poll_sqe(3, q[1], kW));
	ASSERT_EQ(enter(0, 3, 0), 3);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::poll_waiters(p_[0]), 2);
	EXPECT_EQ(fake::poll_waiters(q[1]), 1);
	release();
	ASSERT_EQ(r.ctail(), 3u);
	for (u32 i = 0; i < 3; i++) {
		EXPECT_EQ(r.cqe_at(i).error, ECANCELED);
		EXPECT_EQ(r.cqe_at(i).result, 0u);
	}
	EXPECT_EQ(fake::poll_waiters(p_[0]), 0);
	EXPECT_EQ(fake::poll_waiters(q[1]), 0);
	EXPECT_TRUE(fake::pending_timers().empty());
	EXPECT_TRUE(fake::live().kernel_clean()) << describe_live();
}

/* A POLL on a pollable file without NOWAIT behaves the same (it never reads). */
TEST_F(Poll, PipeWithoutNowait)
{
	URing r = ring(4, 4);
	int q[2];
	fake::pipe(q, fake::PipeOpts{64, false});
	r.push(poll_sqe(1, q[0], kR));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(fake::write(q[1], "x"), 1);
	fake::run_work();
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, kR);
	EXPECT_EQ(fake::io_counts().rw_nowait + fake::io_counts().rw_blocking, 0);
}

} // namespace
