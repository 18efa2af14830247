/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * pwring: the PatchworkOS I/O ring ABI on Linux.
 *
 * One header for the kernel module (C and the freestanding C++ core), user
 * space C and C++. Every size and offset is a static assertion below: the
 * layouts must match PatchworkOS byte for byte (see docs/abi.md).
 *
 * The freestanding C++ core cannot include <linux/types.h>; it defines
 * PWRING_HAVE_TYPES and the __u32/__u64/__s32 typedefs before including us.
 */
#ifndef _UAPI_PWRING_H
#define _UAPI_PWRING_H

#ifndef PWRING_HAVE_TYPES
#include <linux/types.h>
#endif

#ifdef __cplusplus
#define PWRING_STATIC_ASSERT(e, msg) static_assert(e, msg)
#else
#define PWRING_STATIC_ASSERT(e, msg) _Static_assert(e, msg)
#endif

#define PWRING_DEVICE_NAME	"pwring"
#define PWRING_DEVICE_PATH	"/dev/pwring"

/* Operations. */
#define PWRING_OP_NOP		0u
#define PWRING_OP_READ		1u
#define PWRING_OP_WRITE		2u
#define PWRING_OP_POLL		3u
#define PWRING_OP_MAX		4u

/* Poll event bits (PatchworkOS values, not the kernel's POLL* bits). */
#define PWRING_POLL_READ	(1u << 0)
#define PWRING_POLL_WRITE	(1u << 1)
#define PWRING_POLL_ERROR	(1u << 2)
#define PWRING_POLL_HUP		(1u << 3)
#define PWRING_POLL_NVAL	(1u << 4)

/* Registers and the flags word. */
#define PWRING_REG_NONE		7u
#define PWRING_REGS_MAX		7u
#define PWRING_REG_SHIFT	3u
#define PWRING_REG_MASK		7u
#define PWRING_LOAD0		0u	/* load specifier of arg0 */
#define PWRING_LOAD1		3u
#define PWRING_LOAD2		6u
#define PWRING_LOAD3		9u
#define PWRING_LOAD4		12u
#define PWRING_SAVE		15u	/* save specifier of the result */
#define PWRING_LINK		(1u << 18)
#define PWRING_HARDLINK		(1u << 19)
/* Bits 20..31 are reserved: an SQE with any of them set completes EINVAL. */
#define PWRING_FLAGS_RESERVED	0xfff00000u
#define PWRING_NO_REGS		0x0003ffffu	/* every load and save specifier = REG_NONE */

#define PWRING_TIMEOUT_NEVER	(~(__u64)0)
#define PWRING_OFF_CUR		(-1)

/* Limits of setup (spec section 2). */
#define PWRING_MAX_RINGS	8u
#define PWRING_MAX_PAGES	1024u	/* a ring needs fewer pages than this */
#define PWRING_MAX_CENTRIES	65535u	/* centries must be below this */

/* Submission queue entry, 64 bytes. */
struct pwring_sqe {
	__u64 timeout;		/* ns from dispatch; PWRING_TIMEOUT_NEVER = none */
	__u64 data;		/* opaque, copied to the CQE */
	__u32 op;
	__u32 flags;
	__u64 arg0;		/* fd */
	__u64 arg1;		/* buffer, events */
	__u64 arg2;		/* count */
	__u64 arg3;		/* offset (signed) */
	__u64 arg4;
};

/* Completion queue entry, 32 bytes. */
struct pwring_cqe {
	__u32 op;
	__s32 error;		/* 0 or a Linux errno value */
	__u64 data;
	__u64 result;
	__u64 _padding;
};

/* Shared control block at the start of the ring mapping, 192 bytes. */
struct pwring_ctrl {
	__u32 shead;		/* kernel writes */
	__u32 ctail;		/* kernel writes */
	__u8 _pad0[56];
	__u32 stail;		/* user writes */
	__u32 chead;		/* user writes */
	__u8 _pad1[56];
	__u64 regs[PWRING_REGS_MAX];
	__u8 _reserved[8];
} __attribute__((aligned(64)));

#define PWRING_SQ_OFFSET	192u

/* What setup writes to the caller's ring descriptor (PatchworkOS ioring_t). */
struct pwring_ring_info {
	__u64 ctrl;		/* user address of struct pwring_ctrl */
	__u64 id;
	__u64 squeue;
	__u64 sentries;
	__u64 smask;
	__u64 cqueue;
	__u64 centries;
	__u64 cmask;
};

