/* SPDX-License-Identifier: MIT */
/*
 * <sys/ioring.h> - the PatchworkOS asynchronous I/O ring API on Linux (pwring).
 *
 * A PatchworkOS program ports by recompiling against this header and linking
 * libpwring (pkg-config: libpwring). The types, constants and the three calls
 * carry their PatchworkOS names and signatures; the binary layout is the one of
 * <linux/pwring.h> (the kernel ABI), checked by static assertions below.
 *
 * Calls. ioring_setup(), ioring_enter() and ioring_teardown() return ERR
 * ((uint64_t)-1) and set errno on failure. The library opens /dev/pwring
 * (close-on-exec) on the first call; if the pwring module is not loaded that
 * open fails and the call returns ERR with the errno open() set, usually ENOENT
 * (no device node) or ENXIO/ENODEV. All rings of a process live on that one
 * private device file. A child created by fork() gets a device file of its own
 * on its first call (rings are never inherited: their memory is not mapped in
 * the child).
 *
 * Porting notes (differences from PatchworkOS):
 *  - Timeouts are nanoseconds, as on PatchworkOS, but Linux's clock_t and
 *    CLOCKS_PER_SEC (10^6) are not PatchworkOS's (a u64 nanosecond count and
 *    10^9). This header leaves them alone: write timeouts with
 *    IORING_NSEC_PER_SEC (10^9), IORING_NSEC_PER_MSEC or IORING_NSEC_PER_USEC,
 *    never with CLOCKS_PER_SEC, which would make them 1000 times too short.
 *    CLOCKS_NEVER (UINT64_MAX) means "no timeout".
 *  - ioring_enter(id, 0, wait) with wait > 0 waits for completions; PatchworkOS
 *    returns 0 at once.
 *  - Every consumed SQE produces a CQE: the rest of a broken SQE_LINK chain
 *    completes with ECANCELED instead of disappearing.
 *  - The kernel never overflows the completion queue: it admits a request only
 *    while a CQE slot is guaranteed for it (requests in flight plus unreaped
 *    CQEs below centries); otherwise ioring_enter() stops consuming and returns
 *    the count so far, or fails with EBUSY when it consumed nothing and has
 *    nothing to wait for.
 *  - CQE errors are Linux errno values.
 *
 * The register quirk (kept from PatchworkOS on purpose). The SQE flags word
 * holds five 3-bit load specifiers (SQE_LOAD0..4, one per argument) and a 3-bit
 * save specifier (SQE_SAVE). A specifier names a register 0..6, or
 * SQE_REG_NONE (7). Because 0 names register 0, an SQE whose flags are 0 loads
 * all five arguments from regs[0] and saves its result into regs[0]. Start from
 * SQE_FLAGS_NO_REGS (every specifier = SQE_REG_NONE), or use the sqe_prep_*()
 * helpers, which do, and name registers with SQE_FLAGS_LOAD()/SQE_FLAGS_SAVE()
 * or sqe_load_reg()/sqe_save_reg().
 *
 * Language support: C89 with GNU extensions and later, C++11 and later. In C11
 * (with <stdatomic.h>) the shared indices and registers are _Atomic, as on
 * PatchworkOS; in C++ and older C they are plain integers of the same size that
 * the inline helpers access with the GCC/Clang __atomic builtins. Use
 * ioring_reg_load()/ioring_reg_store() to touch registers portably. SQE_CREATE()
 * is a designated initializer: C99 and later, or C++20.
 */
#ifndef _SYS_IORING_H
#define _SYS_IORING_H

#include <errno.h> /* cqe_t.error values */
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

#include <linux/pwring.h>

#if !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && \
	!defined(__STDC_NO_ATOMICS__)
#include <stdatomic.h>
#define IORING_ATOMIC(type) _Atomic type
#define IORING_LOAD(ptr, order) atomic_load_explicit((ptr), (order))
#define IORING_STORE(ptr, value, order) atomic_store_explicit((ptr), (value), (order))
#else
#define IORING_ATOMIC(type) type
#define IORING_LOAD(ptr, order) __atomic_load_n((ptr), (order))
#define IORING_STORE(ptr, value, order) __atomic_store_n((ptr), (value), (order))
#endif

