/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-user charges against the module's limits (kapi_limit()): requests in
 * flight, charged by enter and given back as each request completes, and
 * bytes of ring pages, charged by setup and given back when the ring is
 * freed. The counters live in the user's kernel object (kapi_user); the
 * arithmetic is here, so the host tests check it.
 *
 * A charge never takes a counter past the limit at the moment of the
 * charge (compare-and-swap); a limit lowered below what is charged only
 * refuses new charges. Uncharging can happen from any context.
 */
#ifndef PWRING_LIMITS_H
#define PWRING_LIMITS_H

#include "base.h"

namespace pw {

/*
 * One user's counters. Made once, when the ring takes its user reference,
 * so the hot path (a charge per enter, a give-back per CQE batch) is inline
 * atomics on a cached pointer, no call into the glue.
 */
class UserCharge {
public:
	UserCharge() = default;
	explicit UserCharge(kapi_user *u) : c_(kapi_user_counters(u)) {}
	explicit operator bool() const { return c_ != nullptr; }

	/* Up to n units, as many as the limit allows now; returns how many. */
	u64 take_upto(int which, u64 n) const
	{
		const Ctr limit = kapi_limit(which);
		Ctr cur = __atomic_load_n(&c_[which], __ATOMIC_RELAXED);
		for (;;) {
			if (cur >= limit || n == 0)
				return 0;
			const Ctr got = limit - cur < n ? limit - cur : n;
			if (__atomic_compare_exchange_n(&c_[which], &cur, cur + got, false,
							__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				return got;
		}
	}
	/* All n units, or none. */
	bool take_all(int which, u64 n) const
	{
		const Ctr limit = kapi_limit(which);
		Ctr cur = __atomic_load_n(&c_[which], __ATOMIC_RELAXED);
		for (;;) {
			if (n > limit || cur > limit - n)
				return false;
			if (__atomic_compare_exchange_n(&c_[which], &cur, cur + n, false,
							__ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
				return true;
		}
	}
	void give_back(int which, u64 n) const
	{
		if (n)
			__atomic_fetch_sub(&c_[which], Ctr(n), __ATOMIC_ACQ_REL);
	}
	u64 charged(int which) const { return __atomic_load_n(&c_[which], __ATOMIC_ACQUIRE); }

private:
	using Ctr = unsigned long long;	/* the type kapi_user_counters() gives */
	Ctr *c_ = nullptr;
};

} // namespace pw

#endif /* PWRING_LIMITS_H */
