// SPDX-License-Identifier: GPL-2.0
/*
 * Task work (design "Execution context and isolation"): a device completion
 * or a wakeup that comes while no thread is in the ring's enter is listed
 * for the thread that last sent a request of the ring asynchronous, which
 * runs it on its way back to user space (fake::run_task_work), not in a
 * worker; or by the next enter, whichever comes first. When that thread is
 * asleep (the fake's default), workers take it.
 */
#include "harness.h"

#include <thread>

using namespace ht;

namespace {

class TaskWork : public CoreTest {
protected:
	int disk_ = -1;
	int p_[2] = {-1, -1};
	void SetUp() override
	{
		CoreTest::SetUp();
		disk_ = fake::regular_file(std::string(16 * 512, 'd'),
					   fake::kRegularCaps | fake::kDirect);
		fake::pipe(p_, fake::PipeOpts{4096, true});
		fake::set_home_running(true);
	}
	void TearDown() override
	{
		fake::device_complete();
		fake::run_task_work();
		CoreTest::TearDown();
	}
	static pwring_sqe dread(u64 data, void *buf, int64_t off, int fd)
	{
		return read_sqe(data, fd, buf, 512, kNever, kNoRegs, off);
	}
	static long in_ctx(const long (&v)[4], fake::Ctx c) { return v[int(c)]; }
};

/* Completions after enter returned: one callback for the lot, no worker. */
TEST_F(TaskWork, DeviceCompletionsAreRunByTheSubmittersThread)
{
	URing r = ring(8, 8);
	static char bufs[4][512];
	for (u64 i = 0; i < 4; i++)
		r.push(dread(i, bufs[i], int64_t(i) * 512, disk_));
	ASSERT_EQ(enter(0, 4, 0), 4);
	EXPECT_EQ(fake::device_complete(), 4u);
	EXPECT_EQ(r.ctail(), 0u);	/* nothing finished in interrupt context */
	EXPECT_EQ(fake::task_work_listings(), 1);
	EXPECT_EQ(fake::task_work_pending(), 4u);
	EXPECT_EQ(fake::run_task_work(), 4);
	ASSERT_EQ(r.ctail(), 4u);
	for (u32 i = 0; i < 4; i++) {
		EXPECT_EQ(r.cqe_at(i).error, 0);
		EXPECT_EQ(r.cqe_at(i).result, 512u);
	}
	EXPECT_EQ(fake::work_queued(), 0);
	EXPECT_EQ(in_ctx(fake::io_counts().fput_ctx, fake::Ctx::Task), 4);
	EXPECT_EQ(fake::direct_end_calls(), 4);
	EXPECT_EQ(teardown(0), 0);
}

/*
 * A READ -> WRITE chain of direct I/O: the READ's completion, run as task
 * work, dispatches the WRITE there (with the count through a register), so
 * the copy goes on without another enter.
 */
TEST_F(TaskWork, ASuccessorIsDispatchedInTaskWork)
{
	URing r = ring(4, 4);
	static char buf[512];
	const int out = fake::regular_file(std::string(4 * 512, '\0'),
					   fake::kRegularCaps | fake::kDirect);
	/* The READ saves its count in register 0; the WRITE loads it as its count. */
	const u32 save_r0 = (kNoRegs & ~(PWRING_REG_MASK << PWRING_SAVE)) | (0u << PWRING_SAVE);
	const u32 load_count_r0 = kNoRegs & ~(PWRING_REG_MASK << PWRING_LOAD2);
	r.push(read_sqe(1, disk_, buf, 512, kNever, save_r0 | PWRING_LINK, 1024));
	r.push(write_sqe(2, out, buf, 0, kNever, load_count_r0, 512));
	ASSERT_EQ(enter(0, 2, 0), 2);
	EXPECT_EQ(fake::device_complete(), 1u);	/* the READ */
	EXPECT_EQ(fake::run_task_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, 512u);
	EXPECT_EQ(fake::device_pending(), 1u);	/* the WRITE, issued in task work */
	EXPECT_EQ(fake::device_complete(), 1u);
	EXPECT_EQ(fake::run_task_work(), 1);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(1).data, 2u);
	EXPECT_EQ(r.cqe_at(1).result, 512u);
	EXPECT_EQ(fake::contents(out).substr(512, 512), std::string(512, 'd'));
	EXPECT_EQ(fake::work_queued(), 0);
}

