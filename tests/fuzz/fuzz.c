// SPDX-License-Identifier: MIT
/*
 * pwring-fuzz: hostile input at scale against /dev/pwring, in a test guest.
 *
 *   pwring-fuzz [-t SECONDS] [-s SEED] [-p PROCESSES] [-j THREADS] [-v]
 *
 * Several processes with several threads each, every thread with its own
 * PRNG derived from the seed (so the choices a thread makes are reproducible;
 * the interleaving of threads is not). Threads run scenarios:
 *
 *  - ring sessions: rings on a private descriptor fed random and boundary SQEs
 *    (every op, valid and not; every flag bit and register specifier; chains
 *    of every length, cut by the SQ tail), random descriptors (closed, just
 *    closed, the device itself, pipes, sockets, eventfd, a directory, O_PATH,
 *    /dev/zero, a tmpfs file), random buffers (NULL, unmapped, kernel
 *    addresses, read-only, unmapped while in flight), hostile control-block
 *    fields (stail, chead, registers), enter in struct or packed form with
 *    random sizes and tails, lent worker threads or none, and lifetime races:
 *    munmap/mremap/mprotect/madvise of the ring, teardown and enter from two
 *    threads, fork (the child must get EPERM), dup2 over the device
 *    descriptor, close with requests in flight;
 *    Some rings are locked to a random allow-list (PWRING_IOC_RESTRICT),
 *    changed again (EPERM) or sent bad lists (EINVAL);
 *  - setup at hostile addresses, sizes and descriptor pointers;
 *  - ioctls with random command numbers, sizes, tails and arguments.
 * The supervisor kills worker processes at random (exit with rings in
 * flight) and starts new ones.
 *
 * The model, per ring: every SQE that enter says it consumed yields exactly
 * one CQE, so once the ring is closed (which cancels) ctail must reach the
 * number consumed, and shead must have moved by exactly what enter returned.
 * Each CQE of a ring fed only well-formed control fields is matched to its
 * SQE: its op, a data tag seen once, and its error in the documented set for
 * that SQE (EINVAL for reserved flag bits and unknown ops, ETIMEDOUT only
 * with a timeout, ECANCELED only in a chain or after close, NOP never
 * succeeds, results bounded by the count or the poll bits; on a restricted
 * ring EACCES exactly for what its list refuses, either way only where the
 * descriptor comes from a register or the SQE was consumed before the lock). Every call's
 * errno must be one the ABI documents for it. Anything else is a violation.
 *
 * Last line: "fuzz: <N> operations, <N> violations, seed <S>"; exit status 1
 * on any violation.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/pwring.h>

#define PAGE		4096UL
#define KADDR		0xffff888000000000ULL
#define MAX_PROCS	8
#define MAX_THREADS	8
#define RECS		4096u		/* SQE records per ring: a session stays below */
#define MAX_RINGS	3
#define SCRATCH		(64 * 1024)
#define MAX_RW		0x7ffff000ULL

/* ---- shared state and reporting ------------------------------------------------ */

struct shared {
	_Atomic uint64_t ops;
	_Atomic uint64_t violations;
	_Atomic uint64_t restricted;	/* rings locked to an allow-list */
	_Atomic uint64_t eacces;	/* CQEs refused by one (seen on precise rings) */
	_Atomic int stop;
};
static struct shared *sh;
static uint64_t g_seed;
static int g_verbose;
static unsigned g_off;	/* -x: scenarios switched off, to narrow a failure down */
#define OFF(bit) (g_off & (1u << (bit)))

struct thr;
static __thread struct thr *cur;

static void violation(const char *fmt, ...);

/* ---- PRNG ------------------------------------------------------------------------ */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

struct thr {
	uint64_t rng;
	unsigned proc, idx, gen;
	uint64_t step;
	timer_t timer;
	bool have_timer;
	char *scratch;		/* SCRATCH bytes, read/write */
	char *ro;		/* one read-only page */
	char *land;		/* PROT_NONE, LAND bytes: where mremap may try to move a ring */
	/* descriptors this thread owns (-1: none) */
	int pipe_r, pipe_w, sock_a, sock_b, efd, dirfd, pathfd, zero, file, closed_fd;
};

static uint64_t rnd(void) { return splitmix(&cur->rng); }
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }
static bool chance(unsigned pct) { return below(100) < pct; }

static void violation(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "VIOLATION (seed %llu proc %u.%u thread %u step %llu): ",
		     (unsigned long long)g_seed, cur ? cur->proc : 0, cur ? cur->gen : 0,
		     cur ? cur->idx : 0, cur ? (unsigned long long)cur->step : 0ULL);
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", buf);
	atomic_fetch_add(&sh->violations, 1);
}

static void op_done(void) { atomic_fetch_add_explicit(&sh->ops, 1, memory_order_relaxed); }
static bool stopping(void) { return atomic_load_explicit(&sh->stop, memory_order_relaxed); }

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

/* ---- interrupting waits ------------------------------------------------------------- */

static void on_alarm(int sig) { (void)sig; }

/* A fault of ours is a violation too (the kernel took memory away, or a bug here). */
static void on_fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	violation("signal %d at address %p", sig, si->si_addr);
	_exit(3);
}

/* Arm this thread's timer: a wait that cannot end gets EINTR after ms. */
static void arm(unsigned ms)
{
	struct itimerspec its = { .it_value = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L } };

	if (cur->have_timer)
		timer_settime(cur->timer, 0, &its, NULL);
}

static void disarm(void)
{
	struct itimerspec its = { 0 };

	if (cur->have_timer)
		timer_settime(cur->timer, 0, &its, NULL);
}

static void thread_timer(void)
{
	struct sigevent sev = { 0 };

	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGUSR1;
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	cur->have_timer = timer_create(CLOCK_MONOTONIC, &sev, &cur->timer) == 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static bool in_set(int e, const int *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == e)
			return true;
	return false;
}
#define IN(e, ...) in_set((e), (const int[]){ __VA_ARGS__ }, sizeof((const int[]){ __VA_ARGS__ }) / sizeof(int))

/* ---- descriptors ------------------------------------------------------------------------ */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void fds_close(struct thr *t)
{
	close_fd(&t->pipe_r); close_fd(&t->pipe_w); close_fd(&t->sock_a); close_fd(&t->sock_b);
	close_fd(&t->efd); close_fd(&t->dirfd); close_fd(&t->pathfd); close_fd(&t->zero);
	close_fd(&t->file);
}

