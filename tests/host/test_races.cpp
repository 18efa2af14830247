// SPDX-License-Identifier: GPL-2.0
/*
 * Races, on real timer threads (two "CPUs" firing hrtimer callbacks): tiny
 * timeouts, cancellation on release, an op completing from another thread,
 * waiters and teardown racing the last completion. Every check is
 * "exactly one CQE per SQE, nothing lost, nothing leaked"; the TSan build
 * checks the memory ordering underneath.
 */
#include "harness.h"

#include <signal.h>
#include <sys/mman.h>

#include <random>

using namespace ht;

namespace {

/*
 * The window tests below look for a few-instruction window in the completion
 * path; they loop for this long (or until they hit it).
 */
constexpr int kWindowMs = 600;

class Race : public CoreTest {
protected:
	void SetUp() override
	{
		CoreTest::SetUp();
		fake::set_timer_mode(fake::TimerMode::Real, 2);
		/* Successors leave the timer callback for a worker: the process lends some. */
		fake::set_work_mode(fake::WorkMode::Threaded);
	}

	/* Reopen the table after a release inside a loop. */
	void reopen()
	{
		if (!t_)
			t_ = pwring_core_open();
		ASSERT_NE(t_, nullptr);
	}

	/* After release: nothing of the core left; then the process unmaps. */
	void expect_all_freed()
	{
		ASSERT_TRUE(fake::live().kernel_clean());
		fake::munmap_all();
		ASSERT_TRUE(fake::live().all_clean());
	}

	static void spin(u32 n)
	{
		for (u32 i = 0; i < n; i++)
			__asm__ volatile("" ::: "memory");
	}

