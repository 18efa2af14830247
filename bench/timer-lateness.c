// SPDX-License-Identifier: MIT
/*
 * timer-lateness - how late an unrelated high-resolution timer fires while
 * rings complete long chains from their timers (issue: interrupt context does
 * bounded work, spec §5).
 *
 * A SCHED_FIFO thread pinned to CPU 0 sleeps to absolute deadlines every
 * PERIOD µs (clock_nanosleep: an hrtimer) and records how late it wakes. It
 * does so alone first, then while RINGS threads, spread over every CPU, each
 * submit, again and again, a chain of CHAIN NOPs: a head that sleeps 1 ms
 * (its hrtimer) and CHAIN-1 HARDLINKed NOPs that complete at once. When the
 * head's timer fires, the whole chain is ready to complete: if the timer
 * callback completed it there, interrupts would be off for thousands of CQEs
 * and the sleeper, on the same CPU, would wake that much later.
 *
 * Usage: timer-lateness [-r RINGS] [-c CHAIN] [-s SECONDS] [-p PERIOD_US]
 * Prints, for "idle" and "loaded": wakeups, p50, p99, p99.9 and max lateness
 * in µs, and the chains the rings completed. Exit status 0 unless something
 * failed (a lost or wrong CQE counts as failure).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/ioring.h>

static int rings = 8, chain = 4000, seconds = 5, period_us = 500;
static atomic_bool stop;
static atomic_ulong chains_done;
static atomic_int failures;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *ring_thread(void *arg)
{
	long idx = (long)arg;
	size_t entries = 1;
	ioring_t ring;
	ioring_id_t id;

	while (entries < (size_t)chain)
		entries <<= 1;
	pin((int)(idx % sysconf(_SC_NPROCESSORS_ONLN)));
	id = ioring_setup(&ring, NULL, entries, entries);
	if (id == ERR) {
		fprintf(stderr, "timer-lateness: ioring_setup: %s\n", strerror(errno));
		failures++;
		return NULL;
	}
	while (!atomic_load(&stop)) {
		size_t got = 0;
		sqe_t sqe;
		cqe_t cqe;

		for (int i = 0; i < chain; i++) {
			/* The head sleeps 1 ms; the rest complete at once, after it. */
			sqe_prep_nop(&sqe, i == 0 ? IORING_NSEC_PER_MSEC : 0, (void *)(uintptr_t)i);
			if (i < chain - 1)
				sqe.flags |= SQE_HARDLINK;
			sqe_push(&ring, &sqe);
		}
		if (ioring_enter(id, chain, chain) == ERR && errno != EINTR) {
			fprintf(stderr, "timer-lateness: ioring_enter: %s\n", strerror(errno));
			failures++;
			break;
		}
		while (got < (size_t)chain) {
			if (!cqe_pop(&ring, &cqe)) {
				if (ioring_enter(id, 0, 1) == ERR && errno != EINTR) {
					failures++;
					goto out;
				}
				continue;
			}
			if ((uintptr_t)cqe.data != got || cqe.error != ETIMEDOUT) {
				fprintf(stderr, "timer-lateness: CQE %zu: data %zu error %d\n", got,
					(size_t)(uintptr_t)cqe.data, cqe.error);
				failures++;
				goto out;
			}
			got++;
		}
		chains_done++;
	}
out:
	ioring_teardown(id);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sleeps to deadlines PERIOD apart for `secs`; prints the lateness quantiles. */
static void measure(const char *label, int secs)
{
	size_t cap = (size_t)secs * 1000000 / period_us + 16, n = 0;
	uint64_t *late = calloc(cap, sizeof(*late));
	uint64_t next = now_ns(), end = next + (uint64_t)secs * 1000000000ull;
	unsigned long before = atomic_load(&chains_done);

	if (!late)
		exit(1);
	while (n < cap) {
		struct timespec ts;
		uint64_t t;

		next += (uint64_t)period_us * 1000;
		if (next >= end)
			break;
		ts.tv_sec = (time_t)(next / 1000000000ull);
		ts.tv_nsec = (long)(next % 1000000000ull);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		t = now_ns();
		late[n++] = t - next;
		if (t > next + (uint64_t)period_us * 1000)
			next = t;	/* overran: start again from now, no burst of catch-ups */
	}
	qsort(late, n, sizeof(*late), cmp_u64);
#define Q(q) (late[(size_t)((double)(n - 1) * (q))] / 1000.0)
	printf("%-7s wakeups %6zu  p50 %8.1f us  p99 %8.1f us  p99.9 %8.1f us  max %8.1f us  chains %lu\n",
	       label, n, Q(0.5), Q(0.99), Q(0.999), late[n - 1] / 1000.0,
	       atomic_load(&chains_done) - before);
#undef Q
	free(late);
}

int main(int argc, char **argv)
{
	struct sched_param sp = { .sched_priority = 50 };
	pthread_t *th;
	int opt;

	while ((opt = getopt(argc, argv, "r:c:s:p:")) != -1) {
		switch (opt) {
		case 'r': rings = atoi(optarg); break;
		case 'c': chain = atoi(optarg); break;
		case 's': seconds = atoi(optarg); break;
		case 'p': period_us = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: timer-lateness [-r RINGS] [-c CHAIN] [-s SECONDS] [-p PERIOD_US]\n");
			return 2;
		}
	}
	if (rings < 1 || rings > (int)PWRING_MAX_RINGS || chain < 1 || chain > 32768 ||
	    seconds < 1 || period_us < 50) {
		fprintf(stderr, "timer-lateness: RINGS 1..%u, CHAIN 1..32768, SECONDS >= 1, PERIOD >= 50\n",
			PWRING_MAX_RINGS);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	pin(0);
	if (sched_setscheduler(0, SCHED_FIFO, &sp))
		printf("# not SCHED_FIFO (%s): lateness includes scheduling\n", strerror(errno));
	printf("# %d rings, chains of %d NOPs behind a 1 ms timer, %d s, a wakeup every %d us on CPU 0\n",
	       rings, chain, seconds, period_us);
	measure("idle", seconds);

	th = calloc((size_t)rings, sizeof(*th));
	for (long i = 0; i < rings; i++) {
		pthread_attr_t a;
		struct sched_param normal = { 0 };

		pthread_attr_init(&a);	/* the ring threads: SCHED_OTHER */
		pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
		pthread_attr_setschedpolicy(&a, SCHED_OTHER);
		pthread_attr_setschedparam(&a, &normal);
		if (pthread_create(&th[i], &a, ring_thread, (void *)i)) {
			perror("pthread_create");
			return 1;
		}
	}
	usleep(200000);		/* every ring running */
	measure("loaded", seconds);
	atomic_store(&stop, true);
	for (int i = 0; i < rings; i++)
		pthread_join(th[i], NULL);
	if (failures)
		printf("# FAILED: %d\n", failures);
	return failures ? 1 : 0;
}