/*
 * ioctl arguments. Each begins with its own size in bytes: the kernel accepts
 * any size from the first published one up, reads what it knows and requires
 * the rest to be zero (copy_struct_from_user), so the structs can grow. The
 * kernel matches commands by type and number only, never by the size bits.
 */
struct pwring_setup_args {
	__u32 size;		/* sizeof(struct pwring_setup_args) */
	__u32 flags;		/* must be 0 */
	__u64 ring;		/* user pointer to struct pwring_ring_info */
	__u64 address;		/* 0 = kernel chooses, else exact address */
	__u64 sentries;
	__u64 centries;
};

#define PWRING_SETUP_ARGS_SIZE_VER0	40u

struct pwring_enter_args {
	__u32 size;
	__u32 flags;		/* must be 0 */
	__u64 id;
	__u64 amount;
	__u64 wait;
};

#define PWRING_ENTER_ARGS_SIZE_VER0	32u

struct pwring_teardown_args {
	__u32 size;
	__u32 flags;		/* must be 0 */
	__u64 id;
};

#define PWRING_TEARDOWN_ARGS_SIZE_VER0	16u

/*
 * Restrictions: PWRING_IOC_RESTRICT locks ring `id` to an allow-list, for
 * good (it cannot be loosened, replaced or undone). An entry allows one
 * operation, either on any descriptor (fd == PWRING_RESTRICT_ANY_FD, the
 * only choice for NOP, which names none) or on exactly one descriptor
 * number (arg0 as dispatched, after register loads); several entries may
 * name the same operation. From then on a request outside the list
 * completes with EACCES (one CQE, like any other error).
 */
#define PWRING_RESTRICT_ANY_FD	(-1)
#define PWRING_RESTRICT_MAX	64u	/* entries per ring */

struct pwring_restriction {
	__u32 op;		/* PWRING_OP_* */
	__s32 fd;		/* a descriptor number, or PWRING_RESTRICT_ANY_FD */
	__u32 flags;		/* must be 0 */
	__u32 _reserved;	/* must be 0 */
};

struct pwring_restrict_args {
	__u32 size;
	__u32 flags;		/* must be 0 */
	__u64 id;
	__u64 entries;		/* user pointer to nentries struct pwring_restriction */
	__u32 nentries;		/* 1 to PWRING_RESTRICT_MAX */
	__u32 _reserved;	/* must be 0 */
};

#define PWRING_RESTRICT_ARGS_SIZE_VER0	32u

/*
 * ENTER with its arguments in the ioctl's argument itself (64-bit callers):
 * no struct to copy from user memory, so it is the cheaper way in. Bits
 * 0..7 hold the id, 8..31 the amount, 32..63 the wait count. A caller with a
 * larger amount or wait passes the maximum instead: the result is the same,
 * since an SQ holds fewer SQEs than PWRING_ENTER_AMOUNT_MAX and a wait above
 * centries returns at once either way.
 */
#define PWRING_ENTER_ID_MASK		0xffu
#define PWRING_ENTER_AMOUNT_SHIFT	8
#define PWRING_ENTER_AMOUNT_MAX		0xffffffu
#define PWRING_ENTER_WAIT_SHIFT		32
#define PWRING_ENTER_WAIT_MAX		0xffffffffu

#define PWRING_IOC_MAGIC	0xb7
#define PWRING_IOC_NR_SETUP	1
#define PWRING_IOC_NR_ENTER	2
#define PWRING_IOC_NR_TEARDOWN	3
#define PWRING_IOC_NR_RESTRICT	4
/* Commands whose argument is a value, not a pointer, are numbered from 32. */
#define PWRING_IOC_NR_ENTER_PACKED	32
#define PWRING_IOC_NR_WORKER		33
#define PWRING_IOC_NR_WORK		34

/*
 * Workers: threads of the owning process that run its requests' blocking
 * and asynchronous steps, so that every step runs as the process itself.
 * PWRING_IOC_WORKER on the device returns a new close-on-exec descriptor
 * (the worker handle). PWRING_IOC_WORK on the handle makes the calling
 * thread a worker until it returns: PWRING_WORK_RETIRE (let the thread
 * go), or a count from 1 to PWRING_WORK_SPAWN_MAX (start that many more
 * workers, then call again). Its argument says why the thread calls.
 */