	static u64 tiny_timeout(std::mt19937 &rng)
	{
		static const u64 choices[] = {0, 1, 1, 10, 100, 500, 1000, 2000, 5000, 20000, 100000, kNever};
		return choices[rng() % (sizeof(choices) / sizeof(choices[0]))];
	}
};

TEST_F(Race, ReleaseRacesTinyTimeouts)
{
	std::mt19937 rng(1);
	const u32 n = 64;
	for (int iter = 0; iter < 100 * kStress; iter++) {
		reopen();
		URing r = ring(n, 2 * n);	/* admission is not what this tests */
		std::vector<u64> timeout(n);
		for (u32 i = 0; i < n; i++) {
			timeout[i] = tiny_timeout(rng);
			r.push(nop(i, timeout[i]));
		}
		ASSERT_EQ(enter(0, n, 0), long(n));
		spin(rng() % 20000);
		release();
		ASSERT_EQ(r.ctail(), n);
		std::vector<int> seen(n, 0);
		for (u32 i = 0; i < n; i++) {
			const pwring_cqe c = r.cqe_at(i);
			ASSERT_LT(c.data, n);
			seen[c.data]++;
			const u64 t = timeout[c.data];
			if (t == 0)
				ASSERT_EQ(c.error, ETIMEDOUT);
			else if (t == kNever)
				ASSERT_EQ(c.error, ECANCELED);
			else
				ASSERT_TRUE(c.error == ETIMEDOUT || c.error == ECANCELED) << c.error;
			ASSERT_EQ(c.result, 0u);
		}
		for (int s : seen)
			ASSERT_EQ(s, 1);
		expect_all_freed();
	}
}

TEST_F(Race, ChainsRaceRelease)
{
	std::mt19937 rng(2);
	const u32 n = 64;
	for (int iter = 0; iter < 100 * kStress; iter++) {
		reopen();
		URing r = ring(n, 2 * n);	/* admission is not what this tests */
		/* Random chains; chain[i] = index of i's chain head, kind[i] = its flags. */
		std::vector<u32> chain(n), flags(n);
		u32 head = 0;
		for (u32 i = 0; i < n; i++) {
			if (i == 0 || !(flags[i - 1] & (PWRING_LINK | PWRING_HARDLINK)))
				head = i;
			chain[i] = head;
			const u32 k = rng() % 4;
			flags[i] = i + 1 < n ? (k == 0 ? PWRING_LINK : k == 1 ? PWRING_HARDLINK : 0) : 0;
			r.push(nop(i, tiny_timeout(rng), kNoRegs | flags[i]));
		}
		ASSERT_EQ(enter(0, n, 0), long(n));
		spin(rng() % 20000);
		release();
		ASSERT_EQ(r.ctail(), n);
		std::vector<int> pos(n, -1);
		std::vector<int> err(n, 0);
		for (u32 i = 0; i < n; i++) {
			const pwring_cqe c = r.cqe_at(i);
			ASSERT_LT(c.data, n);
			ASSERT_EQ(pos[c.data], -1) << "two CQEs for " << c.data;
			pos[c.data] = int(i);
			err[c.data] = c.error;
			ASSERT_TRUE(c.error == ETIMEDOUT || c.error == ECANCELED) << c.error;
		}
		for (u32 i = 1; i < n; i++) {
			if (chain[i] != chain[i - 1])
				continue;
			/* Chain order, and a failed SQE_LINK member cancels its successor. */
			ASSERT_LT(pos[i - 1], pos[i]) << "chain member " << i << " before its predecessor";
			if ((flags[i - 1] & PWRING_LINK) && !(flags[i - 1] & PWRING_HARDLINK)) {
				ASSERT_EQ(err[i], ECANCELED);
			}
		}
		expect_all_freed();
	}
}

/* An op completing from another thread races its timeout and release. */
TEST_F(Race, QueuedCompletionRacesTimeoutAndRelease)
{
	std::mt19937 rng(3);
	const u32 n = 64;
	for (int iter = 0; iter < 100 * kStress; iter++) {
		reopen();
		probe_reset();
		URing r = ring(n, 2 * n);	/* admission is not what this tests */
		for (u32 i = 0; i < n; i++) {
			u64 t = tiny_timeout(rng);
			if (t == 0)
				t = 1;
			r.push(make_sqe(PROBE_OP_QUEUED, i, t));
		}
		ASSERT_EQ(enter(0, n, 0), long(n));
		ASSERT_EQ(probe_count(), n);
		std::atomic<bool> go{false};
		std::atomic<u32> wins{0};
		std::thread completer([&] {
			while (!go.load())
				std::this_thread::yield();
			for (u32 i = 0; i < n; i++) {
				probe_record p{};
				probe_get(i, &p);
				wins += u32(probe_complete(i, 0, p.data + 1000));
			}
		});
		go.store(true);
		spin(rng() % 5000);
		release();
		completer.join();
		ASSERT_EQ(r.ctail(), n);
		std::vector<int> seen(n, 0);
		u32 ok = 0, errors = 0;
		for (u32 i = 0; i < n; i++) {
			const pwring_cqe c = r.cqe_at(i);
			ASSERT_LT(c.data, n);
			seen[c.data]++;
			if (c.error == 0) {
				ok++;
				ASSERT_EQ(c.result, c.data + 1000);
			} else {
				errors++;
				ASSERT_TRUE(c.error == ETIMEDOUT || c.error == ECANCELED) << c.error;
				ASSERT_EQ(c.result, 0u);
			}
		}
		for (int s : seen)
			ASSERT_EQ(s, 1);
		ASSERT_EQ(ok, wins.load());
		ASSERT_EQ(probe_frames_run(), n);
		ASSERT_LE(probe_cancels(), errors);
		for (u32 i = 0; i < n; i++) {
			probe_record p{};
			probe_get(i, &p);
			ASSERT_EQ(p.frames_run, 1u);
		}
		expect_all_freed();
	}
}

TEST_F(Race, WaitNeverMissesAWakeup)
{
	std::mt19937 rng(4);
	URing r = ring(32, 32);
	u64 seq = 0;
	for (int iter = 0; iter < 1000 * kStress; iter++) {
		const u32 k = 1 + rng() % 16;
		for (u32 i = 0; i < k; i++) {
			u64 t = tiny_timeout(rng);
			if (t == kNever)
				t = 3000;
			r.push(nop(seq++, t));
		}
		ASSERT_EQ(enter(0, k, k), long(k));
		ASSERT_GE(r.ready(), k);
		ASSERT_EQ(r.drain().size(), k);
	}
	ASSERT_EQ(r.ctail(), u32(seq));
}

TEST_F(Race, ManyNopsStreamThroughSmallRing)
{
	std::mt19937 rng(5);
	const u32 total = 20000 * kStress;
	URing r = ring(64, 32);
	std::vector<uint8_t> seen(total, 0);
	u32 submitted = 0, reaped = 0;
	while (reaped < total) {
		const u32 n = std::min(r.sq_space(), total - submitted);
		for (u32 i = 0; i < n; i++) {
			u64 t = tiny_timeout(rng);
			if (t == kNever)
				t = 50000;
			const u32 link = rng() % 8 == 0 ? PWRING_HARDLINK : 0;
			r.push(nop(submitted + i, t, kNoRegs | link));
		}
		submitted += n;
		const long got = enter(0, ~0ull, 1 + rng() % 4);
		ASSERT_TRUE(got >= 0 || got == -EBUSY) << got;
		ASSERT_LE(r.ready(), 32u);
		pwring_cqe c;
		while (r.pop(&c)) {
			ASSERT_LT(c.data, total);
			ASSERT_EQ(seen[c.data], 0);
			seen[c.data] = 1;
			reaped++;
		}
	}
	EXPECT_EQ(r.shead(), total);
	/* Everything completed: teardown must succeed (see TeardownRightAfterLastCqe). */
	ASSERT_TRUE(eventually([&] { return teardown(0) != -EBUSY; }));
}

/* Teardown polled while the last completions land: EBUSY until idle, then a
 * clean free while a timer callback may still be returning. */
TEST_F(Race, TeardownRacesLastCompletion)
{
	std::mt19937 rng(6);
	for (int iter = 0; iter < 300 * kStress; iter++) {
		URing r = ring(16, 32);	/* room to spare: admission is tested elsewhere */
		const u32 k = 1 + rng() % 16;
		for (u32 i = 0; i < k; i++)
			r.push(nop(i, 1 + rng() % 3000));
		ASSERT_EQ(enter(0, k, 0), long(k));
		long rc;
		while ((rc = teardown(0)) == -EBUSY)
			std::this_thread::yield();
		ASSERT_EQ(rc, 0);	/* the ring is gone now: do not touch r */
		ASSERT_TRUE(only_table_live());
	}
}

/*
 * Once the process sees the CQE of its last request, nothing is in flight
 * any more: teardown must not say EBUSY. The completer posts the CQE under
 * the completion lock and only then decrements the in-flight count; an
 * unlocked idle() check in between sees the request still in flight.
 */
TEST_F(Race, TeardownRightAfterLastCqeIsNotBusy)
{
	int busy = 0;
	const Deadline end(kWindowMs);
	for (int iter = 0; !end.passed() && !busy; iter++) {
		URing r = ring(1, 1);
		r.push(nop(iter, 500));
		ASSERT_EQ(enter(0, 1, 0), 1);
		while (r.ctail() != 1) {
		}
		long rc = teardown(0);
		if (rc == -EBUSY) {
			busy++;
			ASSERT_TRUE(eventually([&] { return (rc = teardown(0)) != -EBUSY; }));
		}
		ASSERT_EQ(rc, 0);
	}
	EXPECT_EQ(busy, 0) << "teardown said EBUSY after the last CQE was visible";
}

/* Same window, seen by admission: a reaped CQE slot must be usable at once. */
TEST_F(Race, ReapedSlotIsAdmittedAtOnce)
{
	URing r = ring(2, 1);
	int busy = 0;
	const Deadline end(kWindowMs);
	for (int iter = 0; !end.passed() && !busy; iter++) {
		r.push(nop(iter, 500));
		const long rc = enter(0, 1, 0);
		if (rc == -EBUSY) {
			busy++;
			break;
		}
		ASSERT_EQ(rc, 1);
		while (r.ctail() != u32(iter + 1)) {
		}
		pwring_cqe c;
		ASSERT_TRUE(r.pop(&c));
	}
	EXPECT_EQ(busy, 0) << "enter said EBUSY with every CQE reaped and nothing in flight";
	ASSERT_TRUE(eventually([&] { return teardown(0) != -EBUSY; }));
}

/* And while a batch fills the CQ: in flight + unreaped stays below centries
 * until the last SQE, so all of them are admitted whatever completes meanwhile. */
TEST_F(Race, BatchFillsTheCqWhileCompletionsLand)
{
	std::mt19937 rng(7);
	const u32 n = 64;
	int short_batches = 0;
	const Deadline end(kWindowMs);
	for (int iter = 0; !end.passed() && !short_batches; iter++) {
		URing r = ring(n, n);
		for (u32 i = 0; i < n; i++)
			r.push(nop(i, 1 + rng() % 2000));
		const long got = enter(0, n, 0);
		if (got != long(n))
			short_batches++;
		ASSERT_TRUE(eventually([&] { return teardown(0) != -EBUSY; }));
	}
	EXPECT_EQ(short_batches, 0) << "enter stopped before the CQ was full";
}

/*
 * Parks the thread whose store to ctrl->ctail comes next, right at that
 * store, as if its CPU stalled there (a preempted vCPU, an NMI; on arm64 the
 * store simply propagates late): the ctrl page is made read-only and a
 * SIGSEGV handler holds the faulting thread until release(). Any other
 * write to the page (enter storing shead, say) just makes it writable again.
 * Only the ctrl page: with 64 SQEs the CQEs are on the next page.
 */
class CtailStall {
public:
	explicit CtailStall(pwring_ctrl *ctrl)
	{
		s_page = reinterpret_cast<char *>(ctrl);
		s_ctail = &ctrl->ctail;
		s_stalled = false;
		s_release = false;
		struct sigaction sa {};
		sa.sa_sigaction = handler;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGSEGV, &sa, &old_);
		mprotect(s_page, 4096, PROT_READ);
	}
	~CtailStall()
	{
		release();
		mprotect(s_page, 4096, PROT_READ | PROT_WRITE);
		sigaction(SIGSEGV, &old_, nullptr);
	}
	static bool stalled() { return s_stalled.load(); }
	static void release() { s_release = true; }

private:
	static void handler(int, siginfo_t *si, void *)
	{
		char *a = static_cast<char *>(si->si_addr);
		if (a < s_page || a >= s_page + 4096) {
			signal(SIGSEGV, SIG_DFL);	/* a real crash: fault again, for good */
			return;
		}
		if (a == reinterpret_cast<char *>(s_ctail) && !s_stalled.exchange(true))
			while (!s_release.load())
				__asm__ volatile("pause" ::: "memory");
		mprotect(s_page, 4096, PROT_READ | PROT_WRITE);
	}
	static inline char *s_page;
	static inline unsigned *s_ctail;
	static inline std::atomic<bool> s_stalled, s_release;
	struct sigaction old_ {};
};

