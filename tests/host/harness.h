/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared pieces of the host tests: a fixture that opens a ring table on the
 * fake kapi and checks for leaks after release, and a user-side view of a
 * ring (SQ producer, CQ consumer) that works through the ring descriptor
 * that setup wrote, exactly as a process would.
 */
#ifndef PWRING_HOST_HARNESS_H
#define PWRING_HOST_HARNESS_H

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <linux/types.h>

#include "../../module/core/pwring_core.h"
#include "../../uapi/pwring.h"
#include "fake_kapi.h"
#include "probe_op.h"

namespace ht {

using u32 = uint32_t;
using u64 = uint64_t;

constexpr u64 kNever = PWRING_TIMEOUT_NEVER;
constexpr u32 kNone = PWRING_REG_NONE;

/* Flags word from specifiers; defaults: no register at all. */
constexpr u32 regs(u32 save = kNone, u32 l0 = kNone, u32 l1 = kNone, u32 l2 = kNone,
		   u32 l3 = kNone, u32 l4 = kNone)
{
	return (l0 << PWRING_LOAD0) | (l1 << PWRING_LOAD1) | (l2 << PWRING_LOAD2) |
	       (l3 << PWRING_LOAD3) | (l4 << PWRING_LOAD4) | (save << PWRING_SAVE);
}
/* Every load and save specifier REG_NONE (what PWRING_NO_REGS should be). */
constexpr u32 kNoRegs = regs();
static_assert(kNoRegs == 0x3ffffu, "all six specifiers");

inline pwring_sqe make_sqe(u32 op, u64 data, u64 timeout, u32 flags = kNoRegs,
			   u64 a0 = 0, u64 a1 = 0, u64 a2 = 0, u64 a3 = 0, u64 a4 = 0)
{
	pwring_sqe s{};
	s.timeout = timeout;
	s.data = data;
	s.op = op;
	s.flags = flags;
	s.arg0 = a0;
	s.arg1 = a1;
	s.arg2 = a2;
	s.arg3 = a3;
	s.arg4 = a4;
	return s;
}

inline pwring_sqe nop(u64 data, u64 timeout, u32 flags = kNoRegs)
{
	return make_sqe(PWRING_OP_NOP, data, timeout, flags);
}

inline u64 uaddr(const void *p) { return reinterpret_cast<u64>(p); }

/* READ/WRITE: fd, buffer, count, offset (-1: the file position). */
inline pwring_sqe read_sqe(u64 data, int fd, void *buf, u64 count, u64 timeout = kNever,
			   u32 flags = kNoRegs, int64_t offset = PWRING_OFF_CUR)
{
	return make_sqe(PWRING_OP_READ, data, timeout, flags, u64(int64_t(fd)), uaddr(buf), count,
			u64(offset));
}
inline pwring_sqe write_sqe(u64 data, int fd, const void *buf, u64 count, u64 timeout = kNever,
			   u32 flags = kNoRegs, int64_t offset = PWRING_OFF_CUR)
{
	return make_sqe(PWRING_OP_WRITE, data, timeout, flags, u64(int64_t(fd)), uaddr(buf), count,
			u64(offset));
}
/* POLL: fd, PatchworkOS event bits. */
inline pwring_sqe poll_sqe(u64 data, int fd, u64 events, u64 timeout = kNever, u32 flags = kNoRegs)
{
	return make_sqe(PWRING_OP_POLL, data, timeout, flags, u64(int64_t(fd)), events);
}

/* The process's side of one ring, through the user addresses in the descriptor. */
struct URing {
	pwring_ring_info info{};
	pwring_ctrl *ctrl = nullptr;
	pwring_sqe *sq = nullptr;
	pwring_cqe *cq = nullptr;

