// SPDX-License-Identifier: GPL-2.0
/*
 * The cancellation slot's claim/unclaim and the packet's `issuing` state
 * (design: "Cancellation slot", "Issuing"), forced deterministically: fake
 * hooks run a timer callback or the work item at an exact point inside a
 * kapi call the op makes, as another CPU could at that instant.
 *
 * claim/unclaim: the work item claims the packet, retries, and must wait
 * again; a cancellation (timeout, close) that arrived meanwhile makes the
 * re-arm fail and the op completes with that errno. Had the retry found
 * data, the op completes with it: completion wins, nothing read is lost.
 *
 * issuing: a party that wins the packet while its dispatcher is still in
 * the op's issue function leaves the finishing to the dispatcher.
 */
#include "harness.h"

using namespace ht;

namespace {

/* Clears a hook when the test leaves its scope. */
struct ScopedHook {
	fake::Hook h;
	ScopedHook(fake::Hook hook, std::function<void(kapi_io *)> fn) : h(hook)
	{
		fake::set_hook(h, std::move(fn));
	}
	~ScopedHook() { fake::set_hook(h, nullptr); }
};

class IoMech : public CoreTest {
protected:
	int p_[2] = {-1, -1};
	void SetUp() override
	{
		CoreTest::SetUp();
		fake::pipe(p_);
	}
	static long ctx_count(const long (&v)[4], fake::Ctx c) { return v[int(c)]; }
};

/* ---- claim / unclaim ---- */

TEST_F(IoMech, ReadTimeoutBetweenClaimAndUnclaimCompletesEtimedout)
{
	URing r = ring(4, 4);
	char buf[8];
	r.push(read_sqe(1, p_[0], buf, sizeof(buf), 1000));
	ASSERT_EQ(enter(0, 1, 0), 1);
	bool fired = false;
	ScopedHook h(fake::Hook::Rw, [&](kapi_io *io) {
		if (fake::context() == fake::Ctx::Work && !fired)
			fired = fake::fire_timer_of(io);	/* the packet is claimed now */
	});
	fake::wake(p_[0], 0);	/* the worker retries, finds nothing */
	EXPECT_EQ(fake::run_work(), 1);
	EXPECT_TRUE(fired);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_EQ(r.cqe_at(0).result, 0u);
	/* The timer lost the slot to the claim: the op completed, in the worker. */
	EXPECT_EQ(fake::work_queued(), 1);
	EXPECT_EQ(ctx_count(fake::io_counts().fput_ctx, fake::Ctx::Work), 1);
	EXPECT_TRUE(fake::pending_timers().empty());
	EXPECT_EQ(fake::callbacks_run(), 1);
	EXPECT_EQ(fake::poll_waiters(p_[0]), 0);
	EXPECT_EQ(teardown(0), 0);
}

TEST_F(IoMech, DataFoundAfterTheTimeoutWinsOverIt)
{
	URing r = ring(4, 4);
	char buf[8] = {};
	r.push(read_sqe(1, p_[0], buf, sizeof(buf), 1000));
	ASSERT_EQ(enter(0, 1, 0), 1);
	bool fired = false;
	ScopedHook h(fake::Hook::Rw, [&](kapi_io *io) {
		if (fake::context() != fake::Ctx::Work || fired)
			return;
		ASSERT_EQ(fake::write(p_[1], "data"), 4);
		fired = fake::fire_timer_of(io);
	});
	fake::wake(p_[0], 0);
	/* Twice: the write queued the running item again; the second run finds it done. */
	EXPECT_EQ(fake::run_work(), 2);
	EXPECT_TRUE(fired);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(r.cqe_at(0).result, 4u);
	EXPECT_EQ(std::string(buf, 4), "data");
	EXPECT_EQ(fake::contents(p_[0]), "");
	EXPECT_TRUE(fake::pending_timers().empty());
}

TEST_F(IoMech, WriteTimeoutBetweenClaimAndUnclaim)
{
	URing r = ring(4, 4);
	int q[2];
	fake::pipe(q, fake::PipeOpts{4, true});
	ASSERT_EQ(fake::write(q[1], "full"), 4);
	r.push(write_sqe(1, q[1], "more", 4, 1000));
	ASSERT_EQ(enter(0, 1, 0), 1);
	bool fired = false;
	ScopedHook h(fake::Hook::Rw, [&](kapi_io *io) {
		if (fake::context() == fake::Ctx::Work && !fired)
			fired = fake::fire_timer_of(io);
	});
	fake::wake(q[1], 0);
	fake::run_work();
	EXPECT_TRUE(fired);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_EQ(fake::contents(q[0]), "full");
}

TEST_F(IoMech, PollTimeoutBetweenClaimAndUnclaim)
{
	URing r = ring(4, 4);
	r.push(poll_sqe(1, p_[0], PWRING_POLL_READ, 1000));
	ASSERT_EQ(enter(0, 1, 0), 1);
	bool fired = false;
	ScopedHook h(fake::Hook::PollMask, [&](kapi_io *) {
		if (fake::context() != fake::Ctx::Work || fired)
			return;
		const auto t = fake::pending_timers();
		ASSERT_EQ(t.size(), 1u);
		fired = fake::fire(t[0]);
	});
	fake::wake(p_[0], 0);
	fake::run_work();
	EXPECT_TRUE(fired);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_EQ(r.cqe_at(0).result, 0u);
	EXPECT_EQ(fake::poll_waiters(p_[0]), 0);
}

TEST_F(IoMech, PollEventFoundAfterTheTimeoutWinsOverIt)
{
	URing r = ring(4, 4);
	r.push(poll_sqe(1, p_[0], PWRING_POLL_READ, 1000));
	ASSERT_EQ(enter(0, 1, 0), 1);
	bool fired = false;
	ScopedHook h(fake::Hook::PollMask, [&](kapi_io *) {
		if (fake::context() != fake::Ctx::Work || fired)
			return;
		ASSERT_EQ(fake::write(p_[1], "x"), 1);
		fired = fake::fire(fake::pending_timers().at(0));
	});
	fake::wake(p_[0], 0);
	fake::run_work();
	EXPECT_TRUE(fired);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(r.cqe_at(0).result, PWRING_POLL_READ);
}

/*
 * The close arrives while the worker holds the claim (threaded worker): it
 * records ECANCELED in the slot and returns without waiting for the worker;
 * the worker's re-arm fails and it completes the packet with ECANCELED,
 * after which the ring is reaped.
 */
TEST_F(IoMech, ReleaseBetweenClaimAndUnclaim)
{
	fake::set_work_mode(fake::WorkMode::Threaded, 1);
	URing r = ring(4, 4);
	char buf[8];
	r.push(read_sqe(1, p_[0], buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 1, 0), 1);
	std::atomic<bool> claimed{false}, shut{false}, closer_returned{false};
	ScopedHook h(fake::Hook::Rw, [&](kapi_io *) {
		if (fake::context() != fake::Ctx::Work || claimed.exchange(true))
			return;
		/* The close returns while we still hold the claim. */
		closer_returned = eventually([&] { return shut.load(); });
	});
	fake::wake(p_[0], 0);
	ASSERT_TRUE(eventually([&] { return claimed.load(); }));
	shutdown_and_reap(shut);
	EXPECT_TRUE(closer_returned.load());
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ECANCELED);
	EXPECT_EQ(r.cqe_at(0).result, 0u);
	EXPECT_TRUE(fake::live().kernel_clean()) << describe_live();
}

