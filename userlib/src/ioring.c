// SPDX-License-Identifier: MIT
/*
 * libpwring: the three PatchworkOS ring calls over the ioctls of /dev/pwring.
 *
 * Device file. Every ring of a process lives on one private file of
 * /dev/pwring, opened on the first call. The descriptor and the pid that
 * opened it are published together in one atomic word, so the fast path is a
 * single load; opening is serialised by a mutex, so two racing threads end up
 * with the same descriptor and nothing leaks.
 *
 * fork(). The child must not use the parent's file: the ring table is per file,
 * and the parent's rings are not mapped in the child. A pthread_atfork() child
 * handler closes the inherited descriptor and forgets it, so the child's first
 * call opens a file of its own. The handlers also hold the mutex across fork(),
 * so a fork racing with an open cannot leave the child with a stray descriptor.
 * A child made by a raw clone() runs no atfork handler; for it setup and
 * teardown compare the recorded pid with getpid() and open anew on a
 * mismatch (enter, the hot call, trusts the recorded descriptor: a clone has
 * no ring of its own until its setup has opened its own file). The inherited
 * descriptor is then left open, since the clone may share the descriptor table
 * with its parent. Raw clones that share memory (CLONE_VM without CLONE_THREAD)
 * are not supported.
 *
 * Workers. The kernel runs the blocking and asynchronous steps of our
 * requests in threads of this process, so that they are done as we would do
 * them (credentials, rlimits, cgroups, namespaces, I/O accounting). The
 * first successful setup on a file asks for a worker handle and starts one
 * thread on it; the kernel asks for more (a positive count) before one
 * would be missing, and lets idle ones go. Workers block every signal, run
 * nothing but the WORK ioctl, and have small stacks. Without them (a module
 * that does not know the ioctl) the ring's enter runs those steps itself.
 *
 * Errors: ERR and errno. If the device cannot be opened (module not loaded:
 * usually ENOENT, or ENXIO/ENODEV) the errno of open() is kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <sys/ioring.h>

#define PWRING_EXPORT __attribute__((visibility("default")))

/*
 * The device state: 0 = not open, else (pid << 32) | (fd + 1). Written only
 * with dev_lock held (or in the single-threaded fork child).
 */
static uint64_t dev_state;
static pthread_mutex_t dev_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t dev_atfork_once = PTHREAD_ONCE_INIT;

static uint64_t dev_pack(pid_t pid, int fd)
{
	return ((uint64_t)(uint32_t)pid << 32) | (uint32_t)(fd + 1);
}

static int dev_fd_of(uint64_t state)
{
	return (int)(uint32_t)state - 1;
}

static pid_t dev_pid_of(uint64_t state)
{
	return (pid_t)(uint32_t)(state >> 32);
}

static void dev_atfork_prepare(void)
{
	pthread_mutex_lock(&dev_lock);
}

static void dev_atfork_parent(void)
{
	pthread_mutex_unlock(&dev_lock);
}

/* The device state whose workers were started (they do not survive fork). */
static uint64_t workers_for;
static int workers_fd = -1;

static void dev_atfork_child(void)
{
	uint64_t state = __atomic_load_n(&dev_state, __ATOMIC_RELAXED);

	if (state != 0)
		close(dev_fd_of(state));
	if (workers_fd >= 0)
		close(workers_fd);
	workers_fd = -1;
	workers_for = 0;
	__atomic_store_n(&dev_state, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&dev_lock);
}

static void dev_register_atfork(void)
{
	pthread_atfork(dev_atfork_prepare, dev_atfork_parent, dev_atfork_child);
}