	void attach(const pwring_ring_info &i)
	{
		info = i;
		ctrl = static_cast<pwring_ctrl *>(fake::user_ptr(i.ctrl));
		sq = static_cast<pwring_sqe *>(fake::user_ptr(i.squeue));
		cq = static_cast<pwring_cqe *>(fake::user_ptr(i.cqueue));
	}
	u32 id() const { return u32(info.id); }
	u32 shead() const { return __atomic_load_n(&ctrl->shead, __ATOMIC_ACQUIRE); }
	u32 ctail() const { return __atomic_load_n(&ctrl->ctail, __ATOMIC_ACQUIRE); }
	u32 stail() const { return __atomic_load_n(&ctrl->stail, __ATOMIC_RELAXED); }
	u32 chead() const { return __atomic_load_n(&ctrl->chead, __ATOMIC_RELAXED); }
	void set_stail(u32 v) { __atomic_store_n(&ctrl->stail, v, __ATOMIC_RELEASE); }
	void set_chead(u32 v) { __atomic_store_n(&ctrl->chead, v, __ATOMIC_RELEASE); }
	u64 reg(u32 r) const { return __atomic_load_n(&ctrl->regs[r], __ATOMIC_ACQUIRE); }
	void set_reg(u32 r, u64 v) { __atomic_store_n(&ctrl->regs[r], v, __ATOMIC_RELEASE); }

	/* Free SQ slots from the user's point of view. */
	u32 sq_space() const { return u32(info.sentries) - (stail() - shead()); }
	void push(const pwring_sqe &s)
	{
		const u32 t = stail();
		sq[t & info.smask] = s;
		set_stail(t + 1);
	}
	void push_all(const std::vector<pwring_sqe> &v)
	{
		for (const auto &s : v)
			push(s);
	}
	u32 ready() const { return ctail() - chead(); }
	/* CQE at free-running index i (no reaping). */
	pwring_cqe cqe_at(u32 i) const { return cq[i & info.cmask]; }
	bool pop(pwring_cqe *out)
	{
		const u32 h = chead();
		if (h == ctail())
			return false;
		*out = cq[h & info.cmask];
		set_chead(h + 1);
		return true;
	}
	std::vector<pwring_cqe> drain()
	{
		std::vector<pwring_cqe> v;
		pwring_cqe c;
		while (pop(&c))
			v.push_back(c);
		return v;
	}
	/* Byte just after the last CQE, and the end of the mapping. */
	unsigned char *cq_end() const { return reinterpret_cast<unsigned char *>(cq + info.centries); }
	unsigned char *map_end() const
	{
		const u64 bytes = PWRING_SQ_OFFSET + info.sentries * sizeof(pwring_sqe) +
				  info.centries * sizeof(pwring_cqe);
		return reinterpret_cast<unsigned char *>(ctrl) + (bytes + 4095) / 4096 * 4096;
	}
};

/* Scale of the stress loops: smaller under TSan, which is ~10x slower. */
#if defined(PWRING_HOST_TSAN)
constexpr int kStress = 1;
#else
constexpr int kStress = 3;
#endif

class CoreTest : public ::testing::Test {
protected:
	pwring_table *t_ = nullptr;
	long open_calls_ = 0;

	void SetUp() override
	{
		fake::reset();
		probe_reset();
		t_ = pwring_core_open();
		ASSERT_NE(t_, nullptr);
		open_calls_ = fake::alloc_calls();
	}

	/* Allocating kapi calls since the table was opened. */
	long alloc_calls() const { return fake::alloc_calls() - open_calls_; }
	/* Nothing but the open table itself is allocated. */
	static bool only_table_live()
	{
		const fake::Live l = fake::live();
		return l.allocs == 1 && l.locks == 1 && !l.waitqs && !l.io_sets && !l.mems &&
		       !l.mappings && !l.page_buffers && !l.file_refs && !l.pinned &&
		       !l.poll_entries;
	}

	void TearDown() override
	{
		release();
		/* Every file reference, pin and poll entry of the core is gone with the table. */
		fake::munmap_all();
		fake::close_all();
		EXPECT_TRUE(clean()) << describe_live();
		fake::reset();
	}

	static bool clean() { return fake::live().all_clean(); }
	static std::string describe_live()
	{
		const fake::Live l = fake::live();
		std::string s = "live after release:";
		auto add = [&s](const char *n, long v) {
			if (v)
				s += std::string(" ") + n + " " + std::to_string(v);
		};
		add("allocs", l.allocs);
		add("locks", l.locks);
		add("waitqs", l.waitqs);
		add("io sets", l.io_sets);
		add("mems", l.mems);
		add("mappings", l.mappings);
		add("page buffers", l.page_buffers);
		add("file refs", l.file_refs);
		add("pinned MDLs", l.pinned);
		add("poll entries", l.poll_entries);
		add("files", l.files);
		add("users", l.users);
		return s;
	}

