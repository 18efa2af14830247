// SPDX-License-Identifier: GPL-2.0
/*
 * Deferred successor dispatch (design: "Dispatch", io_uring's DEFER_TASKRUN
 * model): READ, WRITE and POLL resolve their fd in the submitter's file
 * table and pin its pages, so a linked successor whose predecessor completed
 * elsewhere (a timer, a worker) waits on the ring's deferred list until the
 * next enter, or a thread already waiting in enter, dispatches it. The fake
 * aborts if kapi_fget() or kapi_mdl_pin() ever runs outside such a thread.
 *
 * And the register pipeline: a READ saves its byte count, the linked WRITE
 * loads it as its count.
 */
#include "harness.h"

using namespace ht;

namespace {

class Deferred : public CoreTest {
protected:
	int a_[2] = {-1, -1}, b_[2] = {-1, -1};
	void SetUp() override
	{
		CoreTest::SetUp();
		fake::pipe(a_);
		fake::pipe(b_);
	}
	/* kapi_fget() records for fd. */
	static std::vector<fake::FgetRecord> fgets_of(int fd)
	{
		std::vector<fake::FgetRecord> v;
		for (const auto &r : fake::fget_log())
			if (r.fd == fd)
				v.push_back(r);
		return v;
	}
	static std::string pattern(size_t n)
	{
		std::string s;
		for (size_t i = 0; i < n; i++)
			s += char('A' + i % 26);
		return s;
	}
};

/* count loaded from register 2 (the third argument's load specifier). */
constexpr u32 kCountFromR2 = regs(kNone, kNone, kNone, 2);

/*
 * READ A (empty pipe) saves its count into r2, linked to READ B whose count
 * is loaded from r2. A thread waits in enter for both. The worker completes
 * A (its pipe cannot be tried without blocking, so the waiter hands the
 * wakeup on); B is deferred and the waiting thread, woken, dispatches it
 * with the count A saved.
 */
TEST_F(Deferred, SuccessorOfWorkerCompletionIsDispatchedByTheWaitingEnter)
{
	fake::close(a_[0]);
	fake::close(a_[1]);
	fake::pipe(a_, fake::PipeOpts{65536, false});
	URing r = ring(4, 4);
	const std::string bdata = pattern(100);
	ASSERT_EQ(fake::write(b_[1], bdata), 100);
	char abuf[16] = {}, bbuf[128] = {};
	r.push(read_sqe(1, a_[0], abuf, sizeof(abuf), kNever, regs(2) | PWRING_LINK));
	r.push(read_sqe(2, b_[0], bbuf, 999, kNever, kCountFromR2));
	std::atomic<std::thread::id> waiter_tid{};
	Async waiter([&] {
		waiter_tid = std::this_thread::get_id();
		return enter(0, 2, 2);
	});
	ASSERT_TRUE(fake::wait_for_sleepers(1));
	EXPECT_TRUE(fgets_of(b_[0]).empty());	/* B waits for A */
	ASSERT_EQ(fake::write(a_[1], "12345"), 5);
	/* The waiter takes the wakeup and hands it to the worker. */
	ASSERT_TRUE(eventually([] { return fake::work_pending() == 1; }));
	EXPECT_EQ(fake::run_work(), 1);		/* A completes in the "worker": this thread */
	EXPECT_EQ(waiter.join(), 2);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(0).data, 1u);
	EXPECT_EQ(r.cqe_at(0).result, 5u);
	EXPECT_EQ(r.cqe_at(1).data, 2u);
	EXPECT_EQ(r.cqe_at(1).error, 0);
	EXPECT_EQ(r.cqe_at(1).result, 5u);	/* the count A saved, not 999 */
	EXPECT_EQ(r.reg(2), 5u);
	EXPECT_EQ(std::string(abuf, 5), "12345");
	EXPECT_EQ(std::string(bbuf, 5), bdata.substr(0, 5));
	EXPECT_EQ(fake::contents(b_[0]), bdata.substr(5));
	const auto bf = fgets_of(b_[0]);
	ASSERT_EQ(bf.size(), 1u);
	EXPECT_EQ(bf[0].tid, waiter_tid.load());	/* dispatched by the waiting enter */
	EXPECT_EQ(bf[0].ctx, fake::Ctx::Task);
	EXPECT_EQ(teardown(0), 0);
}

