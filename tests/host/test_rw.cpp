// SPDX-License-Identifier: GPL-2.0
/*
 * READ and WRITE (spec section 3, design "READ, WRITE and POLL") on fake
 * pipes, regular files and /dev/null, on the manual clock and the manual
 * work queue: the test decides when the "worker" runs. Every test ends in
 * the fixture's leak check: no file reference, pinned buffer or poll entry
 * survives the release.
 */
#include "harness.h"

#include <algorithm>
#include <cstdlib>

using namespace ht;

namespace {

class Rw : public CoreTest {
protected:
	int p_[2] = {-1, -1};
	void make_pipe(size_t cap = 4096, bool nowait = true)
	{
		fake::pipe(p_, fake::PipeOpts{cap, nowait});
	}
	static std::string str(const char *b, u64 n) { return std::string(b, size_t(n)); }
	/* Nothing of the core holds a file, a pin or a poll entry. */
	static void expect_io_released()
	{
		const fake::Live l = fake::live();
		EXPECT_EQ(l.file_refs, 0);
		EXPECT_EQ(l.pinned, 0);
		EXPECT_EQ(l.poll_entries, 0);
	}
};

TEST_F(Rw, ReadFromPipeWithDataCompletesDuringEnter)
{
	URing r = ring(4, 4);
	make_pipe();
	ASSERT_EQ(fake::write(p_[1], "hello"), 5);
	char buf[16] = {};
	r.push(read_sqe(7, p_[0], buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(r.ctail(), 1u);
	const pwring_cqe c = r.cqe_at(0);
	EXPECT_EQ(c.op, PWRING_OP_READ);
	EXPECT_EQ(c.data, 7u);
	EXPECT_EQ(c.error, 0);
	EXPECT_EQ(c.result, 5u);
	EXPECT_EQ(str(buf, 5), "hello");
	EXPECT_EQ(fake::contents(p_[0]), "");
	EXPECT_EQ(fake::work_queued(), 0);
	const fake::IoCounts k = fake::io_counts();
	EXPECT_EQ(k.pins, 1);
	EXPECT_EQ(k.unpins, 1);
	EXPECT_EQ(k.fput_ctx[int(fake::Ctx::Task)], 1);
	expect_io_released();
	EXPECT_EQ(teardown(0), 0);
}

TEST_F(Rw, ReadOnEmptyPipeWaitsForAWriter)
{
	URing r = ring(4, 4);
	make_pipe();
	char buf[16] = {};
	r.push(read_sqe(1, p_[0], buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.ctail(), 0u);
	/* Waiting with a poll entry, its buffer pinned and its file held. */
	EXPECT_EQ(fake::poll_waiters(p_[0]), 1);
	EXPECT_EQ(fake::live().file_refs, 1);
	EXPECT_EQ(fake::live().pinned, 1);
	EXPECT_EQ(teardown(0), -EBUSY);
	ASSERT_EQ(fake::write(p_[1], "abc"), 3);
	EXPECT_EQ(fake::work_pending(), 1);	/* the wakeup only queued the work item */
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(r.cqe_at(0).result, 3u);
	EXPECT_EQ(str(buf, 3), "abc");
	EXPECT_EQ(fake::poll_waiters(p_[0]), 0);
	/* Finished by the worker: unpinned and put there. */
	const fake::IoCounts k = fake::io_counts();
	EXPECT_EQ(k.fput_ctx[int(fake::Ctx::Work)], 1);
	EXPECT_EQ(k.mdl_release_ctx[int(fake::Ctx::Work)], 1);
	expect_io_released();
	EXPECT_EQ(teardown(0), 0);
}

/*
 * With a thread waiting in enter, the wakeup goes to that thread, which
 * reads the pipe itself: no worker, one wakeup (io_uring's task work).
 * Finishing there is fine: it is process context.
 */
TEST_F(Rw, WaitingEnterTakesTheWakeupItself)
{
	URing r = ring(4, 4);
	make_pipe();
	char buf[16] = {};
	r.push(read_sqe(1, p_[0], buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 1, 0), 1);
	std::atomic<std::thread::id> waiter_tid{};
	Async waiter([&] {
		waiter_tid = std::this_thread::get_id();
		return enter(0, 0, 1);
	});
	ASSERT_TRUE(fake::wait_for_sleepers(1));
	ASSERT_EQ(fake::write(p_[1], "abc"), 3);
	EXPECT_EQ(waiter.join(), 0);
	EXPECT_EQ(fake::work_queued(), 0);	/* no worker involved */
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(r.cqe_at(0).result, 3u);
	EXPECT_EQ(str(buf, 3), "abc");
	const fake::IoCounts k = fake::io_counts();
	EXPECT_EQ(k.fput_ctx[int(fake::Ctx::Task)], 1);
	expect_io_released();
	EXPECT_EQ(teardown(0), 0);
}

/* A file that cannot be tried without blocking: the waiter hands it to a worker. */
TEST_F(Rw, WaitingEnterLeavesABlockingRetryToTheWorker)
{
	URing r = ring(4, 4);
	int q[2];
	fake::pipe(q, fake::PipeOpts{64, false});
	char buf[16] = {};
	r.push(read_sqe(1, q[0], buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 1, 0), 1);
	Async waiter([&] { return enter(0, 0, 1); });
	ASSERT_TRUE(fake::wait_for_sleepers(1));
	ASSERT_EQ(fake::write(q[1], "abc"), 3);
	ASSERT_TRUE(eventually([] { return fake::work_pending() == 1; }));
	EXPECT_EQ(fake::io_counts().rw_blocking, 0);	/* the waiter did not read */
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::run_work(), 1);
	EXPECT_EQ(waiter.join(), 0);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, 3u);
	EXPECT_EQ(str(buf, 3), "abc");
	EXPECT_EQ(fake::io_counts().rw_blocking, 1);
	EXPECT_EQ(teardown(0), 0);
}

/*
 * Wakeups racing the waiter's return: two READs stay in flight while the
 * submitter waits for one at a time, so wakeups land while the waiter runs
 * the list, while it closes it, and after. Whoever takes each one (the
 * waiter or a worker), every number written is read exactly once.
 */
TEST_F(Rw, WakeupsRacingTheWaitersReturnLoseNothing)
{
	fake::set_work_mode(fake::WorkMode::Threaded, 2);
	URing r = ring(4, 4);
	make_pipe();
	constexpr u32 kReads = 600;
	std::atomic<u32> written{0};
	std::atomic<bool> stop{false};
	std::thread writer([&] {
		for (u32 i = 0; !stop.load(); i++) {
			const std::string rec(reinterpret_cast<const char *>(&i), 4);
			if (fake::write(p_[1], rec) == 4)
				written++;
			std::this_thread::sleep_for(std::chrono::microseconds(i % 7 * 20));
		}
	});
	std::vector<u32> bufs(kReads), got;
	u32 next = 0, inflight = 0;
	while (next < kReads || inflight) {
		u32 add = 0;
		for (; inflight + add < 2 && next < kReads; add++, next++)
			r.push(read_sqe(next, p_[0], &bufs[next], 4));
		ASSERT_EQ(enter(0, add, 1), long(add));
		inflight += add;
		for (const pwring_cqe &c : r.drain()) {
			ASSERT_EQ(c.error, 0);
			ASSERT_EQ(c.result, 4u);
			got.push_back(bufs[c.data]);
			inflight--;
		}
	}
	stop = true;
	writer.join();
	const std::string rest = fake::contents(p_[0]);
	ASSERT_EQ(rest.size() % 4, 0u);
	for (size_t i = 0; i < rest.size(); i += 4) {
		u32 v;
		std::memcpy(&v, rest.data() + i, 4);
		got.push_back(v);
	}
	std::sort(got.begin(), got.end());
	ASSERT_EQ(got.size(), size_t(written.load()));
	for (u32 i = 0; i < got.size(); i++)
		ASSERT_EQ(got[i], i);
	EXPECT_EQ(teardown(0), 0);
}

/*
 * A file that is not a stream gives a short count to a non-blocking attempt
 * only where the rest would have blocked or yielded (/dev/zero under
 * IOCB_NOWAIT): read(2) would have gone on, and so does the READ, at the
 * right offsets, yielding the CPU between attempts, until EOF.
 */
TEST_F(Rw, ShortNonBlockingCountsOfAFileAreContinued)
{
	URing r = ring(4, 4);
	const int fd = fake::regular_file("0123456789abcdef",
					  fake::kRegularCaps | fake::kNowaitWrite);
	fake::set_nowait_chunk(fd, 3);
	char buf[32] = {};
	r.push(read_sqe(1, fd, buf, 16));
	r.push(read_sqe(2, fd, buf + 16, 10, kNever, kNoRegs, 4));
	r.push(read_sqe(3, fd, buf + 26, 6, kNever, kNoRegs, 12));
	ASSERT_EQ(enter(0, 3, 0), 3);
	ASSERT_EQ(r.ctail(), 3u) << "all complete during enter";
	EXPECT_EQ(fake::work_queued(), 0);
	EXPECT_EQ(r.cqe_at(0).result, 16u);
	EXPECT_EQ(r.cqe_at(1).result, 10u);
	EXPECT_EQ(r.cqe_at(2).result, 4u) << "a short count at EOF stays short";
	EXPECT_EQ(str(buf, 30), "0123456789abcdef456789abcdcdef");
	EXPECT_GE(fake::cond_resched_calls(), 5);
	r.push(write_sqe(4, fd, "ABCDEFGHIJ", 10, kNever, kNoRegs, 2));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(r.ctail(), 4u);
	EXPECT_EQ(r.cqe_at(3).result, 10u);
	EXPECT_EQ(fake::contents(fd), "01ABCDEFGHIJcdef");
	EXPECT_EQ(teardown(0), 0);
}

/* No poll method, no wakeup to wait for: EAGAIN from the worker's call is the answer. */
TEST_F(Rw, EagainFromAFileWithoutPollIsTheResult)
{
	URing r = ring(4, 4);
	const int fd = fake::regular_file("data");
	fake::set_always_eagain(fd, true);
	char buf[8];
	r.push(read_sqe(1, fd, buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 1u) << "waiting for a wakeup that cannot come";
	EXPECT_EQ(r.cqe_at(0).error, EAGAIN);
	EXPECT_EQ(r.cqe_at(0).result, 0u);
	EXPECT_EQ(teardown(0), 0);
}

TEST_F(Rw, ReadTakesAtMostCount)
{
	URing r = ring(4, 4);
	make_pipe();
	ASSERT_EQ(fake::write(p_[1], "0123456789"), 10);
	char buf[4];
	r.push(read_sqe(1, p_[0], buf, 4));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.cqe_at(0).result, 4u);
	EXPECT_EQ(str(buf, 4), "0123");
	EXPECT_EQ(fake::contents(p_[0]), "456789");
}

TEST_F(Rw, ReadSeesEofWhenTheWriterCloses)
{
	URing r = ring(4, 4);
	make_pipe();
	char buf[8];
	r.push(read_sqe(1, p_[0], buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::close(p_[1]);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(r.cqe_at(0).result, 0u);
	/* Already closed: EOF during enter. */
	r.push(read_sqe(2, p_[0], buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(1).result, 0u);
}

TEST_F(Rw, CountZeroCompletesAtOnce)
{
	URing r = ring(4, 4);
	make_pipe();
	r.push(read_sqe(1, p_[0], nullptr, 0));
	r.push(write_sqe(2, p_[1], nullptr, 0));
	ASSERT_EQ(enter(0, 2, 0), 2);
	ASSERT_EQ(r.ctail(), 2u);
	for (u32 i = 0; i < 2; i++) {
		EXPECT_EQ(r.cqe_at(i).error, 0);
		EXPECT_EQ(r.cqe_at(i).result, 0u);
	}
	expect_io_released();
}

TEST_F(Rw, BadFdsAndModesAreEbadf)
{
	URing r = ring(16, 16);
	make_pipe();
	const int ro = fake::regular_file("abc", fake::kRead | fake::kPread);
	const int wo = fake::regular_file("abc", fake::kWrite | fake::kPwrite);
	char buf[8];
	r.push(read_sqe(1, 99, buf, 8));			/* not open */
	r.push(read_sqe(2, -1, buf, 8));			/* arg0 = ~0 */
	r.push(make_sqe(PWRING_OP_READ, 3, kNever, kNoRegs, 1ull << 31, uaddr(buf), 8, ~0ull));
	r.push(read_sqe(4, p_[1], buf, 8));			/* the write end */
	r.push(write_sqe(5, p_[0], buf, 8));			/* the read end */
	r.push(write_sqe(6, ro, buf, 3));
	r.push(read_sqe(7, wo, buf, 3));
	ASSERT_EQ(enter(0, 7, 0), 7);
	ASSERT_EQ(r.ctail(), 7u);
	for (u32 i = 0; i < 7; i++) {
		EXPECT_EQ(r.cqe_at(i).error, EBADF) << "data " << r.cqe_at(i).data;
		EXPECT_EQ(r.cqe_at(i).result, 0u);
	}
	EXPECT_EQ(fake::io_counts().pins, 0);	/* refused before pinning */
	EXPECT_EQ(fake::contents(ro), "abc");
	expect_io_released();
}

TEST_F(Rw, OffsetRules)
{
	URing r = ring(8, 8);
	make_pipe();
	ASSERT_EQ(fake::write(p_[1], "data"), 4);
	const int f = fake::regular_file("0123456789");
	char buf[8] = {};
	r.push(read_sqe(1, p_[0], buf, 4, kNever, kNoRegs, 0));		/* pipes have no offsets */
	r.push(write_sqe(2, p_[1], buf, 4, kNever, kNoRegs, 5));
	const size_t fgets_before = fake::fget_log().size();
	r.push(read_sqe(3, f, buf, 4, kNever, kNoRegs, -2));		/* only -1 is special */
	ASSERT_EQ(enter(0, 3, 0), 3);
	ASSERT_EQ(r.ctail(), 3u);
	EXPECT_EQ(r.cqe_at(0).error, ESPIPE);
	EXPECT_EQ(r.cqe_at(1).error, ESPIPE);
	EXPECT_EQ(r.cqe_at(2).error, EINVAL);
	EXPECT_EQ(fake::fget_log().size(), fgets_before + 2);	/* EINVAL before the fd */
	EXPECT_EQ(fake::contents(p_[0]), "data");
	expect_io_released();
}

TEST_F(Rw, BadBuffersAreEfault)
{
	URing r = ring(8, 8);
	make_pipe();
	ASSERT_EQ(fake::write(p_[1], "data"), 4);
	static char bad[256];
	fake::bad_user_range(uaddr(bad), sizeof(bad));
	r.push(read_sqe(1, p_[0], bad + 16, 8));
	r.push(make_sqe(PWRING_OP_READ, 2, kNever, kNoRegs, u64(p_[0]), 16, 8, ~0ull));
	r.push(make_sqe(PWRING_OP_WRITE, 3, kNever, kNoRegs, u64(p_[1]), ~0ull - 4, 8, ~0ull));
	ASSERT_EQ(enter(0, 3, 0), 3);
	ASSERT_EQ(r.ctail(), 3u);
	for (u32 i = 0; i < 3; i++)
		EXPECT_EQ(r.cqe_at(i).error, EFAULT) << i;
	EXPECT_EQ(fake::contents(p_[0]), "data");	/* nothing consumed */
	expect_io_released();
}

TEST_F(Rw, HugeCountIsClampedAndReadsWhatIsThere)
{
	URing r = ring(4, 4);
	make_pipe();
	ASSERT_EQ(fake::write(p_[1], "abc"), 3);
	char buf[8];
	r.push(read_sqe(1, p_[0], buf, ~0ull));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(r.cqe_at(0).result, 3u);
	EXPECT_EQ(str(buf, 3), "abc");
}

TEST_F(Rw, WriteToPipe)
{
	URing r = ring(4, 4);
	make_pipe();
	const char msg[] = "payload";
	r.push(write_sqe(1, p_[1], msg, 7));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(r.cqe_at(0).result, 7u);
	EXPECT_EQ(fake::contents(p_[0]), "payload");
	expect_io_released();
}

/*
 * A WRITE to a full pipe waits for room, and like a blocking write(2) to a
 * pipe it completes only once everything is written: a partial write waits
 * for the next POLLOUT and goes on from where it stopped.
 */
TEST_F(Rw, WriteToFullPipeWaitsForTheReaderAndWritesEverything)
{
	URing r = ring(4, 4);
	make_pipe(8);
	ASSERT_EQ(fake::write(p_[1], "01234567"), 8);
	const char msg[] = "abcd";
	r.push(write_sqe(1, p_[1], msg, 4));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::poll_waiters(p_[1]), 1);
	char tmp[3];
	ASSERT_EQ(fake::read(p_[0], tmp, 3), 3);	/* room for three */
	EXPECT_EQ(fake::run_work(), 1);
	EXPECT_EQ(r.ctail(), 0u);			/* "abc" written, "d" to go */
	EXPECT_EQ(fake::contents(p_[0]), "34567abc");
	EXPECT_EQ(fake::poll_waiters(p_[1]), 1);
	ASSERT_EQ(fake::read(p_[0], tmp, 1), 1);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(r.cqe_at(0).result, 4u);
	EXPECT_EQ(fake::contents(p_[0]), "4567abcd");
	expect_io_released();
}

/* Cut short by its timeout, a WRITE still says how much it wrote. */
TEST_F(Rw, WriteCutShortByItsTimeoutReportsWhatItWrote)
{
	URing r = ring(4, 4);
	make_pipe(8);
	ASSERT_EQ(fake::write(p_[1], "01234567"), 8);
	r.push(write_sqe(1, p_[1], "abcdef", 6, 1000));
	ASSERT_EQ(enter(0, 1, 0), 1);
	char tmp[2];
	ASSERT_EQ(fake::read(p_[0], tmp, 2), 2);
	EXPECT_EQ(fake::run_work(), 1);	/* "ab" */
	fake::advance(1000);
	EXPECT_EQ(fake::run_work(), 1);	/* the timer's finish */
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_EQ(r.cqe_at(0).result, 2u);
	EXPECT_EQ(fake::contents(p_[0]), "234567ab");
	expect_io_released();
}

/* O_NONBLOCK: the file answers EAGAIN itself, in the CQE, at once (as read(2) would). */
TEST_F(Rw, NonblockingPipeAnswersEagain)
{
	URing r = ring(8, 8);
	fake::pipe(p_, fake::PipeOpts{4, true, true});
	char buf[8];
	r.push(read_sqe(1, p_[0], buf, sizeof(buf)));	/* empty */
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(fake::write(p_[1], "full"), 4);
	r.push(write_sqe(2, p_[1], "x", 1));		/* full */
	r.push(read_sqe(3, p_[0], buf, sizeof(buf)));	/* has data */
	ASSERT_EQ(enter(0, 2, 0), 2);
	ASSERT_EQ(r.ctail(), 3u);
	EXPECT_EQ(r.cqe_at(0).error, EAGAIN);
	EXPECT_EQ(r.cqe_at(1).error, EAGAIN);
	EXPECT_EQ(r.cqe_at(2).error, 0);
	EXPECT_EQ(r.cqe_at(2).result, 4u);
	EXPECT_EQ(fake::io_counts().poll_arms, 0);
	EXPECT_EQ(fake::work_queued(), 0);
	/* Without O_NONBLOCK again (fcntl): it waits. */
	fake::set_nonblock(p_[0], false);
	r.push(read_sqe(4, p_[0], buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.ctail(), 3u);
	EXPECT_EQ(fake::poll_waiters(p_[0]), 1);
}

/* A buffer mapped only partly: the transfer stops at the hole, as read(2) would. */
TEST_F(Rw, PartlyMappedBufferGivesAShortTransfer)
{
	URing r = ring(4, 4);
	make_pipe(16384);
	void *mem = std::aligned_alloc(4096, 2 * 4096);
	fake::bad_user_range(uaddr(mem) + 4096, 4096);	/* second page unmapped */
	const std::string data(6000, 'z');
	ASSERT_EQ(fake::write(p_[1], data), 6000);
	r.push(read_sqe(1, p_[0], mem, 8192));
	r.push(write_sqe(2, p_[1], mem, 8192));
	ASSERT_EQ(enter(0, 2, 0), 2);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(r.cqe_at(0).result, 4096u);
	EXPECT_EQ(r.cqe_at(1).error, 0);
	EXPECT_EQ(r.cqe_at(1).result, 4096u);
	EXPECT_EQ(fake::contents(p_[0]).size(), 6000u - 4096 + 4096);
	EXPECT_EQ(fake::io_counts().short_pins, 2);
	std::free(mem);
}

TEST_F(Rw, WriteWithoutReadersIsEpipe)
{
	URing r = ring(4, 4);
	make_pipe(8);
	ASSERT_EQ(fake::write(p_[1], "01234567"), 8);
	const char msg[] = "x";
	r.push(write_sqe(1, p_[1], msg, 1));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.ctail(), 0u);
	fake::close(p_[0]);	/* ERR wakes the writer */
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, EPIPE);
	r.push(write_sqe(2, p_[1], msg, 1));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.cqe_at(1).error, EPIPE);
}

/*
 * A WRITE of the ring wakes a READ of the same ring waiting on the pipe: the
 * wakeup comes while enter runs, so that enter completes the READ too.
 */
TEST_F(Rw, WriteWakesAReadOfTheSameRing)
{
	URing r = ring(4, 4);
	make_pipe();
	char buf[8] = {};
	const char msg[] = "ping";
	r.push(read_sqe(1, p_[0], buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 1, 0), 1);
	r.push(write_sqe(2, p_[1], msg, 4));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(0).data, 2u);	/* the WRITE first */
	EXPECT_EQ(fake::work_queued(), 0);
	EXPECT_EQ(r.cqe_at(1).data, 1u);
	EXPECT_EQ(r.cqe_at(1).result, 4u);
	EXPECT_EQ(str(buf, 4), "ping");
}

/* Several READs waiting on one pipe: each byte goes to exactly one of them. */
TEST_F(Rw, ReadersOfOnePipeShareTheData)
{
	URing r = ring(8, 8);
	make_pipe();
	char buf[3][2];
	for (u64 i = 0; i < 3; i++)
		r.push(read_sqe(i, p_[0], buf[i], 2));
	ASSERT_EQ(enter(0, 3, 0), 3);
	EXPECT_EQ(fake::poll_waiters(p_[0]), 3);
	ASSERT_EQ(fake::write(p_[1], "abcdefg"), 7);
	fake::run_work();
	ASSERT_EQ(r.ctail(), 3u);
	std::string all;
	for (u32 i = 0; i < 3; i++) {
		const pwring_cqe c = r.cqe_at(i);
		EXPECT_EQ(c.error, 0);
		EXPECT_EQ(c.result, 2u);
		all += str(buf[c.data], 2);
	}
	std::sort(all.begin(), all.end());
	EXPECT_EQ(all, "abcdef");
	EXPECT_EQ(fake::contents(p_[0]), "g");
}

/* A cached regular file is read during enter; its position moves; pread leaves it. */
TEST_F(Rw, CachedRegularFileIsReadDuringEnter)
{
	URing r = ring(8, 8);
	const int f = fake::regular_file("hello world");
	char a[5], b[5];
	r.push(read_sqe(1, f, a, 5));
	r.push(read_sqe(2, f, b, 5, kNever, kNoRegs, 6));
	ASSERT_EQ(enter(0, 2, 0), 2);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(str(a, 5), "hello");
	EXPECT_EQ(str(b, 5), "world");
	EXPECT_EQ(fake::file_pos(f), 5);
	EXPECT_EQ(fake::work_queued(), 0);
	expect_io_released();
}

/* Not in the page cache (a non-blocking read says EAGAIN): the work item reads, blocking. */
TEST_F(Rw, UncachedRegularFileIsReadByTheWorker)
{
	URing r = ring(8, 8);
	const int f = fake::regular_file("hello world");
	fake::set_uncached(f, true);
	char a[5], b[5], c[5];
	r.push(read_sqe(1, f, a, 5));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::work_pending(), 1);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, 5u);
	EXPECT_EQ(str(a, 5), "hello");
	EXPECT_EQ(fake::file_pos(f), 5);
	r.push(read_sqe(2, f, b, 5));				/* continues at the position */
	r.push(read_sqe(3, f, c, 5, kNever, kNoRegs, 6));	/* pread: leaves it alone */
	ASSERT_EQ(enter(0, 2, 0), 2);
	fake::run_work();
	ASSERT_EQ(r.ctail(), 3u);
	EXPECT_EQ(str(b, 5), " worl");
	EXPECT_EQ(str(c, 5), "world");
	EXPECT_EQ(fake::file_pos(f), 10);
	EXPECT_EQ(fake::io_counts().rw_blocking, 3);
	/* Past the end: 0. */
	r.push(read_sqe(4, f, c, 5, kNever, kNoRegs, 100));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::run_work();
	EXPECT_EQ(r.cqe_at(3).result, 0u);
	expect_io_released();
}

