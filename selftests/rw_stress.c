// SPDX-License-Identifier: MIT
/*
 * rw_stress: many requests at once.
 *
 * Mixed: 4 threads, each with a ring of its own (through the library: one
 * device file, 4 rings), run 2,500 operations each, 10,000 in all, keeping up
 * to 64 in flight: NOPs with timeouts, READs of /dev/zero, WRITEs to
 * /dev/null, WRITEs and READs at offsets of a tmpfs file, POLLs of an eventfd,
 * READs of an empty pipe that time out, READs of a bad fd, linked WRITE ->
 * READ pairs through a pipe, and WRITEs into the next thread's pipe that the
 * next thread's ring READs (requests of different rings meeting in one
 * file). Every CQE is accounted for by its `data`: each operation completes
 * exactly once, with the result its kind expects, and the data it moved is
 * checked.
 *
 * In flight on one ring: 256 READs on 256 pipes completing in a random order,
 * each with its own pipe's data; 128 one-byte READs on one pipe taking the
 * 128 bytes written, each exactly once; READs, WRITEs and POLLs blocked
 * together and released together. No page stays pinned afterwards.
 */
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include "io.h"

#define MS NSEC_PER_MSEC
#define THREADS 4
#define OPS 2500
#define KINDS 12
#define RING_ENTRIES 64

enum kind {
	K_NOP, K_ZERO, K_NULL, K_FWRITE, K_FREAD, K_POLL, K_TIMEOUT, K_BADF,
	K_PAIR_W, K_PAIR_R, K_CROSS_W, K_CROSS_R
};

static const char *const kind_names[KINDS] = {
	"NOP", "READ /dev/zero", "WRITE /dev/null", "WRITE file", "READ file", "POLL eventfd",
	"READ timeout", "READ EBADF", "WRITE pair", "READ pair", "WRITE cross", "READ cross"
};

struct worker {
	unsigned int id;
	int reg;                 /* tmpfs file */
	int empty[2];            /* a pipe that stays empty */
	int pair[2];             /* linked WRITE -> READ */
	int cross[2];            /* written by the previous thread's ring, read by ours */
	int to_next;             /* the next thread's cross[1] */
	int efd, zero, null;
	unsigned char *seen;     /* per op: CQEs seen */
	unsigned char (*buf)[512];
	unsigned int bad[KINDS], done, unknown;
	unsigned int cross_got[OPS];
	uint64_t cross_out[OPS]; /* messages sent: (sender << 32) | seq */
	uint64_t cross_in[OPS];  /* per READ: the message received */
	uint32_t pair_in[OPS];   /* per pair READ: the index of the WRITE it got */
	int setup_errno;
};

static struct worker workers[THREADS];
static pthread_barrier_t barrier;

static enum kind kind_of(unsigned int i)
{
	return (enum kind)(i % KINDS);
}

/* The 64-byte pattern of op i in the tmpfs file. */
static void pattern(unsigned char *p, unsigned int i, unsigned int t)
{
	unsigned int k;

	for (k = 0; k < 64; k++)
		p[k] = (unsigned char)(i * 31 + k + t * 7);
}

#define FREAD_BASE (1u << 20)