static void fds_open(struct thr *t)
{
	int p[2], s[2];
	char name[64];

	fds_close(t);
	if (pipe2(p, O_CLOEXEC | (chance(30) ? O_NONBLOCK : 0)) == 0) {
		t->pipe_r = p[0];
		t->pipe_w = p[1];
	}
	if (socketpair(AF_UNIX, (chance(50) ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0, s) == 0) {
		t->sock_a = s[0];
		t->sock_b = s[1];
	}
	t->efd = eventfd((unsigned)below(3), EFD_CLOEXEC | (chance(30) ? EFD_NONBLOCK : 0));
	t->dirfd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	t->pathfd = open("/tmp", O_PATH | O_CLOEXEC);
	t->zero = open("/dev/zero", O_RDWR | O_CLOEXEC);
	snprintf(name, sizeof(name), "/tmp/pwring-fuzz.%d.%u", getpid(), t->idx);
	t->file = open(name, O_RDWR | O_CREAT | O_CLOEXEC | (chance(20) ? O_APPEND : 0), 0600);
	if (t->file >= 0 && chance(50))
		ftruncate(t->file, (off_t)below(3 * PAGE));
	/* a number that was just closed */
	t->closed_fd = dup(0);
	if (t->closed_fd >= 0)
		close(t->closed_fd);
}

/* A descriptor for an SQE: anything, hostile or not. */
static uint64_t pick_fd(int ring_fd)
{
	switch (below(16)) {
	case 0: return (uint64_t)cur->pipe_r;
	case 1: return (uint64_t)cur->pipe_w;
	case 2: return (uint64_t)cur->sock_a;
	case 3: return (uint64_t)cur->sock_b;
	case 4: return (uint64_t)cur->efd;
	case 5: return (uint64_t)cur->dirfd;
	case 6: return (uint64_t)cur->pathfd;
	case 7: return (uint64_t)cur->zero;
	case 8: case 9: return (uint64_t)cur->file;
	case 10: return (uint64_t)ring_fd;
	case 11: return (uint64_t)cur->closed_fd;
	case 12: return (uint64_t)-1;
	case 13: return 1u << 30;
	case 14: return rnd();
	default: return below(64);
	}
}

/* ---- buffers ------------------------------------------------------------------------------ */

/*
 * An address nothing of ours will ever occupy: a request may hold it for a
 * long time, so it must not become some later mapping of ours. Either below
 * mmap_min_addr, or in a PROT_NONE reservation kept for the process's life.
 */
#define RESERVE (256 * PAGE)
#define LAND (16 * PAGE)
static char *reserve;

static void *unmapped_addr(void)
{
	if (reserve && chance(60))
		return reserve + below(RESERVE / PAGE) * PAGE + (chance(20) ? below(PAGE) : 0);
	return (void *)(PAGE * (1 + below(14)));
}

/* A hole in the address space, free right now (for mappings we ask for there). */
static void *free_hole(void)
{
	void *p = mmap(NULL, 8 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return reserve;
	munmap(p, 8 * PAGE);
	return (char *)p + 2 * PAGE;
}

/* n usable pages between two PROT_NONE guard pages: overruns fault, never spill. */
static char *guarded(size_t bytes)
{
	char *p = mmap(NULL, bytes + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p + PAGE, bytes, PROT_READ | PROT_WRITE)) {
		munmap(p, bytes + 2 * PAGE);
		return NULL;
	}
	return p + PAGE;
}

/*
 * A buffer for READ (written by the kernel) or WRITE: never anything of ours
 * but the scratch area, and *vol (a mapping that may go away while in flight).
 */
static uint64_t pick_buf(char *vol, uint64_t *count)
{
	uint64_t c;

	switch (below(6)) {
	case 0: c = 0; break;
	case 1: c = 1 + below(16); break;
	case 2: c = PAGE; break;
	case 3: c = below(SCRATCH); break;
	case 4: c = below(3) == 0 ? rnd() : MAX_RW + below(2 * PAGE); break;
	default: c = 8; break;
	}
	*count = c;
	switch (below(12)) {
	case 0: return 0;
	case 1: return (uint64_t)(uintptr_t)unmapped_addr();
	case 2: return KADDR + below(1 << 20) * 8;
	case 3: return (uint64_t)(uintptr_t)cur->ro;
	case 4: return vol ? (uint64_t)(uintptr_t)vol : 0;
	case 5: return (uint64_t)(uintptr_t)(cur->scratch + SCRATCH - below(64));	/* runs off the end */
	case 6: return -1ULL - below(PAGE);
	default:
		if (*count > SCRATCH && below(4))
			*count = below(SCRATCH);
		return (uint64_t)(uintptr_t)(cur->scratch + below(PAGE));
	}
}

/* ---- rings and their model --------------------------------------------------------------- */

struct rec {
	uint32_t op, flags;
	uint64_t timeout, count, fd;
	bool chained;		/* its predecessor in the same enter batch links to it */
	bool seen;
	bool poll;
};

struct ring {
	bool live;		/* set up, not torn down */
	bool mapped;		/* we may touch its memory */
	bool precise;		/* control fields never corrupted: CQEs are checked one by one */
	bool closed;		/* its descriptor went: ECANCELED is fine */
	bool smashed;		/* we wrote shead/ctail: the final counts cannot be read */
	/* PWRING_IOC_RESTRICT: the allow-list, and the first SQE consumed after it */
	bool restricted;
	uint32_t allow_any;	/* ops allowed on any descriptor (bit per op) */
	int nallow;
	struct { uint32_t op; int fd; } allow[8];
	uint64_t restrict_from;
	uint64_t id;
	struct pwring_ring_info info;
	struct pwring_ctrl *ctrl;
	struct pwring_sqe *sq;
	struct pwring_cqe *cq;
	size_t bytes;
	uint32_t stail;		/* ours */
	uint32_t reaped;	/* our chead */
	_Atomic uint64_t consumed;
	uint32_t last_link;	/* flags of the last SQE consumed (for chains across enters) */
	struct rec rec[RECS];
};

struct session {
	int fd;			/* the device descriptor of its rings */
	int handle;		/* worker handle, or -1 */
	struct ring ring[MAX_RINGS];
	int nrings;
	char *vol;		/* buffer that may be unmapped while in flight */
	char *vol_area;		/* where it is or was (guarded; PROT_NONE once gone) */
	_Atomic int workers;
	bool handle_used;
};

static uint32_t load_acq(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void store_rel(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

static uint64_t spec(void)
{
	return chance(75) ? PWRING_REG_NONE : below(8);
}

static uint32_t pick_flags(void)
{
	uint32_t f = 0;

	switch (below(8)) {
	case 0: return (uint32_t)rnd();					/* anything */
	case 1: return 0;						/* all register 0 */
	case 2: f = PWRING_NO_REGS | (1u << (20 + below(12))); break;	/* one reserved bit */
	default:
		for (unsigned s = 0; s <= PWRING_SAVE; s += 3)
			f |= (uint32_t)spec() << s;
		break;
	}
	if (chance(30))
		f |= PWRING_LINK;
	if (chance(15))
		f |= PWRING_HARDLINK;
	return f;
}

static uint64_t pick_timeout(void)
{
	switch (below(6)) {
	case 0: return 0;
	case 1: return below(1000000);			/* < 1 ms */
	case 2: return 1000000 + below(50000000);	/* < 50 ms */
	case 3: return PWRING_TIMEOUT_NEVER;
	case 4: return PWRING_TIMEOUT_NEVER - below(2);
	default: return below(300000000);		/* < 300 ms */
	}
}

static uint32_t pick_op(void)
{
	switch (below(12)) {
	case 0: return PWRING_OP_MAX + (uint32_t)below(3);
	case 1: return (uint32_t)rnd();
	case 2: case 3: return PWRING_OP_NOP;
	case 4: case 5: case 6: return PWRING_OP_READ;
	case 7: case 8: case 9: return PWRING_OP_WRITE;
	default: return PWRING_OP_POLL;
	}
}

static void gen_sqe(struct session *s, struct pwring_sqe *sqe, uint64_t tag)
{
	uint64_t count;

	memset(sqe, 0, sizeof(*sqe));
	sqe->op = pick_op();
	sqe->flags = pick_flags();
	sqe->timeout = pick_timeout();
	sqe->data = tag;
	sqe->arg0 = pick_fd(s->fd);
	if (sqe->op == PWRING_OP_POLL) {
		/* (see DEV_FD_MIN) not the device, nor a number from a register */
		if (sqe->arg0 == (uint64_t)s->fd)
			sqe->arg0 = (uint64_t)cur->pipe_r;
		sqe->flags |= PWRING_REG_NONE << PWRING_LOAD0;
		sqe->arg1 = chance(80) ? below(32) : rnd();
	} else {
		sqe->arg1 = pick_buf(s->vol, &count);
		sqe->arg2 = count;
	}
	switch (below(5)) {
	case 0: sqe->arg3 = (uint64_t)PWRING_OFF_CUR; break;
	case 1: sqe->arg3 = (uint64_t)-2 - below(5); break;
	case 2: sqe->arg3 = rnd(); break;
	default: sqe->arg3 = below(4 * PAGE); break;
	}
	sqe->arg4 = chance(80) ? 0 : rnd();
}

/*
 * What a restricted ring's allow-list means for SQE seq: it never gets
 * EACCES, it must, or it may (its descriptor comes from a register, or it
 * was consumed before the lock and may have been dispatched either side).
 * Reserved flags and unknown ops complete EINVAL before the list is read.
 */
enum { DENY_NEVER, DENY_MUST, DENY_MAYBE };

static int deny_verdict(const struct ring *r, uint32_t seq, const struct rec *q)
{
	bool listed = false, match = false;
	int v;

	if (!r->restricted || (q->flags & PWRING_FLAGS_RESERVED) || q->op >= PWRING_OP_MAX ||
	    (r->allow_any & (1u << q->op)))
		return DENY_NEVER;
	for (int i = 0; i < r->nallow; i++)
		if (r->allow[i].op == q->op) {
			listed = true;
			match |= (uint64_t)(int64_t)r->allow[i].fd == q->fd;
		}
	if (!listed)
		v = DENY_MUST;
	else if (((q->flags >> PWRING_LOAD0) & PWRING_REG_MASK) != PWRING_REG_NONE)
		v = DENY_MAYBE;
	else
		v = match ? DENY_NEVER : DENY_MUST;
	if (seq < r->restrict_from && v == DENY_MUST)
		v = DENY_MAYBE;
	return v;
}

/* Check one CQE of a precise ring against its SQE. */
static void check_cqe(struct ring *r, const struct pwring_cqe *c)
{
	uint64_t tag = c->data;
	uint32_t seq = (uint32_t)tag;
	uint64_t consumed = atomic_load(&r->consumed);
	struct rec *q;
	int e = c->error;
	bool cancel_ok, timeout_ok;
	int deny;

	if ((tag >> 32) != (r->id + 1) || seq >= consumed || seq >= RECS) {
		violation("ring %llu: CQE data %#llx names no consumed SQE (consumed %llu)",
			  (unsigned long long)r->id, (unsigned long long)tag,
			  (unsigned long long)consumed);
		return;
	}
	q = &r->rec[seq];
	if (q->seen)
		violation("ring %llu: second CQE for SQE %u", (unsigned long long)r->id, seq);
	q->seen = true;
	if (c->op != q->op)
		violation("ring %llu SQE %u: CQE op %u, SQE op %u", (unsigned long long)r->id, seq,
			  c->op, q->op);
	if (c->_padding)
		violation("ring %llu SQE %u: CQE padding %#llx", (unsigned long long)r->id, seq,
			  (unsigned long long)c->_padding);
	cancel_ok = q->chained || r->closed;
	timeout_ok = q->timeout != PWRING_TIMEOUT_NEVER;
	if (e == ECANCELED && cancel_ok)
		return;
	deny = deny_verdict(r, seq, q);
	if (e == EACCES) {
		atomic_fetch_add_explicit(&sh->eacces, 1, memory_order_relaxed);
		if (deny == DENY_NEVER)
			violation("ring %llu SQE %u (op %u fd %lld flags %#x): EACCES, %s",
				  (unsigned long long)r->id, seq, q->op, (long long)q->fd, q->flags,
				  r->restricted ? "allowed by the ring's list" : "ring not restricted");
		return;
	}
	if (deny == DENY_MUST) {
		violation("ring %llu SQE %u (op %u fd %lld flags %#x): error %s, want EACCES (restricted)",
			  (unsigned long long)r->id, seq, q->op, (long long)q->fd, q->flags, ename(e));
		return;
	}
	if (e == ETIMEDOUT && timeout_ok && !(q->flags & PWRING_FLAGS_RESERVED) &&
	    q->op < PWRING_OP_MAX)
		return;
	if ((q->flags & PWRING_FLAGS_RESERVED) || q->op >= PWRING_OP_MAX) {
		if (e != EINVAL)
			violation("ring %llu SQE %u (op %u flags %#x): error %s, want EINVAL",
				  (unsigned long long)r->id, seq, q->op, q->flags, ename(e));
		return;
	}
	switch (q->op) {
	case PWRING_OP_NOP:
		violation("ring %llu SQE %u: NOP (timeout %#llx) completed with %s",
			  (unsigned long long)r->id, seq, (unsigned long long)q->timeout, ename(e));
		return;
	case PWRING_OP_POLL:
		if (e != 0)
			violation("ring %llu SQE %u: POLL error %s", (unsigned long long)r->id, seq,
				  ename(e));
		else if (c->result & ~0x1fULL)
			violation("ring %llu SQE %u: POLL result %#llx has unknown bits",
				  (unsigned long long)r->id, seq, (unsigned long long)c->result);
		return;
	default:
		if (e == 0) {
			uint64_t max = q->count < MAX_RW ? q->count : MAX_RW;

			/* a count loaded from a register is not the one we know */
			if (((q->flags >> PWRING_LOAD2) & PWRING_REG_MASK) == PWRING_REG_NONE &&
			    c->result > max)
				violation("ring %llu SQE %u: op %u transferred %llu of %llu",
					  (unsigned long long)r->id, seq, q->op,
					  (unsigned long long)c->result, (unsigned long long)q->count);
			return;
		}
		if (!IN(e, EBADF, EFAULT, EINVAL, ESPIPE, EISDIR, EAGAIN, EPIPE, EFBIG, ENOSPC,
			ENOTCONN, ECONNRESET, EOVERFLOW, ENOMEM, EOPNOTSUPP, EDESTADDRREQ, EMSGSIZE,
			ENOBUFS))
			violation("ring %llu SQE %u: op %u error %s (%d) not in the documented set%s",
				  (unsigned long long)r->id, seq, q->op, ename(e), e,
				  e == ECANCELED ? " (ECANCELED outside a chain)" :
				  e == ETIMEDOUT ? " (ETIMEDOUT without a timeout)" : "");
		return;
	}
}

/* Errors any CQE of an imprecise ring may carry. */
static void check_cqe_loose(struct ring *r, const struct pwring_cqe *c)
{
	int e = c->error;

	if (e == EACCES && r->restricted)
		return;

	if (e < 0 || e > 133 || (e && !IN(e, EBADF, EFAULT, EINVAL, ESPIPE, EISDIR, EAGAIN, EPIPE,
					  EFBIG, ENOSPC, ENOTCONN, ECONNRESET, EOVERFLOW, ENOMEM,
					  EOPNOTSUPP, EDESTADDRREQ, EMSGSIZE, ENOBUFS, ECANCELED,
					  ETIMEDOUT)))
		violation("ring %llu: CQE error %d (%s) is no errno the ABI gives",
			  (unsigned long long)r->id, e, ename(e));
}

static void reap(struct ring *r, bool all)
{
	uint32_t tail, n = 0;

	if (!r->mapped)
		return;
	tail = load_acq(&r->ctrl->ctail);
	if (tail - r->reaped > r->info.centries) {
		/* more CQEs than the CQ holds: an overflow, or fields we smashed */
		if (r->precise)
			violation("ring %llu: ctail %u is more than %llu ahead of chead %u",
				  (unsigned long long)r->id, tail,
				  (unsigned long long)r->info.centries, r->reaped);
		r->precise = false;
		r->reaped = tail - (uint32_t)r->info.centries;
	}
	while (r->reaped != tail && (all || n < 4 || chance(80))) {
		struct pwring_cqe c = r->cq[r->reaped & r->info.cmask];

		if (r->precise)
			check_cqe(r, &c);
		else
			check_cqe_loose(r, &c);
		r->reaped++;
		n++;
	}
	store_rel(&r->ctrl->chead, r->reaped);
}

/* Queue n SQEs (they are consumed by a later enter). */
static void submit(struct session *s, struct ring *r)
{
	uint32_t room, n, i;
	uint32_t shead = load_acq(&r->ctrl->shead);

	room = (uint32_t)r->info.sentries - (r->stail - shead);
	if (r->stail - shead > r->info.sentries)
		room = 0;
	n = (uint32_t)below(room + 1);
	if (r->stail + n >= RECS)
		n = r->stail < RECS ? RECS - 1 - r->stail : 0;
	for (i = 0; i < n; i++) {
		struct pwring_sqe sqe;
		uint32_t seq = r->stail;

		gen_sqe(s, &sqe, ((r->id + 1) << 32) | seq);
		r->rec[seq] = (struct rec){ .op = sqe.op, .flags = sqe.flags, .timeout = sqe.timeout,
					    .count = sqe.arg2, .fd = sqe.arg0 };
		r->sq[seq & r->info.smask] = sqe;
		r->stail++;
		/* sometimes the tail moves in the middle of a chain */
		if (chance(10))
			store_rel(&r->ctrl->stail, r->stail);
	}
	store_rel(&r->ctrl->stail, r->stail);
}

/* enter, in one of its forms; returns consumed or -1 with errno. */
static long do_enter(int fd, uint64_t id, uint64_t amount, uint64_t wait, int *form)
{
	struct { struct pwring_enter_args a; uint64_t tail[4]; } big;

	*form = (int)below(8);
	switch (*form) {
	case 0: case 1: case 2: {
		uint64_t v = (id & PWRING_ENTER_ID_MASK) |
			     ((amount > PWRING_ENTER_AMOUNT_MAX ? PWRING_ENTER_AMOUNT_MAX : amount)
			      << PWRING_ENTER_AMOUNT_SHIFT) |
			     ((wait > PWRING_ENTER_WAIT_MAX ? PWRING_ENTER_WAIT_MAX : wait)
			      << PWRING_ENTER_WAIT_SHIFT);
		if (id > PWRING_ENTER_ID_MASK)
			v = (v & ~(uint64_t)PWRING_ENTER_ID_MASK) | 0xff;
		return ioctl(fd, PWRING_IOC_ENTER_PACKED, v);
	}
	case 3:		/* a larger struct with a zero tail: accepted */
		memset(&big, 0, sizeof(big));
		big.a = (struct pwring_enter_args){ .size = sizeof(big), .id = id, .amount = amount,
						    .wait = wait };
		return ioctl(fd, PWRING_IOC_ENTER, &big);
	case 4:		/* a non-zero tail: E2BIG, nothing done */
		memset(&big, 0, sizeof(big));
		big.a = (struct pwring_enter_args){ .size = sizeof(big), .id = id, .amount = amount,
						    .wait = wait };
		big.tail[below(4)] = 1 + below(1000);
		return ioctl(fd, PWRING_IOC_ENTER, &big);
	default: {
		struct pwring_enter_args a = { .size = sizeof(a), .id = id, .amount = amount,
					       .wait = wait };
		return ioctl(fd, PWRING_IOC_ENTER, &a);
	}
	}
}

static void enter_ring(struct session *s, struct ring *r)
{
	uint32_t shead0 = r->mapped ? load_acq(&r->ctrl->shead) : 0;
	uint32_t ready = r->mapped ? r->stail - shead0 : 0;
	uint64_t amount, wait, before;
	long ret;
	int form, err;

	switch (below(5)) {
	case 0: amount = 0; break;
	case 1: amount = 1; break;
	case 2: amount = -1ULL; break;
	default: amount = below(ready + 2); break;
	}
	switch (below(6)) {
	case 0: case 1: case 2: wait = 0; break;
	case 3: wait = 1; break;
	case 4: wait = below(r->info.centries + 2); break;
	default: wait = chance(50) ? r->info.centries + 1 : -1ULL; break;
	}
	before = atomic_load(&r->consumed);
	/* a wait, or a blocking step run in this enter (no worker), ends by a signal */
	arm(50 + (unsigned)below(200));
	ret = do_enter(s->fd, r->id, amount, wait, &form);
	err = errno;
	disarm();
	op_done();
	if (ret >= 0) {
		uint64_t lim = r->precise ? ready : r->info.sentries;

		if (form == 4)
			violation("enter with a non-zero tail returned %ld, want E2BIG", ret);
		if ((uint64_t)ret > amount || (uint64_t)ret > lim)
			violation("ring %llu: enter(amount %llu) consumed %ld of %u ready",
				  (unsigned long long)r->id, (unsigned long long)amount, ret, ready);
		if (r->precise && r->mapped) {
			uint32_t shead = load_acq(&r->ctrl->shead);

			if (shead - shead0 != (uint32_t)ret)
				violation("ring %llu: enter returned %ld but shead moved %u",
					  (unsigned long long)r->id, ret, shead - shead0);
		}
		/* links hold within one enter: the first of a batch is no successor */
		for (long i = 0; r->precise && i < ret; i++) {
			uint64_t seq = before + i;

			if (seq < RECS)
				r->rec[seq].chained = i > 0 && (r->rec[seq - 1].flags &
								 (PWRING_LINK | PWRING_HARDLINK));
		}
		atomic_fetch_add(&r->consumed, (uint64_t)ret);
		return;
	}
	if (form == 4 && err == E2BIG)
		return;
	if (!IN(err, EBUSY, EINTR, ENOMEM))
		violation("ring %llu: enter(amount %llu, wait %llu, form %d) failed %s",
			  (unsigned long long)r->id, (unsigned long long)amount,
			  (unsigned long long)wait, form, ename(err));
}

/* ---- workers: threads lent to the kernel ------------------------------------------------ */

struct worker_arg { int handle; struct session *s; };

static void *worker_main(void *p);

static bool worker_spawn(int handle)
{
	pthread_attr_t attr;
	pthread_t th;
	int h = fcntl(handle, F_DUPFD_CLOEXEC, 0);
	bool ok;

	if (h < 0)
		return false;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ok = pthread_create(&th, &attr, worker_main, (void *)(intptr_t)h) == 0;
	pthread_attr_destroy(&attr);
	if (!ok)
		close(h);
	return ok;
}

static void *worker_main(void *p)
{
	int h = (int)(intptr_t)p;
	unsigned long why = PWRING_WORK_NEW;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		long ret = ioctl(h, PWRING_IOC_WORK, why);

		why = PWRING_WORK_AGAIN;
		if (ret == PWRING_WORK_SPAWN) {
			if (!worker_spawn(h))
				why = PWRING_WORK_NO_SPAWN;
			continue;
		}
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0 && !IN(errno, EBADF, ENOTTY, EINVAL, EPERM))
			fprintf(stderr, "fuzz: worker: WORK failed %s\n", ename(errno));
		break;
	}
	close(h);
	return NULL;
}

/* ---- ring sessions --------------------------------------------------------------------------- */

static uint64_t pow2(unsigned max_shift) { return 1ULL << below(max_shift + 1); }

static int raw_setup(int fd, struct pwring_ring_info *info, uint64_t addr, uint64_t se, uint64_t ce)
{
	struct pwring_setup_args a = { .size = sizeof(a), .ring = (uint64_t)(uintptr_t)info,
				       .address = addr, .sentries = se, .centries = ce };

	return ioctl(fd, PWRING_IOC_SETUP, &a);
}

static int raw_teardown(int fd, uint64_t id)
{
	struct pwring_teardown_args a = { .size = sizeof(a), .id = id };

	return ioctl(fd, PWRING_IOC_TEARDOWN, &a);
}

static void ring_map(struct ring *r)
{
	r->ctrl = (struct pwring_ctrl *)(uintptr_t)r->info.ctrl;
	r->sq = (struct pwring_sqe *)(uintptr_t)r->info.squeue;
	r->cq = (struct pwring_cqe *)(uintptr_t)r->info.cqueue;
	r->bytes = (PWRING_SQ_OFFSET + r->info.sentries * 64 + r->info.centries * 32 + PAGE - 1) &
		   ~(PAGE - 1);
}

/*
 * A POLL holds its file while it waits, and pwring's device has no poll of
 * its own: a POLL on a device descriptor asking for neither READ nor WRITE
 * waits until its timeout, keeping that device file open, so closing its
 * descriptor is not its last close and cancels nothing (as with any file).
 * So that "close cancels" holds in the model, device descriptors live at
 * DEV_FD_MIN and up, where no random descriptor number of an SQE falls, and
 * a POLL never names one (pick_fd, gen_sqe).
 */
#define DEV_FD_MIN 256

static int open_device(void)
{
	int fd = open(PWRING_DEVICE_PATH, O_RDWR | O_CLOEXEC), high;

	if (fd < 0)
		return fd;
	high = fcntl(fd, F_DUPFD_CLOEXEC, DEV_FD_MIN);
	close(fd);
	return high;
}

/*
 * Takes the pages of the volatile buffer away (requests using them fault
 * from now on) and keeps the address reserved: PROT_NONE, in one mmap
 * MAP_FIXED, with no moment at which the range is free for another mapping.
 */
static bool vol_retire(char *vol)
{
	return mmap(vol, 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == vol;
}

static bool session_open(struct session *s)
{
	memset(s, 0, sizeof(*s));
	s->handle = -1;
	s->fd = open_device();
	op_done();
	if (s->fd < 0) {
		violation("open %s: %s", PWRING_DEVICE_PATH, ename(errno));
		return false;
	}
	s->nrings = 1 + (int)below(MAX_RINGS);
	for (int i = 0; i < s->nrings; i++) {
		struct ring *r = &s->ring[i];
		uint64_t se = pow2(6), ce = pow2(7);
		int id = raw_setup(s->fd, &r->info, 0, se, ce);

		op_done();
		if (id < 0) {
			if (!IN(errno, ENOMEM))
				violation("setup(%llu, %llu) failed %s", (unsigned long long)se,
					  (unsigned long long)ce, ename(errno));
			s->nrings = i;
			break;
		}
		r->live = r->mapped = r->precise = true;
		r->id = (uint64_t)id;
		ring_map(r);
		if (r->info.sentries != se || r->info.centries != ce || r->info.id != (uint64_t)id)
			violation("setup filled sentries %llu centries %llu id %llu",
				  (unsigned long long)r->info.sentries,
				  (unsigned long long)r->info.centries,
				  (unsigned long long)r->info.id);
	}
	if (s->nrings && chance(50) && !OFF(9)) {
		s->handle = ioctl(s->fd, PWRING_IOC_WORKER);
		op_done();
		if (s->handle >= 0)
			s->handle_used = worker_spawn(s->handle);
		else if (!IN(errno, ENOMEM, EMFILE))
			violation("WORKER failed %s", ename(errno));
	}
	s->vol = s->vol_area = guarded(2 * PAGE);
	return true;
}

/* The ring's descriptor went (close, dup2): everything is cancelled. */
static void session_closed(struct session *s)
{
	for (int i = 0; i < s->nrings; i++)
		s->ring[i].closed = true;
}

/* After close: every consumed SQE must show up as a CQE. */
static void session_finish(struct session *s)
{
	bool quiet = true;	/* every ring seen idle: nothing can touch vol any more */

	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	session_closed(s);
	close_fd(&s->handle);
	for (int i = 0; i < s->nrings; i++) {
		struct ring *r = &s->ring[i];
		uint64_t consumed = atomic_load(&r->consumed);
		int waited = 0;

		if (!r->live)
			goto unmap;
		if (!r->mapped) {
			quiet = false;
			goto unmap;
		}
		if (r->smashed) {
			quiet = false;
			sleep_ms(10);
			goto unmap;
		}
		while ((uint32_t)(load_acq(&r->ctrl->ctail) - (uint32_t)consumed) != 0 && waited < 15000) {
			/* a corrupt chead may have let the kernel overwrite CQEs we still hold */
			reap(r, true);
			sleep_ms(2);
			waited += 2;
		}
		reap(r, true);
		if ((uint32_t)consumed != load_acq(&r->ctrl->ctail)) {
			quiet = false;
			violation("ring %llu: %llu SQEs consumed but ctail is %u 15 s after close",
				  (unsigned long long)r->id, (unsigned long long)consumed,
				  load_acq(&r->ctrl->ctail));
		}
		if ((uint32_t)consumed != load_acq(&r->ctrl->shead))
			violation("ring %llu: %llu SQEs consumed but shead is %u",
				  (unsigned long long)r->id, (unsigned long long)consumed,
				  load_acq(&r->ctrl->shead));
		if (r->precise)
			for (uint64_t q = 0; q < consumed && q < RECS; q++)
				if (!r->rec[q].seen) {
					violation("ring %llu: no CQE for SQE %llu (op %u flags %#x timeout %#llx fd %lld chained %d; %s)",
						  (unsigned long long)r->id, (unsigned long long)q,
						  r->rec[q].op, r->rec[q].flags,
						  (unsigned long long)r->rec[q].timeout,
						  (long long)r->rec[q].fd, r->rec[q].chained,
						  s->handle_used ? "with workers" : "no workers");
				}
unmap:
		if (r->live && r->mapped)
			munmap(r->ctrl, r->bytes);
		r->live = false;
	}
	/*
	 * The buffer area goes only when nothing can still write to it: every
	 * ring seen idle. Otherwise a cancelled request still in a worker could
	 * write to whatever took the address next (another thread's ring), so
	 * the area stays reserved, PROT_NONE, for the process's life.
	 */
	if (s->vol_area && (quiet || !vol_retire(s->vol_area)))
		munmap(s->vol_area - PAGE, 4 * PAGE);
	s->vol = s->vol_area = NULL;
}

static int restrict_call(int fd, uint64_t id, const struct pwring_restriction *e, uint32_t n)
{
	struct pwring_restrict_args a = { .size = sizeof(a), .id = id,
					  .entries = (uint64_t)(uintptr_t)e, .nentries = n };

	return ioctl(fd, PWRING_IOC_RESTRICT, &a);
}

/* A forked child may not use the parent's rings (EPERM), only drop the file. */
static void fork_probe(struct session *s)
{
	pid_t pid;
	int status;

	if (!s->nrings || s->fd < 0)
		return;
	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		struct pwring_ring_info info;
		struct pwring_enter_args a = { .size = sizeof(a), .id = s->ring[0].id, .amount = 1 };
		int bad = 0;

		if (raw_setup(s->fd, &info, 0, 4, 4) != -1 || errno != EPERM)
			bad |= 1;
		if (ioctl(s->fd, PWRING_IOC_ENTER, &a) != -1 || errno != EPERM)
			bad |= 2;
		if (ioctl(s->fd, PWRING_IOC_ENTER_PACKED, s->ring[0].id | (1 << 8)) != -1 ||
		    errno != EPERM)
			bad |= 4;
		if (raw_teardown(s->fd, s->ring[0].id) != -1 || errno != EPERM)
			bad |= 8;
		if (s->ring[0].mapped && msync(s->ring[0].ctrl, PAGE, MS_ASYNC) == 0)
			bad |= 16;	/* the ring mapping is not inherited */
		{
			struct pwring_restriction e = { .op = PWRING_OP_POLL,
							.fd = PWRING_RESTRICT_ANY_FD };

			if (restrict_call(s->fd, s->ring[0].id, &e, 1) != -1 || errno != EPERM)
				bad |= 32;
		}
		_exit(bad);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	op_done();
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		violation("fork: the child used the parent's ring (mask %d: 1 setup 2 enter 4 packed 8 teardown 16 mapping 32 restrict), status %#x",
			  WIFEXITED(status) ? WEXITSTATUS(status) : -1, status);
}

/* Teardown and enter of one ring from two threads. */
struct race { struct session *s; struct ring *r; _Atomic int go; };

static void *race_teardown(void *p)
{
	struct race *x = p;
	int ret, err;

	while (!atomic_load(&x->go))
		;
	ret = raw_teardown(x->s->fd, x->r->id);
	err = errno;
	if (ret == 0)
		return (void *)1;
	if (!IN(err, EBUSY, EINVAL))
		violation("teardown racing enter failed %s", ename(err));
	return NULL;
}

static void race_enter_teardown(struct session *s, struct ring *r)
{
	struct race x = { .s = s, .r = r };
	pthread_t th;
	void *torn = NULL;
	long ret;
	int form;

	if (pthread_create(&th, NULL, race_teardown, &x))
		return;
	atomic_store(&x.go, 1);
	arm(200);
	ret = do_enter(s->fd, r->id, -1ULL, 0, &form);
	disarm();
	if (ret > 0 && form != 4)
		atomic_fetch_add(&r->consumed, (uint64_t)ret);
	if (ret > 0)
		r->precise = false;	/* chains unknown */
	else if (ret < 0 && !IN(errno, EBUSY, EINVAL, EINTR, ENOMEM, E2BIG))
		violation("enter racing teardown failed %s", ename(errno));
	pthread_join(th, &torn);
	op_done();
	if (torn) {
		/* torn down (what enter consumed had completed): its memory is gone */
		r->live = false;
		r->mapped = false;
	}
}

/* Lifetime events on a ring's memory. */
static void hurt_mapping(struct ring *r)
{
	void *p;

	if (!r->mapped)
		return;
	switch (below(6)) {
	case 0:		/* grow: refused */
		p = mremap(r->ctrl, r->bytes, r->bytes + PAGE, MREMAP_MAYMOVE);
		if (p != MAP_FAILED) {
			violation("mremap grew a ring mapping");
			r->ctrl = p;
			r->bytes += PAGE;
			ring_map(r);
		}
		break;
	case 1:		/* move: refused */
		/*
		 * MREMAP_FIXED unmaps its target before it finds out: the target
		 * is our own landing zone (a hole could be another thread's by now),
		 * whose unmapped part is reserved again afterwards.
		 */
		if (!cur->land || r->bytes > LAND)
			break;
		p = mremap(r->ctrl, r->bytes, r->bytes, MREMAP_MAYMOVE | MREMAP_FIXED, cur->land);
		if (mmap(cur->land, r->bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
			 MAP_FIXED_NOREPLACE, -1, 0) != cur->land)
			cur->land = NULL;	/* taken meanwhile (or the ring is there) */
		if (p != MAP_FAILED) {
			violation("mremap moved a ring mapping");
			r->info.ctrl = (uint64_t)(uintptr_t)p;
			r->info.squeue = r->info.ctrl + PWRING_SQ_OFFSET;
			r->info.cqueue = r->info.squeue + 64 * r->info.sentries;
			ring_map(r);
		}
		break;
	case 2:		/* split: refused */
		if (r->bytes > PAGE && munmap((char *)r->ctrl + PAGE, PAGE) == 0) {
			violation("munmap split a ring mapping");
			r->mapped = r->precise = false;
		}
		break;
	case 3:		/* read-only for a moment, with an enter in it */
		if (mprotect(r->ctrl, r->bytes, chance(50) ? PROT_READ : PROT_NONE) == 0) {
			sched_yield();
			if (mprotect(r->ctrl, r->bytes, PROT_READ | PROT_WRITE)) {
				r->mapped = false;
				r->precise = false;
			}
		}
		break;
	case 4: {	/* advice; some of it takes the pages away from us */
		static const int adv[] = { MADV_DONTNEED, MADV_REMOVE, MADV_FREE, MADV_COLD,
					   MADV_PAGEOUT, MADV_WILLNEED, MADV_DONTFORK, MADV_DOFORK,
					   MADV_WIPEONFORK, MADV_MERGEABLE, MADV_HUGEPAGE };
		int a = adv[below(sizeof(adv) / sizeof(adv[0]))];

		if (madvise(r->ctrl, r->bytes, a) == 0 &&
		    IN(a, MADV_DONTNEED, MADV_REMOVE, MADV_FREE, MADV_PAGEOUT)) {
			/* the pages may be gone from our side (SIGBUS): let go */
			munmap(r->ctrl, r->bytes);
			r->mapped = false;
			r->precise = false;
		}
		break;
	}
	default:	/* gone while requests are in flight */
		munmap(r->ctrl, r->bytes);
		r->mapped = false;
		r->precise = false;
		break;
	}
	op_done();
}

static void hostile_ctrl(struct ring *r)
{
	if (!r->mapped)
		return;
	switch (below(4)) {
	case 0:
		store_rel(&r->ctrl->stail, (uint32_t)rnd());
		r->precise = false;
		break;
	case 1:
		store_rel(&r->ctrl->chead, (uint32_t)rnd());
		r->precise = false;
		break;
	case 2:
		store_rel(&r->ctrl->shead, (uint32_t)rnd());	/* kernel-owned: ignored */
		store_rel(&r->ctrl->ctail, (uint32_t)rnd());
		r->precise = false;
		r->smashed = true;	/* rewritten only at the kernel's next store */
		break;
	default:
		for (unsigned i = 0; i < PWRING_REGS_MAX; i++)
			if (chance(50)) {
				static const uint64_t v[] = { 0, 1, 4096, KADDR, -1ULL, 1ULL << 47 };
				uint64_t x = chance(50) ? v[below(6)] : below(64);

				__atomic_store_n(&r->ctrl->regs[i], x, __ATOMIC_RELEASE);
			}
		break;
	}
	/* a garbage stail is put back: what the kernel consumed meanwhile is unknown */
	if (!r->precise && chance(50))
		r->stail = load_acq(&r->ctrl->shead) + (uint32_t)below(r->info.sentries + 1);
}

/* Feed a pipe, socket, eventfd: some requests complete. */
static void stir(void)
{
	char b[64] = "fuzz";
	uint64_t one = 1;

	arm(100);	/* a full pipe or eventfd blocks */
	switch (below(4)) {
	case 0: if (cur->pipe_w >= 0) (void)!write(cur->pipe_w, b, 1 + below(sizeof(b))); break;
	case 1: if (cur->sock_b >= 0) send(cur->sock_b, b, 1 + below(sizeof(b)), MSG_DONTWAIT); break;
	case 2: if (cur->efd >= 0) (void)!write(cur->efd, &one, 8); break;
	default: if (cur->pipe_r >= 0) { int fl = fcntl(cur->pipe_r, F_GETFL);
		fcntl(cur->pipe_r, F_SETFL, fl | O_NONBLOCK);
		(void)!read(cur->pipe_r, cur->scratch + SCRATCH - 4096, 4096);
		fcntl(cur->pipe_r, F_SETFL, fl); } break;
	}
	disarm();
}

/* A descriptor for an allow-list entry: one of ours, or any. */
static int pick_allow_fd(void)
{
	int fds[] = { cur->pipe_r, cur->pipe_w, cur->sock_a, cur->efd, cur->zero, cur->file };
	int fd = fds[below(sizeof(fds) / sizeof(fds[0]))];

	return chance(30) || fd < 0 ? PWRING_RESTRICT_ANY_FD : fd;
}

/*
 * Lock the ring to a random allow-list (the model then expects EACCES for
 * the rest), or try to change a locked one (EPERM), or send a bad list
 * (EINVAL, nothing changes).
 */
static void restrict_ring(struct session *s, struct ring *r)
{
	struct pwring_restriction e[8];
	uint32_t n = 1 + (uint32_t)below(4);
	int ret, err;
	bool bad = chance(15);

	if (r->closed)
		return;
	memset(e, 0, sizeof(e));
	for (uint32_t i = 0; i < n; i++) {
		e[i].op = (uint32_t)below(PWRING_OP_MAX);
		e[i].fd = e[i].op == PWRING_OP_NOP ? PWRING_RESTRICT_ANY_FD : pick_allow_fd();
	}
	if (bad) {
		switch (below(4)) {
		case 0: e[0].op = PWRING_OP_MAX + (uint32_t)below(5); break;
		case 1: e[0].fd = -2 - (int)below(100); break;
		case 2: e[0].flags = 1 + (uint32_t)below(8); break;
		default: e[0].op = PWRING_OP_NOP; e[0].fd = (int)below(64); break;
		}
	}
	ret = restrict_call(s->fd, r->id, e, n);
	err = errno;
	op_done();
	if (bad) {
		if (ret == 0 || err != EINVAL)
			violation("ring %llu: a bad allow-list gave %d %s, want EINVAL",
				  (unsigned long long)r->id, ret, ret ? ename(err) : "");
		return;
	}
	if (r->restricted) {
		if (ret == 0 || err != EPERM)
			violation("ring %llu: restricting it again gave %d %s, want EPERM",
				  (unsigned long long)r->id, ret, ret ? ename(err) : "");
		return;
	}
	if (ret) {
		violation("ring %llu: restrict failed %s", (unsigned long long)r->id, ename(err));
		return;
	}
	r->restricted = true;
	atomic_fetch_add_explicit(&sh->restricted, 1, memory_order_relaxed);
	r->restrict_from = atomic_load(&r->consumed);
	r->nallow = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (e[i].fd == PWRING_RESTRICT_ANY_FD)
			r->allow_any |= 1u << e[i].op;
		else
			r->allow[r->nallow++] = (typeof(r->allow[0])){ e[i].op, e[i].fd };
	}
}

static void ring_session(void)
{
	struct session *s = calloc(1, sizeof(*s));
	unsigned steps;

	if (!s)
		return;
	fds_open(cur);
	if (!session_open(s)) {
		free(s);
		return;
	}
	steps = 5 + (unsigned)below(60);
	for (unsigned i = 0; i < steps && !stopping() && s->nrings; i++) {
		struct ring *r = &s->ring[below((uint64_t)s->nrings)];
		unsigned what = (unsigned)below(100);

		cur->step++;
		if (!r->live)
			continue;
		if (what < 30) {
			if (r->mapped)
				submit(s, r);
		} else if (what < 58) {
			enter_ring(s, r);
		} else if (what < 60) {
			if (!OFF(12))
				restrict_ring(s, r);
		} else if (what < 72) {
			reap(r, chance(50));
		} else if (what < 80) {
			stir();
		} else if (what < 84) {
			if (!OFF(0))
				hostile_ctrl(r);
		} else if (what < 87) {
			if (!OFF(1))
				hurt_mapping(r);
		} else if (what < 89) {
			if (!OFF(2))
				fork_probe(s);
		} else if (what < 91) {
			if (!OFF(3))
				race_enter_teardown(s, r);
		} else if (what < 93) {
			if (OFF(4))
				continue;
			/* a teardown: EBUSY while anything is in flight */
			int ret = raw_teardown(s->fd, r->id), err = errno;

			op_done();
			if (ret == 0) {
				/* (whether it is unmapped cannot be told here: another
				 * thread's mapping may take its place at once) */
				r->live = r->mapped = false;
			} else if (err != EBUSY) {
				violation("teardown failed %s", ename(err));
			}
		} else if (what < 95) {
			/* the volatile buffer goes while requests use it */
			if (s->vol && !OFF(5)) {
				/*
				 * Replaced by a PROT_NONE placeholder in one step
				 * (MAP_FIXED), so the address is never reused. Not
				 * munmap() and then a placeholder: in between, another
				 * thread's ring could be mapped in the hole, and
				 * session_finish() would unmap that ring under it.
				 */
				if (vol_retire(s->vol))
					s->vol = NULL;
			}
		} else if (what < 96) {
			/* just closed: a descriptor some SQE names goes now */
			int *fd = chance(50) ? &cur->pipe_r : &cur->file;

			if (*fd >= 0 && !OFF(6)) {
				cur->closed_fd = *fd;
				close_fd(fd);
			}
		} else if (what < 97) {
			/* dup2 over the device descriptor itself: a close with requests in flight */
			if (!OFF(7) && cur->zero >= 0 && dup2(cur->zero, s->fd) >= 0) {
				session_closed(s);
				break;
			}
		} else {
			/* dup2 over a descriptor requests use */
			if (!OFF(8) && cur->zero >= 0 && cur->pipe_w >= 0)
				dup2(cur->zero, cur->pipe_w);
		}
	}
	session_finish(s);
	free(s);
}

/* ---- setup at hostile addresses and sizes ------------------------------------------------------ */

static uint64_t hostile_entries(void)
{
	switch (below(8)) {
	case 0: return 0;
	case 1: return 3 + 2 * below(100);
	case 2: return 1ULL << below(64);
	case 3: return 65535;
	case 4: return 65536;
	case 5: return -1ULL;
	default: return pow2(8);
	}
}

/*
 * The ring info the kernel wrote at ringp: with self_ptr that is inside the
 * new ring itself, not our scratch page (which holds whatever was read there).
 */
static uint64_t got_ctrl(uint64_t ringp)
{
	return ((const struct pwring_ring_info *)(uintptr_t)ringp)->ctrl;
}

static void hostile_setup(void)
{
	int fd = open_device();
	struct { struct pwring_setup_args a; uint64_t tail[2]; } big;
	struct pwring_ring_info *info = (void *)(cur->scratch + SCRATCH - PAGE);
	uint64_t ringp, addr, se, ce, rbytes, canary = rnd();
	uint32_t size = sizeof(big.a), flags = 0;
	bool bad_ptr = false, self_ptr, valid;
	void *hole = NULL;
	int ret, err;

	if (fd < 0)
		return;
	for (int n = 0; n < 4 && !stopping(); n++) {
		cur->step++;
		memset(&big, 0, sizeof(big));
		flags = 0;
		switch (below(6)) {
		case 0: ringp = 0; bad_ptr = true; break;
		case 1: ringp = (uint64_t)(uintptr_t)unmapped_addr(); bad_ptr = true; break;
		case 2: ringp = KADDR; bad_ptr = true; break;
		case 3: ringp = (uint64_t)(uintptr_t)cur->ro; bad_ptr = true; break;
		default: ringp = (uint64_t)(uintptr_t)info; bad_ptr = false; break;
		}
		*(uint64_t *)cur->scratch = canary;
		switch (below(8)) {
		case 0: addr = (uint64_t)(uintptr_t)cur->scratch; break;	/* in use: EEXIST */
		case 1: addr = (uint64_t)(uintptr_t)free_hole() + below(PAGE); break;
		case 2: addr = KADDR; break;
		case 3: addr = 0x7ffffffff000ULL - PAGE * below(2); break;
		case 4: addr = PAGE * below(32); break;
		case 5: hole = free_hole(); addr = (uint64_t)(uintptr_t)hole; break;
		default: addr = 0; break;
		}
		se = hostile_entries();
		ce = hostile_entries();
		if (chance(10))
			flags = (uint32_t)rnd();
		switch (below(8)) {
		case 0: size = (uint32_t)below(PWRING_SETUP_ARGS_SIZE_VER0); break;
		case 1: size = sizeof(big); big.tail[below(2)] = chance(50) ? 1 : 0; break;
		case 2: size = PAGE + 1 + (uint32_t)below(PAGE); break;
		default: size = sizeof(big.a); break;
		}
		big.a = (struct pwring_setup_args){ .size = size, .flags = flags, .ring = ringp,
						    .address = addr, .sentries = se, .centries = ce };
		ret = ioctl(fd, PWRING_IOC_SETUP, &big);
		err = errno;
		op_done();
		if (*(uint64_t *)cur->scratch != canary)
			violation("setup at %#llx overwrote our own mapping", (unsigned long long)addr);
		rbytes = se <= (1 << 20) && ce <= (1 << 20) ?
			 (PWRING_SQ_OFFSET + 64 * se + 32 * ce + PAGE - 1) & ~(PAGE - 1) : 0;
		/*
		 * Root may map below mmap_min_addr: a low descriptor pointer that
		 * falls inside the ring mapped at a low address is then written.
		 */
		self_ptr = bad_ptr && ringp && addr && ringp >= addr &&
			   ringp - addr + sizeof(*info) <= rbytes;
		/*
		 * The last page below 2^47 is a valid start where user space has
		 * 57 bits (5-level paging: the hint goes above the 47-bit window).
		 */
		valid = size >= PWRING_SETUP_ARGS_SIZE_VER0 && size <= PAGE && !flags &&
			(!bad_ptr || self_ptr) &&
			se && ce && !(se & (se - 1)) && !(ce & (ce - 1)) && ce < 65535 &&
			!(addr & (PAGE - 1)) && (size <= sizeof(big.a) || (!big.tail[0] && !big.tail[1])) &&
			rbytes / PAGE < PWRING_MAX_PAGES && addr <= 0x7ffffffff000ULL;
		if (ret >= 0) {
			if (!valid)
				violation("setup(size %u flags %#x ring %#llx addr %#llx se %llu ce %llu) succeeded",
					  size, flags, (unsigned long long)ringp, (unsigned long long)addr,
					  (unsigned long long)se, (unsigned long long)ce);
			else if (addr && (self_ptr ? got_ctrl(ringp) : info->ctrl) != addr)
				violation("setup at %#llx mapped at %#llx", (unsigned long long)addr,
					  (unsigned long long)(self_ptr ? got_ctrl(ringp) : info->ctrl));
			if (self_ptr)
				munmap((void *)(uintptr_t)addr, rbytes);
			else if (!bad_ptr && info->ctrl)
				munmap((void *)(uintptr_t)info->ctrl,
				       (PWRING_SQ_OFFSET + info->sentries * 64 + info->centries * 32 + PAGE - 1) & ~(PAGE - 1));
			continue;
		}
		if (!IN(err, EINVAL, EFAULT, ENOMEM, EMFILE, EEXIST, EPERM, E2BIG))
			violation("setup(size %u flags %#x ring %#llx addr %#llx se %llu ce %llu) failed %s",
				  size, flags, (unsigned long long)ringp, (unsigned long long)addr,
				  (unsigned long long)se, (unsigned long long)ce, ename(err));
	}
	close(fd);
	(void)hole;
}

/* ---- random ioctls ---------------------------------------------------------------------------- */

static void random_ioctls(void)
{
	int fd = open_device();

	if (fd < 0)
		return;
	/* scratch content: random bytes, so struct fields are garbage */
	for (size_t i = 0; i < 256; i += 8)
		*(uint64_t *)(cur->scratch + PAGE + i) = chance(50) ? rnd() : below(16);
	for (int n = 0; n < 8 && !stopping(); n++) {
		unsigned long cmd, arg;
		long ret;
		int err;

		cur->step++;
		switch (below(4)) {
		case 0: cmd = (uint32_t)rnd(); break;
		case 1: cmd = _IOC(below(4), PWRING_IOC_MAGIC, below(40), below(1 << 14)); break;
		case 2: cmd = _IOC(below(4), PWRING_IOC_MAGIC, 1 + below(3), below(1 << 14)); break;
		default: cmd = PWRING_IOC_ENTER_PACKED; break;
		}
		if (cmd == PWRING_IOC_WORK)	/* not a worker handle: harmless, but keep it so */
			cmd = PWRING_IOC_ENTER_PACKED;
		switch (below(6)) {
		case 0: arg = 0; break;
		case 1: arg = KADDR; break;
		case 2: arg = (unsigned long)unmapped_addr(); break;
		case 3: arg = (unsigned long)cur->ro; break;
		case 4: arg = rnd(); break;
		default: arg = (unsigned long)(cur->scratch + PAGE + 8 * below(16)); break;
		}
		arm(100);
		ret = ioctl(fd, cmd, arg);
		err = errno;
		disarm();
		op_done();
		if (ret >= 0) {
			if (cmd == PWRING_IOC_WORKER && ret > 2)
				close((int)ret);
			continue;
		}
		if (!IN(err, ENOTTY, EINVAL, EFAULT, E2BIG, EPERM, EBUSY, EMFILE, ENOMEM, EEXIST,
			EINTR))
			violation("ioctl(%#lx, %#lx) failed %s", cmd, arg, ename(err));
	}
	/* rings it may have set up go with the file; their mappings stay ours */
	close(fd);
}

/* ---- threads and processes ---------------------------------------------------------------------- */

static void *thread_main(void *p)
{
	cur = p;
	thread_timer();
	cur->scratch = guarded(SCRATCH);
	cur->ro = guarded(PAGE);
	cur->land = mmap(NULL, LAND, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (cur->land == MAP_FAILED)
		cur->land = NULL;
	if (cur->ro)
		mprotect(cur->ro, PAGE, PROT_READ);
	if (!cur->scratch || !cur->ro) {
		fprintf(stderr, "fuzz: out of memory\n");
		return NULL;
	}
	cur->pipe_r = cur->pipe_w = cur->sock_a = cur->sock_b = cur->efd = -1;
	cur->dirfd = cur->pathfd = cur->zero = cur->file = cur->closed_fd = -1;
	while (!stopping()) {
		unsigned what = (unsigned)below(100);

		if (what < 80 || OFF(10))
			ring_session();
		else if (what < 90)
			hostile_setup();
		else
			random_ioctls();
	}
	fds_close(cur);
	return NULL;
}

static void worker_process(unsigned proc, unsigned gen, unsigned nthreads)
{
	struct thr t[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	struct sigaction sa = { .sa_handler = on_alarm };

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	reserve = mmap(NULL, RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (reserve == MAP_FAILED)
		reserve = NULL;
	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART: waits end with EINTR */
	sa.sa_handler = NULL;
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (unsigned i = 0; i < nthreads; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].proc = proc;
		t[i].gen = gen;
		t[i].idx = i;
		t[i].rng = g_seed ^ (0x1000003ULL * (proc + 1)) ^ (0x10001ULL * (gen + 1) << 20) ^
			   ((uint64_t)(i + 1) << 48);
		splitmix(&t[i].rng);
		if (pthread_create(&th[i], NULL, thread_main, &t[i]))
			nthreads = i;
	}
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	_exit(0);
}

static pid_t spawn(unsigned proc, unsigned gen, unsigned nthreads)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		worker_process(proc, gen, nthreads);
	return pid;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	unsigned seconds = 60, nprocs = 3, nthreads = 3, gen[MAX_PROCS] = { 0 };
	pid_t pids[MAX_PROCS];
	uint64_t end, sup;
	bool seeded = false;
	int opt, hung = 0;

	while ((opt = getopt(argc, argv, "t:s:p:j:x:v")) != -1) {
		switch (opt) {
		case 't': seconds = (unsigned)strtoul(optarg, NULL, 0); break;
		case 's': g_seed = strtoull(optarg, NULL, 0); seeded = true; break;
		case 'p': nprocs = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'j': nthreads = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'v': g_verbose = 1; break;
		case 'x': g_off = (unsigned)strtoul(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: %s [-t SECONDS] [-s SEED] [-p PROCESSES] [-j THREADS] [-x OFFMASK]\n", argv[0]);
			return 2;
		}
	}
	if (!seeded)
		g_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	if (nprocs < 1) nprocs = 1;
	if (nprocs > MAX_PROCS) nprocs = MAX_PROCS;
	if (nthreads < 1) nthreads = 1;
	if (nthreads > MAX_THREADS) nthreads = MAX_THREADS;
	setvbuf(stdout, NULL, _IOLBF, 0);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	if (access(PWRING_DEVICE_PATH, R_OK | W_OK)) {
		printf("fuzz: %s: %s\n", PWRING_DEVICE_PATH, strerror(errno));
		printf("fuzz: 0 operations, 1 violations, seed %llu\n", (unsigned long long)g_seed);
		return 1;
	}
	printf("fuzz: seed %llu, %u s, %u processes x %u threads\n", (unsigned long long)g_seed,
	       seconds, nprocs, nthreads);

	/* the supervisor's own choices (which process to kill, when) */
	sup = g_seed ^ 0x5eed5eed5eedULL;
	for (unsigned i = 0; i < nprocs; i++)
		pids[i] = spawn(i, 0, nthreads);
	end = now_ms() + (uint64_t)seconds * 1000;
	while (now_ms() < end) {
		unsigned ms = 200 + (unsigned)(splitmix(&sup) % 2000);
		unsigned victim = (unsigned)(splitmix(&sup) % nprocs);
		int status;

		sleep_ms(ms);
		if (now_ms() >= end)
			break;
		/* exit with everything in flight: a kill, a new process in its place */
		if (splitmix(&sup) % 3 == 0 && pids[victim] > 0 && !OFF(11)) {
			kill(pids[victim], SIGKILL);
			waitpid(pids[victim], &status, 0);
			atomic_fetch_add(&sh->ops, 1);
			pids[victim] = spawn(victim, ++gen[victim], nthreads);
		}
		if (g_verbose)
			printf("fuzz: %llu operations so far\n", (unsigned long long)atomic_load(&sh->ops));
	}
	atomic_store(&sh->stop, 1);
	/* every process must notice and leave: a wait stuck in the kernel is a hang */
	for (unsigned i = 0; i < nprocs; i++) {
		uint64_t deadline = now_ms() + 120000;
		int status;
		pid_t r = 0;

		while (pids[i] > 0 && (r = waitpid(pids[i], &status, WNOHANG)) == 0 && now_ms() < deadline)
			sleep_ms(20);
		if (pids[i] > 0 && r == 0) {
			cur = NULL;
			violation("process %u did not finish within 120 s of the stop (a hang?)", i);
			hung++;
			{	/* where its threads are */
				char cmd[256];

				snprintf(cmd, sizeof(cmd),
					 "for t in /proc/%d/task/*; do echo \"fuzz: task $t: syscall $(cut -d' ' -f1-3 $t/syscall) wchan $(cat $t/wchan)\"; sed 's/^/fuzz:   /' $t/stack; done",
					 (int)pids[i]);
				fflush(NULL);
				(void)!system(cmd);
			}
			kill(pids[i], SIGKILL);
			waitpid(pids[i], &status, 0);
		} else if (pids[i] > 0 && r > 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			violation("process %u ended with status %#x", i, status);
		}
	}
	{
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -f /tmp/pwring-fuzz.*");
		(void)!system(cmd);
	}
	printf("fuzz: %llu rings restricted, %llu EACCES completions checked\n",
	       (unsigned long long)atomic_load(&sh->restricted),
	       (unsigned long long)atomic_load(&sh->eacces));
	printf("fuzz: %llu operations, %llu violations, seed %llu\n",
	       (unsigned long long)atomic_load(&sh->ops),
	       (unsigned long long)atomic_load(&sh->violations), (unsigned long long)g_seed);
	return atomic_load(&sh->violations) ? 1 : 0;
}