TEST_F(Rw, RegularFileWritesAtPositionAndOffset)
{
	URing r = ring(8, 8);
	const int f = fake::regular_file("");
	r.push(write_sqe(1, f, "abc", 3));
	r.push(write_sqe(2, f, "XY", 2, kNever, kNoRegs, 1));
	ASSERT_EQ(enter(0, 2, 0), 2);
	fake::run_work();
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(fake::contents(f), "aXY");
	EXPECT_EQ(fake::file_pos(f), 3);
	r.push(write_sqe(3, f, "!", 1, kNever, kNoRegs, 5));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::run_work();
	EXPECT_EQ(fake::contents(f), std::string("aXY\0\0!", 6));
}

TEST_F(Rw, DevNull)
{
	URing r = ring(4, 4);
	const int n = fake::devnull();
	char buf[100];
	r.push(read_sqe(1, n, buf, sizeof(buf)));
	r.push(write_sqe(2, n, buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 2, 0), 2);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(0).result, 0u);
	EXPECT_EQ(r.cqe_at(1).result, 100u);
	EXPECT_EQ(fake::work_queued(), 0);
}

/*
 * A timeout in hard IRQ context: the timer wins the packet, but unpinning
 * may sleep, so the finish is handed to the work item (the fake aborts on
 * kapi_mdl_release in atomic context). The data written afterwards stays
 * in the pipe.
 */
