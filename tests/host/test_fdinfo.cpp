// SPDX-License-Identifier: GPL-2.0
/*
 * Observability: pwring_core_snapshot() (what /proc/<pid>/fdinfo prints)
 * and the kapi_trace_*() calls behind the pwring:* tracepoints. The snapshot
 * counts requests in flight by where they wait, keeps per-op totals and
 * errors, and the age of the oldest request on the coarse clock (the manual
 * clock here). Manual clock and manual work queue unless said otherwise.
 */
#include "harness.h"

#include <thread>

using namespace ht;

namespace {

constexpr u64 kMs = 1000000;

class Fdinfo : public CoreTest {
protected:
	int p_[2] = {-1, -1};
	void SetUp() override
	{
		CoreTest::SetUp();
		fake::pipe(p_, fake::PipeOpts{64, true});
	}
	pwring_ring_snap snap(u32 id = 0)
	{
		pwring_ring_snap s;
		memset(&s, 0xa5, sizeof(s));
		EXPECT_EQ(pwring_core_snapshot(t_, id, &s), 0);
		return s;
	}
	static u32 total(const pwring_ring_snap &s)
	{
		u32 n = 0;
		for (u32 st : s.states)
			n += st;
		return n;
	}
	static std::vector<fake::TraceEvent> events(fake::Trace what)
	{
		std::vector<fake::TraceEvent> v;
		for (const auto &e : fake::trace_log())
			if (e.what == what)
				v.push_back(e);
		return v;
	}
};

TEST_F(Fdinfo, EmptyRingAndMissingOnes)
{
	ring(8, 16);
	const pwring_ring_snap s = snap();
	EXPECT_EQ(s.id, 0u);
	EXPECT_EQ(s.sentries, 8u);
	EXPECT_EQ(s.centries, 16u);
	EXPECT_EQ(s.shead, 0u);
	EXPECT_EQ(s.stail, 0u);
	EXPECT_EQ(s.chead, 0u);
	EXPECT_EQ(s.ctail, 0u);
	EXPECT_EQ(s.inflight, 0u);
	EXPECT_EQ(total(s), 0u);
	EXPECT_EQ(s.oldest_ns, 0u);
	for (u32 o = 0; o < PWRING_STAT_OPS; o++) {
		EXPECT_EQ(s.submitted[o], 0u);
		EXPECT_EQ(s.completed[o], 0u);
		EXPECT_EQ(s.errors[o], 0u);
	}
	pwring_ring_snap x;
	EXPECT_EQ(pwring_core_snapshot(t_, 1, &x), -ENOENT);
	EXPECT_EQ(pwring_core_snapshot(t_, PWRING_MAX_RINGS, &x), -EINVAL);
	EXPECT_EQ(teardown(0), 0);
	EXPECT_EQ(pwring_core_snapshot(t_, 0, &x), -ENOENT);
}

TEST_F(Fdinfo, IndicesAndRegistersAreTheSharedPage)
{
	URing r = ring(4, 4);
	r.set_reg(3, 0x1234);
	r.push(nop(1, 0));	/* times out at dispatch */
	r.push(nop(2, 0));
	r.push(nop(3, kNever));	/* stays: counts as pushed, not entered */
	ASSERT_EQ(enter(0, 2, 0), 2);
	r.set_chead(1);
	const pwring_ring_snap s = snap();
	EXPECT_EQ(s.stail, 3u);
	EXPECT_EQ(s.shead, 2u);
	EXPECT_EQ(s.ctail, 2u);
	EXPECT_EQ(s.chead, 1u);
	EXPECT_EQ(s.regs[3], 0x1234u);
	EXPECT_EQ(s.regs[0], 0u);
	EXPECT_EQ(s.inflight, 0u);
	EXPECT_EQ(s.submitted[PWRING_OP_NOP], 2u);
	EXPECT_EQ(s.completed[PWRING_OP_NOP], 2u);
	EXPECT_EQ(s.errors[PWRING_OP_NOP], 2u);	/* ETIMEDOUT */
}

TEST_F(Fdinfo, InFlightByStateAndTheOldestAge)
{
	URing r = ring(8, 8);
	char buf[16];
	r.push(nop(1, 1000 * kMs));
	r.push(poll_sqe(2, p_[0], PWRING_POLL_READ));
	ASSERT_EQ(enter(0, 2, 0), 2);
	fake::advance(300 * kMs);
	/* A READ parks on the pipe's poll; a chain's second member waits for the first. */
	r.push(read_sqe(3, p_[0], buf, sizeof(buf), kNever));
	r.push(nop(4, 2000 * kMs, kNoRegs | PWRING_LINK));
	r.push(nop(5, kNever));
	ASSERT_EQ(enter(0, 3, 0), 3);
	fake::advance(200 * kMs);

	pwring_ring_snap s = snap();
	EXPECT_EQ(s.inflight, 5u);
	EXPECT_EQ(total(s), 5u);
	EXPECT_EQ(s.states[PWRING_ST_SLEEP], 2u);
	EXPECT_EQ(s.states[PWRING_ST_POLL], 2u);
	EXPECT_EQ(s.states[PWRING_ST_LINKED], 1u);
	EXPECT_EQ(s.oldest_ns, 500 * kMs);
	EXPECT_EQ(s.submitted[PWRING_OP_NOP], 3u);
	EXPECT_EQ(s.submitted[PWRING_OP_POLL], 1u);
	EXPECT_EQ(s.submitted[PWRING_OP_READ], 1u);
	EXPECT_EQ(s.completed[PWRING_OP_NOP], 0u);

	/* The first NOP times out; the oldest is then the POLL, as old. */
	fake::advance(500 * kMs);
	s = snap();
	EXPECT_EQ(s.inflight, 4u);
	EXPECT_EQ(s.states[PWRING_ST_SLEEP], 1u);
	EXPECT_EQ(s.completed[PWRING_OP_NOP], 1u);
	EXPECT_EQ(s.errors[PWRING_OP_NOP], 1u);
	EXPECT_EQ(s.oldest_ns, 1000 * kMs);

	/* Data: the POLL and the READ complete, without errors. */
	ASSERT_EQ(fake::write(p_[1], "hello"), 5);
	fake::run_work();
	s = snap();
	EXPECT_EQ(s.inflight, 2u);
	EXPECT_EQ(s.states[PWRING_ST_POLL], 0u);
	EXPECT_EQ(s.completed[PWRING_OP_POLL], 1u);
	EXPECT_EQ(s.completed[PWRING_OP_READ], 1u);
	EXPECT_EQ(s.errors[PWRING_OP_POLL] + s.errors[PWRING_OP_READ], 0u);
	EXPECT_EQ(s.oldest_ns, 700 * kMs);	/* the chain, admitted at 300 ms */

	/* The chain's head times out: its successor never runs, it is deferred first. */
	fake::advance(2000 * kMs);
	fake::run_work();
	(void)enter(0, 0, 0);
	s = snap();
	EXPECT_EQ(s.inflight, 0u);
	EXPECT_EQ(s.oldest_ns, 0u);
	EXPECT_EQ(s.completed[PWRING_OP_NOP], 3u);
	EXPECT_EQ(s.errors[PWRING_OP_NOP], 3u);
	EXPECT_EQ(s.ctail, 5u);
}

TEST_F(Fdinfo, WorkerDeviceAndPageStates)
{
	URing r = ring(8, 8);
	const int reg = fake::regular_file(std::string(4096, 'r'));
	const int disk = fake::regular_file(std::string(4096, 'd'), fake::kRegularCaps | fake::kDirect);
	const int cold = fake::regular_file(std::string(4096, 'c'), fake::kRegularCaps | fake::kWaitq);
	fake::set_uncached(cold, true);
	static char b1[64], b2[512], b3[64];
	r.push(write_sqe(1, reg, b1, sizeof(b1), kNever, kNoRegs, 0));	/* a worker writes */
	r.push(read_sqe(2, disk, b2, sizeof(b2), kNever, kNoRegs, 0));	/* the device has it */
	r.push(read_sqe(3, cold, b3, sizeof(b3), kNever, kNoRegs, 0));	/* waits for pages */
	ASSERT_EQ(enter(0, 3, 0), 3);
	pwring_ring_snap s = snap();
	EXPECT_EQ(s.inflight, 3u);
	EXPECT_EQ(s.states[PWRING_ST_QUEUED], 1u);
	EXPECT_EQ(s.states[PWRING_ST_DIRECT], 1u);
	EXPECT_EQ(s.states[PWRING_ST_PAGES], 1u);
	const auto async = events(fake::Trace::Async);
	ASSERT_EQ(async.size(), 3u);
	EXPECT_EQ(async[0].data, 1u);
	EXPECT_EQ(async[0].value, u64(PWRING_ST_QUEUED));
	EXPECT_EQ(async[1].data, 2u);
	EXPECT_EQ(async[1].value, u64(PWRING_ST_DIRECT));
	EXPECT_EQ(async[2].data, 3u);
	EXPECT_EQ(async[2].value, u64(PWRING_ST_PAGES));

	/* The device completes: task context finishes it. */
	EXPECT_EQ(fake::device_complete(), 1u);
	s = snap();
	EXPECT_EQ(s.states[PWRING_ST_DIRECT], 0u);
	EXPECT_EQ(s.states[PWRING_ST_QUEUED], 2u);
	EXPECT_EQ(fake::pages_arrive(cold), 1u);
	fake::run_work();
	s = snap();
	EXPECT_EQ(s.inflight, 0u);
	EXPECT_EQ(s.completed[PWRING_OP_WRITE], 1u);
	EXPECT_EQ(s.completed[PWRING_OP_READ], 2u);
	EXPECT_EQ(s.errors[PWRING_OP_READ] + s.errors[PWRING_OP_WRITE], 0u);
	EXPECT_EQ(teardown(0), 0);
}

TEST_F(Fdinfo, InvalidOpcodesHaveTheirOwnCounter)
{
	URing r = ring(4, 4);
	r.push(make_sqe(PWRING_OP_MAX + 7, 9, kNever));
	ASSERT_EQ(enter(0, 1, 0), 1);
	const pwring_ring_snap s = snap();
	EXPECT_EQ(s.submitted[PWRING_STAT_OPS - 1], 1u);
	EXPECT_EQ(s.completed[PWRING_STAT_OPS - 1], 1u);
	EXPECT_EQ(s.errors[PWRING_STAT_OPS - 1], 1u);
	EXPECT_STREQ(pwring_core_op_name(PWRING_OP_NOP), "nop");
	EXPECT_STREQ(pwring_core_op_name(PWRING_OP_POLL), "poll");
	EXPECT_STREQ(pwring_core_op_name(PWRING_OP_MAX + 7), "?");
}

TEST_F(Fdinfo, TraceSubmitAsyncTimeoutComplete)
{
	URing r = ring(4, 4);
	r.push(nop(42, 10 * kMs));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::advance(10 * kMs);
	const auto log = fake::trace_log();
	ASSERT_EQ(log.size(), 4u);
	EXPECT_EQ(log[0].what, fake::Trace::Submit);
	EXPECT_EQ(log[0].value, 10 * kMs);
	EXPECT_EQ(log[1].what, fake::Trace::Async);
	EXPECT_EQ(log[1].value, u64(PWRING_ST_SLEEP));
	EXPECT_EQ(log[2].what, fake::Trace::Timeout);
	EXPECT_EQ(log[3].what, fake::Trace::Complete);
	EXPECT_EQ(log[3].err, ETIMEDOUT);
	for (const auto &e : log) {
		EXPECT_EQ(e.ring, 0u);
		EXPECT_EQ(e.op, PWRING_OP_NOP);
		EXPECT_EQ(e.data, 42u);
	}
}

/* With every pwring:* event disabled the core makes no kapi_trace_*() call at all. */
TEST_F(Fdinfo, NoTraceCallsWhileNobodyTraces)
{
	fake::set_tracing(false);
	URing r = ring(4, 4);
	r.push(nop(42, 10 * kMs));
	r.push(poll_sqe(7, p_[0], PWRING_POLL_READ));
	ASSERT_EQ(enter(0, 2, 0), 2);
	fake::advance(10 * kMs);
	EXPECT_EQ(snap().completed[PWRING_OP_NOP], 1u);	/* it ran: timed out */
	EXPECT_TRUE(fake::trace_log().empty());
	fake::set_tracing(true);	/* the counterproof: the same steps, traced */
	URing r2 = ring(4, 4);
	r2.push(nop(43, 10 * kMs));
	ASSERT_EQ(enter(r2.id(), 1, 0), 1);
	fake::advance(10 * kMs);
	EXPECT_EQ(fake::trace_log().size(), 4u);	/* submit, async, timeout, complete */
	fake::trace_clear();
	fake::set_tracing(false);
	release();			/* cancels the POLL, untraced */
	EXPECT_TRUE(fake::trace_log().empty());
}

TEST_F(Fdinfo, TraceCancelOnCloseOnlyForRequestsInFlight)
{
	URing r = ring(8, 8);
	r.push(nop(1, 0));	/* completes at once: a free packet when we close */
	r.push(poll_sqe(7, p_[0], PWRING_POLL_READ));
	ASSERT_EQ(enter(0, 2, 0), 2);
	release();
	const auto cancels = events(fake::Trace::Cancel);
	ASSERT_EQ(cancels.size(), 1u);
	EXPECT_EQ(cancels[0].data, 7u);
	EXPECT_EQ(cancels[0].op, PWRING_OP_POLL);
	EXPECT_EQ(cancels[0].err, ECANCELED);
	const auto done = events(fake::Trace::Complete);
	ASSERT_EQ(done.size(), 2u);
	EXPECT_EQ(done[1].data, 7u);
	EXPECT_EQ(done[1].err, ECANCELED);
	EXPECT_TRUE(events(fake::Trace::Timeout).empty());
}

TEST_F(Fdinfo, TraceCompleteCarriesTheResult)
{
	URing r = ring(4, 4);
	char buf[8] = {};
	ASSERT_EQ(fake::write(p_[1], "abc"), 3);
	r.push(read_sqe(5, p_[0], buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 1, 0), 1);
	const auto done = events(fake::Trace::Complete);
	ASSERT_EQ(done.size(), 1u);
	EXPECT_EQ(done[0].op, PWRING_OP_READ);
	EXPECT_EQ(done[0].err, 0);
	EXPECT_EQ(done[0].value, 3u);
	EXPECT_TRUE(events(fake::Trace::Async).empty()) << "completed during its issue";
}

/* fdinfo beside enter, setup and teardown on other threads (TSan's case). */
TEST_F(Fdinfo, SnapshotsRaceWithRequestsAndTeardown)
{
	fake::set_timer_mode(fake::TimerMode::Real);
	std::atomic<bool> stop{false};
	std::thread reader([&] {
		while (!stop.load()) {
			for (u32 id = 0; id < 2; id++) {
				pwring_ring_snap s;
				const long rc = pwring_core_snapshot(t_, id, &s);
				if (rc == 0) {
					EXPECT_LE(s.inflight, s.centries);
					EXPECT_LE(total(s), s.centries);
				} else {
					EXPECT_EQ(rc, -ENOENT);
				}
			}
		}
	});
	for (int round = 0; round < 20 * kStress; round++) {
		URing r = ring(16, 16);
		for (u32 i = 0; i < 16; i++)
			r.push(nop(i, i % 2 ? 0 : 20000));
		ASSERT_EQ(enter(r.id(), 16, 16), 16);
		r.set_chead(r.ctail());
		ASSERT_EQ(teardown(r.id()), 0);
	}
	stop = true;
	reader.join();
	fake::set_timer_mode(fake::TimerMode::Manual);
}

} // namespace
