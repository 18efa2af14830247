// SPDX-License-Identifier: MIT
/*
 * fork: the library across fork() and a raw clone(). The child never shares
 * the parent's device file: its first call opens its own (its ring ids start
 * at 0 again), the inherited descriptor is closed, and nothing the child does,
 * exiting included, disturbs the parent's rings or requests in flight.
 */
#include <dirent.h>
#include <sys/syscall.h>

#include "common.h"

/* Results a child reports through shared memory. */
struct report {
	int step[8];   /* 1 = passed */
	int err[8];
};

static struct report *shared;
static ioring_t parent_ring;

/* Open descriptors of this process that refer to /dev/pwring. */
static int count_device_fds(void)
{
	char path[300], target[256];
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;
	ssize_t len;

	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = 0;
		n += strcmp(target, PWRING_DEVICE_PATH) == 0;
	}
	closedir(dir);
	return n;
}

static void record(int step, bool ok)
{
	shared->step[step] = ok;
	shared->err[step] = ok ? 0 : errno;
}

static bool child_nop(ioring_t *ring)
{
	cqe_t cqe;

	push_nop(ring, 0, 5);
	return ioring_enter(ring->id, 1, 1) == 1 && cqe_pop(ring, &cqe) && cqe.error == ETIMEDOUT;
}

/* The child's side: steps 0..4. */
static void child_main(void *arg)
{
	ioring_t ring;
	ioring_id_t id;

	(void)arg;
	record(0, range_unmapped(parent_ring.ctrl, ring_bytes(4, 4)));
	record(1, count_device_fds() == 0);
	id = ioring_setup(&ring, NULL, 4, 4);
	record(2, id == 0);
	record(3, id != ERR && child_nop(&ring) && ioring_teardown(id) == 0);
	record(4, count_device_fds() == 1);
}

static void expect_step(int step, const char *what)
{
	tap_ok(shared->step[step] == 1, "child: %s", what);
	if (!TAP_LAST && shared->err[step])
		tap_diag("errno %s", tap_errname(shared->err[step]));
}

int main(void)
{
	ioring_id_t id;
	int status;
	pid_t pid;
	cqe_t cqe;

	require_device();
	tap_plan(2 + 6 + 3 + 3 + 2);
	shared = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));

	id = ioring_setup(&parent_ring, NULL, 4, 4);
	EXPECT_EQ(id, 0, "parent: ring 0");
	if (id == ERR)
		tap_bail("cannot set up a ring");
	tap_ok(count_device_fds() == 1, "parent: one descriptor of /dev/pwring");

	/* fork() with a 200 ms NOP in flight in the parent. */
	push_nop(&parent_ring, 200 * NSEC_PER_MSEC, 1);
	ioring_enter(id, 1, 0);
	memset(shared, 0, sizeof(*shared));
	status = run_child(child_main, NULL);
	tap_ok(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "fork: the child ran and exited (status %#x)", status);
	expect_step(0, "the parent's ring is not mapped");
	expect_step(1, "the inherited descriptor was closed");
	expect_step(2, "its first ring gets id 0: a device file of its own");
	expect_step(3, "its ring works and tears down");
	expect_step(4, "exactly one descriptor, its own");

	tap_ok(wait_pop(&parent_ring, &cqe, 1) && cqe_data(&cqe) == 1 && cqe.error == ETIMEDOUT,
	       "parent: the NOP in flight across fork and the child's exit timed out normally");
	tap_ok(child_nop(&parent_ring), "parent: the ring still works");
	tap_ok(count_device_fds() == 1, "parent: still one descriptor");

	/* A raw clone runs no atfork handler: the pid check must catch it. */
	memset(shared, 0, sizeof(*shared));
	fflush(NULL);
	pid = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		ioring_t ring;
		ioring_id_t cid = ioring_setup(&ring, NULL, 4, 4);

		record(5, cid == 0);
		record(6, cid != ERR && child_nop(&ring) && ioring_teardown(cid) == 0);
		_exit(0);
	}
	status = -1;
	if (pid > 0)
		waitpid(pid, &status, 0);
	tap_ok(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "raw clone: the child ran and exited");
	expect_step(5, "raw clone: its first ring gets id 0 (not the parent's file)");
	expect_step(6, "raw clone: its ring works");

	tap_ok(child_nop(&parent_ring), "parent: the ring still works after the clone");
	EXPECT_EQ(ioring_teardown(id), 0, "parent: teardown");
	return tap_done();
}