TEST_F(Rw, ReadTimeoutIsFinishedByTheWorkItem)
{
	URing r = ring(4, 4);
	make_pipe();
	char buf[8];
	r.push(read_sqe(1, p_[0], buf, sizeof(buf), 1000));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::advance(999);
	EXPECT_EQ(r.ctail(), 0u);
	fake::advance(1);
	EXPECT_EQ(fake::callbacks_run(), 1);
	EXPECT_EQ(r.ctail(), 0u);			/* not in the interrupt */
	EXPECT_EQ(fake::work_pending(), 1);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_EQ(r.cqe_at(0).result, 0u);
	const fake::IoCounts k = fake::io_counts();
	EXPECT_EQ(k.mdl_release_ctx[int(fake::Ctx::Irq)], 0);
	EXPECT_EQ(k.mdl_release_ctx[int(fake::Ctx::Work)], 1);
	ASSERT_EQ(fake::write(p_[1], "late"), 4);
	EXPECT_EQ(fake::run_work(), 0);		/* nobody waits any more */
	EXPECT_EQ(fake::contents(p_[0]), "late");
	expect_io_released();
	EXPECT_EQ(teardown(0), 0);
}

TEST_F(Rw, TimeoutZeroExpiresUnlessDataIsThere)
{
	URing r = ring(4, 4);
	make_pipe();
	char buf[8];
	r.push(read_sqe(1, p_[0], buf, sizeof(buf), 0));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_EQ(fake::poll_waiters(p_[0]), 0);
	ASSERT_EQ(fake::write(p_[1], "xy"), 2);
	r.push(read_sqe(2, p_[0], buf, sizeof(buf), 0));
	ASSERT_EQ(enter(0, 1, 0), 1);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(1).error, 0);	/* completed during its issue */
	EXPECT_EQ(r.cqe_at(1).result, 2u);
	EXPECT_EQ(fake::timer_starts(), 0);
	expect_io_released();
}

