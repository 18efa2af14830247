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

class UserCharge {
public:
	/* Up to n units, as many as the limit allows now; returns how many. */
	static u64 take_upto(kapi_user *u, int which, u64 n)
	{
		Ctr *c = counter(u, which);
		const Ctr limit = kapi_limit(which);
		Ctr cur = __atomic_load_n(c, __ATOMIC_RELAXED);
		for (;;) {
			if (cur >= limit || n == 0)
				return 0;
			const Ctr got = limit - cur < n ? limit - cur : n;
			if (__atomic_compare_exchange_n(c, &cur, cur + got, false, __ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED))
				return got;
		}
	}
	/* All n units, or none. */
	static bool take_all(kapi_user *u, int which, u64 n)
	{
		Ctr *c = counter(u, which);
		const Ctr limit = kapi_limit(which);
		Ctr cur = __atomic_load_n(c, __ATOMIC_RELAXED);
		for (;;) {
			if (n > limit || cur > limit - n)
				return false;
			if (__atomic_compare_exchange_n(c, &cur, cur + n, false, __ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED))
				return true;
		}
	}
	static void give_back(kapi_user *u, int which, u64 n)
	{
		if (n)
			__atomic_fetch_sub(counter(u, which), Ctr(n), __ATOMIC_ACQ_REL);
	}
	static u64 charged(kapi_user *u, int which)
	{
		return __atomic_load_n(counter(u, which), __ATOMIC_ACQUIRE);
	}

private:
	using Ctr = unsigned long long;	/* the type kapi_user_counters() gives */
	static Ctr *counter(kapi_user *u, int which) { return kapi_user_counters(u) + which; }
};

} // namespace pw

#endif /* PWRING_LIMITS_H */
