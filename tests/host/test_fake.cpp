// SPDX-License-Identifier: GPL-2.0
/*
 * The fake kapi itself: its clock, its workqueue, its files, and that it
 * really enforces the kernel rules it claims to (otherwise the other tests
 * prove less than they say). The kernel callbacks are redirected here to
 * on_timer()/on_work(), so no core packet is involved.
 */
#include "harness.h"

#include <cstdlib>
#include <mutex>

#include "../../module/core/kapi.h"

using namespace ht;

namespace {

struct Log;

struct Cell {
	Log *log;
	int id;
};

struct Log {
	std::mutex mu;
	std::vector<int> order;		/* timer callbacks */
	std::vector<int> work;		/* work callbacks */
	std::vector<fake::Ctx> ctx;	/* context of each callback */
	std::vector<int> atomic;	/* kapi_in_atomic() in each callback */
	kapi_ios *set = nullptr;
	int action = 0;
	std::atomic<int> inside{0}, max_inside{0};
	std::atomic<int> requeue{0};
	std::function<void(Cell *)> work_fn;
};


void on_timer(void *arg)
{
	Cell *c = static_cast<Cell *>(arg);
	{
		std::lock_guard<std::mutex> g(c->log->mu);
		c->log->order.push_back(c->id);
		c->log->ctx.push_back(fake::context());
		c->log->atomic.push_back(kapi_in_atomic());
	}
	switch (c->log->action) {
	case 1:
		kapi_free(kapi_zalloc(8));	/* allocating in hard IRQ */
		break;
	case 2:
		kapi_timer_cancel(fake::io_at(c->log->set, unsigned(c->id)));	/* its own timer */
		break;
	case 3:
		kapi_mdl_release(fake::io_at(c->log->set, unsigned(c->id)));	/* may sleep */
		break;
	case 4:
		kapi_queue_work(fake::io_at(c->log->set, unsigned(c->id)));	/* fine anywhere */
		break;
	default:
		break;
	}
}

void on_work(void *arg)
{
	Cell *c = static_cast<Cell *>(arg);
	Log *l = c->log;
	const int in = ++l->inside;
	int m = l->max_inside.load();
	while (in > m && !l->max_inside.compare_exchange_weak(m, in)) {
	}
	{
		std::lock_guard<std::mutex> g(l->mu);
		l->work.push_back(c->id);
		l->ctx.push_back(fake::context());
		l->atomic.push_back(kapi_in_atomic());
	}
	if (l->requeue.load() > 0) {
		l->requeue--;
		kapi_queue_work(fake::io_at(l->set, unsigned(c->id)));	/* queued while running */
	}
	if (l->work_fn)
		l->work_fn(c);
	--l->inside;
}

class FakeKapi : public ::testing::Test {
protected:
	void SetUp() override
	{
		fake::reset();
		fake::set_io_callbacks(on_timer, on_work);
	}
	void TearDown() override
	{
		if (log.set)
			kapi_ios_destroy(log.set, 4, 4);
		log.set = nullptr;
		fake::close_all();
		EXPECT_TRUE(fake::live().all_clean());
		fake::reset();
	}

	Log log;
	Cell cells[4] = {{&log, 0}, {&log, 1}, {&log, 2}, {&log, 3}};

