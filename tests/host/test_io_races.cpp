// SPDX-License-Identifier: GPL-2.0
/*
 * READ, WRITE and POLL races on the threaded fake: real timer threads (two
 * "CPUs"), worker threads for the work items, and writer threads playing
 * other processes. Every check is "exactly one CQE per SQE, no data lost
 * or duplicated, nothing leaked"; the TSan build checks the memory ordering
 * underneath (the op state a worker reads after its claim, the buffer a
 * worker filled before the CQE, the register a successor loads).
 */
#include "harness.h"

#include <algorithm>
#include <random>

using namespace ht;

namespace {

/* Each loop runs at least kMinIters iterations and then until its time is up. */
#if defined(PWRING_HOST_TSAN)
constexpr int kLoopMs = 1500, kMinIters = 20;
#else
constexpr int kLoopMs = 700, kMinIters = 50;
#endif

class IoRace : public CoreTest {
protected:
	void SetUp() override
	{
		CoreTest::SetUp();
		fake::set_timer_mode(fake::TimerMode::Real, 2);
		fake::set_work_mode(fake::WorkMode::Threaded, 2);
	}

	void reopen()
	{
		if (!t_)
			t_ = pwring_core_open();
		ASSERT_NE(t_, nullptr);
	}

	/* After release and closing our fds: nothing of the core, no file left. */
	void expect_all_freed()
	{
		ASSERT_TRUE(fake::live().kernel_clean()) << describe_live();
		fake::munmap_all();
		fake::close_all();
		ASSERT_TRUE(fake::live().all_clean()) << describe_live();
	}

	static void spin(u32 n)
	{
		for (u32 i = 0; i < n; i++)
			__asm__ volatile("" ::: "memory");
	}

	static u64 tiny_timeout(std::mt19937 &rng)
	{
		static const u64 choices[] = {0, 1, 1000, 5000, 20000, 50000, 100000, 300000, kNever, kNever};
		return choices[rng() % (sizeof(choices) / sizeof(choices[0]))];
	}

