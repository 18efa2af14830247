// SPDX-License-Identifier: GPL-2.0
/*
 * Storage. Direct I/O (design "Direct I/O"): an O_DIRECT READ or WRITE at an offset
 * is submitted with an asynchronous kiocb and completed by the device. On
 * the fake device nothing moves until the test completes it, as the
 * device's interrupt would. Enter returns with the requests in flight; the
 * completion reaches task context (a worker, or the thread waiting in
 * enter); a timeout or close while the device has a request is reported
 * when the device is done, with the bytes it moved.
 *
 * Buffered reads that miss the page cache wait for the page without a
 * worker (IOCB_WAITQ): the page's wakeup hands the read back to task
 * context, which goes on.
 */
#include "harness.h"

#include <thread>

using namespace ht;

namespace {

constexpr unsigned kDirectCaps = fake::kRegularCaps | fake::kDirect;

class Direct : public CoreTest {
protected:
	int disk_ = -1;
	void SetUp() override
	{
		CoreTest::SetUp();
		std::string bytes(64 * 512, '\0');
		for (size_t i = 0; i < bytes.size(); i++)
			bytes[i] = char('a' + i / 512);
		disk_ = fake::regular_file(bytes, kDirectCaps);
	}
	void TearDown() override
	{
		fake::device_complete();
		CoreTest::TearDown();
	}
	static pwring_sqe dread(u64 data, int fd, void *buf, u64 n, int64_t off, u64 timeout = kNever)
	{
		return read_sqe(data, fd, buf, n, timeout, kNoRegs, off);
	}
};

TEST_F(Direct, ThirtyTwoReadsAreInFlightTogether)
{
	URing r = ring(32, 32);
	static char bufs[32][512];
	for (u64 i = 0; i < 32; i++)
		r.push(dread(i, disk_, bufs[i], 512, int64_t(i % 16) * 512));
	ASSERT_EQ(enter(0, 32, 0), 32);
	/* Enter returned with all of them on the device, none completed. */
	EXPECT_EQ(fake::device_pending(), 32u);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::io_counts().rw_blocking, 0);
	EXPECT_EQ(fake::device_complete(), 32u);
	/* The device's interrupt does not finish them: task context does. */
	EXPECT_EQ(r.ctail(), 0u);
	fake::run_work();
	ASSERT_EQ(r.ctail(), 32u);
	for (u32 i = 0; i < 32; i++) {
		const pwring_cqe c = r.cqe_at(i);
		EXPECT_EQ(c.error, 0);
		EXPECT_EQ(c.result, 512u);
		EXPECT_EQ(bufs[c.data][0], char('a' + c.data % 16));
	}
	EXPECT_EQ(fake::direct_end_calls(), 32);
	EXPECT_EQ(teardown(0), 0);
}

/*
 * A batch is plugged: the device sees none of it until the whole batch has
 * been submitted, and all of it before enter returns; a single SQE is not
 * plugged.
 */
TEST_F(Direct, ABatchReachesTheDeviceTogether)
{
	URing r = ring(8, 8);
	static char bufs[4][512];
	size_t seen_during_batch = ~size_t(0);
	ScopedHook h(fake::Hook::DirectSubmit, [&](kapi_io *) {
		if (fake::plugged_submits() == 3)
			seen_during_batch = fake::device_complete();
	});
	for (u64 i = 0; i < 4; i++)
		r.push(dread(i, disk_, bufs[i], 512, int64_t(i) * 512));
	ASSERT_EQ(enter(0, 4, 0), 4);
	EXPECT_EQ(seen_during_batch, 0u);
	EXPECT_EQ(fake::plugs(), 1);
	EXPECT_EQ(fake::plugged_submits(), 4);
	EXPECT_EQ(fake::device_complete(), 4u);
	fake::run_work();
	ASSERT_EQ(r.ctail(), 4u);

	r.push(dread(9, disk_, bufs[0], 512, 0));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(fake::plugs(), 1);
	EXPECT_EQ(fake::plugged_submits(), 4);
	EXPECT_EQ(fake::device_complete(), 1u);
	fake::run_work();
	EXPECT_EQ(r.ctail(), 5u);
	EXPECT_EQ(teardown(0), 0);
}

/*
 * The device completes an earlier request while enter submits the next
 * batch: enter finishes it itself before it returns, without a worker.
 */