/* The device descriptor of this process, opened on first use; -1 with errno. */
static int dev_get(int check_pid)
{
	uint64_t state = __atomic_load_n(&dev_state, __ATOMIC_ACQUIRE);
	pid_t self;
	int fd, saved;

	/* getpid() is a system call: not on every enter. */
	if (state != 0 && !check_pid)
		return dev_fd_of(state);
	self = getpid();
	if (state != 0 && dev_pid_of(state) == self)
		return dev_fd_of(state);

	pthread_once(&dev_atfork_once, dev_register_atfork);
	pthread_mutex_lock(&dev_lock);
	state = __atomic_load_n(&dev_state, __ATOMIC_RELAXED);
	if (state != 0 && dev_pid_of(state) == self) {
		fd = dev_fd_of(state);
	} else {
		fd = open(PWRING_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			__atomic_store_n(&dev_state, dev_pack(self, fd), __ATOMIC_RELEASE);
	}
	saved = errno;
	pthread_mutex_unlock(&dev_lock);
	errno = saved;
	return fd;
}

#define WORKER_STACK	(64 * 1024)

static int worker_spawn(int handle);

/* A lent thread: runs the WORK ioctl until the kernel lets it go. */
static void *worker_main(void *arg)
{
	int handle = (int)(intptr_t)arg;
	unsigned long why = PWRING_WORK_NEW;
	int ret;

	for (;;) {
		ret = ioctl(handle, PWRING_IOC_WORK, why);
		why = PWRING_WORK_AGAIN;
		if (ret >= (int)PWRING_WORK_SPAWN) {
			while (ret-- > 0)
				if (worker_spawn(handle)) {
					why = PWRING_WORK_NO_SPAWN;
					break;
				}
			continue;
		}
		if (ret < 0 && errno == EINTR)
			continue;
		break;	/* retired, or the file is gone */
	}
	return NULL;
}

/* 0, or -1: the kernel is told (PWRING_WORK_NO_SPAWN) and makes do. */
static int worker_spawn(int handle)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t th;
	int ret;

	if (pthread_attr_init(&attr))
		return -1;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	/* The thread inherits this mask: signals stay with the program's threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = pthread_create(&th, &attr, worker_main, (void *)(intptr_t)handle);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return ret ? -1 : 0;
}

/* After a successful setup: the first worker of this file, once. */
static void workers_start(int fd)
{
	uint64_t state = __atomic_load_n(&dev_state, __ATOMIC_ACQUIRE);
	int saved = errno, handle;

	pthread_mutex_lock(&dev_lock);
	if (workers_for != state) {
		handle = ioctl(fd, PWRING_IOC_WORKER);
		if (handle >= 0) {
			if (workers_fd >= 0)
				close(workers_fd);
			workers_fd = handle;
			workers_for = state;
			worker_spawn(handle);
		} else if (errno == ENOTTY) {
			workers_for = state;	/* an older module: enter does it all */
		}
	}
	pthread_mutex_unlock(&dev_lock);
	errno = saved;
}

PWRING_EXPORT ioring_id_t ioring_setup(ioring_t *ring, void *address, size_t sentries,
				       size_t centries)
{
	struct pwring_setup_args args = {
		.size = sizeof(args),
		.flags = 0,
		.ring = (uint64_t)(uintptr_t)ring,
		.address = (uint64_t)(uintptr_t)address,
		.sentries = sentries,
		.centries = centries,
	};
	int fd = dev_get(1);
	int ret;

	if (fd < 0)
		return ERR;
	ret = ioctl(fd, PWRING_IOC_SETUP, &args);
	if (ret < 0)
		return ERR;
	if (__atomic_load_n(&workers_for, __ATOMIC_RELAXED) != __atomic_load_n(&dev_state, __ATOMIC_RELAXED))
		workers_start(fd);
	return (ioring_id_t)ret;
}

static uint64_t enter_clamp(size_t v, uint64_t max)
{
	return v < max ? v : max;
}

/* The argument of PWRING_IOC_ENTER_PACKED (64-bit callers). */
static unsigned long enter_pack(ioring_id_t id, size_t amount, size_t wait)
{
	return (unsigned long)(id |
			       enter_clamp(amount, PWRING_ENTER_AMOUNT_MAX) << PWRING_ENTER_AMOUNT_SHIFT |
			       enter_clamp(wait, PWRING_ENTER_WAIT_MAX) << PWRING_ENTER_WAIT_SHIFT);
}

static uint64_t enter_struct(int fd, ioring_id_t id, size_t amount, size_t wait)
{
	struct pwring_enter_args args = {
		.size = sizeof(args),
		.flags = 0,
		.id = id,
		.amount = amount,
		.wait = wait,
	};
	int ret = ioctl(fd, PWRING_IOC_ENTER, &args);

	return ret < 0 ? ERR : (uint64_t)ret;
}

/*
 * The packed command carries the arguments in the ioctl's argument, so the
 * kernel has no struct to copy in: the cheaper way, where it fits. A module
 * without it (ENOTTY) gets the struct.
 */
PWRING_EXPORT uint64_t ioring_enter(ioring_id_t id, size_t amount, size_t wait)
{
	int fd = dev_get(0);
	int ret;

	if (fd < 0)
		return ERR;
	if (sizeof(unsigned long) == 8 && id <= PWRING_ENTER_ID_MASK) {
		ret = ioctl(fd, PWRING_IOC_ENTER_PACKED, enter_pack(id, amount, wait));
		if (ret >= 0 || errno != ENOTTY)
			return ret < 0 ? ERR : (uint64_t)ret;
	}
	return enter_struct(fd, id, amount, wait);
}

PWRING_EXPORT uint64_t ioring_teardown(ioring_id_t id)
{
	struct pwring_teardown_args args = {
		.size = sizeof(args),
		.flags = 0,
		.id = id,
	};
	int fd = dev_get(1);

	if (fd < 0)
		return ERR;
	return ioctl(fd, PWRING_IOC_TEARDOWN, &args) < 0 ? ERR : 0;
}

PWRING_EXPORT uint64_t ioring_restrict(ioring_id_t id, const ioring_restriction_t *allowed,
				       size_t n)
{
	struct pwring_restrict_args args = {
		.size = sizeof(args),
		.flags = 0,
		.id = id,
		.entries = (uint64_t)(uintptr_t)allowed,
		.nentries = n > PWRING_RESTRICT_MAX ? PWRING_RESTRICT_MAX + 1 : (uint32_t)n,
	};
	int fd = dev_get(1);

	if (fd < 0)
		return ERR;
	return ioctl(fd, PWRING_IOC_RESTRICT, &args) < 0 ? ERR : 0;
}