	template <typename F> static void loop(F body)
	{
		const Deadline end(kLoopMs);
		for (int iter = 0; iter < kMinIters || !end.passed(); iter++) {
			body(iter);
			if (::testing::Test::HasFatalFailure())
				return;
		}
	}
};

/*
 * A READ on an empty pipe races a writer (another process), its own timeout
 * and the close: exactly one CQE, and the bytes are either in the buffer
 * (and gone from the pipe) or still in the pipe (and the READ failed).
 */
TEST_F(IoRace, ReadRacesWriterTimeoutAndRelease)
{
	std::mt19937 rng(11);
	const std::string msg = "abcdefgh";
	int outcomes[3] = {};
	loop([&](int) {
		reopen();
		URing r = ring(4, 4);
		int p[2];
		fake::pipe(p);
		char buf[16] = {};
		const u64 timeout = tiny_timeout(rng);
		r.push(read_sqe(1, p[0], buf, sizeof(buf), timeout));
		ASSERT_EQ(enter(0, 1, 0), 1);
		const u32 wspin = rng() % 20000, rspin = rng() % 20000;
		const bool wait_first = rng() % 3 == 0;
		std::thread writer([&] {
			spin(wspin);
			EXPECT_EQ(fake::write(p[1], msg), long(msg.size()));
		});
		if (wait_first && timeout != 0)
			eventually([&] { return r.ctail() == 1; }, 200);
		spin(rspin);
		release();
		writer.join();
		ASSERT_EQ(r.ctail(), 1u);
		const pwring_cqe c = r.cqe_at(0);
		ASSERT_EQ(c.data, 1u);
		if (c.error == 0) {
			outcomes[0]++;
			ASSERT_EQ(c.result, msg.size());
			ASSERT_EQ(std::string(buf, msg.size()), msg);
			ASSERT_EQ(fake::contents(p[0]), "");
		} else {
			outcomes[c.error == ETIMEDOUT ? 1 : 2]++;
			ASSERT_TRUE(c.error == ETIMEDOUT || c.error == ECANCELED) << c.error;
			if (timeout == kNever) {
				ASSERT_EQ(c.error, ECANCELED);
			}
			ASSERT_EQ(c.result, 0u);
			ASSERT_EQ(fake::contents(p[0]), msg) << "a failed READ consumed data";
		}
		expect_all_freed();
	});
	RecordProperty("read_ok", outcomes[0]);
	RecordProperty("timedout", outcomes[1]);
	RecordProperty("cancelled", outcomes[2]);
}

/*
 * Several READs on one pipe while a writer streams numbered bytes: the
 * successful READs took disjoint, contiguous pieces of the stream that
 * together are exactly a prefix of it, and the pipe holds the rest.
 */
TEST_F(IoRace, ReadersOfOneStreamNeverLoseOrDuplicateBytes)
{
	std::mt19937 rng(12);
	const u32 k = 8, n = 40;
	loop([&](int) {
		reopen();
		URing r = ring(16, 16);
		int p[2];
		fake::pipe(p, fake::PipeOpts{64, true});
		unsigned char buf[k][3];
		for (u32 i = 0; i < k; i++)
			r.push(read_sqe(i, p[0], buf[i], 3, tiny_timeout(rng)));
		ASSERT_EQ(enter(0, k, 0), long(k));
		std::vector<u32> chunks;
		for (u32 sent = 0; sent < n;) {
			const u32 c = std::min<u32>(n - sent, 1 + rng() % 5);
			chunks.push_back(c);
			sent += c;
		}
		const u32 rspin = rng() % 40000;
		std::thread writer([&] {
			unsigned char b[5];
			u32 sent = 0;
			for (u32 c : chunks) {
				for (u32 j = 0; j < c; j++)
					b[j] = (unsigned char)(sent + j);
				EXPECT_EQ(fake::write(p[1], b, c), long(c));
				sent += c;
				std::this_thread::yield();
			}
		});
		spin(rspin);
		release();
		writer.join();
		ASSERT_EQ(r.ctail(), k);
		std::vector<int> seen(k, 0);
		std::vector<std::pair<u32, u32>> got;	/* first byte, length */
		for (u32 i = 0; i < k; i++) {
			const pwring_cqe c = r.cqe_at(i);
			ASSERT_LT(c.data, k);
			seen[c.data]++;
			if (c.error) {
				ASSERT_TRUE(c.error == ETIMEDOUT || c.error == ECANCELED) << c.error;
				continue;
			}
			ASSERT_GE(c.result, 1u);
			ASSERT_LE(c.result, 3u);
			const unsigned char *b = buf[c.data];
			for (u32 j = 1; j < c.result; j++)
				ASSERT_EQ(b[j], b[0] + j) << "a READ got bytes that were not contiguous";
			got.push_back({b[0], u32(c.result)});
		}
		for (int s : seen)
			ASSERT_EQ(s, 1);
		std::sort(got.begin(), got.end());
		u32 next = 0;
		for (auto &g : got) {
			ASSERT_EQ(g.first, next) << "bytes lost or read twice";
			next += g.second;
		}
		const std::string rest = fake::contents(p[0]);
		ASSERT_EQ(rest.size(), n - next);
		for (u32 j = 0; j < rest.size(); j++)
			ASSERT_EQ((unsigned char)rest[j], next + j);
		expect_all_freed();
	});
}

/* POLL vs an event from another thread vs its timeout vs close: one CQE, data untouched. */
TEST_F(IoRace, PollRacesEventTimeoutAndRelease)
{
	std::mt19937 rng(13);
	loop([&](int) {
		reopen();
		URing r = ring(4, 4);
		int p[2];
		fake::pipe(p);
		const u64 timeout = tiny_timeout(rng);
		r.push(poll_sqe(1, p[0], PWRING_POLL_READ, timeout));
		ASSERT_EQ(enter(0, 1, 0), 1);
		const u32 wspin = rng() % 20000, rspin = rng() % 20000;
		std::thread writer([&] {
			spin(wspin);
			fake::wake(p[0], 0);	/* someone else's event first */
			EXPECT_EQ(fake::write(p[1], "!"), 1);
		});
		spin(rspin);
		release();
		writer.join();
		ASSERT_EQ(r.ctail(), 1u);
		const pwring_cqe c = r.cqe_at(0);
		if (c.error == 0)
			ASSERT_EQ(c.result, PWRING_POLL_READ);
		else
			ASSERT_TRUE(c.error == ETIMEDOUT || c.error == ECANCELED) << c.error;
		ASSERT_EQ(fake::contents(p[0]), "!");
		expect_all_freed();
	});
}

/*
 * The writer hits the window in which enter is still issuing the READ
 * (armed, poll entry queued, issue not returned): a worker completes it on
 * the other side. No timeout, no close: every READ gets the data, once.
 */
TEST_F(IoRace, WakeupRacesTheIssue)
{
	std::mt19937 rng(14);
	URing r = ring(8, 8);
	int p[2];
	fake::pipe(p);
	u32 done = 0;
	loop([&](int iter) {
		char buf[8] = {};
		r.push(read_sqe(u64(iter), p[0], buf, sizeof(buf)));
		const u32 wspin = rng() % 3000;
		std::atomic<bool> go{false};
		std::thread writer([&] {
			while (!go.load())
				std::this_thread::yield();
			spin(wspin);
			EXPECT_EQ(fake::write(p[1], "xyz"), 3);
		});
		go = true;
		const long rc = enter(0, 1, 0);
		writer.join();
		ASSERT_EQ(rc, 1);
		ASSERT_EQ(enter(0, 0, 1), 0);
		const auto v = reap(r, 1);
		ASSERT_EQ(v.size(), 1u);
		const pwring_cqe c = v[0];
		done++;
		ASSERT_EQ(c.data, u64(iter));
		ASSERT_EQ(c.error, 0);
		ASSERT_EQ(c.result, 3u);
		ASSERT_EQ(std::string(buf, 3), "xyz");
		ASSERT_EQ(fake::contents(p[0]), "");
	});
	EXPECT_EQ(r.ctail(), done);
	EXPECT_TRUE(eventually([&] { return teardown(0) != -EBUSY; }));
}

/*
 * Spurious wakeups hammer READs and POLLs (claim, retry, unclaim over and
 * over) while their timeouts fire and the close cancels them: every packet
 * completes exactly once, and nothing is read because nothing is written.
 */
TEST_F(IoRace, UnclaimRacesTimeoutsAndRelease)
{
	std::mt19937 rng(15);
	const u32 n = 16;
	loop([&](int) {
		reopen();
		URing r = ring(n, n);
		int p[2];
		fake::pipe(p);
		char buf[n][4];
		for (u32 i = 0; i < n; i++) {
			u64 t = tiny_timeout(rng);
			if (t == 0)
				t = 1000;
			if (i % 2)
				r.push(read_sqe(i, p[0], buf[i], 4, t));
			else
				r.push(poll_sqe(i, p[0], PWRING_POLL_READ, t));
		}
		ASSERT_EQ(enter(0, n, 0), long(n));
		std::atomic<bool> stop{false};
		std::thread waker([&] {
			while (!stop.load()) {
				fake::wake(p[0], 0);
				std::this_thread::yield();
			}
		});
		spin(rng() % 100000);
		release();
		stop = true;
		waker.join();
		ASSERT_EQ(r.ctail(), n);
		std::vector<int> seen(n, 0);
		for (u32 i = 0; i < n; i++) {
			const pwring_cqe c = r.cqe_at(i);
			ASSERT_LT(c.data, n);
			seen[c.data]++;
			ASSERT_TRUE(c.error == ETIMEDOUT || c.error == ECANCELED) << c.error;
			ASSERT_EQ(c.result, 0u);
		}
		for (int s : seen)
			ASSERT_EQ(s, 1);
		expect_all_freed();
	});
}

/*
 * READ A => READ B with a thread waiting in enter: the worker completes A
 * when a writer fills pipe A; the waiter dispatches B with the count A
 * saved. Over and over, with the writer racing the issue of A.
 */
TEST_F(IoRace, DeferredSuccessorDispatchedByTheWaiter)
{
	std::mt19937 rng(16);
	URing r = ring(8, 8);
	int a[2], b[2];
	fake::pipe(a);
	fake::pipe(b, fake::PipeOpts{1 << 16, true});
	loop([&](int iter) {
		const u32 len = 1 + rng() % 8;
		std::string bdata;
		for (u32 j = 0; j < 16; j++)
			bdata += char('a' + (iter + j) % 26);
		ASSERT_EQ(fake::write(b[1], bdata), 16);
		char abuf[8], bbuf[16] = {};
		r.push(read_sqe(1, a[0], abuf, sizeof(abuf), kNever, regs(4) | PWRING_LINK));
		r.push(read_sqe(2, b[0], bbuf, 0, kNever, regs(kNone, kNone, kNone, 4)));
		const u32 wspin = rng() % 20000;
		std::thread writer([&] {
			spin(wspin);
			EXPECT_EQ(fake::write(a[1], std::string(len, 'A')), long(len));
		});
		const long rc = enter(0, 2, 2);
		writer.join();
		ASSERT_EQ(rc, 2);
		auto c = reap(r, 2);
		ASSERT_EQ(c.size(), 2u);
		ASSERT_EQ(c[0].data, 1u);
		ASSERT_EQ(c[0].result, len);
		ASSERT_EQ(c[1].data, 2u);
		ASSERT_EQ(c[1].error, 0);
		ASSERT_EQ(c[1].result, len);
		ASSERT_EQ(std::string(bbuf, len), bdata.substr(0, len));
		ASSERT_EQ(fake::read_all(b[0]), bdata.substr(len));
	});
	ASSERT_TRUE(eventually([&] { return teardown(0) != -EBUSY; }));
}

/*
 * READ A => READ B, submitted without waiting; the worker completes A (or
 * not) while the process closes the device: B is never issued (only an
 * enter or the close could dispatch it) and completes ECANCELED.
 */
TEST_F(IoRace, ReleaseRacesDeferral)
{
	std::mt19937 rng(17);
	loop([&](int) {
		reopen();
		URing r = ring(4, 4);
		int a[2], b[2];
		fake::pipe(a);
		fake::pipe(b);
		ASSERT_EQ(fake::write(b[1], "bbbb"), 4);
		char abuf[8], bbuf[8];
		const bool hard = rng() % 2;
		u64 t = tiny_timeout(rng);
		if (t == 0)	/* would fail during enter, and a HARDLINK successor run there */
			t = 1000;
		r.push(read_sqe(1, a[0], abuf, sizeof(abuf), t,
				regs(1) | (hard ? PWRING_HARDLINK : PWRING_LINK)));
		r.push(read_sqe(2, b[0], bbuf, 0, kNever, regs(kNone, kNone, kNone, 1)));
		const size_t fgets_before = fake::fget_log().size();	/* fds are reused */
		ASSERT_EQ(enter(0, 2, 0), 2);
		/* kapi_fget() calls so far: up to enter's own. */
		const size_t fgets_in_enter = fake::fget_log().size();
		const u32 wspin = rng() % 20000;
		std::thread writer([&] {
			spin(wspin);
			EXPECT_EQ(fake::write(a[1], "aa"), 2);
		});
		spin(rng() % 20000);
		release();
		writer.join();
		ASSERT_EQ(r.ctail(), 2u);
		ASSERT_EQ(r.cqe_at(0).data, 1u);
		ASSERT_EQ(r.cqe_at(1).data, 2u);
		/*
		 * B is issued only if A completed while enter was still issuing it
		 * (its timer fired in that window): enter finished A and, for a
		 * HARDLINK, dispatched B right there. Never afterwards: then only
		 * an enter or the close could dispatch it, and the close cancels.
		 */
		const auto log = fake::fget_log();
		bool issued = false;
		for (size_t i = fgets_before; i < log.size(); i++)
			if (log[i].fd == b[0]) {
				ASSERT_LT(i, fgets_in_enter) << "the deferred READ was issued after enter";
				issued = true;
			}
		if (issued) {
			ASSERT_TRUE(hard);
			ASSERT_EQ(r.cqe_at(0).error, ETIMEDOUT);
			ASSERT_EQ(r.cqe_at(1).error, 0);
			ASSERT_EQ(r.cqe_at(1).result, 0u);	/* the count A saved */
		} else {
			ASSERT_EQ(r.cqe_at(1).error, ECANCELED)
				<< "A: error " << r.cqe_at(0).error << (hard ? " HARDLINK" : " LINK");
		}
		ASSERT_EQ(fake::contents(b[0]), "bbbb");
		if (r.cqe_at(0).error == 0)
			ASSERT_EQ(fake::contents(a[0]), "");
		else
			ASSERT_EQ(fake::contents(a[0]), "aa");
		expect_all_freed();
	});
}

/* Register pipeline on threads: READ a pipe =L=> WRITE another, many rounds, order kept. */
TEST_F(IoRace, PipelineCopiesAStream)
{
	std::mt19937 rng(18);
	URing r = ring(8, 8);
	int a[2], b[2];
	fake::pipe(a, fake::PipeOpts{256, true});
	fake::pipe(b, fake::PipeOpts{1 << 16, true});
	std::string sent, copied;
	std::atomic<bool> stop{false};
	std::mutex mu;
	std::thread writer([&] {
		std::mt19937 wr(19);
		u32 seq = 0;
		while (!stop.load()) {
			std::string s;
			const u32 k = 1 + wr() % 16;
			for (u32 j = 0; j < k; j++)
				s += char('a' + (seq + j) % 26);
			std::lock_guard<std::mutex> g(mu);	/* `sent` in pipe order */
			const long w = fake::write(a[1], s);
			if (w > 0) {
				sent += s.substr(0, size_t(w));
				seq += u32(w);
			}
		}
	});
	char buf[32];
	loop([&](int) {
		r.push(read_sqe(1, a[0], buf, 1 + rng() % sizeof(buf), kNever, regs(0) | PWRING_LINK));
		r.push(write_sqe(2, b[1], buf, 0, kNever, regs(kNone, kNone, kNone, 0)));
		ASSERT_EQ(enter(0, 2, 2), 2);
		auto c = reap(r, 2);
		ASSERT_EQ(c.size(), 2u);
		ASSERT_EQ(c[0].error, 0);
		ASSERT_EQ(c[1].error, 0);
		ASSERT_EQ(c[1].result, c[0].result);
		copied += fake::read_all(b[0]);	/* the reader at the other end */
	});
	stop = true;
	writer.join();
	std::lock_guard<std::mutex> g(mu);
	ASSERT_LE(copied.size(), sent.size());
	EXPECT_TRUE(copied == sent.substr(0, copied.size())) << "the copy is not a prefix of the stream";
	EXPECT_TRUE(copied + fake::contents(a[0]) == sent) << "bytes lost or duplicated";
	ASSERT_TRUE(eventually([&] { return teardown(0) != -EBUSY; }));
}

} // namespace
