/* SPDX-License-Identifier: MIT */
/*
 * common.h - helpers shared by the pwring selftests: the device check, clocks,
 * NOP submission and reaping through <sys/ioring.h>, raw ioctls on a private
 * descriptor (for what the library hides: its descriptor, the argument
 * structs), and running a probe in a forked child.
 *
 * Timing assertions are one-sided where it matters: a completion is never
 * observed before its deadline (exact), and is observed within a generous
 * slack after it (the guest is an emulated machine). The slack defaults to
 * 500 ms and can be changed with PWRING_SLACK_MS.
 */
#ifndef PWRING_SELFTEST_COMMON_H
#define PWRING_SELFTEST_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/pwring.h>
#include <sys/ioring.h>

#include "tap.h"

#define HELPER static inline __attribute__((unused))

#define NSEC_PER_MSEC IORING_NSEC_PER_MSEC
#define PAGE 4096UL

/*
 * What a call returned, or -errno when it failed (ERR or -1): one value for
 * kselftest_harness.h's EXPECT_EQ, e.g. EXPECT_EQ(-EBUSY, RESULT(ioring_teardown(id))).
 */
#define RESULT(call)                                                                    \
	({                                                                              \
		int64_t result_ = (int64_t)(call);                                      \
		result_ == -1 ? -(int64_t)errno : result_;                              \
	})

/* Skip the whole program (exit 4) when the module is not loaded. */
HELPER void require_device(void)
{
	int fd = open(PWRING_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	char reason[128];

	if (fd >= 0) {
		close(fd);
		return;
	}
	snprintf(reason, sizeof(reason), "%s: %s (is the pwring module loaded?)",
		 PWRING_DEVICE_PATH, strerror(errno));
	tap_skip_all(reason);
}

HELPER uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * IORING_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

HELPER void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / IORING_NSEC_PER_SEC),
			       .tv_nsec = (long)(ns % IORING_NSEC_PER_SEC) };

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

HELPER uint64_t slack_ns(void)
{
	const char *env = getenv("PWRING_SLACK_MS");
	uint64_t ms = env ? strtoull(env, NULL, 10) : 0;

	return (ms ? ms : 500) * NSEC_PER_MSEC;
}

/* Pass when lo <= got <= lo + slack; prints milliseconds. */
HELPER int expect_time(uint64_t got, uint64_t lo, const char *what)
{
	uint64_t hi = lo + slack_ns();
	int ok = got >= lo && got <= hi;

	tap_ok(ok, "%s after %.3f ms (deadline %.3f ms, slack %.0f ms)", what, got / 1e6,
	       lo / 1e6, (hi - lo) / 1e6);
	if (!ok)
		tap_diag("%s", got < lo ? "observed BEFORE the deadline" : "observed too late");
	return ok;
}

/* Bytes the kernel maps for a ring. */
HELPER size_t ring_bytes(size_t sentries, size_t centries)
{
	size_t bytes = PWRING_SQ_OFFSET + sentries * sizeof(sqe_t) + centries * sizeof(cqe_t);

	return (bytes + PAGE - 1) & ~(PAGE - 1);
}

/* Queue a NOP with explicit flags; false when the SQ is full. */
HELPER bool push_nop_flags(ioring_t *ring, uint64_t timeout, uint64_t data, sqe_flags_t flags)
{
	sqe_t sqe;

	sqe_prep_nop(&sqe, timeout, (void *)(uintptr_t)data);
	sqe.flags = flags;
	return sqe_push(ring, &sqe);
}

/* Queue a NOP without registers or links. */
HELPER bool push_nop(ioring_t *ring, uint64_t timeout, uint64_t data)
{
	return push_nop_flags(ring, timeout, data, SQE_FLAGS_NO_REGS);
}

/* Queue any op (no registers). */
HELPER bool push_op(ioring_t *ring, io_op_t op, sqe_flags_t flags, uint64_t timeout, uint64_t data)
{
	sqe_t sqe;

	sqe_prep(&sqe, op, timeout, (void *)(uintptr_t)data);
	sqe.flags = flags;
	return sqe_push(ring, &sqe);
}

/* Pop up to max CQEs into out; returns how many. */
HELPER size_t pop_cqes(ioring_t *ring, cqe_t *out, size_t max)
{
	size_t n = 0;

	while (n < max && cqe_pop(ring, &out[n]))
		n++;
	return n;
}

/* Wait (library, amount 0) until n CQEs are ready; pop them. false on error. */
HELPER bool wait_pop(ioring_t *ring, cqe_t *out, size_t n)
{
	if (ioring_cq_ready(ring) < n && ioring_enter(ring->id, 0, n) == ERR) {
		tap_diag("ioring_enter(%llu, 0, %zu): %s", (unsigned long long)ring->id, n,
			 strerror(errno));
		return false;
	}
	return pop_cqes(ring, out, n) == n;
}

HELPER uintptr_t cqe_data(const cqe_t *cqe)
{
	return (uintptr_t)cqe->data;
}

/* Check one CQE: op, error and data; result 0 (NOP). */
HELPER int expect_cqe(const cqe_t *cqe, io_op_t op, int error, uint64_t data, const char *what)
{
	int ok = cqe->op == op && cqe->error == error && cqe_data(cqe) == data && cqe->_result == 0;

	tap_ok(ok, "%s: CQE op %u error %s data %llu", what, op, tap_errname(error),
	       (unsigned long long)data);
	if (!ok)
		tap_diag("got op %u error %s (%d) data %llu result %llu", cqe->op,
			 tap_errname(cqe->error), cqe->error, (unsigned long long)cqe_data(cqe),
			 (unsigned long long)cqe->_result);
	return ok;
}