/* Without a waiter, the successor waits for the next enter (even one with amount 0). */
TEST_F(Deferred, SuccessorWaitsForTheNextEnter)
{
	URing r = ring(4, 4);
	ASSERT_EQ(fake::write(b_[1], "bbbb"), 4);
	char abuf[8], bbuf[8] = {};
	r.push(read_sqe(1, a_[0], abuf, sizeof(abuf), kNever, regs(2) | PWRING_LINK));
	r.push(read_sqe(2, b_[0], bbuf, 0, kNever, kCountFromR2));
	ASSERT_EQ(enter(0, 2, 0), 2);
	ASSERT_EQ(fake::write(a_[1], "aa"), 2);
	fake::run_work();
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_TRUE(fgets_of(b_[0]).empty());
	EXPECT_EQ(teardown(0), -EBUSY);		/* B is still in flight */
	EXPECT_EQ(fake::live().file_refs, 0);	/* ...but holds nothing yet */
	EXPECT_EQ(enter(0, 0, 0), 0);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(1).result, 2u);
	EXPECT_EQ(std::string(bbuf, 2), "bb");
	EXPECT_EQ(teardown(0), 0);
}

/* A NOP timing out in hard IRQ context hands its READ successor to the next enter. */
TEST_F(Deferred, SuccessorOfATimerCompletionIsDeferred)
{
	URing r = ring(4, 4);
	ASSERT_EQ(fake::write(b_[1], "xy"), 2);
	char bbuf[8];
	r.push(nop(1, 100, kNoRegs | PWRING_HARDLINK));
	r.push(read_sqe(2, b_[0], bbuf, sizeof(bbuf)));
	ASSERT_EQ(enter(0, 2, 0), 2);
	fake::advance(100);	/* the fake aborts on kapi_fget in the interrupt */
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_EQ(fake::timer_starts(), 1);
	EXPECT_EQ(fake::run_work(), 1);	/* out of the interrupt: a worker defers it */
	EXPECT_EQ(r.ctail(), 1u);
	EXPECT_EQ(enter(0, 0, 0), 0);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(1).result, 2u);
}

/* The same with the submitter's thread running: its task work issues the READ at once. */
TEST_F(Deferred, SuccessorOfATimerCompletionIsIssuedInTaskWork)
{
	URing r = ring(4, 4);
	ASSERT_EQ(fake::write(b_[1], "xy"), 2);
	char bbuf[8];
	fake::set_home_running(true);
	r.push(poll_sqe(3, a_[0], PWRING_POLL_READ));	/* waits: makes this thread the home */
	r.push(nop(1, 100, kNoRegs | PWRING_HARDLINK));
	r.push(read_sqe(2, b_[0], bbuf, sizeof(bbuf)));
	ASSERT_EQ(enter(0, 3, 0), 3);
	fake::advance(100);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(fake::run_task_work(), 1);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(1).data, 2u);
	EXPECT_EQ(r.cqe_at(1).result, 2u);
	EXPECT_EQ(fake::work_queued(), 0);
	ASSERT_EQ(fake::write(a_[1], "z"), 1);	/* the POLL's */
	EXPECT_EQ(fake::run_task_work(), 1);
	ASSERT_EQ(r.ctail(), 3u);
}

/* READ times out in IRQ, its finish runs in the worker, and its successor is deferred from there. */
TEST_F(Deferred, SuccessorOfATimedOutReadIsDeferred)
{
	URing r = ring(4, 4);
	char abuf[8];
	r.push(read_sqe(1, a_[0], abuf, sizeof(abuf), 100, kNoRegs | PWRING_HARDLINK));
	r.push(poll_sqe(2, b_[1], PWRING_POLL_WRITE, 100));
	ASSERT_EQ(enter(0, 2, 0), 2);
	fake::advance(100);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_TRUE(fgets_of(b_[1]).empty());
	EXPECT_EQ(fake::timer_starts(), 1);	/* the POLL's deadline counts from its dispatch */
	fake::advance(1000);
	EXPECT_EQ(enter(0, 0, 0), 0);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(1).error, 0);
	EXPECT_EQ(r.cqe_at(1).result, PWRING_POLL_WRITE);
}

