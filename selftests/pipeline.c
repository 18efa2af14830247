// SPDX-License-Identifier: MIT
/*
 * pipeline: data through linked READ/WRITE pairs and registers.
 *
 * Integrity: 1 MiB of random data goes through a pipe by linked WRITE -> READ
 * pairs (4 pairs of 16 KiB per enter, linked into one chain: only a chain
 * has an order), and is compared by checksum and byte
 * for byte. Then the register pipeline: READ up to N bytes from fd A saving
 * the count into a register, LINK a WRITE to fd B whose count is loaded from
 * that register, in one enter; bytes written == bytes read. Synchronously
 * (the data is already there: a pipe, a regular file short at EOF) and
 * asynchronously (pipe A is empty at enter and another thread writes later;
 * the successor is dispatched by the thread waiting in enter, or by the next
 * enter); and POLL -> READ -> WRITE with every argument of both successors
 * from registers. Finally relays: 1 MiB from a producer thread through pipe
 * A, the ring (READ A -> r, LINK WRITE B <- r) and pipe B to a consumer
 * thread, checksummed at both ends; one lane, then four lanes in flight at
 * once on one ring, each with its own register.
 */
#include <pthread.h>

#include "io.h"

#define MS NSEC_PER_MSEC
#define MIB (1u << 20)

static ioring_t ring;

/* ---- 1 MiB through a pipe by linked WRITE -> READ pairs ---------------------------------- */

#define CHUNK (16u << 10)
#define PAIRS_PER_ENTER 4

/* 3 tests */
static void integrity(void)
{
	unsigned char *src = malloc(MIB), *dst = malloc(MIB);
	size_t off, bad = 0, got, i;
	cqe_t cq[2 * PAIRS_PER_ENTER];
	int p[2];
	sqe_t sqe;

	if (!src || !dst)
		tap_bail("malloc");
	fill_random(src, MIB, 0x1de9);
	memset(dst, 0, MIB);
	xpipe(p);
	for (off = 0; off < MIB; off += CHUNK * PAIRS_PER_ENTER) {
		for (i = 0; i < PAIRS_PER_ENTER; i++) {
			size_t o = off + i * CHUNK;

			sqe_prep_write(&sqe, p[1], src + o, CHUNK, IO_OFF_CUR, CLOCKS_NEVER,
				       ptr_of(2 * o + 1));
			sqe_set_link(&sqe);
			push_sqe(&ring, &sqe);
			sqe_prep_read(&sqe, p[0], dst + o, CHUNK, IO_OFF_CUR, CLOCKS_NEVER,
				      ptr_of(2 * o + 2));
			/*
			 * One chain per enter: separate chains may run in any
			 * order (two queued WRITEs can be done by two workers).
			 */
			if (i + 1 < PAIRS_PER_ENTER)
				sqe_set_link(&sqe);
			push_sqe(&ring, &sqe);
		}
		got = submit_all(&ring, 2 * PAIRS_PER_ENTER, cq);
		for (i = 0; i < got; i++)
			bad += cq[i].error != 0 || cq[i]._result != CHUNK;
		bad += got != 2 * PAIRS_PER_ENTER;
	}
	tap_ok(bad == 0, "1 MiB through a pipe as %u linked WRITE -> READ pairs of 16 KiB: every "
	       "CQE ok with 16384 bytes (%zu bad)", MIB / CHUNK, bad);
	tap_ok(fnv1a(FNV_INIT, dst, MIB) == fnv1a(FNV_INIT, src, MIB),
	       "checksum of what was read equals the checksum of what was written (%016llx)",
	       (unsigned long long)fnv1a(FNV_INIT, src, MIB));
	tap_ok(!memcmp(dst, src, MIB) && drain_fd(p[0], NULL, 0) == 0,
	       "identical byte for byte, and nothing left in the pipe");
	close(p[0]);
	close(p[1]);
	free(src);
	free(dst);
}

/* ---- The register pipeline --------------------------------------------------------------- */