/* ---- Raw interface on a private descriptor -------------------------------------- */

HELPER int raw_open(void)
{
	return open(PWRING_DEVICE_PATH, O_RDWR | O_CLOEXEC);
}

HELPER int raw_setup(int fd, ioring_t *ring, void *address, uint64_t sentries, uint64_t centries)
{
	struct pwring_setup_args args = {
		.size = sizeof(args),
		.ring = (uint64_t)(uintptr_t)ring,
		.address = (uint64_t)(uintptr_t)address,
		.sentries = sentries,
		.centries = centries,
	};

	return ioctl(fd, PWRING_IOC_SETUP, &args);
}

HELPER int raw_enter(int fd, uint64_t id, uint64_t amount, uint64_t wait)
{
	struct pwring_enter_args args = {
		.size = sizeof(args),
		.id = id,
		.amount = amount,
		.wait = wait,
	};

	return ioctl(fd, PWRING_IOC_ENTER, &args);
}

HELPER int raw_teardown(int fd, uint64_t id)
{
	struct pwring_teardown_args args = { .size = sizeof(args), .id = id };

	return ioctl(fd, PWRING_IOC_TEARDOWN, &args);
}

/* A thread of ours lent to a raw file as its worker (what libpwring does). */
HELPER void *raw_worker_main(void *arg)
{
	int handle = (int)(intptr_t)arg;
	unsigned long why = PWRING_WORK_NEW;
	int ret;

	for (;;) {
		ret = ioctl(handle, PWRING_IOC_WORK, why);
		why = PWRING_WORK_AGAIN;
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0)
			return NULL;	/* retired, or the file is gone */
		/* Asked for more workers: one is enough here (the kernel asks again). */
		pthread_t th;

		if (pthread_create(&th, NULL, raw_worker_main, arg))
			why = PWRING_WORK_NO_SPAWN;
		else
			pthread_detach(th);
	}
}

/*
 * After raw_setup(): lends the file one worker, which asks for more.
 * Returns the worker handle (close it when done: it holds the module), or
 * -1 with errno. The workers retire when the device file is released.
 */
HELPER int raw_lend_worker(int fd)
{
	sigset_t all, old;
	pthread_t th;
	int handle = ioctl(fd, PWRING_IOC_WORKER), ret;

	if (handle < 0)
		return -1;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = pthread_create(&th, NULL, raw_worker_main, (void *)(intptr_t)handle);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		errno = ret;
		return -1;
	}
	pthread_detach(th);
	return handle;
}

/* ---- Children --------------------------------------------------------------------- */

/*
 * Run fn(arg) in a forked child that exits 0 when fn returns. Returns the
 * child's status as from waitpid(), or -1.
 */
HELPER int run_child(void (*fn)(void *), void *arg)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

HELPER void touch_memory(void *addr)
{
	/* Restore the default action: the test must see the signal. */
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	(void)*(volatile uint32_t *)addr;
}

/* Whether touching addr in a child kills it with SIGSEGV; *status: waitpid's. */
HELPER bool segv_in_child(void *addr, int *status)
{
	*status = run_child(touch_memory, addr);
	return *status != -1 && WIFSIGNALED(*status) && WTERMSIG(*status) == SIGSEGV;
}

/* Pass when touching addr in a child kills it with SIGSEGV. */
HELPER int expect_segv(void *addr, const char *what)
{
	int status;
	int ok = segv_in_child(addr, &status);

	tap_ok(ok, "%s: touching %p faults with SIGSEGV", what, addr);
	if (!ok) {
		if (status == -1)
			tap_diag("fork/waitpid failed: %s", strerror(errno));
		else if (WIFSIGNALED(status))
			tap_diag("child killed by signal %d", WTERMSIG(status));
		else
			tap_diag("child exited with %d: the memory is readable",
				 WEXITSTATUS(status));
	}
	return ok;
}

/*
 * Wait (up to 10 s) until thread tid of process pid sleeps inside ioctl(2),
 * as /proc/<pid>/task/<tid>/syscall shows ("16 ..." while blocked in it).
 */
HELPER bool wait_in_ioctl(pid_t pid, pid_t tid)
{
	char path[64], buf[64];
	int i, fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	for (i = 0; i < 1000; i++) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return false;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n > 0) {
			buf[n] = 0;
			if (strtol(buf, NULL, 10) == SYS_ioctl && buf[0] != 'r')
				return true;
		}
		sleep_ns(10 * NSEC_PER_MSEC);
	}
	return false;
}

/* Whether [addr, addr+len) contains no mapping at all (msync fails ENOMEM on holes). */
HELPER bool range_unmapped(void *addr, size_t len)
{
	size_t off;

	for (off = 0; off < len; off += PAGE)
		if (msync((char *)addr + off, PAGE, MS_ASYNC) == 0 || errno != ENOMEM)
			return false;
	return true;
}

/* Reserve len bytes of address space no one uses, and release them. */
HELPER void *free_address(size_t len)
{
	void *p = mmap(NULL, len + 16 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	munmap(p, len + 16 * PAGE);
	/* The middle of a hole just released: neighbours cannot be merged into it. */
	return (char *)p + 8 * PAGE;
}

#endif /* PWRING_SELFTEST_COMMON_H */