TEST_F(IoMech, ReleaseBetweenPollClaimAndUnclaim)
{
	fake::set_work_mode(fake::WorkMode::Threaded, 1);
	URing r = ring(4, 4);
	r.push(poll_sqe(1, p_[0], PWRING_POLL_READ));
	ASSERT_EQ(enter(0, 1, 0), 1);
	std::atomic<bool> claimed{false}, shut{false}, closer_returned{false};
	ScopedHook h(fake::Hook::PollMask, [&](kapi_io *) {
		if (fake::context() != fake::Ctx::Work || claimed.exchange(true))
			return;
		closer_returned = eventually([&] { return shut.load(); });
	});
	fake::wake(p_[0], 0);
	ASSERT_TRUE(eventually([&] { return claimed.load(); }));
	shutdown_and_reap(shut);
	EXPECT_TRUE(closer_returned.load());
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ECANCELED);
	EXPECT_TRUE(fake::live().kernel_clean()) << describe_live();
}

/*
 * A pollable file without NOWAIT (a tty, a 6.1 pipe) is read by the worker
 * with a blocking call once poll says it is readable. If another reader
 * takes the data between that poll and the read, the worker blocks in
 * kapi_rw() while it holds the claim. Spec section 3: on expiry the request
 * completes ETIMEDOUT, and closing cancels everything in flight. So the
 * cancellation must break the call (kapi_io_interrupt), and the data that
 * comes later stays in the pipe for whoever reads next.
 */
