// SPDX-License-Identifier: GPL-2.0
/*
 * Per-user limits: requests in flight (max_user_requests) are charged by
 * enter and given back as each request completes; ring pages
 * (max_user_ring_bytes) by setup, until the ring is freed. Beyond the
 * request limit enter consumes nothing more (EAGAIN if it consumed
 * nothing); beyond the byte limit setup fails ENOMEM. Nothing stays
 * charged once the rings are gone.
 */
#include "harness.h"

using namespace ht;

namespace {

constexpr int kUid = 1000;

class Limits : public CoreTest {
protected:
	static unsigned long long requests(int uid = kUid)
	{
		return fake::charged(uid, KAPI_LIMIT_REQUESTS);
	}
	static unsigned long long ring_bytes(int uid = kUid)
	{
		return fake::charged(uid, KAPI_LIMIT_RING_BYTES);
	}
};

TEST_F(Limits, RequestsChargedUntilCompletion)
{
	URing r = ring(16, 16);
	for (u64 i = 0; i < 5; i++)
		r.push(nop(i, 100 * (i + 1)));
	ASSERT_EQ(enter(0, 5, 0), 5);
	EXPECT_EQ(requests(), 5u);
	fake::advance(100);
	EXPECT_EQ(requests(), 4u);	/* one completed: given back before its CQE is reaped */
	fake::advance(400);
	EXPECT_EQ(requests(), 0u);
	EXPECT_EQ(r.drain().size(), 5u);
}

TEST_F(Limits, BeyondTheLimitEnterStopsWithoutConsuming)
{
	fake::set_limit(KAPI_LIMIT_REQUESTS, 3);
	URing r = ring(16, 16);
	for (u64 i = 0; i < 5; i++)
		r.push(nop(i, 100));
	EXPECT_EQ(enter(0, 5, 0), 3);
	EXPECT_EQ(r.shead(), 3u);
	EXPECT_EQ(requests(), 3u);
	/* Nothing more until one completes: EAGAIN, the SQEs stay in the SQ. */
	EXPECT_EQ(enter(0, 2, 0), -EAGAIN);
	EXPECT_EQ(enter(0, 2, 1), -EAGAIN);	/* not a wait for this ring's room */
	EXPECT_EQ(r.shead(), 3u);
	fake::advance(100);
	EXPECT_EQ(requests(), 0u);
	EXPECT_EQ(enter(0, 2, 0), 2);
	fake::advance(100);
	auto c = r.drain();
	ASSERT_EQ(c.size(), 5u);
	for (u64 i = 0; i < 5; i++) {
		EXPECT_EQ(c[i].data, i);
		EXPECT_EQ(c[i].error, ETIMEDOUT);
	}
	EXPECT_EQ(requests(), 0u);
}

TEST_F(Limits, LimitIsPerUserAcrossRings)
{
	fake::set_limit(KAPI_LIMIT_REQUESTS, 4);
	URing a = ring(8, 8);
	URing b = ring(8, 8);
	for (u64 i = 0; i < 3; i++) {
		a.push(nop(i, kNever));
		b.push(nop(10 + i, kNever));
	}
	EXPECT_EQ(enter(a.id(), 3, 0), 3);
	EXPECT_EQ(enter(b.id(), 3, 0), 1);
	EXPECT_EQ(enter(b.id(), 2, 0), -EAGAIN);
	/* Another user's ring is not held back by this user's requests. */
	fake::set_uid(2000);
	URing c = ring(8, 8);
	c.push(nop(20, kNever));
	EXPECT_EQ(enter(c.id(), 1, 0), 1);
	EXPECT_EQ(requests(2000), 1u);
	EXPECT_EQ(requests(kUid), 4u);
	/* Close cancels: every charge is given back, and the users go. */
	release();
	EXPECT_EQ(fake::live().users, 0);
}

TEST_F(Limits, LoweredLimitRefusesOnlyNewRequests)
{
	URing r = ring(8, 8);
	for (u64 i = 0; i < 4; i++)
		r.push(nop(i, 100));
	ASSERT_EQ(enter(0, 4, 0), 4);
	fake::set_limit(KAPI_LIMIT_REQUESTS, 2);
	r.push(nop(9, 100));
	EXPECT_EQ(enter(0, 1, 0), -EAGAIN);
	fake::advance(100);
	EXPECT_EQ(enter(0, 1, 0), 1);
	fake::advance(100);
	EXPECT_EQ(r.drain().size(), 5u);
	EXPECT_EQ(requests(), 0u);
}

TEST_F(Limits, SkippedChainMembersAreGivenBack)
{
	URing r = ring(8, 8);
	/* A failing head (reserved flag) cancels its SQE_LINK successors. */
	r.push(nop(1, 100, kNoRegs | PWRING_LINK | (1u << 25)));
	r.push(nop(2, 100, kNoRegs | PWRING_LINK));
	r.push(nop(3, 100));
	ASSERT_EQ(enter(0, 3, 0), 3);
	auto c = r.drain();
	ASSERT_EQ(c.size(), 3u);
	EXPECT_EQ(c[0].error, EINVAL);
	EXPECT_EQ(c[1].error, ECANCELED);
	EXPECT_EQ(c[2].error, ECANCELED);
	EXPECT_EQ(requests(), 0u);
}

TEST_F(Limits, RingBytesChargedWhileTheRingExists)
{
	URing a = ring(64, 64);	/* 192 + 4096 + 2048: 2 pages */
	EXPECT_EQ(ring_bytes(), 2 * 4096u);
	URing b = ring(1, 1);	/* 1 page */
	EXPECT_EQ(ring_bytes(), 3 * 4096u);
	ASSERT_EQ(teardown(a.id()), 0);
	EXPECT_EQ(ring_bytes(), 4096u);
	ASSERT_EQ(teardown(b.id()), 0);
	EXPECT_EQ(ring_bytes(), 0u);
	EXPECT_EQ(fake::live().users, 0);
}

TEST_F(Limits, BeyondTheByteLimitSetupFailsEnomem)
{
	fake::set_limit(KAPI_LIMIT_RING_BYTES, 3 * 4096);
	URing a = ring(64, 64);	/* 2 pages */
	pwring_ring_info info{};
	EXPECT_EQ(setup(&info, 64, 64), -ENOMEM);	/* 4 pages > 3 */
	EXPECT_EQ(ring_bytes(), 2 * 4096u);
	const long id = setup(&info, 1, 1);		/* 3 pages: fits exactly */
	EXPECT_GE(id, 0);
	EXPECT_EQ(ring_bytes(), 3 * 4096u);
	EXPECT_EQ(setup(&info, 1, 1), -ENOMEM);
	/* A failed setup leaves nothing charged or allocated behind. */
	fake::set_limit(KAPI_LIMIT_RING_BYTES, ~0ULL);
	ASSERT_EQ(teardown(u64(id)), 0);
	ASSERT_EQ(teardown(a.id()), 0);
	EXPECT_EQ(ring_bytes(), 0u);
	EXPECT_TRUE(only_table_live());
}

TEST_F(Limits, SetupFailuresGiveTheChargeBack)
{
	/* Out of memory for the user object itself. */
	fake::fail_next_user_get();
	pwring_ring_info info{};
	EXPECT_EQ(setup(&info, 4, 4), -ENOMEM);
	/* The mapping fails after the pages were charged. */
	fake::fail_next_map(ENOMEM);
	EXPECT_EQ(setup(&info, 4, 4), -ENOMEM);
	/* The ring descriptor cannot be written. */
	EXPECT_EQ(setup_raw(1, 0, 4, 4), -EFAULT);
	EXPECT_EQ(ring_bytes(), 0u);
	EXPECT_EQ(fake::live().users, 0);
	EXPECT_TRUE(only_table_live());
}

TEST_F(Limits, ShutdownWithRequestsInFlightGivesEverythingBack)
{
	fake::set_limit(KAPI_LIMIT_REQUESTS, 100);
	URing r = ring(16, 16);
	int p[2];
	fake::pipe(p);
	char buf[8];
	for (u64 i = 0; i < 4; i++)
		r.push(read_sqe(i, p[0], buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 4, 0), 4);
	EXPECT_EQ(requests(), 4u);
	release();
	EXPECT_EQ(fake::live().users, 0);
}

} // namespace