#define PWRING_WORK_RETIRE	0u	/* return: let this thread go */
#define PWRING_WORK_SPAWN	1u	/* return, at least: start workers, then call again */
#define PWRING_WORK_SPAWN_MAX	16u
#define PWRING_WORK_AGAIN	0u	/* argument: a worker coming back */
#define PWRING_WORK_NEW		1u	/* argument: a worker started for a SPAWN */
#define PWRING_WORK_NO_SPAWN	2u	/* argument: the SPAWN could not be done */

#ifndef PWRING_HAVE_TYPES
#include <linux/ioctl.h>
/* Return: ring id / SQEs consumed / 0, or -1 with errno. */
#define PWRING_IOC_SETUP \
	_IOWR(PWRING_IOC_MAGIC, PWRING_IOC_NR_SETUP, struct pwring_setup_args)
#define PWRING_IOC_ENTER \
	_IOW(PWRING_IOC_MAGIC, PWRING_IOC_NR_ENTER, struct pwring_enter_args)
#define PWRING_IOC_TEARDOWN \
	_IOW(PWRING_IOC_MAGIC, PWRING_IOC_NR_TEARDOWN, struct pwring_teardown_args)
/* Return: 0, or -1 with errno. */
#define PWRING_IOC_RESTRICT \
	_IOW(PWRING_IOC_MAGIC, PWRING_IOC_NR_RESTRICT, struct pwring_restrict_args)
/* The argument is the packed value itself (see PWRING_ENTER_*), not a pointer. */
#define PWRING_IOC_ENTER_PACKED	_IO(PWRING_IOC_MAGIC, PWRING_IOC_NR_ENTER_PACKED)
/* Return: a worker handle; on the handle, PWRING_WORK_RETIRE or _SPAWN. */
#define PWRING_IOC_WORKER	_IO(PWRING_IOC_MAGIC, PWRING_IOC_NR_WORKER)
#define PWRING_IOC_WORK		_IO(PWRING_IOC_MAGIC, PWRING_IOC_NR_WORK)
#endif