class BlockedWorker : public IoMech {
protected:
	int q_[2] = {-1, -1};
	std::atomic<bool> stolen_{false};
	std::atomic<kapi_io *> io_{nullptr};

	void SetUp() override
	{
		IoMech::SetUp();
		fake::set_work_mode(fake::WorkMode::Threaded, 1);
		fake::pipe(q_, fake::PipeOpts{64, false});
	}
	/* Submits a READ, then makes its worker block: another reader steals the byte. */
	void block_a_read(URing &r, char *buf, size_t n, u64 timeout)
	{
		r.push(read_sqe(1, q_[0], buf, n, timeout));
		ASSERT_EQ(enter(0, 1, 0), 1);
		fake::set_hook(fake::Hook::Rw, [this](kapi_io *io) {
			if (fake::context() != fake::Ctx::Work || stolen_.load())
				return;
			char c;
			EXPECT_EQ(fake::read(q_[0], &c, 1), 1);	/* another reader, right then */
			io_ = io;
			stolen_ = true;
		});
		ASSERT_EQ(fake::write(q_[1], "x"), 1);	/* poll: readable; the worker goes to read */
		ASSERT_TRUE(eventually([&] { return stolen_.load(); }));
	}
	void TearDown() override
	{
		fake::set_hook(fake::Hook::Rw, nullptr);
		IoMech::TearDown();
	}
	/* What the pipe holds now, by a plain read. */
	std::string drain()
	{
		char b[16];
		const long n = fake::read(q_[0], b, sizeof(b));
		return n > 0 ? std::string(b, size_t(n)) : std::string();
	}
};

TEST_F(BlockedWorker, TimeoutBreaksTheBlockingRead)
{
	URing r = ring(4, 4);
	char buf[8] = {};
	block_a_read(r, buf, sizeof(buf), 1000);
	fake::advance(1000);	/* the READ's deadline */
	EXPECT_EQ(fake::callbacks_run(), 1);
	ASSERT_TRUE(eventually([&] { return r.ctail() == 1; }))
		<< "the READ ignored its expired timeout while its worker blocked";
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_EQ(r.cqe_at(0).result, 0u);
	EXPECT_EQ(fake::io_counts().interrupts, 1);
	ASSERT_EQ(fake::write(q_[1], "y"), 1);
	EXPECT_EQ(drain(), "y") << "the timed-out READ still took data";
	release();
	EXPECT_TRUE(fake::live().kernel_clean()) << describe_live();
}

TEST_F(BlockedWorker, CloseBreaksTheBlockingRead)
{
	URing r = ring(4, 4);
	char buf[8] = {};
	block_a_read(r, buf, sizeof(buf), PWRING_TIMEOUT_NEVER);
	Async closer([&] {
		release();
		return 0L;
	});
	const bool closed = eventually([&] { return closer.done(); }, 2000);
	if (!closed) {
		ASSERT_EQ(fake::write(q_[1], "!"), 1);	/* unblock it, to fail rather than hang */
	}
	closer.join();
	EXPECT_TRUE(closed) << "close hangs on a worker blocked in a read nothing will satisfy";
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ECANCELED);
	EXPECT_EQ(fake::io_counts().interrupts, 1);
	ASSERT_EQ(fake::write(q_[1], "y"), 1);
	EXPECT_EQ(drain(), "y");
	EXPECT_TRUE(fake::live().kernel_clean()) << describe_live();
}

/*
 * An interruption that finds a call it was not meant for (the cancelled
 * request completed and its packet was reused by the time the canceller
 * got to it) must not fail that call's request: it is retried.
 */
TEST_F(BlockedWorker, StaleInterruptionIsRetried)
{
	URing r = ring(4, 4);
	char buf[8] = {};
	block_a_read(r, buf, sizeof(buf), PWRING_TIMEOUT_NEVER);
	ASSERT_TRUE(eventually([&] { return io_.load() != nullptr; }));
	kapi_io_interrupt(io_.load());
	ASSERT_TRUE(eventually([&] { return fake::io_counts().interrupts == 1; }));
	EXPECT_EQ(r.ctail(), 0u) << "a stale interruption completed the READ";
	ASSERT_EQ(fake::write(q_[1], "z"), 1);
	ASSERT_TRUE(eventually([&] { return r.ctail() == 1; }));
	EXPECT_EQ(r.cqe_at(0).error, 0);
	ASSERT_EQ(r.cqe_at(0).result, 1u);
	EXPECT_EQ(buf[0], 'z');
	release();
	EXPECT_TRUE(fake::live().kernel_clean()) << describe_live();
}