static void prep(struct worker *w, unsigned int i, sqe_t *sqe)
{
	void *data = ptr_of(((uint64_t)w->id << 32) | i);
	unsigned char *b = w->buf[i];

	switch (kind_of(i)) {
	case K_NOP:
		sqe_prep_nop(sqe, (i % 3) * 100000, data);
		break;
	case K_ZERO:
		memset(b, 0xaa, 512);
		sqe_prep_read(sqe, w->zero, b, 512, IO_OFF_CUR, CLOCKS_NEVER, data);
		break;
	case K_NULL:
		sqe_prep_write(sqe, w->null, b, 512, IO_OFF_CUR, CLOCKS_NEVER, data);
		break;
	case K_FWRITE:
		pattern(b, i, w->id);
		sqe_prep_write(sqe, w->reg, b, 64, (ssize_t)i * 64, CLOCKS_NEVER, data);
		break;
	case K_FREAD:
		memset(b, 0, 64);
		sqe_prep_read(sqe, w->reg, b, 64, FREAD_BASE + (ssize_t)(i % 1000) * 64, CLOCKS_NEVER,
			      data);
		break;
	case K_POLL:
		sqe_prep_poll(sqe, w->efd, IO_POLL_READ, CLOCKS_NEVER, data);
		break;
	case K_TIMEOUT:
		sqe_prep_read(sqe, w->empty[0], b, 16, IO_OFF_CUR, 200000, data);
		break;
	case K_BADF:
		sqe_prep_read(sqe, 1000 + (int)w->id, b, 16, IO_OFF_CUR, CLOCKS_NEVER, data);
		break;
	case K_PAIR_W:
		for (unsigned int k = 0; k < 4; k++)
			memcpy(b + 4 * k, &i, 4);
		sqe_prep_write(sqe, w->pair[1], b, 16, IO_OFF_CUR, CLOCKS_NEVER, data);
		sqe_set_link(sqe);
		break;
	case K_PAIR_R:
		memset(b, 0, 16);
		sqe_prep_read(sqe, w->pair[0], b, 16, IO_OFF_CUR, CLOCKS_NEVER, data);
		break;
	case K_CROSS_W:
		w->cross_out[i] = ((uint64_t)w->id << 32) | i;
		memcpy(b, &w->cross_out[i], 8);
		sqe_prep_write(sqe, w->to_next, b, 8, IO_OFF_CUR, CLOCKS_NEVER, data);
		break;
	case K_CROSS_R:
		memset(b, 0xff, 8);
		sqe_prep_read(sqe, w->cross[0], b, 8, IO_OFF_CUR, CLOCKS_NEVER, data);
		break;
	}
}

