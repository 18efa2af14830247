// SPDX-License-Identifier: MIT
/*
 * concurrency: threads. The library's lazy open is race free (one device file
 * whichever thread comes first); a thread inside enter makes enter and
 * teardown of the same ring fail EBUSY rather than block, while other rings go
 * on; racing teardowns free a ring exactly once; threads driving their own
 * rings lose nothing.
 */
#include <dirent.h>
#include <pthread.h>

#include "common.h"

#define THREADS 8

static pthread_barrier_t barrier;

static int count_device_fds(void)
{
	char path[300], target[256];
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");
	ssize_t len;
	int n = 0;

	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = 0;
			n += strcmp(target, PWRING_DEVICE_PATH) == 0;
		}
	}
	closedir(dir);
	return n;
}

/* ---- 1. the first call, from 8 threads at once ---------------------------------- */

static ioring_t race_rings[THREADS];
static ioring_id_t race_ids[THREADS];

static void *race_setup(void *arg)
{
	size_t i = (size_t)(uintptr_t)arg;

	pthread_barrier_wait(&barrier);
	race_ids[i] = ioring_setup(&race_rings[i], NULL, 4, 4);
	return NULL;
}

/* 3 tests */
static void first_call_race(void)
{
	pthread_t t[THREADS];
	unsigned int ids = 0;
	size_t i;
	bool ok = true;

	pthread_barrier_init(&barrier, NULL, THREADS);
	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, race_setup, (void *)(uintptr_t)i);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&barrier);
	for (i = 0; i < THREADS; i++)
		if (race_ids[i] < 8)
			ids |= 1u << race_ids[i];
	tap_ok(ids == 0xff, "8 threads' first calls race: ids 0..7, all distinct (one device file)");
	tap_ok(count_device_fds() == 1, "exactly one descriptor of /dev/pwring is open (%d)",
	       count_device_fds());
	for (i = 0; i < THREADS; i++)
		ok &= race_ids[i] != ERR && ioring_teardown(race_ids[i]) == 0;
	tap_ok(ok, "all 8 tear down");
}

/* ---- 2. EBUSY while another thread is inside enter ------------------------------ */

struct blocked {
	int fd;
	uint64_t id;
	pid_t tid;
	int ret, err;
};

static void on_usr1(int sig)
{
	(void)sig;
}

static void *blocked_enter(void *arg)
{
	struct blocked *b = arg;

	b->tid = gettid();
	__atomic_store_n(&b->ret, -2, __ATOMIC_RELEASE);
	b->ret = raw_enter(b->fd, b->id, 1, 1);
	b->err = errno;
	return NULL;
}

/* 8 tests */
static void busy(void)
{
	struct blocked b = { .ret = -3 };
	struct sigaction sa;
	ioring_t ring, other;
	pthread_t t;
	cqe_t cqe;
	int fd = raw_open();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1; /* no SA_RESTART */
	sigaction(SIGUSR1, &sa, NULL);
	if (fd < 0 || raw_setup(fd, &ring, NULL, 4, 4) < 0 || raw_setup(fd, &other, NULL, 4, 4) < 0)
		tap_bail("raw setup: %s", strerror(errno));
	b.fd = fd;
	b.id = ring.id;
	push_nop(&ring, CLOCKS_NEVER, 1);
	pthread_create(&t, NULL, blocked_enter, &b);
	while (__atomic_load_n(&b.ret, __ATOMIC_ACQUIRE) == -3)
		sleep_ns(NSEC_PER_MSEC);
	tap_ok(wait_in_ioctl(getpid(), b.tid), "a thread sleeps in enter(1, 1) on a never-ending NOP");

	EXPECT_ERRNO(raw_enter(fd, ring.id, 0, 0), EBUSY, "enter on the same ring -> EBUSY");
	EXPECT_ERRNO(raw_teardown(fd, ring.id), EBUSY, "teardown of the same ring -> EBUSY");
	push_nop(&other, 0, 2);
	EXPECT_EQ(raw_enter(fd, other.id, 1, 1), 1, "another ring of the same file works meanwhile");
	tap_ok(cqe_pop(&other, &cqe) && cqe_data(&cqe) == 2, "and completes its NOP");
	EXPECT_EQ(raw_teardown(fd, other.id), 0, "and tears down");

	pthread_kill(t, SIGUSR1);
	pthread_join(t, NULL);
	tap_ok(b.ret == 1, "a signal ends the waiting enter, which returns its consumed count 1 (%d %s)",
	       b.ret, b.ret < 0 ? tap_errname(b.err) : "");
	EXPECT_ERRNO(raw_teardown(fd, ring.id), EBUSY, "the NOP still in flight: teardown -> EBUSY");
	close(fd);
	signal(SIGUSR1, SIG_DFL);
}