/* ---- issuing ---- */

/*
 * The READ is armed and its poll entry queued when its own timer fires
 * (another CPU): the timer wins the slot, but the dispatcher is still in
 * the issue function, so the dispatcher finishes the packet, in enter,
 * without handing anything to the work item.
 */
TEST_F(IoMech, TimerWinsWhileTheReadIsIssuing)
{
	URing r = ring(4, 4);
	char buf[8];
	r.push(read_sqe(1, p_[0], buf, sizeof(buf), 1000));
	bool fired = false;
	ScopedHook h(fake::Hook::PollArmed, [&](kapi_io *io) {
		if (fake::context() == fake::Ctx::Task && !fired)
			fired = fake::fire_timer_of(io);
	});
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_TRUE(fired);
	ASSERT_EQ(r.ctail(), 1u);	/* finished before enter returned */
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_EQ(fake::work_queued(), 0);
	const fake::IoCounts k = fake::io_counts();
	EXPECT_EQ(ctx_count(k.fput_ctx, fake::Ctx::Task), 1);
	EXPECT_EQ(ctx_count(k.mdl_release_ctx, fake::Ctx::Task), 1);
	EXPECT_EQ(fake::poll_waiters(p_[0]), 0);
	EXPECT_TRUE(fake::pending_timers().empty());
	EXPECT_EQ(teardown(0), 0);
}

/*
 * A wakeup right after the entry is queued, while enter is still issuing:
 * the packet goes on the ready list, not to a worker, and enter reads it
 * before it returns.
 */
TEST_F(IoMech, WakeupWhileIssuingIsRunByEnter)
{
	URing r = ring(4, 4);
	char buf[8] = {};
	r.push(read_sqe(1, p_[0], buf, sizeof(buf)));
	bool done = false;
	ScopedHook h(fake::Hook::PollArmed, [&](kapi_io *) {
		if (fake::context() != fake::Ctx::Task || done)
			return;
		done = true;
		ASSERT_EQ(fake::write(p_[1], "xyz"), 3);
		EXPECT_EQ(fake::work_pending(), 0);	/* listed, not queued */
	});
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_TRUE(done);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(r.cqe_at(0).result, 3u);
	EXPECT_EQ(std::string(buf, 3), "xyz");
	const fake::IoCounts k = fake::io_counts();
	EXPECT_EQ(ctx_count(k.fput_ctx, fake::Ctx::Task), 1);
	EXPECT_EQ(ctx_count(k.fput_ctx, fake::Ctx::Work), 0);
	EXPECT_EQ(fake::poll_waiters(p_[0]), 0);
	EXPECT_EQ(fake::work_queued(), 0);
	EXPECT_EQ(fake::run_work(), 0);
	EXPECT_EQ(r.ctail(), 1u);
}

/* POLL rechecks the mask after arming: its timer fires right there. */
TEST_F(IoMech, TimerWinsWhileThePollIsIssuing)
{
	URing r = ring(4, 4);
	r.push(poll_sqe(1, p_[0], PWRING_POLL_READ, 1000));
	bool fired = false;
	ScopedHook h(fake::Hook::PollMask, [&](kapi_io *) {
		if (fake::context() != fake::Ctx::Task || fired)
			return;
		fired = fake::fire(fake::pending_timers().at(0));
	});
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_TRUE(fired);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_EQ(fake::work_queued(), 0);
	EXPECT_EQ(ctx_count(fake::io_counts().fput_ctx, fake::Ctx::Task), 1);
	EXPECT_EQ(fake::poll_waiters(p_[0]), 0);
}

/*
 * A wakeup between POLL's arm and its recheck: both list the packet on the
 * ready list (once), and enter completes it before it returns.
 */
TEST_F(IoMech, PollWakeupBetweenArmAndRecheck)
{
	URing r = ring(4, 4);
	r.push(poll_sqe(1, p_[0], PWRING_POLL_READ));
	bool done = false;
	ScopedHook h(fake::Hook::PollMask, [&](kapi_io *) {
		if (fake::context() != fake::Ctx::Task || done)
			return;
		done = true;
		ASSERT_EQ(fake::write(p_[1], "x"), 1);
	});
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_TRUE(done);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, PWRING_POLL_READ);
	EXPECT_EQ(fake::work_queued(), 0);
	EXPECT_EQ(fake::run_work(), 0);
	EXPECT_EQ(r.ctail(), 1u);	/* exactly one CQE */
	EXPECT_EQ(fake::poll_waiters(p_[0]), 0);
}

