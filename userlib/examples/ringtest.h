/* SPDX-License-Identifier: MIT */
/*
 * ringtest.h - the PatchworkOS ring test scenario, shared by the ringtest
 * example and its selftest.
 *
 * Two NOPs, each a one-second sleep, go into one ring:
 *   1. SQE_HARDLINK, result saved into register 0 (preset to a marker here);
 *   2. SQE_LINK, last of the batch, so the chain ends with it.
 * ioring_enter(id, 2, 2) submits both and sleeps until both CQEs are there.
 * Both must report ETIMEDOUT; because the hardlink dispatches the second only
 * once the first has completed, they arrive about one second apart. A watcher
 * thread timestamps ctail as it moves while the main thread sleeps in enter.
 */
#ifndef PWRING_RINGTEST_H
#define PWRING_RINGTEST_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <sys/ioring.h>

#define RINGTEST_TIMEOUT IORING_NSEC_PER_SEC
#define RINGTEST_REG0_MARKER 0x5eed5eed5eed5eedULL

struct ringtest_result {
	const char *failed;     /* the step that failed, or NULL */
	int error;              /* its errno */
	ioring_id_t id;
	uint64_t consumed;      /* what ioring_enter(id, 2, 2) returned */
	uint64_t enter_ns;      /* time spent in that call */
	uint64_t seen_ns[2];    /* when each CQE appeared, from just before enter */
	size_t ncqes;
	cqe_t cqes[2];
	uint64_t reg0;          /* register 0 after both completed */
};

struct ringtest_watch {
	ioring_t *ring;
	uint64_t start;
	uint64_t seen[2];
	int stop;
};

static inline uint64_t ringtest_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * IORING_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void *ringtest_watcher(void *arg)
{
	struct ringtest_watch *w = (struct ringtest_watch *)arg;
	struct timespec tick = { 0, 200000 }; /* 0.2 ms */
	size_t seen = 0, ready;
	int stopping;

	for (;;) {
		/* stop first: once it is set, both CQEs are there to be seen */
		stopping = __atomic_load_n(&w->stop, __ATOMIC_ACQUIRE);
		ready = ioring_cq_ready(w->ring);
		while (seen < ready && seen < 2)
			w->seen[seen++] = ringtest_now() - w->start;
		if (seen == 2 || stopping)
			return NULL;
		nanosleep(&tick, NULL);
	}
}

static inline int ringtest_fail(struct ringtest_result *r, const char *step)
{
	r->failed = step;
	r->error = errno;
	return -1;
}

/* Run the scenario; 0 when every call worked (the caller judges the results). */
static inline int ringtest_run(struct ringtest_result *r)
{
	struct ringtest_watch watch;
	pthread_t watcher;
	ioring_t ring;
	sqe_t first, second;
	uint64_t t0;
	int err;

	memset(r, 0, sizeof(*r));
	r->id = ioring_setup(&ring, NULL, 16, 16);
	if (r->id == ERR)
		return ringtest_fail(r, "ioring_setup");
	ioring_reg_store(&ring, SQE_REG0, RINGTEST_REG0_MARKER);

	sqe_prep_nop(&first, RINGTEST_TIMEOUT, (void *)(uintptr_t)1);
	sqe_save_reg(&first, SQE_REG0);
	sqe_set_hardlink(&first);
	sqe_prep_nop(&second, RINGTEST_TIMEOUT, (void *)(uintptr_t)2);
	sqe_set_link(&second);
	if (!sqe_push(&ring, &first) || !sqe_push(&ring, &second)) {
		errno = ENOSPC;
		return ringtest_fail(r, "sqe_push");
	}

	memset(&watch, 0, sizeof(watch));
	watch.ring = &ring;
	watch.start = t0 = ringtest_now();
	err = pthread_create(&watcher, NULL, ringtest_watcher, &watch);
	if (err) {
		errno = err;
		return ringtest_fail(r, "pthread_create");
	}
	r->consumed = ioring_enter(r->id, 2, 2);
	err = errno;
	r->enter_ns = ringtest_now() - t0;
	__atomic_store_n(&watch.stop, 1, __ATOMIC_RELEASE);
	pthread_join(watcher, NULL);
	r->seen_ns[0] = watch.seen[0];
	r->seen_ns[1] = watch.seen[1];
	if (r->consumed == ERR) {
		errno = err;
		return ringtest_fail(r, "ioring_enter");
	}

	while (r->ncqes < 2 && cqe_pop(&ring, &r->cqes[r->ncqes]))
		r->ncqes++;
	r->reg0 = ioring_reg_load(&ring, SQE_REG0);
	if (ioring_teardown(r->id) == ERR)
		return ringtest_fail(r, "ioring_teardown");
	return 0;
}

#endif /* PWRING_RINGTEST_H */