/*
 * enter(wait = 1) returns only once the CQE it waited for is visible to the
 * process: spec section 2, "sleeps until at least `wait` CQEs are available
 * to the user (ctail - chead >= wait)". The wait condition looks at the
 * kernel's private CQ tail, which Ring::post_locked() publishes just before
 * the shared ctail: a completer stalled between the two stores lets enter
 * return with the CQE not there yet.
 */
TEST_F(Race, WaitReturnsOnlyOnceTheCqeIsVisible)
{
	URing r = ring(64, 4);
	ASSERT_GE(reinterpret_cast<char *>(r.cq), reinterpret_cast<char *>(r.ctrl) + 4096);
	r.push(make_sqe(PROBE_OP_QUEUED, 1, kNever));
	ASSERT_EQ(enter(0, 1, 0), 1);
	long seen = -1;
	bool returned_while_stalled = false;
	{
		CtailStall stall(r.ctrl);
		std::thread completer([] { EXPECT_EQ(probe_complete(0, 0, 1), 1); });
		EXPECT_TRUE(eventually([] { return CtailStall::stalled(); }))
			<< "the completer never reached its ctail store";
		Async waiter([&] {
			const long rc = enter(0, 0, 1);
			return rc == 0 ? long(r.ready()) : rc - 1000;
		});
		/* Correct: the waiter waits for the stalled completer. The bug: it returns. */
		returned_while_stalled = eventually([&] { return waiter.done(); }, 300);
		CtailStall::release();
		completer.join();
		seen = waiter.join();
	}
	EXPECT_EQ(seen, 1) << "enter(wait 1) returned 0 with " << seen << " CQE(s) visible in ctail"
			   << (returned_while_stalled ? ", while the completer had not published it" : "");
	ASSERT_EQ(r.ctail(), 1u);
	EXPECT_EQ(teardown(0), 0);
}

