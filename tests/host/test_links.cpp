// SPDX-License-Identifier: GPL-2.0
/*
 * SQE_LINK and SQE_HARDLINK (spec section 3): where chains end, what a
 * failure does to the rest, and when successors are dispatched (their
 * timers start only when the predecessor has completed).
 */
#include "harness.h"

using namespace ht;

namespace {

class Links : public CoreTest {
protected:
	static void expect_cqe(const pwring_cqe &c, u64 data, int err)
	{
		EXPECT_EQ(c.data, data);
		EXPECT_EQ(c.error, err) << "data " << data << ": " << errname(c.error) << " instead of "
					<< errname(err);
	}
};

TEST_F(Links, LinkFailureCancelsTheRestInOrder)
{
	URing r = ring(8, 8);
	r.push(nop(1, 0, kNoRegs | PWRING_LINK));	/* fails at once: ETIMEDOUT */
	r.push(nop(2, kNever, kNoRegs | PWRING_LINK));
	r.push(nop(3, 100));				/* last of the chain */
	r.push(nop(4, 0));				/* a chain of its own */
	ASSERT_EQ(enter(0, 4, 0), 4);
	auto c = r.drain();
	ASSERT_EQ(c.size(), 4u);
	expect_cqe(c[0], 1, ETIMEDOUT);
	expect_cqe(c[1], 2, ECANCELED);
	expect_cqe(c[2], 3, ECANCELED);
	expect_cqe(c[3], 4, ETIMEDOUT);
	EXPECT_EQ(fake::timer_starts(), 0);	/* the skipped ones never ran */
	EXPECT_EQ(teardown(0), 0);		/* nothing left in flight */
}

TEST_F(Links, LinkFailureByTimeoutLater)
{
	URing r = ring(8, 8);
	r.push(nop(1, 100, kNoRegs | PWRING_LINK));
	r.push(nop(2, 5, kNoRegs | PWRING_LINK));
	r.push(nop(3, kNever));
	ASSERT_EQ(enter(0, 3, 0), 3);
	EXPECT_EQ(fake::timer_starts(), 1);
	fake::advance(99);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(teardown(0), -EBUSY);
	fake::advance(1);
	fake::run_work();	/* the skipped members are posted from task context */
	auto c = r.drain();
	ASSERT_EQ(c.size(), 3u);
	expect_cqe(c[0], 1, ETIMEDOUT);
	expect_cqe(c[1], 2, ECANCELED);
	expect_cqe(c[2], 3, ECANCELED);
	EXPECT_EQ(fake::timer_starts(), 1);
	EXPECT_EQ(teardown(0), 0);
}

TEST_F(Links, HardlinkContinuesAndTimersStartAtPredecessorCompletion)
{
	URing r = ring(8, 8);
	r.push(nop(1, 100, kNoRegs | PWRING_HARDLINK));
	r.push(nop(2, 100, kNoRegs | PWRING_HARDLINK));
	r.push(nop(3, 100));
	ASSERT_EQ(enter(0, 3, 0), 3);
	auto t = fake::pending_timers();
	ASSERT_EQ(t.size(), 1u);	/* only the head is dispatched */
	EXPECT_EQ(t[0].deadline, 100u);
	fake::advance_to(100);
	ASSERT_EQ(r.ctail(), 1u);
	/* The timer completes A only; B is dispatched in task context (a worker here). */
	EXPECT_TRUE(fake::pending_timers().empty());
	EXPECT_EQ(fake::run_work(), 1);
	t = fake::pending_timers();
	ASSERT_EQ(t.size(), 1u);
	EXPECT_EQ(t[0].started, 100u);	/* started when A completed, not at enter */
	EXPECT_EQ(t[0].deadline, 200u);
	fake::advance_to(199);
	EXPECT_EQ(r.ctail(), 1u);
	fake::advance_to(200);
	EXPECT_EQ(r.ctail(), 2u);
	EXPECT_EQ(fake::run_work(), 1);
	fake::advance_to(300);
	auto c = r.drain();
	ASSERT_EQ(c.size(), 3u);
	for (u64 i = 0; i < 3; i++)
		expect_cqe(c[i], i + 1, ETIMEDOUT);
}

TEST_F(Links, ChainEndsAtFirstSqeWithoutLinkFlag)
{
	URing r = ring(8, 8);
	r.push(nop(1, 100, kNoRegs | PWRING_HARDLINK));
	r.push(nop(2, 100));		/* ends the chain */
	r.push(nop(3, 100));		/* independent: starts at once */
	r.push(nop(4, 100, kNoRegs | PWRING_LINK));
	r.push(nop(5, 100));
	ASSERT_EQ(enter(0, 5, 0), 5);
	EXPECT_EQ(fake::pending_timers().size(), 3u);	/* 1, 3, 4 */
	fake::advance_to(100);
	fake::run_work();	/* 5 is cancelled from task context */
	auto c = r.drain();
	ASSERT_EQ(c.size(), 4u);	/* 1, 3, 4 timed out, 5 cancelled by 4's failure */
	fake::advance_to(200);
	auto d = r.drain();
	ASSERT_EQ(d.size(), 1u);
	expect_cqe(d[0], 2, ETIMEDOUT);
	/* 5 came right after 4. */
	for (size_t i = 0; i + 1 < c.size(); i++)
		if (c[i].data == 4)
			expect_cqe(c[i + 1], 5, ECANCELED);
}

TEST_F(Links, ChainEndsWithTheEnterBatch)
{
	URing r = ring(8, 8);
	r.push(nop(1, 100, kNoRegs | PWRING_HARDLINK));
	r.push(nop(2, 100));
	ASSERT_EQ(enter(0, 1, 0), 1);	/* the batch ends after A */
	ASSERT_EQ(enter(0, 1, 0), 1);	/* B is dispatched on its own */
	EXPECT_EQ(fake::pending_timers().size(), 2u);
	fake::advance_to(100);
	EXPECT_EQ(r.ctail(), 2u);
}

TEST_F(Links, LinkAtEndOfBatchDoesNotCancelNextBatch)
{
	URing r = ring(8, 8);
	r.push(nop(1, 0, kNoRegs | PWRING_LINK));	/* fails, but has no successor in its batch */
	ASSERT_EQ(enter(0, 1, 0), 1);
	r.push(nop(2, 100));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::advance(100);
	auto c = r.drain();
	ASSERT_EQ(c.size(), 2u);
	expect_cqe(c[0], 1, ETIMEDOUT);
	expect_cqe(c[1], 2, ETIMEDOUT);
}

TEST_F(Links, ChainEndsWhereAdmissionStopsTheBatch)
{
	URing r = ring(8, 2);
	r.push(nop(1, 100, kNoRegs | PWRING_HARDLINK));
	r.push(nop(2, 100, kNoRegs | PWRING_HARDLINK));
	r.push(nop(3, 100));
	EXPECT_EQ(enter(0, 3, 0), 2);	/* only two CQE slots */
	fake::advance_to(100);
	EXPECT_EQ(r.ctail(), 1u);
	EXPECT_EQ(fake::run_work(), 1);	/* B, dispatched out of the interrupt */
	fake::advance_to(200);
	auto c = r.drain();
	ASSERT_EQ(c.size(), 2u);
	expect_cqe(c[0], 1, ETIMEDOUT);
	expect_cqe(c[1], 2, ETIMEDOUT);
	/* C was not consumed; a new enter dispatches it as its own chain. */
	EXPECT_EQ(enter(0, 1, 0), 1);
	fake::advance(100);
	c = r.drain();
	ASSERT_EQ(c.size(), 1u);
	expect_cqe(c[0], 3, ETIMEDOUT);
}

TEST_F(Links, LinkContinuesOnSuccess)
{
	URing r = ring(8, 8);
	r.push(make_sqe(PROBE_OP_SYNC, 1, 0, kNoRegs | PWRING_LINK, 0, 11, 0));
	r.push(make_sqe(PROBE_OP_SYNC, 2, 0, kNoRegs | PWRING_LINK, 0, 22, 0));
	r.push(nop(3, 100));
	ASSERT_EQ(enter(0, 3, 0), 3);
	EXPECT_EQ(probe_count(), 2u);
	ASSERT_EQ(r.ctail(), 2u);
	expect_cqe(r.cqe_at(0), 1, 0);
	EXPECT_EQ(r.cqe_at(0).result, 11u);
	expect_cqe(r.cqe_at(1), 2, 0);
	fake::advance(100);
	ASSERT_EQ(r.ctail(), 3u);
	expect_cqe(r.cqe_at(2), 3, ETIMEDOUT);
}

TEST_F(Links, LinkStopsOnAnyError)
{
	URing r = ring(8, 8);
	r.push(make_sqe(PROBE_OP_SYNC, 1, 0, kNoRegs | PWRING_LINK, 0, 0, EIO));
	r.push(make_sqe(PROBE_OP_SYNC, 2, 0, kNoRegs));
	ASSERT_EQ(enter(0, 2, 0), 2);
	EXPECT_EQ(probe_count(), 1u);	/* B never dispatched */
	expect_cqe(r.cqe_at(0), 1, EIO);
	expect_cqe(r.cqe_at(1), 2, ECANCELED);
}

TEST_F(Links, QueuedSuccessWithLinkDispatchesSuccessor)
{
	URing r = ring(8, 8);
	r.push(make_sqe(PROBE_OP_QUEUED, 1, kNever, regs(3) | PWRING_LINK));
	r.push(make_sqe(PROBE_OP_SYNC, 2, 0, regs(kNone, 3)));
	ASSERT_EQ(enter(0, 2, 0), 2);
	ASSERT_EQ(probe_count(), 1u);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(probe_complete(0, 0, 4242), 1);
	ASSERT_EQ(probe_count(), 2u);
	probe_record b{};
	probe_get(1, &b);
	EXPECT_EQ(b.args[0], 4242u);
	ASSERT_EQ(r.ctail(), 2u);
	expect_cqe(r.cqe_at(0), 1, 0);
	EXPECT_EQ(r.cqe_at(0).result, 4242u);
	expect_cqe(r.cqe_at(1), 2, 0);
	EXPECT_EQ(probe_frames_run(), 1u);
	EXPECT_EQ(probe_complete(0, 0, 1), 0);	/* completes once */
}

TEST_F(Links, HardlinkDispatchesAfterFailure)
{
	URing r = ring(8, 8);
	r.push(nop(1, 0, kNoRegs | PWRING_HARDLINK));
	r.push(make_sqe(PROBE_OP_SYNC, 2, 0, kNoRegs, 0, 9, 0));
	ASSERT_EQ(enter(0, 2, 0), 2);
	EXPECT_EQ(probe_count(), 1u);
	expect_cqe(r.cqe_at(0), 1, ETIMEDOUT);
	expect_cqe(r.cqe_at(1), 2, 0);
}

TEST_F(Links, MixedChain)
{
	/* A =H=> B =L=> C =L=> D, then E alone. A and B fail, C and D are skipped. */
	URing r = ring(8, 8);
	r.push(nop(1, 0, kNoRegs | PWRING_HARDLINK));
	r.push(nop(2, 10, kNoRegs | PWRING_LINK));
	r.push(nop(3, 10, kNoRegs | PWRING_LINK));
	r.push(nop(4, 10));
	r.push(nop(5, 20));
	ASSERT_EQ(enter(0, 5, 0), 5);
	fake::advance(10);
	fake::run_work();	/* C and D, skipped, are posted from task context */
	fake::advance(10);
	auto c = r.drain();
	ASSERT_EQ(c.size(), 5u);
	expect_cqe(c[0], 1, ETIMEDOUT);
	expect_cqe(c[1], 2, ETIMEDOUT);
	expect_cqe(c[2], 3, ECANCELED);
	expect_cqe(c[3], 4, ECANCELED);
	expect_cqe(c[4], 5, ETIMEDOUT);
}

TEST_F(Links, BothFlagsActLikeHardlink)
{
	URing r = ring(8, 8);
	r.push(nop(1, 0, kNoRegs | PWRING_LINK | PWRING_HARDLINK));
	r.push(nop(2, 0));
	ASSERT_EQ(enter(0, 2, 0), 2);
	expect_cqe(r.cqe_at(0), 1, ETIMEDOUT);
	expect_cqe(r.cqe_at(1), 2, ETIMEDOUT);
}

TEST_F(Links, InvalidSqeInsideChains)
{
	URing r = ring(16, 16);
	/* Reserved bit on a LINK member: EINVAL, the rest ECANCELED. */
	r.push(nop(1, 0, kNoRegs | PWRING_LINK | (1u << 25)));
	r.push(nop(2, 0));
	/* Unknown op on a HARDLINK member: EINVAL, the rest runs. */
	r.push(make_sqe(1234, 3, 0, kNoRegs | PWRING_HARDLINK));
	r.push(nop(4, 0));
	/* EBADF (a READ on an fd that is not open) on a LINK member. */
	r.push(make_sqe(PWRING_OP_READ, 5, 0, kNoRegs | PWRING_LINK));
	r.push(nop(6, 0));
	/* A member that fails after a successful LINK breaks the chain from there. */
	r.push(make_sqe(PROBE_OP_SYNC, 7, 0, kNoRegs | PWRING_LINK));
	r.push(make_sqe(77, 8, 0, kNoRegs | PWRING_LINK));
	r.push(nop(9, 0));
	ASSERT_EQ(enter(0, 9, 0), 9);
	auto c = r.drain();
	ASSERT_EQ(c.size(), 9u);
	expect_cqe(c[0], 1, EINVAL);
	expect_cqe(c[1], 2, ECANCELED);
	expect_cqe(c[2], 3, EINVAL);
	expect_cqe(c[3], 4, ETIMEDOUT);
	expect_cqe(c[4], 5, EBADF);
	expect_cqe(c[5], 6, ECANCELED);
	expect_cqe(c[6], 7, 0);
	expect_cqe(c[7], 8, EINVAL);
	expect_cqe(c[8], 9, ECANCELED);
}

/*
 * A chain's CQEs come in chain order even when the successor completes on
 * another CPU while enter is still busy with the rest of its batch. Here A
 * (sync, LINK) completes during enter and B (queued) is dispatched after
 * it; a READ later in the same batch gives "another CPU" the moment to
 * complete B (a fake hook inside its issue). Spec section 3: a linked SQE is
 * dispatched after its predecessor's CQE, so B's CQE cannot precede A's.
 */
TEST_F(Links, ChainCqesStayInOrderWhenTheSuccessorCompletesDuringEnter)
{
	URing r = ring(8, 8);
	int q[2];
	fake::pipe(q);
	char buf[4];
	r.push(make_sqe(PROBE_OP_SYNC, 1, kNever, kNoRegs | PWRING_LINK, 0, 11, 0));
	r.push(make_sqe(PROBE_OP_QUEUED, 2, kNever));
	r.push(read_sqe(3, q[0], buf, sizeof(buf)));
	bool completed = false;
	fake::set_hook(fake::Hook::Rw, [&](kapi_io *) {
		if (!completed && fake::context() == fake::Ctx::Task)
			completed = probe_complete(1, 0, 22) == 1;	/* B, elsewhere, now */
	});
	ASSERT_EQ(enter(0, 3, 0), 3);
	fake::set_hook(fake::Hook::Rw, nullptr);
	ASSERT_TRUE(completed);
	ASSERT_EQ(r.ctail(), 2u);
	expect_cqe(r.cqe_at(0), 1, 0);
	expect_cqe(r.cqe_at(1), 2, 0);
	EXPECT_EQ(r.cqe_at(1).result, 22u);
}

TEST_F(Links, LongChainCompletesInOrderWithoutRecursion)
{
	/* 4096 HARDLINK NOPs with timeout 0 complete inside one enter: the
	 * dispatch loop must iterate, not recurse (ASan's stack would notice). */
	const u32 n = 4096;
	URing r = ring(n, n);
	for (u32 i = 0; i < n; i++)
		r.push(nop(i, 0, kNoRegs | (i + 1 < n ? PWRING_HARDLINK : 0)));
	ASSERT_EQ(enter(0, n, 0), long(n));
	ASSERT_EQ(r.ctail(), n);
	for (u32 i = 0; i < n; i++) {
		ASSERT_EQ(r.cqe_at(i).data, i);
		ASSERT_EQ(r.cqe_at(i).error, ETIMEDOUT);
	}
}

TEST_F(Links, LongTimedChainFromTimerContext)
{
	/* Each timer completes its NOP; the successor is dispatched in task context. */
	const u32 n = 64;
	URing r = ring(n, n);
	for (u32 i = 0; i < n; i++)
		r.push(nop(i, 10, kNoRegs | (i + 1 < n ? PWRING_HARDLINK : 0)));
	ASSERT_EQ(enter(0, n, 0), long(n));
	for (u32 i = 1; i <= n; i++) {
		fake::advance(10);
		ASSERT_EQ(r.ctail(), i);
		ASSERT_EQ(fake::now(), 10u * i);
		ASSERT_EQ(fake::run_work(), i < n ? 1 : 0);
	}
	EXPECT_EQ(fake::timer_starts(), long(n));
}

/*
 * Interrupt context completes one request (spec §5): a timer that ends the
 * head of a HARDLINK chain of NOPs that expire at dispatch posts one CQE;
 * the other 1000 are dispatched and posted in task context.
 */
TEST_F(Links, ImmediateSuccessorsOfATimerLeaveInterruptContext)
{
	const u32 n = 1001;
	URing r = ring(1024, 1024);
	r.push(nop(0, 10, kNoRegs | PWRING_HARDLINK));
	for (u32 i = 1; i < n; i++)
		r.push(nop(i, 0, kNoRegs | (i + 1 < n ? PWRING_HARDLINK : 0)));
	ASSERT_EQ(enter(0, n, 0), long(n));
	const long resched = fake::cond_resched_calls();
	fake::advance(10);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), n);
	for (u32 i = 0; i < n; i++)
		ASSERT_EQ(r.cqe_at(i).data, i);
	EXPECT_GE(fake::cond_resched_calls() - resched, 10);	/* the long loop yields */
}

TEST_F(Links, LongCancelledChainIsPostedFromTaskContext)
{
	const u32 n = 1024;
	URing r = ring(n, n);
	for (u32 i = 0; i < n; i++)
		r.push(nop(i, i ? kNever : 5, kNoRegs | (i + 1 < n ? PWRING_LINK : 0)));
	ASSERT_EQ(enter(0, n, 0), long(n));
	fake::advance(5);
	/* The timer callback posts its own CQE; the 1023 cancellations are task context's. */
	ASSERT_EQ(r.ctail(), 1u);
	ASSERT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), n);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	for (u32 i = 1; i < n; i++) {
		ASSERT_EQ(r.cqe_at(i).data, i);
		ASSERT_EQ(r.cqe_at(i).error, ECANCELED);
	}
	EXPECT_EQ(teardown(0), 0);
}

} // namespace