	/*
	 * Last close, in its two halves: shutdown (cancels, never waits),
	 * then `shut` is set, then the rings are reaped as they go idle.
	 */
	void shutdown_and_reap(std::atomic<bool> &shut)
	{
		pwring_core_shutdown(t_);
		shut = true;
		fake::reap_all();
		pwring_core_free(t_);
		t_ = nullptr;
	}

	/* Last close of the file. */
	void release()
	{
		if (t_) {
			/* Cancels and returns; rings go as their last requests complete. */
			pwring_core_shutdown(t_);
			fake::reap_all();
			pwring_core_free(t_);
		}
		t_ = nullptr;
	}

	long setup_raw(u64 ring, u64 address, u64 sentries, u64 centries, u32 flags = 0)
	{
		pwring_setup_args a{};
		a.size = sizeof(a);
		a.flags = flags;
		a.ring = ring;
		a.address = address;
		a.sentries = sentries;
		a.centries = centries;
		return pwring_core_setup(t_, nullptr, &a);
	}
	long setup(pwring_ring_info *info, u64 sentries, u64 centries, u64 address = 0)
	{
		return setup_raw(reinterpret_cast<u64>(info), address, sentries, centries);
	}
	long enter(u64 id, u64 amount, u64 wait, u32 flags = 0)
	{
		pwring_enter_args a{};
		a.size = sizeof(a);
		a.flags = flags;
		a.id = id;
		a.amount = amount;
		a.wait = wait;
		return pwring_core_enter(t_, &a);
	}
	long teardown(u64 id, u32 flags = 0)
	{
		pwring_teardown_args a{};
		a.size = sizeof(a);
		a.flags = flags;
		a.id = id;
		return pwring_core_teardown(t_, &a);
	}
	/* Sets up a ring and attaches the user view; fails the test otherwise. */
	URing ring(u64 sentries, u64 centries, u64 address = 0)
	{
		URing r;
		pwring_ring_info info{};
		const long id = setup(&info, sentries, centries, address);
		EXPECT_GE(id, 0) << "setup(" << sentries << ", " << centries << ")";
		if (id >= 0)
			r.attach(info);
		return r;
	}
	/* Push and enter everything with wait 0; returns enter's result. */
	long submit(URing &r, const std::vector<pwring_sqe> &v, u64 wait = 0)
	{
		r.push_all(v);
		return enter(r.id(), v.size(), wait);
	}
};

/* Runs fn on a thread; join() returns its result. */
class Async {
public:
	explicit Async(std::function<long()> fn)
		: th_([this, fn] {
			  result_ = fn();
			  done_.store(true);
		  })
	{
	}
	~Async()
	{
		if (th_.joinable())
			th_.join();
	}
	bool done() const { return done_.load(); }
	long join()
	{
		th_.join();
		return result_;
	}

private:
	std::atomic<bool> done_{false};
	long result_ = 0;
	std::thread th_;
};

/* A point in time some milliseconds from now. */
struct Deadline {
	explicit Deadline(int ms) : end(std::chrono::steady_clock::now() + std::chrono::milliseconds(ms)) {}
	bool passed() const { return std::chrono::steady_clock::now() > end; }
	std::chrono::steady_clock::time_point end;
};

/* Spin (with a timeout) until pred holds. */
inline bool eventually(const std::function<bool()> &pred, int timeout_ms = 5000)
{
	const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
	while (!pred()) {
		if (std::chrono::steady_clock::now() > end)
			return false;
		std::this_thread::sleep_for(std::chrono::microseconds(20));
	}
	return true;
}

/*
 * The CQEs an enter(wait >= n) has just waited for. They should all be
 * visible when enter returns; a core bug lets enter return a moment before
 * the last one shows in ctail (Race.WaitReturnsOnlyOnceTheCqeIsVisible
 * reports it), so tests about something else wait briefly here.
 */
inline std::vector<pwring_cqe> reap(URing &r, u32 n)
{
	eventually([&] { return r.ready() >= n; }, 1000);
	return r.drain();
}

inline const char *errname(int e)
{
	switch (e) {
	case 0: return "OK";
	case EINVAL: return "EINVAL";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECANCELED: return "ECANCELED";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EBUSY: return "EBUSY";
	case EBADF: return "EBADF";
	case EFAULT: return "EFAULT";
	case ESPIPE: return "ESPIPE";
	case EPIPE: return "EPIPE";
	case EAGAIN: return "EAGAIN";
	default: return "errno";
	}
}

} // namespace ht

#endif /* PWRING_HOST_HARNESS_H */
