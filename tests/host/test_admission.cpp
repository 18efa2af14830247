// SPDX-License-Identifier: GPL-2.0
/*
 * Admission and backpressure (spec section 3): a request is admitted only
 * while in flight + unreaped < centries, so the CQ never overflows and
 * nothing is lost.
 */
#include "harness.h"

#include <random>

using namespace ht;

namespace {

class Admission : public CoreTest {};

TEST_F(Admission, InFlightLimitedToCentries)
{
	URing r = ring(16, 4);
	for (u64 i = 0; i < 10; i++)
		r.push(nop(i, kNever));
	EXPECT_EQ(enter(0, 10, 0), 4);
	EXPECT_EQ(r.shead(), 4u);
	/* Nothing can be admitted and the caller does not wait: EBUSY. */
	EXPECT_EQ(enter(0, 10, 0), -EBUSY);
	EXPECT_EQ(r.shead(), 4u);
	/* amount 0 is not blocked by anything. */
	EXPECT_EQ(enter(0, 0, 0), 0);
}

TEST_F(Admission, UnreapedCqesCountUntilReaped)
{
	URing r = ring(16, 4);
	for (u64 i = 0; i < 8; i++)
		r.push(nop(i, 100));
	EXPECT_EQ(enter(0, 8, 0), 4);
	fake::advance(100);
	ASSERT_EQ(r.ready(), 4u);
	EXPECT_EQ(enter(0, 8, 0), -EBUSY);	/* 0 in flight, 4 unreaped */
	pwring_cqe c;
	ASSERT_TRUE(r.pop(&c));
	ASSERT_TRUE(r.pop(&c));
	EXPECT_EQ(enter(0, 8, 0), 2);		/* two slots reaped, two admitted */
	EXPECT_EQ(enter(0, 8, 0), -EBUSY);
	fake::advance(100);
	auto rest = r.drain();
	ASSERT_EQ(rest.size(), 4u);
	for (u64 i = 0; i < 4; i++)
		EXPECT_EQ(rest[i].data, i + 2);
	EXPECT_EQ(enter(0, 8, 0), 2);
	fake::advance(100);
	EXPECT_EQ(r.drain().size(), 2u);
}

TEST_F(Admission, PartialBatchReturnsCountSoFar)
{
	URing r = ring(16, 8);
	for (u64 i = 0; i < 5; i++)
		r.push(nop(i, kNever));
	ASSERT_EQ(enter(0, 5, 0), 5);
	for (u64 i = 0; i < 6; i++)
		r.push(nop(10 + i, kNever));
	EXPECT_EQ(enter(0, 6, 0), 3);
	EXPECT_EQ(r.shead(), 8u);
}

TEST_F(Admission, BlockedSubmitterWithWaitSleeps)
{
	URing r = ring(8, 2);
	r.push(nop(1, 100));
	r.push(nop(2, 200));
	ASSERT_EQ(enter(0, 2, 0), 2);
	r.push(nop(3, 0));
	/* Nothing can be admitted, but there is something to wait for. */
	Async waiter([&] { return enter(0, 1, 1); });
	ASSERT_TRUE(fake::wait_for_sleepers(1));
	EXPECT_EQ(r.shead(), 2u);
	fake::advance(100);
	EXPECT_EQ(waiter.join(), 0);	/* woke with one CQE, consumed nothing */
	EXPECT_EQ(r.shead(), 2u);
}

TEST_F(Admission, SingleEntryCompletionQueue)
{
	URing r = ring(4, 1);
	for (u64 i = 0; i < 20; i++) {
		r.push(nop(i, 0));
		ASSERT_EQ(enter(0, 1, 0), 1);
		r.push(nop(100 + i, 0));
		ASSERT_EQ(enter(0, 1, 0), -EBUSY);	/* the one CQE is unreaped */
		r.set_stail(r.shead());			/* withdraw it */
		pwring_cqe c;
		ASSERT_TRUE(r.pop(&c));
		ASSERT_EQ(c.data, i);
	}
}

TEST_F(Admission, CqNeverOverflowsWhenEverythingCompletesAtOnce)
{
	/* centries in flight, all expiring together, nothing reaped in between. */
	URing r = ring(64, 16);
	for (u64 i = 0; i < 64; i++)
		r.push(nop(i, 50));
	EXPECT_EQ(enter(0, 64, 0), 16);
	fake::advance(50);
	EXPECT_EQ(r.ready(), 16u);
	auto c = r.drain();
	for (u64 i = 0; i < 16; i++)
		EXPECT_EQ(c[i].data, i);
}

/* 100k NOPs through a small ring: mixed timeouts, partial reaping, links. */
TEST_F(Admission, HundredThousandNopsNothingLost)
{
	const u32 total = 100'000;
	URing r = ring(128, 64);
	std::mt19937 rng(12345);
	std::vector<uint8_t> seen(total, 0);
	u32 submitted = 0, reaped = 0;
	u64 max_ready = 0;
	while (reaped < total) {
		/* Submit what fits in the SQ. */
		const u32 space = r.sq_space();
		const u32 n = std::min<u32>(space, total - submitted);
		for (u32 i = 0; i < n; i++) {
			const u32 kind = rng() % 8;
			const u64 timeout = kind < 4 ? 0 : kind < 7 ? 1 + rng() % 50 : 1000;
			const u32 link = (rng() % 16 == 0) ? PWRING_HARDLINK : 0;
			r.push(nop(submitted + i, timeout, kNoRegs | link));
		}
		submitted += n;
		const long got = enter(0, rng() % 2 ? ~0ull : rng() % 64, 0);
		ASSERT_TRUE(got >= 0 || got == -EBUSY) << got;
		/* The invariant the process sees: never more CQEs than the CQ holds. */
		max_ready = std::max<u64>(max_ready, r.ready());
		ASSERT_LE(r.ready(), 64u);
		fake::advance(rng() % 60);
		fake::run_work();	/* task context: finishes of NOPs with successors */
		max_ready = std::max<u64>(max_ready, r.ready());
		ASSERT_LE(r.ready(), 64u);
		/* Reap some or all. */
		u32 k = rng() % 3 ? r.ready() : r.ready() / 2;
		pwring_cqe c;
		while (k-- && r.pop(&c)) {
			ASSERT_LT(c.data, total);
			ASSERT_EQ(seen[c.data], 0) << "CQE for " << c.data << " twice";
			seen[c.data] = 1;
			ASSERT_EQ(c.error, ETIMEDOUT);
			reaped++;
		}
		if (r.ready() == 0 && r.stail() == r.shead() && submitted == total && reaped < total)
			fake::advance(1000);
	}
	EXPECT_EQ(r.shead(), total);
	EXPECT_EQ(r.ctail(), total);
	EXPECT_GE(max_ready, 32u);	/* the CQ did fill up on the way */
	EXPECT_EQ(teardown(0), 0);
}

} // namespace