/* Queue READ(a, buf, n) SAVE reg, LINK WRITE(b, buf, count <- reg). */
static void push_pipeline(int a, int b, void *buf, size_t n, unsigned int reg, uint64_t data)
{
	sqe_t sqe;

	sqe_prep_read(&sqe, a, buf, n, IO_OFF_CUR, CLOCKS_NEVER, ptr_of(data));
	sqe_save_reg(&sqe, reg);
	sqe_set_link(&sqe);
	push_sqe(&ring, &sqe);
	/* count 0xdead: it must come from the register */
	sqe_prep_write(&sqe, b, buf, 0xdead, IO_OFF_CUR, CLOCKS_NEVER, ptr_of(data + 1));
	sqe_load_reg(&sqe, SQE_LOAD2, reg);
	push_sqe(&ring, &sqe);
}

/* 2 tests */
static int expect_pipeline(const cqe_t *cq, uint64_t data, uint64_t n, const char *what)
{
	const cqe_t *r = find_cqe(cq, 2, data), *w = find_cqe(cq, 2, data + 1);

	tap_ok(r->error == 0 && r->_result == n && w->error == 0 && w->_result == n,
	       "%s: READ got %llu bytes, the WRITE wrote as many", what, (unsigned long long)n);
	if (!TAP_LAST)
		tap_diag("READ error %s result %llu; WRITE error %s result %llu",
			 tap_errname(r->error), (unsigned long long)r->_result, tap_errname(w->error),
			 (unsigned long long)w->_result);
	tap_ok(cqe_data(&cq[0]) == data, "%s: the READ's CQE comes first", what);
	return r->_result == n && w->_result == n;
}