TEST_F(Direct, CompletionDuringASubmissionIsEntersOwn)
{
	URing r = ring(8, 8);
	static char bufs[3][512];
	r.push(dread(0, disk_, bufs[0], 512, 0));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(fake::device_pending(), 1u);
	size_t completed = 0;
	ScopedHook h(fake::Hook::DirectSubmit, [&](kapi_io *) {
		if (!completed)
			completed = fake::device_complete();	/* the earlier READ */
	});
	r.push(dread(1, disk_, bufs[1], 512, 512));
	r.push(dread(2, disk_, bufs[2], 512, 1024));
	ASSERT_EQ(enter(0, 2, 0), 2);
	EXPECT_EQ(completed, 1u);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).data, 0u);
	EXPECT_EQ(r.cqe_at(0).result, 512u);
	EXPECT_EQ(fake::work_queued(), 0);
	EXPECT_EQ(fake::device_complete(), 2u);
	fake::run_work();
	EXPECT_EQ(r.ctail(), 3u);
	EXPECT_EQ(teardown(0), 0);
}

TEST_F(Direct, CompletionGoesToTheThreadWaitingInEnter)
{
	URing r = ring(4, 4);
	char buf[512];
	r.push(dread(1, disk_, buf, 512, 512));
	ASSERT_EQ(enter(0, 1, 0), 1);
	std::thread dev([] {
		while (!fake::wait_for_sleepers(1))
			;
		fake::device_complete();
	});
	/* The waiter finishes it itself: no work item runs. */
	EXPECT_EQ(enter(0, 0, 1), 0);
	dev.join();
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, 512u);
	EXPECT_EQ(buf[0], 'b');
	EXPECT_EQ(fake::work_runs(), 0);
}

TEST_F(Direct, WriteReachesTheDiskAtItsOffset)
{
	URing r = ring(4, 4);
	const std::string w(512, 'Z');
	r.push(write_sqe(1, disk_, w.data(), 512, kNever, kNoRegs, 3 * 512));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(fake::contents(disk_).substr(3 * 512, 512), std::string(512, 'd'));
	fake::device_complete();
	fake::run_work();
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, 512u);
	EXPECT_EQ(fake::contents(disk_).substr(3 * 512, 512), w);
}

/* The deadline passes while the device has it: reported when the device is done. */
TEST_F(Direct, TimeoutInFlightIsReportedWithTheBytesMoved)
{
	URing r = ring(4, 4);
	char buf[512];
	r.push(dread(1, disk_, buf, 512, 0, 1000));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::advance(2000);
	fake::run_work();
	EXPECT_EQ(r.ctail(), 0u) << "a bio cannot be recalled: no CQE before the device is done";
	fake::device_complete();
	fake::run_work();
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_EQ(r.cqe_at(0).result, 512u);
}

TEST_F(Direct, TimeoutZeroSubmitsNothing)
{
	URing r = ring(4, 4);
	char buf[512];
	r.push(dread(1, disk_, buf, 512, 0, 0));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(fake::device_pending(), 0u);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
}

/* Close does not wait for the device; the ring goes when the last bio is done. */
TEST_F(Direct, CloseWithRequestsInFlight)
{
	URing r = ring(8, 8);
	static char bufs[8][512];
	for (u64 i = 0; i < 8; i++)
		r.push(dread(i, disk_, bufs[i], 512, int64_t(i) * 512));
	ASSERT_EQ(enter(0, 8, 0), 8);
	pwring_core_shutdown(t_);
	EXPECT_EQ(fake::live().io_sets, 1) << "the ring stays until the device is done";
	EXPECT_EQ(fake::device_complete(), 8u);
	fake::reap_all();
	pwring_core_free(t_);
	t_ = nullptr;
	ASSERT_EQ(r.ctail(), 8u);
	for (u32 i = 0; i < 8; i++) {
		EXPECT_EQ(r.cqe_at(i).error, ECANCELED);
		EXPECT_EQ(r.cqe_at(i).result, 512u);
	}
}

TEST_F(Direct, SubmissionThatWouldBlockGoesToAWorker)
{
	URing r = ring(4, 4);
	char buf[512];
	fake::device_eagain_at_submit(1);
	r.push(dread(1, disk_, buf, 512, 512));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(fake::device_pending(), 0u);
	fake::run_work();	/* the worker submits, allowed to wait */
	EXPECT_EQ(fake::device_pending(), 1u);
	EXPECT_EQ(fake::io_counts().rw_blocking, 1);
	fake::device_complete();
	fake::run_work();
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(buf[0], 'b');
}

/* BLK_STS_AGAIN at completion of a non-blocking submission: submitted again, blocking. */
TEST_F(Direct, LateEagainIsSubmittedAgain)
{
	URing r = ring(4, 4);
	char buf[512];
	fake::device_eagain_late(1);
	r.push(dread(1, disk_, buf, 512, 2 * 512));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::device_complete();
	EXPECT_EQ(r.ctail(), 0u);
	fake::run_work();
	EXPECT_EQ(fake::device_pending(), 1u);
	fake::device_complete();
	fake::run_work();
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(r.cqe_at(0).result, 512u);
	EXPECT_EQ(buf[0], 'c');
}

