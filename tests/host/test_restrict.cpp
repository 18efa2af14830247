// SPDX-License-Identifier: GPL-2.0
/*
 * Restrictions (PWRING_IOC_RESTRICT): a ring locked to an allow-list of
 * operations and, per operation, descriptors. A request outside the list
 * completes with EACCES (one CQE, a failure like any other for links); the
 * descriptor is checked as dispatched, after register loads; the list can
 * be neither loosened nor replaced (EPERM); a refused call changes nothing.
 */
#include "harness.h"

using namespace ht;

namespace {

constexpr int kAny = PWRING_RESTRICT_ANY_FD;

class Restrict : public CoreTest {
protected:
	long restrict_ring(u64 id, const std::vector<pwring_restriction> &e, u32 flags = 0,
			   u32 n = ~0u)
	{
		pwring_restrict_args a{};
		a.size = sizeof(a);
		a.flags = flags;
		a.id = id;
		a.entries = uaddr(e.data());
		a.nentries = n == ~0u ? u32(e.size()) : n;
		return pwring_core_restrict(t_, &a, e.data());
	}
	static pwring_restriction allow(u32 op, int fd) { return pwring_restriction{op, fd, 0, 0}; }
};

TEST_F(Restrict, OutsideTheListCompletesEacces)
{
	int a[2], b[2];
	fake::pipe(a);
	fake::pipe(b);
	URing r = ring(16, 16);
	ASSERT_EQ(restrict_ring(r.id(), {allow(PWRING_OP_READ, a[0]), allow(PWRING_OP_WRITE, a[1]),
					 allow(PWRING_OP_POLL, kAny)}),
		  0);
	char in[4] = "abc", out[4] = {};
	ASSERT_EQ(submit(r, {write_sqe(1, a[1], in, 3),		/* allowed */
			     read_sqe(2, a[0], out, 3),		/* allowed */
			     write_sqe(3, b[1], in, 3),		/* WRITE only on a[1] */
			     read_sqe(4, b[0], out, 3),		/* READ only on a[0] */
			     nop(5, 10),				/* NOP not listed */
			     poll_sqe(6, b[1], PWRING_POLL_WRITE)}),	/* POLL on anything */
		  6);
	auto c = r.drain();
	ASSERT_EQ(c.size(), 6u);
	std::map<u64, pwring_cqe> by;
	for (auto &x : c)
		by[x.data] = x;
	EXPECT_EQ(by[1].error, 0);
	EXPECT_EQ(by[1].result, 3u);
	EXPECT_EQ(by[2].error, 0);
	EXPECT_EQ(std::string(out, 3), "abc");
	EXPECT_EQ(by[3].error, EACCES);
	EXPECT_EQ(by[3].op, PWRING_OP_WRITE);
	EXPECT_EQ(by[4].error, EACCES);
	EXPECT_EQ(by[5].error, EACCES);
	EXPECT_EQ(by[5].op, PWRING_OP_NOP);
	EXPECT_EQ(by[6].error, 0);
	/* Refused requests touched no file. */
	EXPECT_EQ(fake::pipe_space(b[1]), 4096u);
	EXPECT_EQ(fake::io_counts().fgets, 3);
}

TEST_F(Restrict, DescriptorCheckedAfterRegisterLoads)
{
	int a[2], b[2];
	fake::pipe(a);
	fake::pipe(b);
	URing r = ring(16, 16);
	ASSERT_EQ(restrict_ring(r.id(), {allow(PWRING_OP_WRITE, a[1])}), 0);
	char in[2] = "x";
	/* The SQE names the allowed fd, the register the other one: refused. */
	r.set_reg(1, u64(b[1]));
	r.push(write_sqe(1, a[1], in, 1, kNever, regs(kNone, 1)));
	/* The SQE names a forbidden fd, the register the allowed one: allowed. */
	r.set_reg(2, u64(a[1]));
	r.push(write_sqe(2, b[1], in, 1, kNever, regs(kNone, 2)));
	ASSERT_EQ(enter(r.id(), 2, 0), 2);
	auto c = r.drain();
	ASSERT_EQ(c.size(), 2u);
	EXPECT_EQ(c[0].error, EACCES);
	EXPECT_EQ(c[1].error, 0);
	EXPECT_EQ(fake::contents(a[0]), "x");
	EXPECT_EQ(fake::contents(b[0]), "");
}

TEST_F(Restrict, DescriptorSavedByAPredecessorIsChecked)
{
	int a[2];
	fake::pipe(a);
	URing r = ring(16, 16);
	/* READ any, WRITE only a[1]: a READ's byte count becomes the next WRITE's fd. */
	ASSERT_EQ(restrict_ring(r.id(), {allow(PWRING_OP_READ, kAny), allow(PWRING_OP_WRITE, a[1])}),
		  0);
	const u64 forbidden = u64(a[1]) + 1;
	ASSERT_EQ(fake::write(a[1], std::string(forbidden, 'z')), long(forbidden));
	char buf[64];
	char in[2] = "y";
	ASSERT_EQ(submit(r, {read_sqe(1, a[0], buf, forbidden, kNever, regs(3) | PWRING_HARDLINK),
			     write_sqe(2, a[1], in, 1, kNever, regs(kNone, 3))}),
		  2);
	auto c = r.drain();
	ASSERT_EQ(c.size(), 2u);
	EXPECT_EQ(c[0].error, 0);
	EXPECT_EQ(c[0].result, forbidden);
	EXPECT_EQ(c[1].error, EACCES);
	EXPECT_EQ(fake::contents(a[0]), "");
}

TEST_F(Restrict, EaccesBreaksLinksLikeAnyError)
{
	int a[2];
	fake::pipe(a);
	URing r = ring(16, 16);
	ASSERT_EQ(restrict_ring(r.id(), {allow(PWRING_OP_POLL, kAny)}), 0);
	ASSERT_EQ(submit(r, {nop(1, 10, kNoRegs | PWRING_LINK),
			     poll_sqe(2, a[1], PWRING_POLL_WRITE),
			     nop(3, 10, kNoRegs | PWRING_HARDLINK),
			     poll_sqe(4, a[1], PWRING_POLL_WRITE)}),
		  4);
	auto c = r.drain();
	ASSERT_EQ(c.size(), 4u);
	EXPECT_EQ(c[0].error, EACCES);
	EXPECT_EQ(c[1].error, ECANCELED);
	EXPECT_EQ(c[2].error, EACCES);
	EXPECT_EQ(c[3].error, 0);
}

TEST_F(Restrict, NeverLoosenedNorReplaced)
{
	URing r = ring(8, 8);
	ASSERT_EQ(restrict_ring(r.id(), {allow(PWRING_OP_NOP, kAny)}), 0);
	EXPECT_EQ(restrict_ring(r.id(), {allow(PWRING_OP_READ, kAny)}), -EPERM);
	EXPECT_EQ(restrict_ring(r.id(), {allow(PWRING_OP_NOP, kAny)}), -EPERM);
	int a[2];
	fake::pipe(a);
	char buf[4];
	ASSERT_EQ(submit(r, {read_sqe(1, a[0], buf, 1), nop(2, 0)}), 2);
	auto c = r.drain();
	ASSERT_EQ(c.size(), 2u);
	EXPECT_EQ(c[0].error, EACCES);
	EXPECT_EQ(c[1].error, ETIMEDOUT);
	/* Another ring of the file is not restricted. */
	URing o = ring(8, 8);
	ASSERT_EQ(submit(o, {read_sqe(1, a[0], buf, 1, 0)}), 1);
	EXPECT_EQ(o.drain().at(0).error, ETIMEDOUT);
}

TEST_F(Restrict, RefusedCallsChangeNothing)
{
	URing r = ring(8, 8);
	std::vector<pwring_restriction> big(PWRING_RESTRICT_MAX + 1, allow(PWRING_OP_POLL, kAny));
	EXPECT_EQ(restrict_ring(r.id(), {}, 0, 0), -EINVAL);
	EXPECT_EQ(restrict_ring(r.id(), big), -EINVAL);
	EXPECT_EQ(restrict_ring(r.id(), {allow(PWRING_OP_MAX, kAny)}), -EINVAL);
	EXPECT_EQ(restrict_ring(r.id(), {allow(PWRING_OP_READ, -2)}), -EINVAL);
	EXPECT_EQ(restrict_ring(r.id(), {allow(PWRING_OP_NOP, 3)}), -EINVAL);
	EXPECT_EQ(restrict_ring(r.id(), {pwring_restriction{PWRING_OP_READ, 3, 1, 0}}), -EINVAL);
	EXPECT_EQ(restrict_ring(r.id(), {pwring_restriction{PWRING_OP_READ, 3, 0, 1}}), -EINVAL);
	EXPECT_EQ(restrict_ring(r.id(), {allow(PWRING_OP_READ, 3)}, 1), -EINVAL);
	EXPECT_EQ(restrict_ring(5, {allow(PWRING_OP_READ, 3)}), -EINVAL);	/* no such ring */
	EXPECT_EQ(restrict_ring(99, {allow(PWRING_OP_READ, 3)}), -EINVAL);
	/* A full list is fine, and only now is the ring locked. */
	big.pop_back();
	big.back() = allow(PWRING_OP_NOP, kAny);
	ASSERT_EQ(submit(r, {nop(1, 0)}), 1);
	ASSERT_EQ(restrict_ring(r.id(), big), 0);
	int a[2];
	fake::pipe(a);
	char buf[4];
	ASSERT_EQ(submit(r, {read_sqe(2, a[0], buf, 1), nop(3, 0)}), 2);
	auto c = r.drain();
	ASSERT_EQ(c.size(), 3u);
	EXPECT_EQ(c[0].error, ETIMEDOUT);
	EXPECT_EQ(c[1].error, EACCES);
	EXPECT_EQ(c[2].error, ETIMEDOUT);
}

TEST_F(Restrict, BusyWhileEnterRuns)
{
	URing r = ring(8, 8);
	r.push(nop(1, 100));
	ASSERT_EQ(enter(r.id(), 1, 0), 1);
	/* Another thread inside enter holds the slot: EBUSY, as for teardown. */
	r.push(nop(2, 200));
	Async waiter([&] { return enter(r.id(), 1, 2); });
	ASSERT_TRUE(fake::wait_for_sleepers(1));
	EXPECT_EQ(restrict_ring(r.id(), {allow(PWRING_OP_NOP, kAny)}), -EBUSY);
	fake::advance(200);
	EXPECT_EQ(waiter.join(), 1);
	EXPECT_EQ(restrict_ring(r.id(), {allow(PWRING_OP_NOP, kAny)}), 0);
	EXPECT_EQ(r.drain().size(), 2u);
}

TEST_F(Restrict, TeardownAndCloseFreeTheList)
{
	URing r = ring(8, 8);
	URing o = ring(8, 8);
	ASSERT_EQ(restrict_ring(r.id(), {allow(PWRING_OP_NOP, kAny)}), 0);
	ASSERT_EQ(restrict_ring(o.id(), {allow(PWRING_OP_NOP, kAny)}), 0);
	ASSERT_EQ(teardown(r.id()), 0);
	o.push(nop(1, kNever));
	ASSERT_EQ(enter(o.id(), 1, 0), 1);
	release();	/* TearDown checks that nothing is left */
}

} // namespace