/* 19 tests */
static void register_pipeline(void)
{
	static unsigned char src[8192], buf[8192], out[16384];
	int a[2], b[2], fa, fb;
	struct later l;
	pthread_t t;
	cqe_t cq[2];
	uint64_t t0;

	fill_random(src, sizeof(src), 0xa11);

	/* Synchronous: the data is already in pipe A. */
	xpipe(a);
	xpipe(b);
	write(a[1], src, 3000);
	push_pipeline(a[0], b[1], buf, sizeof(buf), 1, 10);
	tap_ok(submit_all(&ring, 2, cq) == 2, "sync: READ A (up to 8192) -> r1, LINK WRITE B "
	       "(count <- r1): one enter(2, 2) completes both");
	expect_pipeline(cq, 10, 3000, "sync");
	tap_ok(ioring_reg_load(&ring, 1) == 3000 && drain_fd(b[0], out, sizeof(out)) == 3000 &&
	       !memcmp(out, src, 3000), "sync: r1 holds 3000; pipe B holds exactly those bytes");

	/* Synchronous, regular files: a short read at EOF decides the count. */
	fa = tmpfile_in("/tmp");
	fb = tmpfile_in("/tmp");
	pwrite(fa, src, 5000, 0);
	push_pipeline(fa, fb, buf, sizeof(buf), 2, 20);
	submit_all(&ring, 2, cq);
	expect_pipeline(cq, 20, 5000, "files");
	{
		struct stat st;

		fstat(fb, &st);
		tap_ok(st.st_size == 5000 && pread(fb, out, sizeof(out), 0) == 5000 &&
		       !memcmp(out, src, 5000) && lseek(fa, 0, SEEK_CUR) == 5000 &&
		       lseek(fb, 0, SEEK_CUR) == 5000,
		       "files: B is the 5000 bytes of A; both positions advanced by 5000");
	}
	close(fa);
	close(fb);

	/* Asynchronous: A is empty at enter; a thread writes 1234 bytes 50 ms later. */
	l = (struct later){ .fd = a[1], .delay = 50 * MS, .buf = src + 100, .len = 1234 };
	push_pipeline(a[0], b[1], buf, sizeof(buf), 3, 30);
	pthread_create(&t, NULL, write_later, &l);
	t0 = now_ns();
	tap_ok(submit_all(&ring, 2, cq) == 2 && now_ns() >= l.at && l.at > t0,
	       "async: pipe A empty at enter(2, 2); it returns with both CQEs after the write");
	pthread_join(t, NULL);
	expect_pipeline(cq, 30, 1234, "async, waiting in enter");
	tap_ok(ioring_reg_load(&ring, 3) == 1234 && drain_fd(b[0], out, sizeof(out)) == 1234 &&
	       !memcmp(out, src + 100, 1234), "async: r3 holds 1234; pipe B holds exactly those");

	/* Asynchronous, nobody waiting: a later enter dispatches the WRITE. */
	push_pipeline(a[0], b[1], buf, sizeof(buf), 4, 40);
	tap_ok(ioring_enter(ring.id, 2, 0) == 2, "async, not waiting: enter(2, 0) consumes both");
	write(a[1], src + 2000, 777);
	{
		size_t n = 0;
		int i;

		/* The READ completes on its own... */
		for (i = 0; i < 500 && ioring_cq_ready(&ring) == 0; i++)
			sleep_ns(2 * MS);
		n = pop_cqes(&ring, cq, 2);
		/* ...the WRITE needs an enter if it has not run yet. */
		while (n < 2 && ioring_enter(ring.id, 0, 1) != ERR)
			n += pop_cqes(&ring, cq + n, 2 - n);
		tap_ok(n == 2, "async, not waiting: the READ completes by itself, enter(0, 1) brings "
		       "the WRITE");
	}
	expect_pipeline(cq, 40, 777, "async, not waiting");
	tap_ok(drain_fd(b[0], out, sizeof(out)) == 777 && !memcmp(out, src + 2000, 777),
	       "async, not waiting: pipe B holds exactly the 777 bytes");
	/*
	 * Every argument from a register, in successors of an asynchronous
	 * predecessor: POLL A (result -> r3) LINK READ(r1, r2, r3, r5) (result
	 * -> r6) LINK WRITE(r4, r2, r6, r5). The POLL's result, READ (1),
	 * becomes the READ's count: one byte goes from A to B.
	 */
	{
		sqe_t sqe;
		cqe_t c3[3];

		ioring_reg_store(&ring, 1, (uint64_t)a[0]);
		ioring_reg_store(&ring, 2, (uint64_t)(uintptr_t)buf);
		ioring_reg_store(&ring, 4, (uint64_t)b[1]);
		ioring_reg_store(&ring, 5, (uint64_t)IO_OFF_CUR);
		memset(buf, 0, sizeof(buf));
		sqe_prep_poll(&sqe, a[0], IO_POLL_READ, CLOCKS_NEVER, ptr_of(50));
		sqe_save_reg(&sqe, 3);
		sqe_set_link(&sqe);
		push_sqe(&ring, &sqe);
		sqe_prep_read(&sqe, -1, NULL, 0, -7, CLOCKS_NEVER, ptr_of(51));
		sqe_load_reg(&sqe, SQE_LOAD0, 1);
		sqe_load_reg(&sqe, SQE_LOAD1, 2);
		sqe_load_reg(&sqe, SQE_LOAD2, 3);
		sqe_load_reg(&sqe, SQE_LOAD3, 5);
		sqe_save_reg(&sqe, 6);
		sqe_set_link(&sqe);
		push_sqe(&ring, &sqe);
		sqe_prep_write(&sqe, -1, NULL, 0, -7, CLOCKS_NEVER, ptr_of(52));
		sqe_load_reg(&sqe, SQE_LOAD0, 4);
		sqe_load_reg(&sqe, SQE_LOAD1, 2);
		sqe_load_reg(&sqe, SQE_LOAD2, 6);
		sqe_load_reg(&sqe, SQE_LOAD3, 5);
		push_sqe(&ring, &sqe);
		l = (struct later){ .fd = a[1], .delay = 50 * MS, .buf = "Zebra", .len = 5 };
		pthread_create(&t, NULL, write_later, &l);
		tap_ok(submit_all(&ring, 3, c3) == 3 && cqe_data(&c3[0]) == 50 &&
		       cqe_data(&c3[1]) == 51 && cqe_data(&c3[2]) == 52,
		       "regs: POLL -> READ -> WRITE on an empty pipe, all successor arguments from "
		       "registers: 3 CQEs in chain order");
		pthread_join(t, NULL);
		tap_ok(c3[0].error == 0 && c3[0]._result == IO_POLL_READ && c3[1].error == 0 &&
		       c3[1]._result == 1 && c3[2].error == 0 && c3[2]._result == 1,
		       "regs: the POLL's result (READ = 1) was the READ's count; the WRITE wrote the "
		       "1 byte read");
		if (!TAP_LAST)
			for (int i = 0; i < 3; i++)
				tap_diag("CQE %llu: error %s result %llu",
					 (unsigned long long)cqe_data(&c3[i]), tap_errname(c3[i].error),
					 (unsigned long long)c3[i]._result);
		tap_ok(drain_fd(b[0], out, sizeof(out)) == 1 && out[0] == 'Z' &&
		       drain_fd(a[0], out, sizeof(out)) == 4 && !memcmp(out, "ebra", 4),
		       "regs: B got \"Z\", A still holds \"ebra\"");
	}
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

/* ---- Relays -------------------------------------------------------------------------------- */

struct lane {
	int a[2], b[2];         /* producer -> a -> ring -> b -> consumer */
	uint64_t seed;
	uint64_t sum_in, sum_out;
	size_t in, out;         /* bytes produced, consumed */
	size_t relayed;         /* bytes the ring's WRITEs reported */
	size_t have, written;   /* the current chain: bytes read, written so far */
	unsigned int reg;
	bool busy, done, bad;
	unsigned char buf[65536];
	pthread_t prod, cons;
};

/* Writes MIB random bytes in random-sized pieces at random moments, then closes. */
static void *producer(void *arg)
{
	struct lane *l = arg;
	unsigned char piece[20000];
	uint64_t rng = l->seed;

	l->sum_in = FNV_INIT;
	while (l->in < MIB) {
		size_t n = 1 + rng_next(&rng) % sizeof(piece);

		if (n > MIB - l->in)
			n = MIB - l->in;
		fill_random(piece, n, rng_next(&rng));
		if (write(l->a[1], piece, n) != (ssize_t)n)
			break;
		l->sum_in = fnv1a(l->sum_in, piece, n);
		l->in += n;
		if (rng_next(&rng) % 4 == 0)
			sleep_ns(rng_next(&rng) % MS);
	}
	close(l->a[1]);
	return NULL;
}

static void *consumer(void *arg)
{
	struct lane *l = arg;
	unsigned char piece[16384];
	ssize_t n;

	l->sum_out = FNV_INIT;
	while ((n = read(l->b[0], piece, sizeof(piece))) > 0) {
		l->sum_out = fnv1a(l->sum_out, piece, (size_t)n);
		l->out += (size_t)n;
	}
	return NULL;
}

#define RELAY_CHUNK (16u << 10)

/*
 * Relay MIB through each of `n` lanes at once: each lane keeps one
 * READ -> LINK WRITE chain in flight, with its own register. A WRITE to a
 * pipe may be short (a partial write, as write(2) on a non-blocking pipe
 * gives): the rest is written by a further WRITE before the lane goes on.
 * 2 tests
 */
static void relay(struct lane *lanes, unsigned int n, const char *what)
{
	unsigned int i, active = n;
	size_t chains = 0, mismatched = 0, shorts = 0;
	cqe_t cqe;
	sqe_t sqe;

	for (i = 0; i < n; i++) {
		struct lane *l = &lanes[i];

		memset(l, 0, sizeof(*l));
		xpipe(l->a);
		xpipe(l->b);
		l->seed = 0x4e1a + i;
		l->reg = i;
		pthread_create(&l->prod, NULL, producer, l);
		pthread_create(&l->cons, NULL, consumer, l);
	}
	while (active) {
		size_t queued = 0;

		for (i = 0; i < n; i++) {
			struct lane *l = &lanes[i];

			if (l->busy || l->done)
				continue;
			push_pipeline(l->a[0], l->b[1], l->buf, RELAY_CHUNK, l->reg,
				      ((uint64_t)i << 32) | (4 * chains));
			l->busy = true;
			queued += 2;
			chains++;
		}
		if (ioring_enter(ring.id, queued, 1) == ERR && errno != EINTR) {
			tap_diag("enter: %s", strerror(errno));
			break;
		}
		while (cqe_pop(&ring, &cqe)) {
			struct lane *l = &lanes[cqe_data(&cqe) >> 32];
			unsigned int kind = cqe_data(&cqe) & 3;

			if (cqe.error) {
				l->bad = l->done = true;
				l->busy = false;
				active--;
				tap_diag("%s: lane %u: %s failed: %s", what, (unsigned int)(l - lanes),
					 op_name(cqe.op), tap_errname(cqe.error));
				continue;
			}
			if (kind == 0) { /* the READ */
				l->have = cqe._result;
				l->written = 0;
				continue;
			}
			if (kind == 1) /* the linked WRITE: its count came from the register */
				mismatched += cqe._result > l->have ||
					      ioring_reg_load(&ring, l->reg) != l->have;
			l->written += cqe._result;
			l->relayed += cqe._result;
			if (l->written < l->have) {
				/* A partial write: write the rest before the next chain. */
				shorts++;
				sqe_prep_write(&sqe, l->b[1], l->buf + l->written,
					       l->have - l->written, IO_OFF_CUR, CLOCKS_NEVER,
					       ptr_of(((uint64_t)(l - lanes) << 32) | (4 * chains++) | 2));
				push_sqe(&ring, &sqe);
				ioring_enter(ring.id, 1, 0);
				continue;
			}
			l->busy = false;
			if (l->have == 0) { /* the READ hit EOF: the producer is done */
				l->done = true;
				active--;
			}
		}
	}
	for (i = 0; i < n; i++) {
		struct lane *l = &lanes[i];

		pthread_join(l->prod, NULL);
		close(l->b[1]);
		pthread_join(l->cons, NULL);
		close(l->a[0]);
		close(l->b[0]);
	}
	if (shorts)
		tap_diag("%s: %zu partial WRITEs completed by a further WRITE", what, shorts);
	{
		bool ok = mismatched == 0;

		for (i = 0; i < n; i++)
			ok &= !lanes[i].bad && lanes[i].in == MIB && lanes[i].relayed == MIB &&
			      lanes[i].out == MIB;
		tap_ok(ok, "%s: %zu READ -> WRITE chains relayed 1 MiB per lane; each WRITE's count "
		       "was its READ's (%zu mismatches)", what, chains, mismatched);
		for (i = 0; !ok && i < n; i++)
			tap_diag("lane %u: produced %zu relayed %zu consumed %zu%s", i, lanes[i].in,
				 lanes[i].relayed, lanes[i].out, lanes[i].bad ? " (errors)" : "");
		ok = true;
		for (i = 0; i < n; i++)
			ok &= lanes[i].sum_in == lanes[i].sum_out;
		tap_ok(ok, "%s: the consumer's checksum equals the producer's on every lane", what);
	}
}

int main(void)
{
	static struct lane lanes[4];

	io_init();
	tap_plan(3 + 19 + 2 + 2 + 1);
	if (ioring_setup(&ring, NULL, 16, 16) == ERR)
		tap_bail("ioring_setup: %s", strerror(errno));
	section("1 MiB through linked pairs", 120);
	integrity();
	section("register pipeline", 60);
	register_pipeline();
	section("relay, one lane", 180);
	relay(lanes, 1, "relay, 1 lane");
	section("relay, four lanes", 240);
	relay(lanes, 4, "relay, 4 lanes on one ring");
	alarm(0);
	EXPECT_EQ(ioring_teardown(ring.id), 0, "teardown: nothing left in flight");
	return tap_done();
}