/* Whether a CQE is what its op should have produced. */
static bool check(struct worker *w, unsigned int i, const cqe_t *c)
{
	unsigned char *b = w->buf[i];
	unsigned char want[64];

	switch (kind_of(i)) {
	case K_NOP:
		return c->op == IO_OP_NOP && c->error == ETIMEDOUT;
	case K_ZERO:
		return c->op == IO_OP_READ && !c->error && c->_result == 512 && all_bytes(b, 512, 0);
	case K_NULL:
		return c->op == IO_OP_WRITE && !c->error && c->_result == 512;
	case K_FWRITE:
		return c->op == IO_OP_WRITE && !c->error && c->_result == 64;
	case K_FREAD:
		pattern(want, 100000 + i % 1000, w->id);
		return c->op == IO_OP_READ && !c->error && c->_result == 64 && !memcmp(b, want, 64);
	case K_POLL:
		return c->op == IO_OP_POLL && !c->error && c->_result == IO_POLL_READ;
	case K_TIMEOUT:
		return c->op == IO_OP_READ && c->error == ETIMEDOUT && c->_result == 0;
	case K_BADF:
		return c->op == IO_OP_READ && c->error == EBADF;
	case K_PAIR_W:
		return c->op == IO_OP_WRITE && !c->error && c->_result == 16;
	case K_PAIR_R:
		/*
		 * 16 bytes of some pair's WRITE: READs of different pairs may be in
		 * flight together and take each other's messages (a pipe has no
		 * offsets); mixed() checks that each message was read exactly once.
		 */
		if (c->op != IO_OP_READ || c->error || c->_result != 16)
			return false;
		memcpy(&w->pair_in[i], b, 4);
		return !memcmp(b, b + 4, 4) && !memcmp(b, b + 8, 8);
	case K_CROSS_W:
		return c->op == IO_OP_WRITE && !c->error && c->_result == 8;
	case K_CROSS_R:
		if (c->op != IO_OP_READ || c->error || c->_result != 8)
			return false;
		memcpy(&w->cross_in[i], b, 8);
		return true;
	}
	return false;
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	unsigned int pushed = 0;
	ioring_t ring;
	cqe_t cqe;
	sqe_t sqe;

	if (ioring_setup(&ring, NULL, RING_ENTRIES, RING_ENTRIES) == ERR) {
		w->setup_errno = errno;
		pthread_barrier_wait(&barrier);
		return NULL;
	}
	pthread_barrier_wait(&barrier);
	while (w->done < OPS) {
		size_t queued = 0;

		/* A linked pair goes into the SQ whole, so that one enter takes both. */
		while (pushed < OPS && ioring_sq_space(&ring) >= 2) {
			prep(w, pushed, &sqe);
			sqe_push(&ring, &sqe);
			pushed++;
			queued++;
			if (kind_of(pushed - 1) == K_PAIR_W) {
				prep(w, pushed, &sqe);
				sqe_push(&ring, &sqe);
				pushed++;
				queued++;
			}
		}
		/* Everything in the SQ: admission may have left some there last time. */
		(void)queued;
		if (ioring_enter(ring.id, ring.sentries - ioring_sq_space(&ring), 1) == ERR &&
		    errno != EBUSY && errno != EINTR) {
			w->setup_errno = errno;
			break;
		}
		while (cqe_pop(&ring, &cqe)) {
			uint64_t d = cqe_data(&cqe);
			unsigned int i = (unsigned int)d;

			if ((d >> 32) != w->id || i >= OPS) {
				w->unknown++;
				continue;
			}
			if (w->seen[i]++ == 0)
				w->done++;
			if (!check(w, i, &cqe)) {
				if (w->bad[kind_of(i)]++ < 3)
					tap_diag("thread %u op %u (%s): op %s error %s result %llu", w->id,
						 i, kind_names[kind_of(i)], op_name(cqe.op),
						 cqe.error ? tap_errname(cqe.error) : "0",
						 (unsigned long long)cqe._result);
			}
		}
	}
	if (ioring_teardown(ring.id) == ERR && !w->setup_errno)
		w->setup_errno = errno;
	return NULL;
}