TEST_F(Rw, ReleaseCancelsReadsAndWritesInFlight)
{
	URing r = ring(8, 8);
	make_pipe(4);
	int q[2];
	fake::pipe(q);
	ASSERT_EQ(fake::write(p_[1], "full"), 4);
	const int f = fake::regular_file("file");
	fake::set_uncached(f, true);
	char b1[4], b2[4];
	r.push(read_sqe(1, q[0], b1, 4));		/* empty pipe: poll entry */
	r.push(write_sqe(2, p_[1], "more", 4, 5000));	/* full pipe: poll entry, timer */
	r.push(read_sqe(3, f, b2, 4));			/* worker queued, never run */
	ASSERT_EQ(enter(0, 3, 0), 3);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::live().file_refs, 3);
	EXPECT_EQ(fake::live().pinned, 3);
	EXPECT_EQ(fake::live().poll_entries, 2);
	release();
	ASSERT_EQ(r.ctail(), 3u);
	for (u32 i = 0; i < 3; i++) {
		EXPECT_EQ(r.cqe_at(i).error, ECANCELED);
		EXPECT_EQ(r.cqe_at(i).result, 0u);
	}
	EXPECT_TRUE(fake::live().kernel_clean()) << describe_live();
	EXPECT_EQ(fake::contents(p_[0]), "full");
	EXPECT_EQ(fake::file_pos(f), 0);
	EXPECT_TRUE(fake::pending_timers().empty());
}