#ifdef __cplusplus
#define IORING_INLINE static inline
#define IORING_ASSERT(e, msg) static_assert(e, msg)
extern "C" {
#else
#define IORING_INLINE static __inline__
#define IORING_ASSERT(e, msg) _Static_assert(e, msg)
#endif

/* ---- Values shared with PatchworkOS ---------------------------------------- */

#ifndef ERR
#define ERR ((uint64_t)-1) /* the failure return of the calls below */
#endif
#ifndef EOK
#define EOK 0 /* cqe_t.error of a request that succeeded */
#endif

/* Nanoseconds: the unit of sqe_t.timeout. Not CLOCKS_PER_SEC (see above). */
#define IORING_NSEC_PER_SEC ((uint64_t)1000000000)
#define IORING_NSEC_PER_MSEC ((uint64_t)1000000)
#define IORING_NSEC_PER_USEC ((uint64_t)1000)
#ifndef CLOCKS_NEVER
#define CLOCKS_NEVER (~(uint64_t)0) /* sqe_t.timeout: never time out */
#endif

#if !defined(__errno_t_defined) && !defined(_ERRNO_T_DEFINED)
#define __errno_t_defined 1
#define _ERRNO_T_DEFINED 1
typedef int errno_t;
#endif

typedef uint64_t ioring_id_t;
typedef uint32_t io_op_t;
typedef uint32_t sqe_flags_t;
typedef uint64_t io_events_t;

#define IO_OP_NOP ((io_op_t)PWRING_OP_NOP)
#define IO_OP_READ ((io_op_t)PWRING_OP_READ)
#define IO_OP_WRITE ((io_op_t)PWRING_OP_WRITE)
#define IO_OP_POLL ((io_op_t)PWRING_OP_POLL)
#define IO_OP_MAX ((io_op_t)PWRING_OP_MAX)

#define IO_POLL_READ ((io_events_t)PWRING_POLL_READ)
#define IO_POLL_WRITE ((io_events_t)PWRING_POLL_WRITE)
#define IO_POLL_ERROR ((io_events_t)PWRING_POLL_ERROR)
#define IO_POLL_HUP ((io_events_t)PWRING_POLL_HUP)
#define IO_POLL_NVAL ((io_events_t)PWRING_POLL_NVAL)

/* Register numbers, as used in a specifier. */
#define SQE_REG0 0u
#define SQE_REG1 1u
#define SQE_REG2 2u
#define SQE_REG3 3u
#define SQE_REG4 4u
#define SQE_REG5 5u
#define SQE_REG6 6u
#define SQE_REG_NONE PWRING_REG_NONE
#define SQE_REGS_MAX PWRING_REGS_MAX
#define SQE_REG_SHIFT PWRING_REG_SHIFT
#define SQE_REG_MASK PWRING_REG_MASK

/* Bit positions of the specifiers in the flags word. */
#define SQE_LOAD0 PWRING_LOAD0 /* register loaded into arg0 at dispatch */
#define SQE_LOAD1 PWRING_LOAD1
#define SQE_LOAD2 PWRING_LOAD2
#define SQE_LOAD3 PWRING_LOAD3
#define SQE_LOAD4 PWRING_LOAD4
#define SQE_SAVE PWRING_SAVE /* register the result is stored into */

/* Dispatch the next SQE of this enter only if this one completes with EOK. */
#define SQE_LINK PWRING_LINK
/* Dispatch the next SQE of this enter when this one completes, whatever the outcome. */
#define SQE_HARDLINK PWRING_HARDLINK

#define IO_OFF_CUR ((ssize_t)-1) /* offset: use and advance the file position */

/* ---- Register specifier builders (pwring additions) -------------------------- */

/*
 * Flags with every load and save specifier set to SQE_REG_NONE, nothing else:
 * 0x3ffff (bits 0..14 hold the five load specifiers, bits 15..17 the save one).
 */
#define SQE_FLAGS_NO_REGS                                                           \
	((sqe_flags_t)((SQE_REG_NONE << SQE_LOAD0) | (SQE_REG_NONE << SQE_LOAD1) |    \
		       (SQE_REG_NONE << SQE_LOAD2) | (SQE_REG_NONE << SQE_LOAD3) |    \
		       (SQE_REG_NONE << SQE_LOAD4) | (SQE_REG_NONE << SQE_SAVE)))

/*
 * Replace the specifier at bit position `which` (SQE_LOAD0..SQE_LOAD4 or
 * SQE_SAVE) of `flags` by register `reg` (SQE_REG0..SQE_REG6 or SQE_REG_NONE).
 * Constant expressions: usable in static initializers.
 */
#define SQE_FLAGS_REG(flags, which, reg)                                            \
	((sqe_flags_t)(((sqe_flags_t)(flags) & ~((sqe_flags_t)SQE_REG_MASK << (which))) | \
		       (((sqe_flags_t)(reg) & SQE_REG_MASK) << (which))))
/* No loads; save the result into `reg`. */
#define SQE_FLAGS_SAVE(reg) SQE_FLAGS_REG(SQE_FLAGS_NO_REGS, SQE_SAVE, reg)
/* Argument `which` (SQE_LOAD0..4) loaded from `reg`; nothing else loaded or saved. */
#define SQE_FLAGS_LOAD(which, reg) SQE_FLAGS_REG(SQE_FLAGS_NO_REGS, which, reg)

/* ---- Ring structures ---------------------------------------------------------- */

/* Submission queue entry, 64 bytes: struct pwring_sqe. */
typedef struct sqe {
	uint64_t timeout; /* nanoseconds from dispatch, CLOCKS_NEVER = none */
	void *data;       /* copied to the CQE untouched */
	io_op_t op;
	sqe_flags_t flags;
	union {
		uint64_t arg0;
		uint64_t fd;
	};
	union {
		uint64_t arg1;
		void *buffer;
		io_events_t events;
	};
	union {
		uint64_t arg2;
		size_t count;
	};
	union {
		uint64_t arg3;
		ssize_t offset;
	};
	union {
		uint64_t arg4;
	};
} sqe_t;

/*
 * Designated initializer for an SQE; the arguments stay zero. Mind the quirk:
 * _flags == 0 loads every argument from regs[0] and saves into regs[0].
 */
#define SQE_CREATE(_op, _flags, _timeout, _data)                                    \
	{ .timeout = (_timeout), .data = (void *)(_data), .op = (_op), .flags = (_flags),   \
	  .arg0 = 0, .arg1 = 0, .arg2 = 0, .arg3 = 0, .arg4 = 0 }

/* Completion queue entry, 32 bytes: struct pwring_cqe. */
typedef struct cqe {
	io_op_t op;      /* the SQE's op */
	errno_t error;   /* EOK or a Linux errno value */
	void *data;      /* the SQE's data */
	union {
		uint64_t fd;
		size_t count;
		void *ptr;
		io_events_t events;
		uint64_t _result;
	};
	uint64_t _padding[1];
} cqe_t;

/* Control block shared with the kernel, 192 bytes: struct pwring_ctrl. */
typedef struct __attribute__((aligned(64))) ioring_ctrl {
	IORING_ATOMIC(uint32_t) shead; /* written by the kernel */
	IORING_ATOMIC(uint32_t) ctail; /* written by the kernel */
	uint8_t _padding0[56];
	IORING_ATOMIC(uint32_t) stail; /* written by user space */
	IORING_ATOMIC(uint32_t) chead; /* written by user space */
	uint8_t _padding1[56];
	IORING_ATOMIC(uint64_t) regs[SQE_REGS_MAX];
	uint8_t _reserved[8];
} ioring_ctrl_t;

/* A ring as seen by its user; ioring_setup() fills it (struct pwring_ring_info). */
typedef struct ioring {
	ioring_ctrl_t *ctrl;
	ioring_id_t id;
	sqe_t *squeue;
	size_t sentries;
	size_t smask;
	cqe_t *cqueue;
	size_t centries;
	size_t cmask;
} ioring_t;

#define IORING_CHECK_OFFSET(type, field, abitype, abifield)                         \
	IORING_ASSERT(__builtin_offsetof(type, field) == __builtin_offsetof(abitype, abifield), \
		      #type "." #field " offset differs from the ABI")

IORING_ASSERT(sizeof(sqe_t) == sizeof(struct pwring_sqe), "sqe_t size");
IORING_CHECK_OFFSET(sqe_t, timeout, struct pwring_sqe, timeout);
IORING_CHECK_OFFSET(sqe_t, data, struct pwring_sqe, data);
IORING_CHECK_OFFSET(sqe_t, op, struct pwring_sqe, op);
IORING_CHECK_OFFSET(sqe_t, flags, struct pwring_sqe, flags);
IORING_CHECK_OFFSET(sqe_t, arg0, struct pwring_sqe, arg0);
IORING_CHECK_OFFSET(sqe_t, arg1, struct pwring_sqe, arg1);
IORING_CHECK_OFFSET(sqe_t, arg2, struct pwring_sqe, arg2);
IORING_CHECK_OFFSET(sqe_t, arg3, struct pwring_sqe, arg3);
IORING_CHECK_OFFSET(sqe_t, arg4, struct pwring_sqe, arg4);
IORING_CHECK_OFFSET(sqe_t, fd, struct pwring_sqe, arg0);
IORING_CHECK_OFFSET(sqe_t, buffer, struct pwring_sqe, arg1);
IORING_CHECK_OFFSET(sqe_t, events, struct pwring_sqe, arg1);
IORING_CHECK_OFFSET(sqe_t, count, struct pwring_sqe, arg2);
IORING_CHECK_OFFSET(sqe_t, offset, struct pwring_sqe, arg3);

IORING_ASSERT(sizeof(cqe_t) == sizeof(struct pwring_cqe), "cqe_t size");
IORING_CHECK_OFFSET(cqe_t, op, struct pwring_cqe, op);
IORING_CHECK_OFFSET(cqe_t, error, struct pwring_cqe, error);
IORING_CHECK_OFFSET(cqe_t, data, struct pwring_cqe, data);
IORING_CHECK_OFFSET(cqe_t, _result, struct pwring_cqe, result);
IORING_CHECK_OFFSET(cqe_t, count, struct pwring_cqe, result);
IORING_CHECK_OFFSET(cqe_t, _padding, struct pwring_cqe, _padding);
IORING_ASSERT(sizeof(((cqe_t *)0)->error) == 4, "cqe_t.error size");

IORING_ASSERT(sizeof(ioring_ctrl_t) == sizeof(struct pwring_ctrl), "ioring_ctrl_t size");
IORING_ASSERT(__alignof__(ioring_ctrl_t) == __alignof__(struct pwring_ctrl),
	      "ioring_ctrl_t alignment");
IORING_CHECK_OFFSET(ioring_ctrl_t, shead, struct pwring_ctrl, shead);
IORING_CHECK_OFFSET(ioring_ctrl_t, ctail, struct pwring_ctrl, ctail);
IORING_CHECK_OFFSET(ioring_ctrl_t, stail, struct pwring_ctrl, stail);
IORING_CHECK_OFFSET(ioring_ctrl_t, chead, struct pwring_ctrl, chead);
IORING_CHECK_OFFSET(ioring_ctrl_t, regs, struct pwring_ctrl, regs);
IORING_CHECK_OFFSET(ioring_ctrl_t, _reserved, struct pwring_ctrl, _reserved);
IORING_ASSERT(sizeof(((ioring_ctrl_t *)0)->shead) == 4, "ioring_ctrl_t index size");
IORING_ASSERT(sizeof(((ioring_ctrl_t *)0)->regs) == 8 * SQE_REGS_MAX, "ioring_ctrl_t regs size");

IORING_ASSERT(SQE_FLAGS_NO_REGS == 0x3ffffu, "SQE_FLAGS_NO_REGS");
IORING_ASSERT((SQE_FLAGS_NO_REGS & (SQE_LINK | SQE_HARDLINK | PWRING_FLAGS_RESERVED)) == 0,
	      "specifiers overlap the flag bits");

IORING_ASSERT(sizeof(ioring_t) == sizeof(struct pwring_ring_info), "ioring_t size");
IORING_CHECK_OFFSET(ioring_t, ctrl, struct pwring_ring_info, ctrl);
IORING_CHECK_OFFSET(ioring_t, id, struct pwring_ring_info, id);
IORING_CHECK_OFFSET(ioring_t, squeue, struct pwring_ring_info, squeue);
IORING_CHECK_OFFSET(ioring_t, sentries, struct pwring_ring_info, sentries);
IORING_CHECK_OFFSET(ioring_t, smask, struct pwring_ring_info, smask);
IORING_CHECK_OFFSET(ioring_t, cqueue, struct pwring_ring_info, cqueue);
IORING_CHECK_OFFSET(ioring_t, centries, struct pwring_ring_info, centries);
IORING_CHECK_OFFSET(ioring_t, cmask, struct pwring_ring_info, cmask);

/* ---- Calls -------------------------------------------------------------------- */

/*
 * Create a ring with `sentries` SQEs and `centries` CQEs (non-zero powers of
 * two, centries < 65535) and map it at `address` (page aligned; never replaces
 * an existing mapping) or, when NULL, where the kernel chooses. Fills *ring and
 * returns its id (the lowest free of 8 per process), or ERR with errno:
 * EINVAL, EFAULT, ENOMEM (ring of 1024 pages or more), EMFILE (8 rings),
 * EEXIST (something mapped at `address`), or the open() error of /dev/pwring.
 */
ioring_id_t ioring_setup(ioring_t *ring, void *address, size_t sentries, size_t centries);

/*
 * Unmap and free ring `id`. Returns 0, or ERR with errno EINVAL (no such ring)
 * or EBUSY (requests in flight, or another thread inside ioring_enter()).
 */
uint64_t ioring_teardown(ioring_id_t id);

/*
 * pwring extension. Lock ring `id` for good to the `n` entries of `allowed`
 * (1 to IORING_RESTRICT_MAX): each allows one operation on one descriptor,
 * or on any with fd IORING_RESTRICT_ANY_FD (NOP: only that). From then on
 * a request outside the list completes with EACCES; the descriptor is
 * checked as dispatched, after register loads. Returns 0, or ERR with errno
 * EINVAL (no such ring, a bad entry), EPERM (locked already: restrictions
 * are never loosened or replaced), EBUSY (another thread inside
 * ioring_enter() or ioring_teardown() on it), EFAULT, ENOMEM.
 */
typedef struct pwring_restriction ioring_restriction_t;
#define IORING_RESTRICT_ANY_FD PWRING_RESTRICT_ANY_FD
#define IORING_RESTRICT_MAX PWRING_RESTRICT_MAX
uint64_t ioring_restrict(ioring_id_t id, const ioring_restriction_t *allowed, size_t n);

/*
 * Consume up to `amount` SQEs, then, if `wait` > 0, sleep until at least `wait`
 * CQEs are ready. Returns the number of SQEs consumed, or ERR with errno
 * EINVAL, EBUSY (another thread in enter/teardown of this ring; or nothing
 * could be consumed and nothing is there to wait for) or EINTR (a signal
 * arrived before anything was consumed).
 */
uint64_t ioring_enter(ioring_id_t id, size_t amount, size_t wait);

/* ---- Queue helpers ---------------------------------------------------------------- */

/* Copy *sqe into the submission queue; false when the queue is full. */
IORING_INLINE bool sqe_push(ioring_t *ring, sqe_t *sqe)
{
	uint32_t tail = IORING_LOAD(&ring->ctrl->stail, __ATOMIC_RELAXED);
	uint32_t head = IORING_LOAD(&ring->ctrl->shead, __ATOMIC_ACQUIRE);

	if ((uint32_t)(tail - head) >= ring->sentries)
		return false;
	ring->squeue[tail & ring->smask] = *sqe;
	IORING_STORE(&ring->ctrl->stail, tail + 1, __ATOMIC_RELEASE);
	return true;
}

/* Take the oldest completion into *cqe; false when there is none. */
IORING_INLINE bool cqe_pop(ioring_t *ring, cqe_t *cqe)
{
	uint32_t head = IORING_LOAD(&ring->ctrl->chead, __ATOMIC_RELAXED);
	uint32_t tail = IORING_LOAD(&ring->ctrl->ctail, __ATOMIC_ACQUIRE);

	if (head == tail)
		return false;
	*cqe = ring->cqueue[head & ring->cmask];
	IORING_STORE(&ring->ctrl->chead, head + 1, __ATOMIC_RELEASE);
	return true;
}

/* Free SQE slots. */
IORING_INLINE size_t ioring_sq_space(ioring_t *ring)
{
	uint32_t tail = IORING_LOAD(&ring->ctrl->stail, __ATOMIC_RELAXED);
	uint32_t head = IORING_LOAD(&ring->ctrl->shead, __ATOMIC_ACQUIRE);

	return ring->sentries - (uint32_t)(tail - head);
}

/* CQEs ready to be popped. */
IORING_INLINE size_t ioring_cq_ready(ioring_t *ring)
{
	uint32_t head = IORING_LOAD(&ring->ctrl->chead, __ATOMIC_RELAXED);
	uint32_t tail = IORING_LOAD(&ring->ctrl->ctail, __ATOMIC_ACQUIRE);

	return (uint32_t)(tail - head);
}

/* Read register `reg` (acquire: pairs with the kernel's release at completion). */
IORING_INLINE uint64_t ioring_reg_load(ioring_t *ring, unsigned int reg)
{
	return IORING_LOAD(&ring->ctrl->regs[reg], __ATOMIC_ACQUIRE);
}

/* Write register `reg` (release: visible to SQEs dispatched afterwards). */
IORING_INLINE void ioring_reg_store(ioring_t *ring, unsigned int reg, uint64_t value)
{
	IORING_STORE(&ring->ctrl->regs[reg], value, __ATOMIC_RELEASE);
}

/* ---- SQE preparation (liburing style) ------------------------------------------- */

/*
 * Fill *sqe for `op`: arguments zero, every register specifier SQE_REG_NONE,
 * no link. Name registers afterwards with sqe_load_reg()/sqe_save_reg().
 */
IORING_INLINE void sqe_prep(sqe_t *sqe, io_op_t op, uint64_t timeout, void *data)
{
	sqe->timeout = timeout;
	sqe->data = data;
	sqe->op = op;
	sqe->flags = SQE_FLAGS_NO_REGS;
	sqe->arg0 = 0;
	sqe->arg1 = 0;
	sqe->arg2 = 0;
	sqe->arg3 = 0;
	sqe->arg4 = 0;
}

/* Sleep: completes with ETIMEDOUT after `timeout` ns (or ECANCELED). */
IORING_INLINE void sqe_prep_nop(sqe_t *sqe, uint64_t timeout, void *data)
{
	sqe_prep(sqe, IO_OP_NOP, timeout, data);
}

IORING_INLINE void sqe_prep_read(sqe_t *sqe, int fd, void *buffer, size_t count, ssize_t offset,
				 uint64_t timeout, void *data)
{
	sqe_prep(sqe, IO_OP_READ, timeout, data);
	sqe->fd = (uint64_t)(int64_t)fd;
	sqe->buffer = buffer;
	sqe->count = count;
	sqe->offset = offset;
}

IORING_INLINE void sqe_prep_write(sqe_t *sqe, int fd, const void *buffer, size_t count,
				  ssize_t offset, uint64_t timeout, void *data)
{
	sqe_prep(sqe, IO_OP_WRITE, timeout, data);
	sqe->fd = (uint64_t)(int64_t)fd;
	sqe->buffer = (void *)(uintptr_t)buffer;
	sqe->count = count;
	sqe->offset = offset;
}

IORING_INLINE void sqe_prep_poll(sqe_t *sqe, int fd, io_events_t events, uint64_t timeout,
				 void *data)
{
	sqe_prep(sqe, IO_OP_POLL, timeout, data);
	sqe->fd = (uint64_t)(int64_t)fd;
	sqe->events = events;
}

/* Load argument `which` (SQE_LOAD0..SQE_LOAD4) from register `reg` at dispatch. */
IORING_INLINE void sqe_load_reg(sqe_t *sqe, unsigned int which, unsigned int reg)
{
	sqe->flags = SQE_FLAGS_REG(sqe->flags, which, reg);
}

/* Store the result into register `reg` (SQE_REG_NONE: nowhere) at completion. */
IORING_INLINE void sqe_save_reg(sqe_t *sqe, unsigned int reg)
{
	sqe->flags = SQE_FLAGS_REG(sqe->flags, SQE_SAVE, reg);
}

/* Chain the next SQE of the same enter: run it only if this one succeeds. */
IORING_INLINE void sqe_set_link(sqe_t *sqe)
{
	sqe->flags |= SQE_LINK;
}

/* Chain the next SQE of the same enter: run it when this one completes. */
IORING_INLINE void sqe_set_hardlink(sqe_t *sqe)
{
	sqe->flags |= SQE_HARDLINK;
}

#ifdef __cplusplus
}
#endif

#endif /* _SYS_IORING_H */