/* 10,000 mixed operations across 4 threads. 7 tests */
static void mixed(void)
{
	pthread_t t[THREADS];
	unsigned int i, k, twice = 0, never = 0, unknown = 0, bad = 0, file_bad = 0, errs = 0;
	unsigned int cross_bad = 0, pair_bad = 0;
	unsigned char want[64], got[64];
	uint64_t one = 1;

	for (i = 0; i < THREADS; i++) {
		struct worker *w = &workers[i];

		memset(w, 0, sizeof(*w));
		w->id = i;
		w->reg = tmpfile_in("/tmp");
		for (k = 0; k < 1000; k++) {
			pattern(want, 100000 + k, i);
			pwrite(w->reg, want, 64, FREAD_BASE + k * 64);
		}
		xpipe(w->empty);
		xpipe(w->pair);
		xpipe(w->cross);
		w->efd = eventfd(0, EFD_CLOEXEC);
		write(w->efd, &one, 8);
		w->zero = xopen("/dev/zero", O_RDONLY, 0);
		w->null = xopen("/dev/null", O_WRONLY, 0);
		w->seen = calloc(OPS, 1);
		w->buf = calloc(OPS, 512);
		if (!w->seen || !w->buf)
			tap_bail("calloc");
	}
	for (i = 0; i < THREADS; i++)
		workers[i].to_next = workers[(i + 1) % THREADS].cross[1];
	pthread_barrier_init(&barrier, NULL, THREADS);
	for (i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, run_worker, &workers[i]);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&barrier);

	for (i = 0; i < THREADS; i++) {
		struct worker *w = &workers[i];
		struct worker *prev = &workers[(i + THREADS - 1) % THREADS];
		unsigned char *from_prev = calloc(OPS, 1), *from_pair = calloc(OPS, 1);

		errs += w->setup_errno != 0;
		if (w->setup_errno)
			tap_diag("thread %u: %s", i, strerror(w->setup_errno));
		unknown += w->unknown;
		for (k = 0; k < KINDS; k++)
			bad += w->bad[k];
		for (k = 0; k < OPS; k++) {
			twice += w->seen[k] > 1;
			never += w->seen[k] == 0;
			if (kind_of(k) == K_FWRITE) {
				pattern(want, k, i);
				file_bad += pread(w->reg, got, 64, (off_t)k * 64) != 64 ||
					    memcmp(got, want, 64);
			}
			if (kind_of(k) == K_PAIR_R && from_pair) {
				uint32_t m = w->pair_in[k];

				if (m >= OPS || kind_of(m) != K_PAIR_W || from_pair[m]++)
					pair_bad++;
			}
			if (kind_of(k) == K_CROSS_R && from_prev) {
				uint64_t m = w->cross_in[k];
				unsigned int seq = (unsigned int)m;

				if ((m >> 32) != prev->id || seq >= OPS || kind_of(seq) != K_CROSS_W ||
				    from_prev[seq]++)
					cross_bad++;
			}
		}
		free(from_prev);
		free(from_pair);
	}
	tap_ok(errs == 0, "4 threads, each with its own ring of %d entries, ran to the end",
	       RING_ENTRIES);
	tap_ok(never == 0 && twice == 0 && unknown == 0,
	       "every one of the %d operations got exactly one CQE, found by its data (%u never, "
	       "%u twice, %u unknown)", THREADS * OPS, never, twice, unknown);
	tap_ok(bad == 0, "every CQE has the error and result its kind expects (%u wrong)", bad);
	for (i = 0; bad && i < THREADS; i++)
		for (k = 0; k < KINDS; k++)
			if (workers[i].bad[k])
				tap_diag("thread %u: %u wrong %s", i, workers[i].bad[k], kind_names[k]);
	tap_ok(file_bad == 0, "the file WRITEs left every 64-byte block right (%u wrong)", file_bad);
	tap_ok(pair_bad == 0, "every linked pair's message was READ exactly once (%u wrong)",
	       pair_bad);
	tap_ok(cross_bad == 0, "each thread's ring READ every message the previous thread's ring "
	       "WROTE to it, exactly once (%u wrong)", cross_bad);
	{
		bool drained = true;

		for (i = 0; i < THREADS; i++)
			drained &= drain_fd(workers[i].pair[0], NULL, 0) == 0 &&
				   drain_fd(workers[i].cross[0], NULL, 0) == 0 &&
				   drain_fd(workers[i].empty[0], NULL, 0) == 0;
		tap_ok(drained, "no pipe holds a byte more than its READs took");
	}
	for (i = 0; i < THREADS; i++) {
		struct worker *w = &workers[i];

		close(w->reg);
		close(w->empty[0]);
		close(w->empty[1]);
		close(w->pair[0]);
		close(w->pair[1]);
		close(w->cross[0]);
		close(w->cross[1]);
		close(w->efd);
		close(w->zero);
		close(w->null);
		free(w->seen);
		free(w->buf);
	}
}

/* ---- Many requests in flight on one ring ---------------------------------------------------- */

#define NPIPES 256

