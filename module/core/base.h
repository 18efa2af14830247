/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Freestanding basics for the C++ core: fixed-width types, errno values,
 * atomics on the compiler builtins, a Result type and RAII guards. No
 * standard library headers: the module is built with -nostdinc++.
 */
#ifndef PWRING_BASE_H
#define PWRING_BASE_H

#include "kapi.h"

namespace pw {

using u8 = __UINT8_TYPE__;
using u16 = __UINT16_TYPE__;
using u32 = __UINT32_TYPE__;
using u64 = __UINT64_TYPE__;
using s32 = __INT32_TYPE__;
using s64 = __INT64_TYPE__;
using usize = __SIZE_TYPE__;
using uptr = __UINTPTR_TYPE__;

} // namespace pw

/* The UAPI header wants the kernel's __u* names; give them without <linux/types.h>. */
typedef pw::u8 __u8;
typedef pw::u16 __u16;
typedef pw::u32 __u32;
typedef pw::u64 __u64;
typedef pw::s32 __s32;
typedef pw::s64 __s64;
#define PWRING_HAVE_TYPES 1
#include "../../uapi/pwring.h"

/* Placement new: the only form of new the core uses. */
inline void *operator new(pw::usize, void *p) noexcept { return p; }

#define PW_LIKELY(x) __builtin_expect(!!(x), 1)
#define PW_UNLIKELY(x) __builtin_expect(!!(x), 0)

namespace pw {

/* Linux errno values (part of the Linux ABI, identical on every arch we build). */
namespace err {
constexpr s32 EPERM = 1;
constexpr s32 ENOENT = 2;
constexpr s32 EINTR = 4;
constexpr s32 EBADF = 9;
constexpr s32 ENOMEM = 12;
constexpr s32 EACCES = 13;
constexpr s32 EFAULT = 14;
constexpr s32 EBUSY = 16;
constexpr s32 EINVAL = 22;
constexpr s32 EAGAIN = 11;
constexpr s32 ESPIPE = 29;
constexpr s32 EMFILE = 24;
constexpr s32 ETIMEDOUT = 110;
constexpr s32 ECANCELED = 125;
/* Kernel-internal: an asynchronous kiocb was queued (never reaches a CQE). */
constexpr s32 EIOCBQUEUED = 529;
constexpr s32 MAX = 4095;
} // namespace err

/* Kernel poll bits (<uapi/linux/eventpoll.h>, part of the Linux ABI). */
constexpr u32 kEpollIn = 0x0001;
constexpr u32 kEpollOut = 0x0004;
constexpr u32 kEpollErr = 0x0008;
constexpr u32 kEpollHup = 0x0010;
constexpr u32 kEpollNval = 0x0020;
constexpr u32 kEpollRdNorm = 0x0040;
constexpr u32 kEpollWrNorm = 0x0100;
constexpr u32 kEpollRdHup = 0x2000;

/* Either a value or a positive errno. */
template <typename T> class [[nodiscard]] Result {
public:
	constexpr Result(T v) : val_(v), err_(0) {}
	static constexpr Result error(s32 e) { return Result(T(), e); }
	constexpr bool ok() const { return err_ == 0; }
	constexpr s32 error() const { return err_; }
	constexpr T value() const { return val_; }
	/* The ioctl return convention: value, or -errno. */
	constexpr long to_long() const { return ok() ? long(val_) : -long(err_); }

private:
	constexpr Result(T v, s32 e) : val_(v), err_(e) {}
	T val_;
	s32 err_;
};

/* Atomics over the GCC builtins (what the kernel's own atomics compile to). */
template <typename T> class Atomic {
public:
	constexpr Atomic() : v_() {}
	constexpr explicit Atomic(T v) : v_(v) {}
	T load_relaxed() const { return __atomic_load_n(&v_, __ATOMIC_RELAXED); }
	T load_acquire() const { return __atomic_load_n(&v_, __ATOMIC_ACQUIRE); }
	void store_relaxed(T v) { __atomic_store_n(&v_, v, __ATOMIC_RELAXED); }
	void store_release(T v) { __atomic_store_n(&v_, v, __ATOMIC_RELEASE); }
	T exchange(T v) { return __atomic_exchange_n(&v_, v, __ATOMIC_ACQ_REL); }
	T fetch_add(T d) { return __atomic_fetch_add(&v_, d, __ATOMIC_ACQ_REL); }
	/* Full barrier either way, like the kernel's cmpxchg(). */
	bool cas(T &expected, T desired)
	{
		return __atomic_compare_exchange_n(&v_, &expected, desired, false,
						   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	}

private:
	T v_;
};

/* Accessors for words that live in memory shared with user space. */
template <typename T> inline T shared_load_acquire(const T *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
template <typename T> inline void shared_store_release(T *p, T v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

/* Holds a spinlock with interrupts off for the guard's scope. */
class IrqLockGuard {
public:
	explicit IrqLockGuard(kapi_lock *l) : l_(l), flags_(kapi_lock_irqsave(l)) {}
	~IrqLockGuard() { kapi_unlock_irqrestore(l_, flags_); }
	IrqLockGuard(const IrqLockGuard &) = delete;
	IrqLockGuard &operator=(const IrqLockGuard &) = delete;

private:
	kapi_lock *l_;
	unsigned long flags_;
};

constexpr bool is_pow2(u64 x) { return x != 0 && (x & (x - 1)) == 0; }

} // namespace pw

#endif /* PWRING_BASE_H */