	void make_ios()
	{
		log.set = kapi_ios_create(4, nullptr, nullptr, nullptr);
		ASSERT_NE(log.set, nullptr);
		for (unsigned i = 0; i < 4; i++)
			ASSERT_EQ(kapi_io_init(log.set, i, &cells[i]), fake::io_at(log.set, i));
	}
	kapi_io *io(unsigned i) { return fake::io_at(log.set, i); }
	/* Companions set up, a 4-byte regular file held, a buffer pinned on io(0). */
	struct file *file_with_pinned_buffer()
	{
		static char b[4];
		make_ios();
		struct file *f = kapi_fget(unsigned(fake::regular_file("abcd")));
		kapi_mdl_pin(io(0), uaddr(b), 4, 1);
		return f;
	}
};

TEST_F(FakeKapi, ManualClockRunsCallbacksInDeadlineOrder)
{
	make_ios();
	kapi_timer_start(io(0), 300);
	kapi_timer_start(io(1), 100);
	kapi_timer_start(io(2), 200);
	kapi_timer_start(io(3), 400);
	kapi_timer_cancel(io(3));
	fake::advance(250);
	EXPECT_EQ(log.order, (std::vector<int>{1, 2}));
	EXPECT_EQ(fake::now(), 250u);
	kapi_timer_start(io(1), 10);	/* restarted: counts from now */
	fake::advance(1000);
	EXPECT_EQ(log.order, (std::vector<int>{1, 2, 1, 0}));
	for (fake::Ctx c : log.ctx)
		EXPECT_EQ(c, fake::Ctx::Irq);
	for (int a : log.atomic)
		EXPECT_TRUE(a) << "kapi_in_atomic() is false in a timer callback";
	EXPECT_FALSE(kapi_in_atomic());
	kapi_ios_destroy(log.set, 4, 4);
	log.set = nullptr;
	EXPECT_TRUE(fake::live().all_clean());
}

TEST_F(FakeKapi, RealTimersFireAndCancelWaits)
{
	fake::set_timer_mode(fake::TimerMode::Real, 2);
	make_ios();
	kapi_timer_start(io(0), 1000);
	kapi_timer_start(io(1), 60'000'000'000ull);
	ASSERT_TRUE(eventually([&] { return fake::callbacks_run() == 1; }));
	kapi_timer_cancel(io(1));
	kapi_ios_destroy(log.set, 4, 4);
	log.set = nullptr;
	EXPECT_EQ(log.order, (std::vector<int>{0}));
}

TEST_F(FakeKapi, StaleTimerRefsAreSafe)
{
	make_ios();
	kapi_timer_start(io(2), 100);
	const auto t = fake::pending_timers();
	ASSERT_EQ(t.size(), 1u);
	EXPECT_EQ(t[0].index, 2u);
	kapi_ios_destroy(log.set, 4, 4);
	log.set = nullptr;
	EXPECT_FALSE(fake::fire(t[0]));
	EXPECT_TRUE(fake::pending_timers().empty());
}

TEST_F(FakeKapi, WorkQueueCoalescesPendingItems)
{
	make_ios();
	kapi_queue_work(io(1));
	kapi_queue_work(io(1));	/* already pending: nothing */
	kapi_queue_work(io(3));
	EXPECT_EQ(fake::work_queued(), 2);
	EXPECT_EQ(fake::work_coalesced(), 1);
	EXPECT_EQ(fake::work_pending(), 2);
	EXPECT_TRUE(log.work.empty());	/* manual mode: only when drained */
	EXPECT_EQ(fake::run_work(), 2);
	EXPECT_EQ(log.work, (std::vector<int>{1, 3}));
	for (fake::Ctx c : log.ctx)
		EXPECT_EQ(c, fake::Ctx::Work);
	for (int a : log.atomic)
		EXPECT_FALSE(a);
	EXPECT_EQ(fake::run_work(), 0);
}

TEST_F(FakeKapi, WorkQueuedWhileRunningRunsAgainAfterwards)
{
	make_ios();
	log.requeue = 2;
	kapi_queue_work(io(0));
	EXPECT_EQ(fake::run_work(), 3);
	EXPECT_EQ(log.work, (std::vector<int>{0, 0, 0}));
	EXPECT_EQ(log.max_inside.load(), 1);
}

TEST_F(FakeKapi, TimerCallbackMayQueueWork)
{
	make_ios();
	log.action = 4;
	kapi_timer_start(io(2), 10);
	fake::advance(10);
	EXPECT_EQ(fake::work_pending(), 1);
	EXPECT_EQ(fake::run_work(), 1);
	EXPECT_EQ(log.work, (std::vector<int>{2}));
}

/* Many threads queue the same items while several workers run them: never twice at once. */
TEST_F(FakeKapi, ThreadedWorkIsNonReentrant)
{
	fake::set_work_mode(fake::WorkMode::Threaded, 4);
	make_ios();
	std::atomic<int> per_item_inside[4] = {};
	std::atomic<bool> overlap{false};
	log.work_fn = [&](Cell *c) {
		if (per_item_inside[c->id]++ != 0)
			overlap = true;
		std::this_thread::yield();
		per_item_inside[c->id]--;
	};
	std::vector<std::thread> th;
	for (int k = 0; k < 4; k++)
		th.emplace_back([&, k] {
			for (int i = 0; i < 500 * kStress; i++)
				kapi_queue_work(io(unsigned(i + k) % 4));
		});
	for (auto &t : th)
		t.join();
	ASSERT_TRUE(fake::work_idle());
	EXPECT_FALSE(overlap.load());
	EXPECT_EQ(fake::work_runs(), fake::work_queued());
	EXPECT_EQ(fake::work_queued() + fake::work_coalesced(), 4 * 500 * kStress);
}

/* kapi_ios_destroy() waits for a running work item, like cancel_work_sync(). */
TEST_F(FakeKapi, DestroyWaitsForRunningWork)
{
	fake::set_work_mode(fake::WorkMode::Threaded, 1);
	make_ios();
	std::atomic<bool> entered{false}, leave{false}, left{false};
	log.work_fn = [&](Cell *) {
		entered = true;
		while (!leave.load())
			std::this_thread::yield();
		left = true;
	};
	kapi_queue_work(io(3));
	ASSERT_TRUE(eventually([&] { return entered.load(); }));
	kapi_queue_work(io(1));	/* pending behind it: cancelled, never runs */
	Async destroyer([&] {
		kapi_ios_destroy(log.set, 4, 4);
		return long(left.load());
	});
	std::this_thread::sleep_for(std::chrono::milliseconds(20));
	EXPECT_FALSE(destroyer.done());
	leave = true;
	EXPECT_EQ(destroyer.join(), 1);
	log.set = nullptr;
	EXPECT_EQ(log.work, (std::vector<int>{3}));
}

TEST_F(FakeKapi, UserMemoryRules)
{
	void *k = nullptr;
	kapi_mem *m = kapi_mem_alloc(2, &k);
	ASSERT_NE(m, nullptr);
	EXPECT_EQ(reinterpret_cast<uintptr_t>(k) % 4096, 0u);
	unsigned long ua = 0;
	EXPECT_EQ(kapi_mem_map_user(nullptr, m, 0x7f0000000000ul, &ua), 0);
	EXPECT_EQ(ua, 0x7f0000000000ul);
	unsigned long ua2 = 0;
	EXPECT_EQ(kapi_mem_map_user(nullptr, m, 0x7f0000001000ul, &ua2), -EEXIST);
	EXPECT_EQ(fake::user_ptr(ua + 4100), static_cast<char *>(k) + 4100);
	int v = 42;
	EXPECT_EQ(kapi_copy_to_user(ua + 8, &v, sizeof(v)), 0);
	EXPECT_EQ(*reinterpret_cast<int *>(static_cast<char *>(k) + 8), 42);
	EXPECT_EQ(kapi_copy_to_user(100, &v, sizeof(v)), -EFAULT);
	EXPECT_EQ(kapi_copy_to_user(ua + 8192 - 2, &v, sizeof(v)), -EFAULT);
	kapi_mem_free(m);
	/* The mapping keeps the pages. */
	EXPECT_EQ(fake::live().page_buffers, 1);
	EXPECT_EQ(*reinterpret_cast<int *>(fake::user_ptr(ua + 8)), 42);
	EXPECT_TRUE(fake::munmap(ua));
	EXPECT_TRUE(fake::live().all_clean());
}

TEST_F(FakeKapi, FileReferencesAreCounted)
{
	int p[2];
	fake::pipe(p);
	const int n = fake::devnull();
	EXPECT_EQ(fake::live().files, 3);
	struct file *f = kapi_fget(unsigned(p[0]));
	ASSERT_NE(f, nullptr);
	EXPECT_EQ(kapi_fget(999), nullptr);
	EXPECT_EQ(kapi_fget(0x80000000u), nullptr);
	EXPECT_EQ(kapi_file_caps(f),
		  unsigned(KAPI_F_READ | KAPI_F_POLL | KAPI_F_NOWAIT_READ | KAPI_F_NOWAIT_WRITE));
	EXPECT_EQ(fake::live().file_refs, 1);
	fake::close(p[0]);
	EXPECT_EQ(fake::live().files, 3);	/* the core's reference keeps it */
	EXPECT_EQ(kapi_poll_mask(f), 0u);
	kapi_fput(f);
	EXPECT_EQ(fake::live().file_refs, 0);
	EXPECT_EQ(fake::live().files, 2);
	/* The reader is gone: the writer sees ERR and EPIPE. */
	EXPECT_EQ(fake::write(p[1], "x"), -EPIPE);
	fake::close(p[1]);
	fake::close(n);
	const auto log_ = fake::fget_log();
	ASSERT_EQ(log_.size(), 3u);
	EXPECT_TRUE(log_[0].ok);
	EXPECT_FALSE(log_[1].ok);
	EXPECT_EQ(log_[0].ctx, fake::Ctx::Task);
}

TEST_F(FakeKapi, PipeSemantics)
{
	int p[2];
	fake::pipe(p, fake::PipeOpts{8, true});
	struct file *r = kapi_fget(unsigned(p[0])), *w = kapi_fget(unsigned(p[1]));
	EXPECT_EQ(kapi_poll_mask(r), 0u);
	EXPECT_EQ(kapi_poll_mask(w), unsigned(fake::kOut | fake::kWrNorm));
	EXPECT_EQ(fake::write(p[1], "0123456789"), 8);	/* partial: capacity 8 */
	EXPECT_EQ(fake::write(p[1], "x"), -EAGAIN);
	EXPECT_EQ(kapi_poll_mask(w), 0u);
	EXPECT_EQ(kapi_poll_mask(r), unsigned(fake::kIn | fake::kRdNorm));
	EXPECT_EQ(fake::contents(p[0]), "01234567");
	char buf[4];
	EXPECT_EQ(fake::read(p[0], buf, 3), 3);
	EXPECT_EQ(std::string(buf, 3), "012");
	EXPECT_EQ(fake::pipe_space(p[1]), 3u);
	EXPECT_EQ(fake::read_all(p[0]), "34567");
	EXPECT_EQ(fake::read(p[0], buf, 3), -EAGAIN);
	fake::close(p[1]);
	EXPECT_EQ(kapi_poll_mask(r), 0u);	/* our reference keeps the writer open */
	kapi_fput(w);
	EXPECT_EQ(kapi_poll_mask(r), unsigned(fake::kHup));
	EXPECT_EQ(fake::read(p[0], buf, 3), 0);	/* EOF */
	kapi_fput(r);
}

/* A poll wakeup only queues the entry's work item, filtered by its key. */
TEST_F(FakeKapi, PollWakeupsQueueTheWorkItem)
{
	make_ios();
	int p[2];
	fake::pipe(p);
	struct file *f = kapi_fget(unsigned(p[0]));
	EXPECT_EQ(kapi_poll_arm(io(2), f, fake::kIn | fake::kHup), 0u);
	EXPECT_EQ(fake::live().poll_entries, 1);
	EXPECT_EQ(fake::poll_waiters(p[0]), 1);
	fake::wake(p[0], fake::kOut);	/* someone else's event: filtered out */
	EXPECT_EQ(fake::work_pending(), 0);
	EXPECT_EQ(fake::io_counts().wakeups_filtered, 1);
	EXPECT_EQ(fake::write(p[1], "ab"), 2);
	EXPECT_EQ(fake::write(p[1], "cd"), 2);	/* coalesced: still pending */
	EXPECT_EQ(fake::work_pending(), 1);
	EXPECT_EQ(fake::run_work(), 1);
	EXPECT_EQ(log.work, (std::vector<int>{2}));
	fake::close(p[1]);		/* HUP: woken without a key */
	EXPECT_EQ(fake::run_work(), 1);
	kapi_poll_disarm(io(2));
	EXPECT_EQ(fake::live().poll_entries, 0);
	EXPECT_EQ(fake::poll_waiters(p[0]), 0);
	fake::wake(p[0], 0);
	EXPECT_EQ(fake::work_pending(), 0);
	kapi_fput(f);
}

/* kapi_rw through a pinned buffer: positions, pread, skip, EAGAIN when uncached, EFAULT ranges. */
TEST_F(FakeKapi, MdlAndRw)
{
	make_ios();
	const int fd = fake::regular_file("hello, world");
	struct file *f = kapi_fget(unsigned(fd));
	char buf[8] = {};
	static char bad[64];
	fake::bad_user_range(uaddr(bad), sizeof(bad));
	EXPECT_EQ(kapi_mdl_pin(io(0), uaddr(bad) + 8, 4, 1), -EFAULT);
	EXPECT_EQ(kapi_mdl_pin(io(0), 100, 4, 1), -EFAULT);
	EXPECT_EQ(kapi_mdl_pin(io(0), ~0ul - 2, 4, 1), -EFAULT);
	EXPECT_EQ(fake::live().pinned, 0);
	ASSERT_EQ(kapi_mdl_pin(io(0), uaddr(buf), 5, 1), 5);
	EXPECT_EQ(fake::live().pinned, 1);
	EXPECT_EQ(kapi_file_caps(f) & (KAPI_F_NOWAIT_READ | KAPI_F_NOWAIT_WRITE),
		  unsigned(KAPI_F_NOWAIT_READ));
	fake::set_uncached(fd, true);
	EXPECT_EQ(kapi_rw(io(0), f, 0, -1, 0, 1), -EAGAIN);	/* not cached: only a worker reads */
	std::vector<long> got;
	log.work_fn = [&](Cell *) {
		kapi_block_begin(io(0));	/* blocking calls only where they can be broken */
		got.push_back(kapi_rw(io(0), f, 0, -1, 0, 0));
		got.push_back(kapi_rw(io(0), f, 0, 7, 0, 0));
		got.push_back(kapi_rw(io(0), f, 0, 100, 0, 0));
		got.push_back(kapi_rw(io(0), f, 0, 0, 3, 0));	/* offset 0 + 3 into buf + 3 */
		kapi_block_end(io(0));
	};
	kapi_queue_work(io(0));
	fake::run_work();
	EXPECT_EQ(got, (std::vector<long>{5, 5, 0, 2}));
	EXPECT_EQ(std::string(buf, 5), "worlo");
	EXPECT_EQ(fake::file_pos(fd), 5);	/* only the -1 read moved it */
	kapi_mdl_release(io(0));
	kapi_mdl_release(io(0));	/* nothing pinned: harmless */
	EXPECT_EQ(fake::live().pinned, 0);
	EXPECT_EQ(fake::io_counts().unpins, 1);
	kapi_fput(f);
}

/* A buffer that runs into an unmapped page is pinned up to that page. */
TEST_F(FakeKapi, PartlyMappedBufferIsPinnedUpToTheHole)
{
	make_ios();
	void *mem = std::aligned_alloc(4096, 3 * 4096);
	const unsigned long base = uaddr(mem);
	fake::bad_user_range(base + 2 * 4096 + 100, 10);	/* the third page is unmapped */
	EXPECT_EQ(kapi_mdl_pin(io(0), base + 10, 3 * 4096 - 10, 1), 2 * 4096 - 10);
	EXPECT_EQ(fake::io_counts().short_pins, 1);
	kapi_mdl_release(io(0));
	EXPECT_EQ(kapi_mdl_pin(io(1), base + 2 * 4096, 50, 1), -EFAULT);
	EXPECT_EQ(kapi_mdl_pin(io(1), base, 4096, 1), 4096);
	kapi_mdl_release(io(1));
	std::free(mem);
}

using FakeKapiDeathTest = FakeKapi;

TEST_F(FakeKapiDeathTest, AllocatingInTimerCallbackAborts)
{
	EXPECT_DEATH(
		{
			make_ios();
			log.action = 1;
			kapi_timer_start(io(0), 10);
			fake::advance(10);
		},
		"hard IRQ");
}

TEST_F(FakeKapiDeathTest, CancellingOwnTimerFromCallbackAborts)
{
	EXPECT_DEATH(
		{
			make_ios();
			log.action = 2;
			kapi_timer_start(io(1), 10);
			fake::advance(10);
		},
		"own callback");
}

TEST_F(FakeKapiDeathTest, MdlReleaseInTimerCallbackAborts)
{
	EXPECT_DEATH(
		{
			make_ios();
			log.action = 3;
			kapi_timer_start(io(1), 10);
			fake::advance(10);
		},
		"kapi_mdl_release in atomic context");
}

TEST_F(FakeKapiDeathTest, FgetInWorkItemAborts)
{
	EXPECT_DEATH(
		{
			make_ios();
			log.work_fn = [](Cell *) { kapi_fget(3); };
			kapi_queue_work(io(0));
			fake::run_work();
		},
		"kapi_fget called from a work item");
}

TEST_F(FakeKapiDeathTest, BlockingRwOutsideWorkItemAborts)
{
	EXPECT_DEATH(
		{
			struct file *f = file_with_pinned_buffer();
			kapi_rw(io(0), f, 0, -1, 0, 0);
		},
		"blocking kapi_rw outside a work item");
}

TEST_F(FakeKapiDeathTest, BlockingRwThatCannotBeInterruptedAborts)
{
	EXPECT_DEATH(
		{
			struct file *f = file_with_pinned_buffer();
			log.work_fn = [&](Cell *) { kapi_rw(io(0), f, 0, -1, 0, 0); };
			kapi_queue_work(io(0));
			fake::run_work();
		},
		"blocking kapi_rw outside kapi_block_begin/end");
}

TEST_F(FakeKapiDeathTest, ReadIntoReadOnlyPinAborts)
{
	EXPECT_DEATH(
		{
			make_ios();
			char b[4];
			const int fd = fake::devnull();
			struct file *f = kapi_fget(unsigned(fd));
			kapi_mdl_pin(io(0), uaddr(b), 4, 0);
			kapi_rw(io(0), f, 0, -1, 0, 1);
		},
		"FOLL_WRITE");
}

TEST_F(FakeKapiDeathTest, DoubleFputAborts)
{
	EXPECT_DEATH(
		{
			const int fd = fake::devnull();
			struct file *f = kapi_fget(unsigned(fd));
			kapi_fput(f);
			kapi_fput(f);
		},
		"double fput");
}

TEST_F(FakeKapiDeathTest, DestroyWithPollEntriesAborts)
{
	EXPECT_DEATH(
		{
			make_ios();
			int p[2];
			fake::pipe(p);
			kapi_poll_arm(io(3), kapi_fget(unsigned(p[0])), fake::kIn);
			kapi_ios_destroy(log.set, 4, 4);
		},
		"still has a poll entry");
}

TEST_F(FakeKapiDeathTest, PinTwiceWithoutReleaseAborts)
{
	EXPECT_DEATH(
		{
			make_ios();
			char b[4];
			kapi_mdl_pin(io(0), uaddr(b), 4, 1);
			kapi_mdl_pin(io(0), uaddr(b), 4, 1);
		},
		"never released");
}

TEST_F(FakeKapiDeathTest, RecursiveSpinlockAborts)
{
	EXPECT_DEATH(
		{
			kapi_lock *l = kapi_lock_create();
			kapi_lock_irqsave(l);
			kapi_lock_irqsave(l);
		},
		"recursive");
}

TEST_F(FakeKapiDeathTest, SleepingUnderSpinlockAborts)
{
	EXPECT_DEATH(
		{
			kapi_lock *l = kapi_lock_create();
			kapi_lock_irqsave(l);
			kapi_zalloc(1);
		},
		"spinlock");
}

TEST_F(FakeKapiDeathTest, DoubleFreeAborts)
{
	EXPECT_DEATH(
		{
			void *p = kapi_zalloc(16);
			kapi_free(p);
			kapi_free(p);
		},
		"freed twice");
}

} // namespace