/* Ops that need no task context (NOP, the sync probe) still run right where the predecessor completed. */
TEST_F(Deferred, OnlyTaskOpsAreDeferred)
{
	URing r = ring(8, 8);
	r.push(make_sqe(PROBE_OP_QUEUED, 1, kNever, kNoRegs | PWRING_HARDLINK));
	r.push(make_sqe(PROBE_OP_SYNC, 2, kNever, kNoRegs | PWRING_HARDLINK));
	r.push(make_sqe(PROBE_OP_TASK, 3, kNever, kNoRegs));
	ASSERT_EQ(enter(0, 3, 0), 3);
	ASSERT_EQ(probe_count(), 1u);
	std::thread completer([] { EXPECT_EQ(probe_complete(0, 0, 1), 1); });
	completer.join();
	ASSERT_EQ(probe_count(), 2u);	/* the sync probe ran on the completer */
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(enter(0, 0, 0), 0);
	ASSERT_EQ(probe_count(), 3u);
	probe_record rec{};
	ASSERT_TRUE(probe_get(2, &rec));
	EXPECT_EQ(rec.ctx_at_issue, unsigned(fake::Ctx::Task));
	ASSERT_EQ(r.ctail(), 3u);
}

/* Deferred successors are dispatched in the order their predecessors completed. */
TEST_F(Deferred, DeferredSuccessorsRunInCompletionOrder)
{
	URing r = ring(8, 8);
	int c_[2], d_[2];
	fake::pipe(c_);
	fake::pipe(d_);
	char x[4], y[4];
	r.push(read_sqe(1, a_[0], x, 1, kNever, kNoRegs | PWRING_LINK));
	r.push(poll_sqe(2, c_[1], PWRING_POLL_WRITE));
	r.push(read_sqe(3, b_[0], y, 1, kNever, kNoRegs | PWRING_LINK));
	r.push(poll_sqe(4, d_[1], PWRING_POLL_WRITE));
	ASSERT_EQ(enter(0, 4, 0), 4);
	ASSERT_EQ(fake::write(b_[1], "b"), 1);
	fake::run_work();
	ASSERT_EQ(fake::write(a_[1], "a"), 1);
	fake::run_work();
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(enter(0, 0, 0), 0);
	ASSERT_EQ(r.ctail(), 4u);
	EXPECT_EQ(r.cqe_at(2).data, 4u);	/* B's successor first */
	EXPECT_EQ(r.cqe_at(3).data, 2u);
}

/* Release with deferred successors pending: they complete ECANCELED without being issued. */
TEST_F(Deferred, ReleaseCancelsDeferredSuccessors)
{
	URing r = ring(16, 16);
	int c_[2];
	fake::pipe(c_);
	ASSERT_EQ(fake::write(b_[1], "bbbb"), 4);
	char abuf[8], bbuf[8], cbuf[8];
	/* Chain 1: READ a (worker) => READ b => WRITE c. */
	r.push(read_sqe(1, a_[0], abuf, 8, kNever, regs(1) | PWRING_LINK));
	r.push(read_sqe(2, b_[0], bbuf, 8, kNever, kNoRegs | PWRING_HARDLINK));
	r.push(write_sqe(3, c_[1], "ccc", 3));
	/* Chain 2: NOP (timer) =H=> POLL b. */
	r.push(nop(4, 50, kNoRegs | PWRING_HARDLINK));
	r.push(poll_sqe(5, b_[0], PWRING_POLL_READ, kNever, kNoRegs | PWRING_LINK));
	r.push(read_sqe(6, c_[0], cbuf, 8));
	ASSERT_EQ(enter(0, 6, 0), 6);
	ASSERT_EQ(fake::write(a_[1], "aa"), 2);
	fake::run_work();
	fake::advance(50);
	ASSERT_EQ(r.ctail(), 2u);
	const size_t fgets_before = fake::fget_log().size();
	release();
	ASSERT_EQ(r.ctail(), 6u);
	std::vector<int> err(7, -1);
	for (u32 i = 0; i < 6; i++)
		err[r.cqe_at(i).data] = r.cqe_at(i).error;
	EXPECT_EQ(err[1], 0);
	EXPECT_EQ(err[4], ETIMEDOUT);
	for (int d : {2, 3, 5, 6})
		EXPECT_EQ(err[d], ECANCELED) << "data " << d;
	EXPECT_EQ(fake::fget_log().size(), fgets_before);	/* none was issued */
	EXPECT_EQ(fake::contents(b_[0]), "bbbb");
	EXPECT_EQ(fake::contents(c_[0]), "");
	EXPECT_TRUE(fake::live().kernel_clean()) << describe_live();
}