TEST_F(Race, ConcurrentEntersShareNothing)
{
	const u32 n = 256;
	for (int iter = 0; iter < 20 * kStress; iter++) {
		URing r = ring(n, n);
		for (u32 i = 0; i < n; i++)
			r.push(nop(i, i % 3 ? 0 : 1 + i % 100));
		std::atomic<u32> consumed{0};
		std::atomic<u32> busy{0};
		auto worker = [&] {
			while (consumed.load() < n) {
				const long rc = enter(0, 1 + consumed.load() % 3, 0);
				if (rc == -EBUSY)
					busy++;
				else if (rc > 0)
					consumed += u32(rc);
				else
					ASSERT_EQ(rc, 0);
			}
		};
		std::thread a(worker), b(worker);
		a.join();
		b.join();
		ASSERT_EQ(consumed.load(), n);
		ASSERT_EQ(r.shead(), n);
		ASSERT_TRUE(eventually([&] { return r.ctail() == n; }));
		std::vector<int> seen(n, 0);
		for (u32 i = 0; i < n; i++)
			seen[r.cqe_at(i).data]++;
		for (int s : seen)
			ASSERT_EQ(s, 1);
		ASSERT_TRUE(eventually([&] { return teardown(0) != -EBUSY; }));
		ASSERT_TRUE(only_table_live());
	}
}

