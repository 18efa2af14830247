// SPDX-License-Identifier: GPL-2.0
/*
 * Closing the file (spec section 3): everything in flight is cancelled with
 * ECANCELED, linked successors included, and every ring is freed. The ring
 * stays readable through the process's mapping afterwards.
 */
#include "harness.h"

using namespace ht;

namespace {

class Release : public CoreTest {};

TEST_F(Release, OpenFailureLeaksNothing)
{
	release();
	fake::reset();
	fake::fail_alloc_at(0);
	EXPECT_EQ(pwring_core_open(), nullptr);
	EXPECT_TRUE(fake::live().all_clean());
	t_ = pwring_core_open();
	ASSERT_NE(t_, nullptr);
}

TEST_F(Release, EmptyTable)
{
	release();
	EXPECT_TRUE(fake::live().all_clean());
}

TEST_F(Release, CancelsEveryNeverNop)
{
	URing r = ring(8, 8);
	for (u64 i = 0; i < 6; i++)
		r.push(nop(i, kNever));
	ASSERT_EQ(enter(0, 6, 0), 6);
	release();
	EXPECT_TRUE(fake::live().kernel_clean());
	ASSERT_EQ(r.ctail(), 6u);
	std::vector<int> seen(6, 0);
	for (u32 i = 0; i < 6; i++) {
		const pwring_cqe c = r.cqe_at(i);
		EXPECT_EQ(c.error, ECANCELED);
		EXPECT_EQ(c.op, PWRING_OP_NOP);
		ASSERT_LT(c.data, 6u);
		seen[c.data]++;
	}
	for (int n : seen)
		EXPECT_EQ(n, 1);
}

TEST_F(Release, CancelsPendingTimersForGood)
{
	URing r = ring(8, 8);
	for (u64 i = 0; i < 4; i++)
		r.push(nop(i, 1000 * (i + 1)));
	ASSERT_EQ(enter(0, 4, 0), 4);
	fake::advance(1000);
	ASSERT_EQ(r.ctail(), 1u);
	release();
	EXPECT_TRUE(fake::pending_timers().empty());
	ASSERT_EQ(r.ctail(), 4u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	for (u32 i = 1; i < 4; i++)
		EXPECT_EQ(r.cqe_at(i).error, ECANCELED);
	const long cb = fake::callbacks_run();
	fake::advance(1'000'000);
	EXPECT_EQ(fake::callbacks_run(), cb);
	EXPECT_EQ(r.ctail(), 4u);
}

TEST_F(Release, CancelsLinkChainInOrder)
{
	URing r = ring(8, 8);
	r.push(nop(1, kNever, kNoRegs | PWRING_LINK));
	r.push(nop(2, kNever, kNoRegs | PWRING_LINK));
	r.push(nop(3, 100));
	ASSERT_EQ(enter(0, 3, 0), 3);
	release();
	ASSERT_EQ(r.ctail(), 3u);
	for (u32 i = 0; i < 3; i++) {
		EXPECT_EQ(r.cqe_at(i).data, i + 1);
		EXPECT_EQ(r.cqe_at(i).error, ECANCELED);
	}
	EXPECT_EQ(fake::timer_starts(), 0);
}

TEST_F(Release, CancelsHardlinkChainInOrder)
{
	URing r = ring(8, 8);
	r.push(nop(1, kNever, kNoRegs | PWRING_HARDLINK));
	r.push(nop(2, 100, kNoRegs | PWRING_HARDLINK));
	r.push(nop(3, 0, kNoRegs | PWRING_HARDLINK));
	r.push(make_sqe(PROBE_OP_SYNC, 4, 0));
	ASSERT_EQ(enter(0, 4, 0), 4);
	release();
	ASSERT_EQ(r.ctail(), 4u);
	for (u32 i = 0; i < 4; i++) {
		EXPECT_EQ(r.cqe_at(i).data, i + 1);
		/* A dying ring dispatches nothing: successors complete ECANCELED. */
		EXPECT_EQ(r.cqe_at(i).error, ECANCELED) << "data " << i + 1 << ": "
							<< errname(r.cqe_at(i).error);
	}
	EXPECT_EQ(fake::timer_starts(), 0);
	EXPECT_EQ(probe_count(), 0u);
}

TEST_F(Release, CancelsChainWhoseHeadIsMidway)
{
	/* H1 timed out at 100 and dispatched H2; release cancels H2 and the rest. */
	URing r = ring(8, 8);
	r.push(nop(1, 100, kNoRegs | PWRING_HARDLINK));
	r.push(nop(2, 100, kNoRegs | PWRING_HARDLINK));
	r.push(nop(3, 100, kNoRegs | PWRING_LINK));
	r.push(nop(4, 100));
	ASSERT_EQ(enter(0, 4, 0), 4);
	fake::advance(100);
	ASSERT_EQ(r.ctail(), 1u);
	release();
	ASSERT_EQ(r.ctail(), 4u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	for (u32 i = 1; i < 4; i++) {
		EXPECT_EQ(r.cqe_at(i).data, i + 1);
		EXPECT_EQ(r.cqe_at(i).error, ECANCELED);
	}
}

TEST_F(Release, CancelsQueuedOpsThroughTheirCancelFunction)
{
	URing r = ring(8, 8);
	for (u64 i = 0; i < 3; i++)
		r.push(make_sqe(PROBE_OP_QUEUED, i, i == 0 ? 500 : kNever));
	ASSERT_EQ(enter(0, 3, 0), 3);
	ASSERT_EQ(probe_count(), 3u);
	EXPECT_EQ(probe_complete(2, 0, 7), 1);
	release();
	ASSERT_EQ(r.ctail(), 3u);
	EXPECT_EQ(r.cqe_at(0).data, 2u);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(r.cqe_at(0).result, 7u);
	for (u32 i = 1; i < 3; i++) {
		EXPECT_EQ(r.cqe_at(i).error, ECANCELED);
		EXPECT_EQ(r.cqe_at(i).result, 0u);
	}
	EXPECT_EQ(probe_cancels(), 2u);
	EXPECT_EQ(probe_frames_run(), 3u);
	for (u32 i = 0; i < 3; i++) {
		probe_record p{};
		ASSERT_TRUE(probe_get(i, &p));
		EXPECT_EQ(p.frames_run, 1u);
		EXPECT_EQ(probe_complete(i, 0, 1), 0);
	}
}

TEST_F(Release, ManyRingsAllCancelledAndFreed)
{
	URing rings[8];
	for (u32 k = 0; k < 8; k++) {
		rings[k] = ring(4 << k % 3, 4);
		for (u64 i = 0; i < 4; i++)
			rings[k].push(nop(k * 10 + i, i % 2 ? kNever : 1000));
		ASSERT_EQ(enter(k, 4, 0), 4);
	}
	ASSERT_EQ(teardown(3), -EBUSY);
	release();
	EXPECT_TRUE(fake::live().kernel_clean());
	EXPECT_EQ(fake::live().mappings, 8);	/* the process still maps them */
	for (u32 k = 0; k < 8; k++) {
		ASSERT_EQ(rings[k].ctail(), 4u);
		for (u32 i = 0; i < 4; i++)
			EXPECT_EQ(rings[k].cqe_at(i).error, ECANCELED);
	}
	fake::munmap_all();
	EXPECT_TRUE(fake::live().all_clean());
}

TEST_F(Release, AfterTeardownOfSomeRings)
{
	URing a = ring(4, 4);
	ring(4, 4);
	URing c = ring(4, 4);
	a.push(nop(1, kNever));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(teardown(1), 0);
	c.push(nop(3, 5));
	ASSERT_EQ(enter(2, 1, 0), 1);
	fake::advance(5);
	release();
	EXPECT_TRUE(fake::live().kernel_clean());
	EXPECT_EQ(a.ctail(), 1u);
	EXPECT_EQ(c.ctail(), 1u);
}

TEST_F(Release, FullCompletionQueueStillGetsEveryCqe)
{
	/* 2 unreaped + 2 in flight in a 4-entry CQ: the cancellations fit exactly. */
	URing r = ring(8, 4);
	r.push(nop(1, 0));
	r.push(nop(2, 0));
	r.push(nop(3, kNever));
	r.push(nop(4, kNever));
	ASSERT_EQ(enter(0, 4, 0), 4);
	ASSERT_EQ(r.ready(), 2u);
	release();
	ASSERT_EQ(r.ctail(), 4u);
	EXPECT_EQ(r.cqe_at(0).data, 1u);
	EXPECT_EQ(r.cqe_at(1).data, 2u);
	EXPECT_EQ(r.cqe_at(2).error, ECANCELED);
	EXPECT_EQ(r.cqe_at(3).error, ECANCELED);
}

TEST_F(Release, HostileIndicesDoNotStopRelease)
{
	URing r = ring(8, 4);
	for (u64 i = 0; i < 4; i++)
		r.push(nop(i, kNever));
	ASSERT_EQ(enter(0, 4, 0), 4);
	r.set_chead(0x87654321);
	r.set_stail(0x12345678);
	unsigned char *end = r.cq_end(), *map_end = r.map_end();
	std::memset(end, 0xa5, size_t(map_end - end));
	release();
	EXPECT_EQ(r.ctail(), 4u);
	size_t touched = 0;
	for (unsigned char *p = end; p < map_end; p++)
		touched += *p != 0xa5;
	EXPECT_EQ(touched, 0u);
}

TEST_F(Release, TeardownFreesWhatSetupAllocated)
{
	URing r = ring(16, 32, 0x7f0000200000ull);
	for (int round = 0; round < 3; round++) {
		for (u64 i = 0; i < 4; i++)
			r.push(nop(i, 10));
		ASSERT_EQ(enter(0, 4, 0), 4);
		fake::advance(10);
		r.drain();
	}
	EXPECT_EQ(teardown(0), 0);
	EXPECT_TRUE(only_table_live());
	EXPECT_EQ(fake::user_ptr(0x7f0000200000ull), nullptr);
}

/* Release while another thread fires the timers by hand: each NOP ends once. */
TEST_F(Release, RacesWithTimerCallbacksOnAnotherThread)
{
	for (int iter = 0; iter < 50 * kStress; iter++) {
		if (!t_)
			t_ = pwring_core_open();
		URing r = ring(32, 32);
		for (u64 i = 0; i < 32; i++)
			r.push(nop(i, 10 + i));
		ASSERT_EQ(enter(0, 32, 0), 32);
		auto timers = fake::pending_timers();
		std::atomic<bool> go{false};
		std::thread firer([&] {
			while (!go.load())
				std::this_thread::yield();
			for (auto &t : timers)
				fake::fire(t);
		});
		go.store(true);
		release();
		firer.join();
		ASSERT_EQ(r.ctail(), 32u);
		std::vector<int> seen(32, 0);
		for (u32 i = 0; i < 32; i++) {
			const pwring_cqe c = r.cqe_at(i);
			ASSERT_LT(c.data, 32u);
			seen[c.data]++;
			EXPECT_TRUE(c.error == ETIMEDOUT || c.error == ECANCELED);
		}
		for (int n : seen)
			ASSERT_EQ(n, 1);
		fake::munmap_all();
		ASSERT_TRUE(fake::live().all_clean());
	}
}

} // namespace