/* IO_OFF_CUR keeps the synchronous path: the position is read(2)'s business. */
TEST_F(Direct, FilePositionReadsAreNotDirect)
{
	URing r = ring(4, 4);
	char buf[512];
	r.push(read_sqe(1, disk_, buf, 512));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(fake::device_pending(), 0u);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, 512u);
}

/* Completion, timeout and close race on real threads; every request posts exactly once. */
TEST_F(Direct, CompletionRacesTimeoutAndClose)
{
	fake::set_timer_mode(fake::TimerMode::Real);
	fake::set_work_mode(fake::WorkMode::Threaded, 2);
	for (int round = 0; round < 30; round++) {
		if (!t_)
			t_ = pwring_core_open();
		URing r = ring(16, 16);
		static char bufs[16][512];
		for (u64 i = 0; i < 16; i++)
			r.push(dread(i, disk_, bufs[i], 512, int64_t(i) * 512, (i % 3) * 20000));
		ASSERT_EQ(enter(0, 16, 0), 16);
		std::thread dev([] { fake::device_complete(); });
		std::atomic<bool> shut{false};
		std::thread closer([&] {
			pwring_core_shutdown(t_);
			shut = true;
		});
		closer.join();
		dev.join();
		fake::device_complete();
		fake::reap_all();
		pwring_core_free(t_);
		t_ = nullptr;
		ASSERT_EQ(r.ctail(), 16u) << "round " << round;
		std::vector<bool> seen(16);
		for (u32 i = 0; i < 16; i++) {
			const pwring_cqe c = r.cqe_at(i);
			ASSERT_LT(c.data, 16u);
			EXPECT_FALSE(seen[c.data]);
			seen[c.data] = true;
			EXPECT_TRUE(c.error == 0 || c.error == ECANCELED || c.error == ETIMEDOUT);
		}
		fake::munmap_all();
	}
}

class PageWait : public CoreTest {
protected:
	int f_ = -1;
	void SetUp() override
	{
		CoreTest::SetUp();
		f_ = fake::regular_file(std::string(8192, 'p'), fake::kRegularCaps | fake::kWaitq);
		fake::set_uncached(f_, true);
	}
	void TearDown() override
	{
		fake::pages_arrive(f_);
		CoreTest::TearDown();
	}
};

TEST_F(PageWait, UncachedReadWaitsForThePageWithoutAWorker)
{
	URing r = ring(4, 4);
	char buf[100] = {};
	r.push(read_sqe(1, f_, buf, sizeof(buf), kNever, kNoRegs, 10));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::page_waiters(), 1u);
	EXPECT_EQ(fake::work_queued(), 0);
	EXPECT_EQ(fake::pages_arrive(f_), 1u);
	fake::run_work();
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(r.cqe_at(0).result, 100u);
	EXPECT_EQ(buf[99], 'p');
	EXPECT_EQ(fake::io_counts().rw_blocking, 0) << "nobody blocked for it";
}

TEST_F(PageWait, TheWaitingEnterTakesThePage)
{
	URing r = ring(4, 4);
	char buf[100] = {};
	r.push(read_sqe(1, f_, buf, sizeof(buf), kNever, kNoRegs, 0));
	ASSERT_EQ(enter(0, 1, 0), 1);
	std::thread pages([this] {
		while (!fake::wait_for_sleepers(1))
			;
		fake::pages_arrive(f_);
	});
	EXPECT_EQ(enter(0, 0, 1), 0);
	pages.join();
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, 100u);
	EXPECT_EQ(fake::work_runs(), 0);
}

/* The wait entry stays on the page until it is woken: the packet with it. */
TEST_F(PageWait, TimeoutWhileWaitingCompletesWhenThePageComes)
{
	URing r = ring(4, 4);
	char buf[100] = {};
	r.push(read_sqe(1, f_, buf, sizeof(buf), 1000, kNoRegs, 0));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::advance(2000);
	fake::run_work();
	EXPECT_EQ(r.ctail(), 0u);
	fake::pages_arrive(f_);
	fake::run_work();
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
}

TEST_F(PageWait, CloseWhileWaiting)
{
	URing r = ring(4, 4);
	char buf[100] = {};
	r.push(read_sqe(1, f_, buf, sizeof(buf), kNever, kNoRegs, 0));
	ASSERT_EQ(enter(0, 1, 0), 1);
	pwring_core_shutdown(t_);
	EXPECT_EQ(fake::live().io_sets, 1);
	fake::pages_arrive(f_);
	fake::reap_all();
	pwring_core_free(t_);
	t_ = nullptr;
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ECANCELED);
}

/* A cached read never waits: it completes during enter. */
TEST_F(PageWait, CachedReadCompletesDuringEnter)
{
	URing r = ring(4, 4);
	char buf[100] = {};
	fake::set_uncached(f_, false);
	r.push(read_sqe(1, f_, buf, sizeof(buf), 0, kNoRegs, 0));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(fake::page_waiters(), 0u);
}

} // namespace