TEST_F(Race, SavedRegisterVisibleWithItsCqe)
{
	URing r = ring(4, 4);
	const u32 n = 2000 * u32(kStress);
	auto value = [](u32 i) { return 0x5000000000ull + i; };
	/* Completes queued probe i from another thread as soon as it is issued. */
	std::thread completer([&] {
		for (u32 i = 0; i < n; i++) {
			while (probe_count() <= i)
				std::this_thread::yield();
			EXPECT_EQ(probe_complete(i, 0, value(i)), 1);
		}
	});
	for (u32 i = 0; i < n; i++) {
		r.push(make_sqe(PROBE_OP_QUEUED, i, kNever, regs(2)));
		ASSERT_EQ(enter(0, 1, 0), 1);
		while (r.ctail() != i + 1)
			std::this_thread::yield();
		/* ctail was read with acquire: the register saved before it must show. */
		ASSERT_EQ(__atomic_load_n(&r.ctrl->regs[2], __ATOMIC_RELAXED), value(i));
		pwring_cqe c;
		ASSERT_TRUE(r.pop(&c));
		ASSERT_EQ(c.result, value(i));
	}
	completer.join();
}

TEST_F(Race, EveryRingOfTheTableAtOnce)
{
	const int rings = 8;
	std::vector<URing> v;
	for (int k = 0; k < rings; k++)
		v.push_back(ring(16, 16));
	std::vector<std::thread> th;
	std::atomic<int> failures{0};
	for (int k = 0; k < rings; k++)
		th.emplace_back([&, k] {
			std::mt19937 rng(100 + k);
			URing &r = v[k];
			u64 seq = 0;
			for (int iter = 0; iter < 100 * kStress; iter++) {
				const u32 n = 1 + rng() % 8;
				for (u32 i = 0; i < n; i++)
					r.push(nop(seq++, 1 + rng() % 5000));
				if (enter(u64(k), n, n) != long(n))
					failures++;
				for (const auto &c : r.drain())
					if (c.error != ETIMEDOUT)
						failures++;
			}
			/* Leave some in flight for release. */
			for (u32 i = 0; i < 8; i++)
				r.push(nop(seq++, i % 2 ? kNever : 1 + rng() % 5000));
			if (enter(u64(k), 8, 0) != 8)
				failures++;
		});
	for (auto &t : th)
		t.join();
	EXPECT_EQ(failures.load(), 0);
	release();
	for (int k = 0; k < rings; k++) {
		const u32 total = v[k].ctail();
		EXPECT_EQ(total, v[k].shead());
		EXPECT_EQ(v[k].ready(), 8u);
	}
	expect_all_freed();
}

} // namespace