/* ---- 3. racing teardowns ------------------------------------------------------ */

static ioring_id_t shared_id;
static int teardown_ok, teardown_other;

static void *race_teardown(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&barrier);
	if (ioring_teardown(shared_id) == 0)
		__atomic_fetch_add(&teardown_ok, 1, __ATOMIC_RELAXED);
	else if (errno != EBUSY && errno != EINVAL)
		__atomic_fetch_add(&teardown_other, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* 1 test */
static void teardown_race(void)
{
	pthread_t t[4];
	int round, bad_rounds = 0;
	size_t i;
	ioring_t ring;

	for (round = 0; round < 50; round++) {
		shared_id = ioring_setup(&ring, NULL, 4, 4);
		teardown_ok = teardown_other = 0;
		pthread_barrier_init(&barrier, NULL, 4);
		for (i = 0; i < 4; i++)
			pthread_create(&t[i], NULL, race_teardown, NULL);
		for (i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&barrier);
		bad_rounds += shared_id == ERR || teardown_ok != 1 || teardown_other != 0;
	}
	tap_ok(!bad_rounds, "50 rounds of 4 racing teardowns: exactly one succeeds, the rest "
	       "EBUSY/EINVAL (%d bad rounds)", bad_rounds);
}

/* ---- 4. threads with rings of their own ------------------------------------------- */

#define PER_THREAD 5000

static void *own_ring(void *arg)
{
	unsigned char *seen = calloc(PER_THREAD, 1);
	size_t pushed = 0, done = 0, bad = 0;
	uintptr_t fail = 0;
	ioring_t ring;
	cqe_t cqe;

	(void)arg;
	if (!seen || ioring_setup(&ring, NULL, 32, 32) == ERR)
		return (void *)1;
	while (done < PER_THREAD) {
		while (pushed < PER_THREAD && push_nop(&ring, (pushed % 3) * 1000, pushed))
			pushed++;
		if (ioring_enter(ring.id, ring.sentries, 1) == ERR && errno != EBUSY) {
			fail = 2;
			break;
		}
		while (cqe_pop(&ring, &cqe)) {
			if (cqe.error != ETIMEDOUT || cqe_data(&cqe) >= PER_THREAD ||
			    seen[cqe_data(&cqe)]++)
				bad++;
			done++;
		}
	}
	if (bad)
		fail = 3;
	if (!fail && ioring_teardown(ring.id) == ERR)
		fail = 4;
	free(seen);
	return (void *)fail;
}

/* 1 test */
static void parallel_rings(void)
{
	pthread_t t[4];
	void *ret;
	int fails = 0;
	size_t i;

	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, own_ring, NULL);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], &ret);
		if (ret) {
			tap_diag("thread %zu failed at step %lu", i, (unsigned long)(uintptr_t)ret);
			fails++;
		}
	}
	tap_ok(!fails, "4 threads, a ring each, %d NOPs each: every CQE once, every ring torn down",
	       PER_THREAD);
}

int main(void)
{
	require_device();
	tap_plan(3 + 8 + 1 + 1);
	first_call_race();
	busy();
	teardown_race();
	parallel_rings();
	return tap_done();
}