/* The home thread asleep in some other call: a worker finishes them instead. */
TEST_F(TaskWork, AnAsleepHomeThreadLeavesThemToAWorker)
{
	URing r = ring(4, 4);
	static char buf[512];
	r.push(dread(1, buf, 0, disk_));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::set_home_running(false);
	EXPECT_EQ(fake::device_complete(), 1u);
	EXPECT_EQ(fake::task_work_listings(), 0);
	EXPECT_EQ(fake::run_task_work(), 0);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, 512u);
}

/* Listed, then the thread enters again before it got to user space: enter takes them. */
TEST_F(TaskWork, TheNextEnterRunsWhatIsListed)
{
	URing r = ring(4, 4);
	static char buf[512];
	r.push(dread(1, buf, 512, disk_));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(fake::device_complete(), 1u);
	EXPECT_EQ(fake::task_work_pending(), 1u);
	/* Waits for one CQE: it is there once enter has run the listed step. */
	EXPECT_EQ(enter(0, 0, 1), 0);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, 512u);
	EXPECT_EQ(fake::task_work_pending(), 0u);
	EXPECT_EQ(fake::run_task_work(), 0);	/* the callback finds nothing */
	EXPECT_EQ(fake::work_queued(), 0);
}

/* A poll wakeup after enter returned: the READ retries in task work. */
TEST_F(TaskWork, APipeReadRetriesInTaskWork)
{
	URing r = ring(4, 4);
	char buf[8] = {};
	r.push(read_sqe(1, p_[0], buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(fake::write(p_[1], "abc"), 3);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::run_task_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, 3u);
	EXPECT_EQ(std::string(buf, 3), "abc");
	EXPECT_EQ(fake::work_queued(), 0);
	EXPECT_EQ(fake::poll_waiters(p_[0]), 0);
}

/* A file that cannot be tried without blocking: task work hands it to a worker. */
TEST_F(TaskWork, TaskWorkNeverBlocks)
{
	int q[2];
	fake::pipe(q, fake::PipeOpts{4096, false});	/* no IOCB_NOWAIT */
	URing r = ring(4, 4);
	char buf[8] = {};
	r.push(read_sqe(1, q[0], buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(fake::write(q[1], "xy"), 2);
	EXPECT_EQ(fake::run_task_work(), 1);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, 2u);
}

/* A stale listing outlives its request and its ring: the late callback touches nothing. */
TEST_F(TaskWork, ALateCallbackAfterTeardownIsHarmless)
{
	URing r = ring(4, 4);
	r.push(poll_sqe(1, p_[0], PWRING_POLL_READ, 1000));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(fake::write(p_[1], "x"), 1);	/* listed, the callback queued */
	ASSERT_TRUE(fake::fire(fake::pending_timers().at(0)));	/* the timeout wins */
	EXPECT_EQ(r.ctail(), 0u);	/* its finish joined the listing */
	EXPECT_EQ(enter(0, 0, 1), 0);	/* which the next enter runs */
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_EQ(teardown(0), 0);
	EXPECT_EQ(fake::run_task_work(), 0);	/* the callback, still queued, finds no ring */
	EXPECT_EQ(fake::work_queued(), 0);
}

/*
 * Races: completions from a "device" thread while the submitter loops over
 * enter (waiting for one CQE) and its return to user space. Every request
 * completes exactly once and nobody waits for a listing that nobody runs.
 */
TEST_F(TaskWork, CompletionsRaceEnterAndTheReturnToUser)
{
	URing r = ring(16, 16);
	static char bufs[8][512];
	const u32 total = 400 * kStress;
	std::atomic<bool> stop{false};
	std::thread dev([&] {
		while (!stop.load())
			if (!fake::device_complete(1))
				std::this_thread::yield();
	});
	u32 sent = 0, got = 0, inflight = 0;
	while (got < total) {
		u32 n = 0;
		while (inflight < 8 && sent < total) {
			r.push(dread(sent, bufs[sent % 8], int64_t(sent % 16) * 512, disk_));
			sent++, inflight++, n++;
		}
		ASSERT_GE(enter(0, n, 1), 0);
		for (pwring_cqe c; r.pop(&c);) {
			ASSERT_EQ(c.error, 0);
			ASSERT_EQ(c.result, 512u);
			got++, inflight--;
		}
		fake::run_task_work();	/* back to user space */
	}
	stop = true;
	dev.join();
	EXPECT_EQ(got, total);
	EXPECT_EQ(fake::work_queued(), 0);
	EXPECT_EQ(teardown(0), 0);
}

} // namespace