/* The close finds the timer's finish still queued: it completes ETIMEDOUT, not ECANCELED. */
TEST_F(Rw, ReleaseWaitsForAQueuedFinish)
{
	URing r = ring(4, 4);
	make_pipe();
	char buf[8];
	r.push(read_sqe(1, p_[0], buf, sizeof(buf), 100));
	ASSERT_EQ(enter(0, 1, 0), 1);
	fake::advance(100);
	EXPECT_EQ(fake::work_pending(), 1);
	release();
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).error, ETIMEDOUT);
	EXPECT_TRUE(fake::live().kernel_clean()) << describe_live();
}

TEST_F(Rw, LinksAfterReads)
{
	URing r = ring(8, 8);
	make_pipe();
	ASSERT_EQ(fake::write(p_[1], "ok"), 2);
	char buf[4];
	r.push(read_sqe(1, p_[0], buf, 4, kNever, kNoRegs | PWRING_LINK));	/* succeeds */
	r.push(nop(2, 0));
	r.push(read_sqe(3, 99, buf, 4, kNever, kNoRegs | PWRING_LINK));	/* EBADF */
	r.push(nop(4, 0));
	ASSERT_EQ(enter(0, 4, 0), 4);
	ASSERT_EQ(r.ctail(), 4u);
	EXPECT_EQ(r.cqe_at(0).error, 0);
	EXPECT_EQ(r.cqe_at(1).error, ETIMEDOUT);
	EXPECT_EQ(r.cqe_at(2).error, EBADF);
	EXPECT_EQ(r.cqe_at(3).error, ECANCELED);
}