#define PWRING_OFFSET_CHECK(type, field, off) \
	PWRING_STATIC_ASSERT(__builtin_offsetof(type, field) == (off), #type "." #field " offset")

PWRING_STATIC_ASSERT(sizeof(struct pwring_sqe) == 64, "sqe size");
PWRING_OFFSET_CHECK(struct pwring_sqe, timeout, 0);
PWRING_OFFSET_CHECK(struct pwring_sqe, data, 8);
PWRING_OFFSET_CHECK(struct pwring_sqe, op, 16);
PWRING_OFFSET_CHECK(struct pwring_sqe, flags, 20);
PWRING_OFFSET_CHECK(struct pwring_sqe, arg0, 24);
PWRING_OFFSET_CHECK(struct pwring_sqe, arg1, 32);
PWRING_OFFSET_CHECK(struct pwring_sqe, arg2, 40);
PWRING_OFFSET_CHECK(struct pwring_sqe, arg3, 48);
PWRING_OFFSET_CHECK(struct pwring_sqe, arg4, 56);

PWRING_STATIC_ASSERT(sizeof(struct pwring_cqe) == 32, "cqe size");
PWRING_OFFSET_CHECK(struct pwring_cqe, op, 0);
PWRING_OFFSET_CHECK(struct pwring_cqe, error, 4);
PWRING_OFFSET_CHECK(struct pwring_cqe, data, 8);
PWRING_OFFSET_CHECK(struct pwring_cqe, result, 16);
PWRING_OFFSET_CHECK(struct pwring_cqe, _padding, 24);

PWRING_STATIC_ASSERT(sizeof(struct pwring_ctrl) == 192, "ctrl size");
PWRING_STATIC_ASSERT(__alignof__(struct pwring_ctrl) == 64, "ctrl alignment");
PWRING_OFFSET_CHECK(struct pwring_ctrl, shead, 0);
PWRING_OFFSET_CHECK(struct pwring_ctrl, ctail, 4);
PWRING_OFFSET_CHECK(struct pwring_ctrl, stail, 64);
PWRING_OFFSET_CHECK(struct pwring_ctrl, chead, 68);
PWRING_OFFSET_CHECK(struct pwring_ctrl, regs, 128);
PWRING_OFFSET_CHECK(struct pwring_ctrl, _reserved, 184);
PWRING_STATIC_ASSERT(PWRING_SQ_OFFSET == sizeof(struct pwring_ctrl), "sq offset");

PWRING_STATIC_ASSERT(sizeof(struct pwring_ring_info) == 64, "ring info size");
PWRING_OFFSET_CHECK(struct pwring_ring_info, ctrl, 0);
PWRING_OFFSET_CHECK(struct pwring_ring_info, id, 8);
PWRING_OFFSET_CHECK(struct pwring_ring_info, squeue, 16);
PWRING_OFFSET_CHECK(struct pwring_ring_info, sentries, 24);
PWRING_OFFSET_CHECK(struct pwring_ring_info, smask, 32);
PWRING_OFFSET_CHECK(struct pwring_ring_info, cqueue, 40);
PWRING_OFFSET_CHECK(struct pwring_ring_info, centries, 48);
PWRING_OFFSET_CHECK(struct pwring_ring_info, cmask, 56);

PWRING_STATIC_ASSERT(sizeof(struct pwring_setup_args) == PWRING_SETUP_ARGS_SIZE_VER0, "setup args");
PWRING_OFFSET_CHECK(struct pwring_setup_args, ring, 8);
PWRING_OFFSET_CHECK(struct pwring_setup_args, address, 16);
PWRING_OFFSET_CHECK(struct pwring_setup_args, sentries, 24);
PWRING_OFFSET_CHECK(struct pwring_setup_args, centries, 32);
PWRING_STATIC_ASSERT(sizeof(struct pwring_enter_args) == PWRING_ENTER_ARGS_SIZE_VER0, "enter args");
PWRING_OFFSET_CHECK(struct pwring_enter_args, id, 8);
PWRING_OFFSET_CHECK(struct pwring_enter_args, amount, 16);
PWRING_OFFSET_CHECK(struct pwring_enter_args, wait, 24);
PWRING_STATIC_ASSERT(sizeof(struct pwring_teardown_args) == PWRING_TEARDOWN_ARGS_SIZE_VER0,
		     "teardown args");
PWRING_OFFSET_CHECK(struct pwring_teardown_args, id, 8);
PWRING_STATIC_ASSERT(sizeof(struct pwring_restrict_args) == PWRING_RESTRICT_ARGS_SIZE_VER0,
		     "restrict args");
PWRING_OFFSET_CHECK(struct pwring_restrict_args, id, 8);
PWRING_OFFSET_CHECK(struct pwring_restrict_args, entries, 16);
PWRING_OFFSET_CHECK(struct pwring_restrict_args, nentries, 24);
PWRING_OFFSET_CHECK(struct pwring_restrict_args, _reserved, 28);
PWRING_STATIC_ASSERT(sizeof(struct pwring_restriction) == 16, "restriction size");
PWRING_OFFSET_CHECK(struct pwring_restriction, op, 0);
PWRING_OFFSET_CHECK(struct pwring_restriction, fd, 4);
PWRING_OFFSET_CHECK(struct pwring_restriction, flags, 8);
PWRING_OFFSET_CHECK(struct pwring_restriction, _reserved, 12);
PWRING_STATIC_ASSERT(PWRING_OP_MAX <= 32, "restriction op masks are 32 bits");

/* The packed ENTER: fields do not overlap, and the maxima cover every ring. */
PWRING_STATIC_ASSERT(PWRING_MAX_RINGS - 1 <= PWRING_ENTER_ID_MASK, "packed id");
PWRING_STATIC_ASSERT((PWRING_ENTER_ID_MASK >> PWRING_ENTER_AMOUNT_SHIFT) == 0 &&
		     ((__u64)PWRING_ENTER_AMOUNT_MAX << PWRING_ENTER_AMOUNT_SHIFT) >>
		     PWRING_ENTER_WAIT_SHIFT == 0, "packed fields overlap");
PWRING_STATIC_ASSERT(PWRING_ENTER_WAIT_SHIFT + 32 == 64, "packed wait is the top 32 bits");
PWRING_STATIC_ASSERT((__u64)PWRING_MAX_PAGES * 4096 / sizeof(struct pwring_sqe) <
		     PWRING_ENTER_AMOUNT_MAX, "packed amount covers the largest SQ");
PWRING_STATIC_ASSERT(PWRING_MAX_CENTRIES < PWRING_ENTER_WAIT_MAX,
		     "packed wait covers the largest CQ");

#endif /* _UAPI_PWRING_H */