/* 4 tests */
static void many_pipes(ioring_t *ring)
{
	static int p[NPIPES][2];
	static uint32_t buf[NPIPES][4];
	unsigned int order[NPIPES], i, good = 0, n = 0;
	uint64_t rng = 99;
	cqe_t c;
	sqe_t sqe;

	for (i = 0; i < NPIPES; i++) {
		xpipe(p[i]);
		sqe_prep_read(&sqe, p[i][0], buf[i], sizeof(buf[i]), IO_OFF_CUR, CLOCKS_NEVER,
			      ptr_of(i));
		push_sqe(ring, &sqe);
		order[i] = i;
	}
	EXPECT_EQ(ioring_enter(ring->id, NPIPES, 0), NPIPES, "%d READs on %d empty pipes consumed",
		  NPIPES, NPIPES);
	sleep_ns(20 * MS);
	tap_ok(ioring_cq_ready(ring) == 0, "all %d are in flight (no CQE after 20 ms)", NPIPES);
	for (i = NPIPES - 1; i > 0; i--) {
		unsigned int j = (unsigned int)(rng_next(&rng) % (i + 1)), tmp = order[i];

		order[i] = order[j];
		order[j] = tmp;
	}
	for (i = 0; i < NPIPES; i++) {
		uint32_t msg[4] = { order[i], ~order[i], order[i] * 3, 0x5a5a5a5a };

		write(p[order[i]][1], msg, sizeof(msg));
	}
	while (n < NPIPES && ioring_enter(ring->id, 0, 1) != ERR) {
		while (cqe_pop(ring, &c)) {
			unsigned int k = (unsigned int)cqe_data(&c);

			n++;
			good += k < NPIPES && !c.error && c._result == 16 && buf[k][0] == k &&
				buf[k][1] == ~k && buf[k][2] == k * 3 && buf[k][3] == 0x5a5a5a5a;
		}
	}
	tap_ok(n == NPIPES, "written in a random order, all %d complete", NPIPES);
	tap_ok(good == NPIPES, "each READ has its own pipe's 16 bytes (%u right)", good);
	for (i = 0; i < NPIPES; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
}

#define NSAME 128

/* 3 tests */
static void one_pipe(ioring_t *ring)
{
	static unsigned char got[NSAME];
	unsigned char msg[NSAME], count[NSAME] = { 0 };
	unsigned int i, n = 0, good = 0, dup = 0;
	int p[2];
	cqe_t c;
	sqe_t sqe;

	xpipe(p);
	for (i = 0; i < NSAME; i++) {
		got[i] = 0xff;
		msg[i] = (unsigned char)i;
		sqe_prep_read(&sqe, p[0], &got[i], 1, IO_OFF_CUR, CLOCKS_NEVER, ptr_of(i));
		push_sqe(ring, &sqe);
	}
	EXPECT_EQ(ioring_enter(ring->id, NSAME, 0), NSAME, "%d one-byte READs on one empty pipe",
		  NSAME);
	write(p[1], msg, NSAME);
	while (n < NSAME && ioring_enter(ring->id, 0, 1) != ERR) {
		while (cqe_pop(ring, &c)) {
			unsigned int k = (unsigned int)cqe_data(&c);

			n++;
			if (k < NSAME && !c.error && c._result == 1 && got[k] < NSAME) {
				good++;
				dup += count[got[k]]++ != 0;
			}
		}
	}
	tap_ok(n == NSAME && good == NSAME, "one write(2) of %d bytes completes all %d, one byte "
	       "each (%u right)", NSAME, NSAME, good);
	tap_ok(dup == 0 && drain_fd(p[0], NULL, 0) == 0,
	       "each byte went to exactly one READ; none is left in the pipe");
	close(p[0]);
	close(p[1]);
}

#define NMIX 64

/* READs, WRITEs and POLLs blocked together, released together. 3 tests */
static void mixed_blocked(ioring_t *ring)
{
	static int rp[NMIX][2], wp[NMIX][2], pp[NMIX][2];
	static char rbuf[NMIX][8], wbuf[NMIX][8], sink[65536];
	static size_t filled[NMIX];
	unsigned int i, n = 0, good = 0;
	cqe_t c;
	sqe_t sqe;

	for (i = 0; i < NMIX; i++) {
		xpipe(rp[i]);
		xpipe(wp[i]);
		xpipe(pp[i]);
		filled[i] = fill_fd(wp[i][1]);
		snprintf(wbuf[i], sizeof(wbuf[i]), "w%05u", i);
		sqe_prep_read(&sqe, rp[i][0], rbuf[i], 8, IO_OFF_CUR, CLOCKS_NEVER, ptr_of(i));
		push_sqe(ring, &sqe);
		sqe_prep_write(&sqe, wp[i][1], wbuf[i], 8, IO_OFF_CUR, CLOCKS_NEVER,
			       ptr_of(NMIX + i));
		push_sqe(ring, &sqe);
		sqe_prep_poll(&sqe, pp[i][0], IO_POLL_READ, CLOCKS_NEVER, ptr_of(2 * NMIX + i));
		push_sqe(ring, &sqe);
	}
	EXPECT_EQ(ioring_enter(ring->id, 3 * NMIX, 0), 3 * NMIX,
		  "%d READs, %d WRITEs on full pipes and %d POLLs, all blocked", NMIX, NMIX, NMIX);
	for (i = 0; i < NMIX; i++) {
		write(rp[i][1], "r-data!", 8);
		/* Exactly the filler: the WRITE's 8 bytes follow it. */
		if (read(wp[i][0], sink, filled[i]) != (ssize_t)filled[i])
			tap_diag("pipe %u: short read of the filler", i);
		write(pp[i][1], "p", 1);
	}
	while (n < 3 * NMIX && ioring_enter(ring->id, 0, 1) != ERR) {
		while (cqe_pop(ring, &c)) {
			unsigned int k = (unsigned int)cqe_data(&c);

			n++;
			if (k < NMIX)
				good += !c.error && c._result == 8 && !memcmp(rbuf[k], "r-data!", 8);
			else if (k < 2 * NMIX)
				good += !c.error && c._result == 8;
			else if (k < 3 * NMIX)
				good += !c.error && c._result == IO_POLL_READ;
		}
	}
	{
		unsigned int wgood = 0;
		char back[8];

		for (i = 0; i < NMIX; i++)
			wgood += read(wp[i][0], back, 8) == 8 && !memcmp(back, wbuf[i], 8);
		tap_ok(n == 3 * NMIX && good == 3 * NMIX && wgood == NMIX,
		       "released together, all %d complete correctly; each WRITE's bytes are in its "
		       "pipe (%u/%u right)", 3 * NMIX, good + wgood, 4 * NMIX);
	}
	for (i = 0; i < NMIX; i++) {
		close(rp[i][0]);
		close(rp[i][1]);
		close(wp[i][0]);
		close(wp[i][1]);
		close(pp[i][0]);
		close(pp[i][1]);
	}
}

int main(void)
{
	struct rlimit rl = { 4096, 4096 };
	long long pins;
	ioring_t ring;

	io_init();
	tap_plan(7 + 4 + 3 + 2 + 1 + 1);
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < 1024)
			tap_bail("RLIMIT_NOFILE is %llu; 1024 descriptors are needed",
				 (unsigned long long)rl.rlim_cur);
	}
	pins = pins_outstanding();
	section("10,000 mixed operations in 4 threads", 240);
	mixed();
	if (ioring_setup(&ring, NULL, 512, 512) == ERR)
		tap_bail("ioring_setup: %s", strerror(errno));
	section("256 READs on 256 pipes", 120);
	many_pipes(&ring);
	section("128 READs on one pipe", 60);
	one_pipe(&ring);
	section("READs, WRITEs and POLLs blocked together", 120);
	mixed_blocked(&ring);
	alarm(0);
	EXPECT_EQ(ioring_teardown(ring.id), 0, "teardown: nothing left in flight");
	tap_ok(pins < 0 || pins_settle(pins) == pins,
	       "no page is left pinned (pins outstanding %lld -> %lld)", pins, pins_outstanding());
	return tap_done();
}