/*
 * A pollable file without NOWAIT (like some ttys): the first attempt cannot
 * try, so the worker reads once poll says the pipe is readable.
 */
TEST_F(Rw, PollableFileWithoutNowaitIsReadByTheWorkerWhenReady)
{
	URing r = ring(4, 4);
	make_pipe(4096, false);
	char buf[8] = {};
	r.push(read_sqe(1, p_[0], buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.ctail(), 0u);
	EXPECT_EQ(fake::work_pending(), 0);
	fake::wake(p_[0], 0);			/* a wakeup with nothing there */
	EXPECT_EQ(fake::run_work(), 1);
	EXPECT_EQ(r.ctail(), 0u);		/* poll said no: it waits again */
	EXPECT_EQ(fake::io_counts().rw_blocking, 0);
	ASSERT_EQ(fake::write(p_[1], "tty"), 3);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(r.cqe_at(0).result, 3u);
	EXPECT_EQ(str(buf, 3), "tty");
	EXPECT_EQ(fake::io_counts().rw_blocking, 1);
	/* Data already there: the issue queues the worker at once. */
	ASSERT_EQ(fake::write(p_[1], "now"), 3);
	r.push(read_sqe(2, p_[0], buf, sizeof(buf)));
	ASSERT_EQ(enter(0, 1, 0), 1);
	EXPECT_EQ(r.ctail(), 1u);
	EXPECT_EQ(fake::run_work(), 1);
	ASSERT_EQ(r.ctail(), 2u);
	EXPECT_EQ(r.cqe_at(1).result, 3u);
}

} // namespace