/* ---- The register pipeline: READ saves its count, the linked WRITE loads it ---- */

TEST_F(Deferred, PipelineReadWriteDuringEnter)
{
	URing r = ring(4, 4);
	ASSERT_EQ(fake::write(a_[1], "hello world"), 11);
	char buf[64];
	r.push(read_sqe(1, a_[0], buf, sizeof(buf), kNever, regs(1) | PWRING_LINK));
	r.push(write_sqe(2, b_[1], buf, 0, kNever, regs(kNone, kNone, kNone, 1)));
	ASSERT_EQ(enter(0, 2, 0), 2);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(0).result, 11u);
	EXPECT_EQ(r.cqe_at(1).error, 0);
	EXPECT_EQ(r.cqe_at(1).result, 11u);
	EXPECT_EQ(fake::contents(b_[0]), "hello world");
}

TEST_F(Deferred, PipelineThroughTheWaitingEnter)
{
	URing r = ring(4, 4);
	char buf[64];
	r.push(read_sqe(1, a_[0], buf, sizeof(buf), kNever, regs(1) | PWRING_LINK));
	r.push(write_sqe(2, b_[1], buf, 0, kNever, regs(kNone, kNone, kNone, 1)));
	Async waiter([&] { return enter(0, 2, 2); });
	ASSERT_TRUE(fake::wait_for_sleepers(1));
	ASSERT_EQ(fake::write(a_[1], "abc"), 3);
	fake::run_work();
	EXPECT_EQ(waiter.join(), 2);
	EXPECT_EQ(r.cqe_at(1).result, 3u);	/* exactly what was read, not 64 */
	EXPECT_EQ(fake::contents(b_[0]), "abc");
}

TEST_F(Deferred, PipelineStopsOnReadError)
{
	URing r = ring(4, 4);
	char buf[8];
	r.push(read_sqe(1, 99, buf, sizeof(buf), kNever, regs(1) | PWRING_LINK));
	r.push(write_sqe(2, b_[1], buf, 0, kNever, regs(kNone, kNone, kNone, 1)));
	ASSERT_EQ(enter(0, 2, 0), 2);
	EXPECT_EQ(r.cqe_at(0).error, EBADF);
	EXPECT_EQ(r.cqe_at(1).error, ECANCELED);
	EXPECT_EQ(fake::contents(b_[0]), "");
}

/* cat: a regular file copied to another through READ =L=> WRITE pairs, both done by workers. */
TEST_F(Deferred, CopyAFileThroughAChainedPipeline)
{
	const std::string src = pattern(1000);
	const int in = fake::regular_file(src);
	const int out = fake::regular_file("");
	fake::set_uncached(in, true);	/* reads by the worker too */
	URing r = ring(8, 8);
	char buf[64];
	for (int round = 0;; round++) {
		ASSERT_LT(round, 100);
		r.push(read_sqe(1, in, buf, sizeof(buf), kNever, regs(3) | PWRING_LINK));
		r.push(write_sqe(2, out, buf, 0, kNever, regs(kNone, kNone, kNone, 3)));
		ASSERT_EQ(enter(0, 2, 0), 2);
		fake::run_work();		/* READ, in the worker */
		EXPECT_EQ(enter(0, 0, 0), 0);	/* dispatches the WRITE */
		fake::run_work();		/* WRITE, in the worker */
		auto c = r.drain();
		ASSERT_EQ(c.size(), 2u);
		ASSERT_EQ(c[0].error, 0);
		ASSERT_EQ(c[1].error, 0);
		ASSERT_EQ(c[1].result, c[0].result);
		if (c[0].result == 0)
			break;
	}
	EXPECT_EQ(fake::contents(out), src);
	EXPECT_EQ(fake::file_pos(in), 1000);
	EXPECT_EQ(fake::file_pos(out), 1000);
}

} // namespace