/* A wakeup before POLL has armed: harmless; the mask says ready, the listed packet finds it done. */
TEST_F(IoMech, PollWakeupBeforeArm)
{
	URing r = ring(4, 4);
	r.push(poll_sqe(1, p_[0], PWRING_POLL_READ));
	bool done = false;
	ScopedHook h(fake::Hook::PollArmed, [&](kapi_io *) {
		if (fake::context() != fake::Ctx::Task || done)
			return;
		done = true;
		ASSERT_EQ(fake::write(p_[1], "x"), 1);
	});
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_TRUE(done);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, PWRING_POLL_READ);
	EXPECT_EQ(fake::work_queued(), 0);
	EXPECT_EQ(fake::poll_waiters(p_[0]), 0);
}

/*
 * The timer interrupt right after hrtimer_start(), before the op is issued
 * (its slot is idle): the READ still completes during its issue if data is
 * there (nothing read is thrown away); otherwise it fails ETIMEDOUT and
 * never queues a poll entry.
 */
TEST_F(IoMech, TimerBeforeTheReadIsArmed)
{
	URing r = ring(4, 4);
	char buf[8] = {};
	ASSERT_EQ(fake::write(p_[1], "abc"), 3);
	fake::fire_on_next_starts(2);
	r.push(read_sqe(1, p_[0], buf, sizeof(buf), 1000));
	r.push(read_sqe(2, p_[0], buf, sizeof(buf), 1000));
	ASSERT_EQ(enter(0, 2, 0), 2);
	EXPECT_EQ(fake::callbacks_run(), 2);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(r.cqe_at(0).result, 3u);
	EXPECT_EQ(std::string(buf, 3), "abc");
	EXPECT_EQ(r.cqe_at(1).error, ETIMEDOUT);
	EXPECT_EQ(fake::io_counts().poll_arms, 0);
	EXPECT_EQ(fake::poll_waiters(p_[0]), 0);
	EXPECT_EQ(fake::work_queued(), 0);
}

/*
 * A late work item: a wakeup queued the item again while it was completing
 * the READ; by the time it runs, the packet (the ring's only one) lives
 * again as a POLL on another pipe. The item finds the POLL armed, rechecks
 * its mask, and re-arms it: harmless.
 */
TEST_F(IoMech, StaleWorkItemOfAnEarlierLifeIsHarmless)
{
	URing r = ring(1, 1);
	char buf[8];
	r.push(read_sqe(1, p_[0], buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 1, 0), 1);
	bool requeued = false;
	ScopedHook h(fake::Hook::Rw, [&](kapi_io *) {
		if (fake::context() == fake::Ctx::Work && !requeued) {
			requeued = true;
			fake::wake(p_[0], 0);	/* queued again while it runs */
		}
	});
	ASSERT_EQ(fake::write(p_[1], "a"), 1);
	ASSERT_TRUE(fake::run_one_work());
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, 1u);
	EXPECT_EQ(fake::work_pending(), 1);	/* the stale item */
	pwring_cqe c;
	ASSERT_TRUE(r.pop(&c));
	int q[2];
	fake::pipe(q);
	r.push(poll_sqe(2, q[0], PWRING_POLL_READ));
	ASSERT_EQ(enter(0, 1, 0), 1);	/* the same packet, reused */
	EXPECT_EQ(fake::run_work(), 1);
	EXPECT_EQ(r.ctail(), 1u);
	EXPECT_EQ(fake::poll_waiters(q[0]), 1);
	ASSERT_EQ(fake::write(q[1], "z"), 1);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(1).data, 2u);
	EXPECT_EQ(r.cqe_at(1).result, PWRING_POLL_READ);
}

/* A pending wakeup does not save a READ whose timeout fires first: the data stays. */
TEST_F(IoMech, TimeoutBeforeThePendingWakeupRuns)
{
	URing r = ring(4, 4);
	char buf[8];
	r.push(read_sqe(1, p_[0], buf, sizeof(buf), 100));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(fake::write(p_[1], "keep"), 4);
	EXPECT_EQ(fake::work_pending(), 1);
	fake::advance(100);	/* the timer wins; its finish joins the pending item */
	EXPECT_EQ(fake::work_coalesced(), 1);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_EQ(fake::contents(p_[0]), "keep");
}

} // namespace
