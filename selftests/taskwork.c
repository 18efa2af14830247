// SPDX-License-Identifier: MIT
/*
 * taskwork: where a completion goes when no thread is in the ring's enter
 * (design "Execution context and isolation", task work).
 *
 * A READ waits on an empty stream socket (which every kernel can try
 * without blocking; a 6.1 pipe cannot, so its retries are a worker's); the
 * write that wakes it comes while the submitter is
 *   - in its own write(2): the READ completes on the way back from that call,
 *     so its CQE is there when write returns, without enter;
 *   - spinning in user space (another thread writes): the submitter is
 *     kicked and completes it on its way back to user space, during the spin;
 *   - asleep in nanosleep(2): a worker completes it meanwhile.
 * In the first two cases the library's worker threads stay asleep (their
 * context switches barely move over 20 rounds); in the third they run it.
 */
#include <dirent.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "common.h"
#include "io.h"

#define ROUNDS	20
#define MS	NSEC_PER_MSEC

static ioring_t ring;
static int p[2];
static pid_t main_tid, writer_tid;
static char rbuf[16];

static pid_t gettid_(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Voluntary context switches of the threads that are neither ours nor the test's writer. */
static long long worker_switches(void)
{
	DIR *d = opendir("/proc/self/task");
	long long sum = 0;
	struct dirent *e;

	if (!d)
		tap_bail("opendir /proc/self/task: %s", strerror(errno));
	while ((e = readdir(d))) {
		char path[64], line[128];
		pid_t tid = (pid_t)atoi(e->d_name);
		FILE *f;

		if (tid <= 0 || tid == main_tid || tid == writer_tid)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
		f = fopen(path, "r");
		if (!f)
			continue;	/* it retired meanwhile */
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "voluntary_ctxt_switches:", 24))
				sum += atoll(line + 24);
		fclose(f);
	}
	closedir(d);
	return sum;
}

static void submit_read(uint64_t data)
{
	sqe_t sqe;

	sqe_prep_read(&sqe, p[0], rbuf, sizeof(rbuf), IO_OFF_CUR, CLOCKS_NEVER, ptr_of(data));
	push_sqe(&ring, &sqe);
	if (ioring_enter(ring.id, 1, 0) != 1)
		tap_bail("ioring_enter: %s", strerror(errno));
}

/* The CQE of `data` is there now (no enter): 1, else 0 (and it is reaped when it comes). */
static int popped(uint64_t data, uint64_t want)
{
	cqe_t c;

	if (!cqe_pop(&ring, &c)) {
		if (!wait_pop(&ring, &c, 1))
			tap_bail("no CQE for %llu", (unsigned long long)data);
		tap_diag("CQE %llu came late", (unsigned long long)data);
		return 0;
	}
	if (cqe_data(&c) != data || c.error || c.count != want)
		tap_diag("CQE data %llu error %d count %llu", (unsigned long long)cqe_data(&c),
			 c.error, (unsigned long long)c.count);
	return cqe_data(&c) == data && !c.error && c.count == want;
}

/* 2 tests */
static void own_write(void)
{
	long long sw0 = worker_switches();
	int ok = 0;

	for (int i = 0; i < ROUNDS; i++) {
		submit_read(100 + i);
		if (write(p[1], "abc", 3) != 3)
			tap_bail("write: %s", strerror(errno));
		ok += popped(100 + i, 3);
	}
	long long moved = worker_switches() - sw0;

	tap_ok(ok == ROUNDS, "own write: the READ's CQE is there when write(2) returns (%d of %d)",
	       ok, ROUNDS);
	tap_ok(moved < ROUNDS / 2, "own write: no worker ran it (%lld worker switches in %d rounds)",
	       moved, ROUNDS);
}

static volatile int go, wrote;

static void *writer(void *arg)
{
	(void)arg;
	writer_tid = gettid_();
	for (;;) {
		while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
			sleep_ns(MS / 4);
		if (go < 0)
			return NULL;
		sleep_ns(5 * MS);
		if (write(p[1], "wxyz", 4) != 4)
			tap_bail("write: %s", strerror(errno));
		__atomic_store_n(&wrote, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&go, 0, __ATOMIC_RELEASE);
	}
}

/* Spins in user space (no system call) until the CQE shows up; 1 if it did within 2 s. */
static int spin_for_cqe(uint64_t data)
{
	uint64_t end = now_ns() + 2000 * MS;
	uint32_t spins = 0;

	while (__atomic_load_n(&ring.ctrl->ctail, __ATOMIC_ACQUIRE) ==
	       __atomic_load_n(&ring.ctrl->chead, __ATOMIC_RELAXED)) {
		if (++spins % 4096 == 0 && now_ns() > end)	/* vDSO: no kernel entry */
			return 0;
	}
	return popped(data, 4);
}

/* 2 tests */
static void spinning(pthread_t th)
{
	long long sw0;
	int ok = 0;

	(void)th;
	sw0 = worker_switches();
	for (int i = 0; i < ROUNDS; i++) {
		submit_read(200 + i);
		__atomic_store_n(&wrote, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
		ok += spin_for_cqe(200 + i);
		while (__atomic_load_n(&go, __ATOMIC_ACQUIRE) > 0)
			sleep_ns(MS / 4);
	}
	long long moved = worker_switches() - sw0;

	tap_ok(ok == ROUNDS,
	       "spinning: another thread's write completes the READ during the submitter's spin "
	       "in user space (%d of %d)", ok, ROUNDS);
	tap_ok(moved < ROUNDS / 2, "spinning: no worker ran it (%lld worker switches in %d rounds)",
	       moved, ROUNDS);
}

/* 2 tests */
static void asleep(void)
{
	long long sw0 = worker_switches();
	int ok = 0;

	for (int i = 0; i < ROUNDS / 4; i++) {
		uint64_t t0;

		submit_read(300 + i);
		__atomic_store_n(&wrote, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
		/* Asleep in another call past the write: TWA_RESUME would wait for us. */
		t0 = now_ns();
		sleep_ns(300 * MS);
		if (!__atomic_load_n(&wrote, __ATOMIC_ACQUIRE))
			tap_diag("round %d: the writer had not written after %llu ms", i,
				 (unsigned long long)((now_ns() - t0) / MS));
		ok += popped(300 + i, 4);
		while (__atomic_load_n(&go, __ATOMIC_ACQUIRE) > 0)
			sleep_ns(MS / 4);
	}
	tap_ok(ok == ROUNDS / 4,
	       "asleep: a write while the submitter sleeps in nanosleep(2) completes the READ "
	       "meanwhile (%d of %d)", ok, ROUNDS / 4);
	tap_ok(worker_switches() > sw0, "asleep: a worker ran it (%lld worker switches)",
	       worker_switches() - sw0);
}

int main(void)
{
	pthread_t th;

	io_init();
	tap_plan(7);
	main_tid = gettid_();
	if (ioring_setup(&ring, NULL, 16, 16) == ERR)
		tap_bail("ioring_setup: %s", strerror(errno));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p))
		tap_bail("socketpair: %s", strerror(errno));
	section("own write", 60);
	own_write();
	if (pthread_create(&th, NULL, writer, NULL))
		tap_bail("pthread_create");
	while (!__atomic_load_n(&writer_tid, __ATOMIC_ACQUIRE))
		sleep_ns(MS);
	section("spinning", 120);
	spinning(th);
	section("asleep", 60);
	asleep();
	__atomic_store_n(&go, -1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	alarm(0);
	EXPECT_EQ(ioring_teardown(ring.id), 0, "teardown: nothing left in flight");
	return tap_done();
}
