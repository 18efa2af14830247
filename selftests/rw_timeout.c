// SPDX-License-Identifier: MIT
/*
 * rw_timeout: per-SQE timeouts and cancellation of READ, WRITE and POLL.
 *
 * Timeouts: a READ on an empty pipe, socket or eventfd, a WRITE on a full
 * pipe or socket, a POLL with nothing pending: each completes ETIMEDOUT, never
 * before its deadline, having transferred nothing, so the data written (or
 * room made) afterwards goes to the next request intact. Timeout 0 completes
 * a request that is ready at dispatch and expires one that is not. Timeouts
 * racing completions hundreds of times: every byte is transferred exactly
 * once, by a request that reports it.
 *
 * Cancellation: closing the device file cancels a blocked READ, WRITE and
 * POLL with ECANCELED, releases their pinned pages (/proc/vmstat pin
 * counters) and their file references (a pipe whose only remaining reader was
 * the module's reference loses its last reader: the writer gets EPIPE), also
 * when the process is killed. A failed SQE_LINK predecessor cancels a READ,
 * WRITE or POLL before it runs (nothing transferred).
 */
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <termios.h>

#include "io.h"

#define MS NSEC_PER_MSEC

static ioring_t ring;
static uint64_t next_data = 1;

/* Submit one SQE; wait for its CQE; *took = ns from the enter to the CQE. */
static cqe_t timed(sqe_t *sqe, uint64_t *took)
{
	cqe_t cqe = { .op = 0xdead, .error = -1 };
	uint64_t t0;

	sqe->data = ptr_of(next_data++);
	push_sqe(&ring, sqe);
	t0 = now_ns();
	if (submit_all(&ring, 1, &cqe) != 1)
		tap_diag("no CQE");
	if (took)
		*took = now_ns() - t0;
	return cqe;
}

static cqe_t op_read(int fd, void *buf, size_t n, uint64_t timeout, uint64_t *took)
{
	sqe_t sqe;

	sqe_prep_read(&sqe, fd, buf, n, IO_OFF_CUR, timeout, NULL);
	return timed(&sqe, took);
}

static cqe_t op_write(int fd, const void *buf, size_t n, uint64_t timeout, uint64_t *took)
{
	sqe_t sqe;

	sqe_prep_write(&sqe, fd, buf, n, IO_OFF_CUR, timeout, NULL);
	return timed(&sqe, took);
}

static cqe_t op_poll(int fd, io_events_t ev, uint64_t timeout, uint64_t *took)
{
	sqe_t sqe;

	sqe_prep_poll(&sqe, fd, ev, timeout, NULL);
	return timed(&sqe, took);
}

static int expect_timedout(const cqe_t *c, uint64_t took, const char *what)
{
	int ok = c->error == ETIMEDOUT && c->_result == 0;

	tap_ok(ok, "%s: ETIMEDOUT", what);
	if (!ok)
		tap_diag("got error %s (%d) result %llu", c->error ? tap_errname(c->error) : "0",
			 c->error, (unsigned long long)c->_result);
	return expect_time(took, 10 * MS, what) && ok;
}

/* ---- Timeouts ------------------------------------------------------------------------- */

/* 9 tests */
static void read_timeouts(void)
{
	static const char msg[] = "written after the timeout";
	char buf[256];
	uint64_t took, v = 9, out = 0;
	int p[2], sv[2], efd = eventfd(0, EFD_CLOEXEC);
	cqe_t c;

	xpipe(p);
	c = op_read(p[0], buf, sizeof(buf), 10 * MS, &took);
	expect_timedout(&c, took, "READ on an empty pipe, 10 ms timeout");
	write(p[1], msg, sizeof(msg));
	memset(buf, 0, sizeof(buf));
	c = op_read(p[0], buf, sizeof(buf), CLOCKS_NEVER, NULL);
	tap_ok(c.error == 0 && c._result == sizeof(msg) && !memcmp(buf, msg, sizeof(msg)),
	       "pipe: data written afterwards is read intact by the next READ");

	xsocketpair(sv);
	c = op_read(sv[0], buf, sizeof(buf), 10 * MS, &took);
	expect_timedout(&c, took, "READ on an empty socket, 10 ms timeout");
	send(sv[1], msg, sizeof(msg), 0);
	memset(buf, 0, sizeof(buf));
	c = op_read(sv[0], buf, sizeof(buf), CLOCKS_NEVER, NULL);
	tap_ok(c.error == 0 && c._result == sizeof(msg) && !memcmp(buf, msg, sizeof(msg)),
	       "socket: data sent afterwards is read intact by the next READ");

	c = op_read(efd, &out, 8, 10 * MS, &took);
	expect_timedout(&c, took, "READ on a zero eventfd, 10 ms timeout");
	write(efd, &v, 8);
	c = op_read(efd, &out, 8, CLOCKS_NEVER, NULL);
	tap_ok(c.error == 0 && c._result == 8 && out == 9,
	       "eventfd: the counter added afterwards (9) is read whole by the next READ");
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	close(efd);
}

/* 9 tests */
static void write_timeouts(void)
{
	static char buf[4096], back[70000], big[100000];
	size_t filled, got;
	uint64_t took;
	int p[2], sv[2];
	cqe_t c;

	memset(buf, 'W', sizeof(buf));
	xpipe(p);
	filled = fill_fd(p[1]);
	c = op_write(p[1], buf, 100, 10 * MS, &took);
	expect_timedout(&c, took, "WRITE of 100 bytes on a full pipe, 10 ms timeout");
	got = drain_fd(p[0], back, sizeof(back));
	tap_ok(got == filled && all_bytes(back, got, 'F'),
	       "pipe: it wrote nothing (the pipe holds just the %zu filler bytes; read %zu)", filled,
	       got);
	/*
	 * These two need a worker on kernels where pipes cannot say "would
	 * block" (6.1), which may not get a CPU within 10 ms (seen under
	 * TCG): their timeouts assert progress, not speed.
	 */
	c = op_write(p[1], "after", 5, 10000 * MS, NULL);
	memset(back, 0, 16);
	tap_ok(c.error == 0 && c._result == 5 && read(p[0], back, sizeof(back)) == 5 &&
	       !memcmp(back, "after", 5), "pipe: once there is room, the next WRITE goes through");

	/* Larger than the room: what fits goes in, the rest times out; the CQE says how much. */
	memset(big, 'B', sizeof(big));
	c = op_write(p[1], big, sizeof(big), 1000 * MS, NULL);
	got = drain_fd(p[0], back, sizeof(back));
	tap_ok(c.error == ETIMEDOUT && c._result > 0 && c._result < sizeof(big),
	       "pipe: a WRITE of %zu bytes times out part way: ETIMEDOUT, result %llu",
	       sizeof(big), (unsigned long long)c._result);
	tap_ok(got == c._result && all_bytes(back, got, 'B'),
	       "pipe: the result is what it wrote (the reader gets %zu bytes)", got);

	xsocketpair(sv);
	filled = fill_fd(sv[0]);
	c = op_write(sv[0], buf, sizeof(buf), 10 * MS, &took);
	expect_timedout(&c, took, "WRITE on a full socket, 10 ms timeout");
	got = 0;
	set_nonblock(sv[1], true);
	for (;;) {
		ssize_t n = read(sv[1], back, sizeof(back));

		if (n <= 0)
			break;
		if (!all_bytes(back, (size_t)n, 'F'))
			got = (size_t)-1;
		else if (got != (size_t)-1)
			got += (size_t)n;
	}
	set_nonblock(sv[1], false);
	tap_ok(got == filled, "socket: it sent nothing (the peer reads just the %zu filler bytes)",
	       filled);
	if (!TAP_LAST)
		tap_diag("peer read %zd", (ssize_t)got);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

/* 6 tests */
static void poll_timeouts(void)
{
	uint64_t took, v = 1;
	int p[2], q[2], efd = eventfd(0, EFD_CLOEXEC);
	cqe_t c;

	xpipe(p);
	c = op_poll(p[0], IO_POLL_READ, 10 * MS, &took);
	expect_timedout(&c, took, "POLL READ on an empty pipe, 10 ms timeout");
	xpipe(q);
	fill_fd(q[1]);
	c = op_poll(q[1], IO_POLL_WRITE, 10 * MS, &took);
	expect_timedout(&c, took, "POLL WRITE on a full pipe, 10 ms timeout");
	c = op_poll(efd, IO_POLL_READ, 10 * MS, &took);
	tap_ok(c.error == ETIMEDOUT, "POLL READ on a zero eventfd times out too");
	write(efd, &v, 8);
	c = op_poll(efd, IO_POLL_READ, 10 * MS, NULL);
	expect_io(&c, IO_OP_POLL, cqe_data(&c), 0, IO_POLL_READ,
		  "POLL READ on the eventfd once it counts 1");
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	close(efd);
}

/* Timeout 0: ready at dispatch completes, not ready expires at once. 8 tests */
static void zero_timeouts(void)
{
	char buf[64];
	uint64_t took;
	int p[2], sv[2];
	cqe_t c;

	/* A socket can complete during dispatch on every kernel. */
	xsocketpair(sv);
	write(sv[1], "ready", 5);
	c = op_read(sv[0], buf, sizeof(buf), 0, NULL);
	tap_ok(c.error == 0 && c._result == 5 && !memcmp(buf, "ready", 5),
	       "timeout 0: READ on a socket with data already there completes with it");
	c = op_write(sv[0], "now", 3, 0, NULL);
	tap_ok(c.error == 0 && c._result == 3 && read(sv[1], buf, sizeof(buf)) == 3,
	       "timeout 0: WRITE to a socket with room completes");
	close(sv[0]);
	close(sv[1]);

	xpipe(p);
	write(p[1], "ready", 5);
	c = op_read(p[0], buf, sizeof(buf), 0, NULL);
	if (pipes_try_nowait()) {
		tap_ok(c.error == 0 && c._result == 5 && !memcmp(buf, "ready", 5),
		       "timeout 0: READ on a pipe with data already there completes with it");
	} else {
		memset(buf, 0, sizeof(buf));
		tap_ok(c.error == ETIMEDOUT && read(p[0], buf, sizeof(buf)) == 5 &&
		       !memcmp(buf, "ready", 5),
		       "timeout 0: READ on a pipe that cannot be tried without blocking "
		       "(this kernel) expires, the data left intact");
	}
	if (!TAP_LAST)
		tap_diag("got error %s result %llu", c.error ? tap_errname(c.error) : "0",
			 (unsigned long long)c._result);
	drain_fd(p[0], NULL, 0);
	c = op_read(p[0], buf, sizeof(buf), 0, &took);
	tap_ok(c.error == ETIMEDOUT && took < slack_ns(),
	       "timeout 0: READ on an empty pipe expires at once (%.3f ms)", took / 1e6);
	write(p[1], "later", 5);
	c = op_read(p[0], buf, sizeof(buf), CLOCKS_NEVER, NULL);
	tap_ok(c.error == 0 && c._result == 5 && !memcmp(buf, "later", 5),
	       "timeout 0: the data written afterwards is all there for the next READ");
	c = op_write(p[1], "now", 3, 0, NULL);
	if (pipes_try_nowait())
		tap_ok(c.error == 0 && c._result == 3, "timeout 0: WRITE to a pipe with room completes");
	else
		tap_ok(c.error == ETIMEDOUT && drain_fd(p[0], NULL, 0) == 0,
		       "timeout 0: WRITE to a pipe that cannot be tried without blocking (this "
		       "kernel) expires, nothing written");
	if (!TAP_LAST)
		tap_diag("got error %s result %llu", c.error ? tap_errname(c.error) : "0",
			 (unsigned long long)c._result);
	drain_fd(p[0], NULL, 0);
	write(p[1], "x", 1);
	c = op_poll(p[0], IO_POLL_READ, 0, NULL);
	expect_io(&c, IO_OP_POLL, cqe_data(&c), 0, IO_POLL_READ,
		  "timeout 0: POLL with the event pending completes");
	drain_fd(p[0], NULL, 0);
	c = op_poll(p[0], IO_POLL_READ, 0, NULL);
	tap_ok(c.error == ETIMEDOUT, "timeout 0: POLL with nothing pending expires");
	close(p[0]);
	close(p[1]);
}

/* A long timeout that does not fire. 2 tests */
static void unfired(void)
{
	struct later l = { .delay = 30 * MS, .buf = "in time", .len = 7 };
	char buf[16];
	pthread_t t;
	int p[2];
	cqe_t c;

	xpipe(p);
	l.fd = p[1];
	pthread_create(&t, NULL, write_later, &l);
	c = op_read(p[0], buf, sizeof(buf), 10000 * MS, NULL);
	pthread_join(t, NULL);
	tap_ok(c.error == 0 && c._result == 7 && !memcmp(buf, "in time", 7),
	       "READ with a 10 s timeout completes with data written 30 ms later");
	sleep_ns(50 * MS);
	tap_ok(ioring_cq_ready(&ring) == 0, "and no second CQE follows (the timer was cancelled)");
	close(p[0]);
	close(p[1]);
}

/* ---- Timeouts racing completions --------------------------------------------------------- */

#define RACE_N 400

struct racer {
	int fd;
	volatile int stop;
	uint32_t count;
};

/* Writes 4-byte sequence numbers at irregular intervals. */
static void *seq_writer(void *arg)
{
	struct racer *r = arg;
	uint64_t rng = 42;

	while (!r->stop) {
		uint32_t n = r->count;

		if (write(r->fd, &n, 4) != 4)
			break;
		r->count++;
		sleep_ns(rng_next(&rng) % (2 * MS));
	}
	return NULL;
}

/* Reads chunks of random sizes at random intervals; appends them to a stream. */
struct slow_reader {
	int fd;
	volatile int stop;
	unsigned char *stream;
	size_t n, max;
};

static void *stream_reader(void *arg)
{
	struct slow_reader *r = arg;
	uint64_t rng = 7;

	set_nonblock(r->fd, true);
	for (;;) {
		size_t want = 1 + rng_next(&rng) % 2048;
		ssize_t n;

		if (want > r->max - r->n)
			want = r->max - r->n;
		n = want ? read(r->fd, r->stream + r->n, want) : 0;
		if (n > 0)
			r->n += (size_t)n;
		else if (r->stop)
			break;
		sleep_ns(rng_next(&rng) % (2 * MS));
	}
	return NULL;
}

#define WRACE_LEN 512

/*
 * RACE_N READs of 4 bytes with 1 ms timeouts while a thread writes sequence
 * numbers: the successful READs and a final drain see 0, 1, 2... once each.
 * Then RACE_N WRITEs of 512 distinct bytes with 1 ms timeouts into a nearly
 * full pipe that a thread drains slowly: the bytes the reader gets are exactly
 * what the successful WRITEs report, in order (a short count writes a prefix;
 * a WRITE that timed out wrote nothing). 4 tests
 */
static void races(void)
{
	static uint32_t got[RACE_N * 4];
	static unsigned char wbuf[WRACE_LEN], expect_stream[RACE_N * WRACE_LEN],
		stream[65536 + RACE_N * WRACE_LEN];
	struct racer w = { 0 };
	struct slow_reader rd = { .stream = stream, .max = sizeof(stream) };
	size_t ngot = 0, ok = 0, timedout = 0, other = 0, elen = 0, i;
	uint32_t v, expect = 0;
	bool order = true;
	pthread_t t;
	int p[2];
	cqe_t c;

	xpipe(p);
	w.fd = p[1];
	pthread_create(&t, NULL, seq_writer, &w);
	for (i = 0; i < RACE_N; i++) {
		v = 0xffffffff;
		c = op_read(p[0], &v, 4, MS, NULL);
		if (c.error == 0 && c._result == 4) {
			got[ngot++] = v;
			ok++;
		} else if (c.error == ETIMEDOUT && c._result == 0) {
			timedout++;
		} else {
			other++;
		}
	}
	w.stop = 1;
	pthread_join(t, NULL);
	set_nonblock(p[0], true);
	while (ngot < RACE_N * 4 && read(p[0], &v, 4) == 4)
		got[ngot++] = v;
	for (i = 0; i < ngot; i++)
		order &= got[i] == expect++;
	tap_ok(other == 0 && order && ngot == w.count,
	       "%d READs with 1 ms timeouts racing a writer: %zu completed, %zu timed out; every "
	       "number written (%u) was read exactly once, in order", RACE_N, ok, timedout, w.count);
	tap_ok(ok > 0 && timedout > 0, "both outcomes happened (the race was exercised)");
	close(p[0]);
	close(p[1]);

	/* The pipe starts with 64 bytes of room, filled with zeros. */
	xpipe(p);
	{
		static char junk[65536 - 64];

		memset(junk, 0, sizeof(junk));
		if (write(p[1], junk, sizeof(junk)) != (ssize_t)sizeof(junk))
			tap_diag("prefill: %s", strerror(errno));
	}
	rd.fd = p[0];
	pthread_create(&t, NULL, stream_reader, &rd);
	ok = timedout = other = 0;
	for (i = 0; i < RACE_N; i++) {
		size_t k;

		for (k = 0; k < WRACE_LEN; k++)
			wbuf[k] = (unsigned char)(1 + (i * 7 + k) % 251);
		c = op_write(p[1], wbuf, WRACE_LEN, MS, NULL);
		if (c.error == 0 && c._result > 0 && c._result <= WRACE_LEN) {
			memcpy(expect_stream + elen, wbuf, c._result);
			elen += c._result;
			ok++;
		} else if (c.error == ETIMEDOUT && c._result == 0) {
			timedout++;
		} else {
			other++;
		}
	}
	close(p[1]);
	rd.stop = 1;
	pthread_join(t, NULL);
	{
		size_t skip = 65536 - 64;

		tap_ok(other == 0 && rd.n == skip + elen && all_bytes(stream, skip, 0) &&
		       !memcmp(stream + skip, expect_stream, elen),
		       "%d WRITEs with 1 ms timeouts racing a slow reader: %zu completed, %zu timed "
		       "out; the reader got exactly the bytes they reported, in order", RACE_N, ok,
		       timedout);
		if (!TAP_LAST)
			tap_diag("reader got %zu bytes after the filler, WRITEs reported %zu; %zu "
				 "other outcomes", rd.n - skip, elen, other);
	}
	tap_ok(ok > 0 && timedout > 0, "both outcomes happened (the race was exercised)");
	close(p[0]);
}

/* ---- Cancellation by close --------------------------------------------------------------- */

/* Whether the write end of a pipe sees its readers gone (POLLERR), within 2 s. */
static bool readers_gone(int wfd)
{
	struct pollfd pfd = { .fd = wfd, .events = POLLOUT };
	int i;

	for (i = 0; i < 200; i++) {
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) >= 0 && (pfd.revents & POLLERR))
			return true;
		sleep_ns(10 * MS);
	}
	return false;
}

static bool readers_left(int wfd)
{
	struct pollfd pfd = { .fd = wfd, .events = POLLOUT };

	return poll(&pfd, 1, 0) >= 0 && !(pfd.revents & POLLERR);
}

/* 15 tests */
static void close_cancels(void)
{
	static char rbuf[3 * PAGE], wbuf[3 * PAGE], sbuf[100];
	int dev = raw_open(), p[2], q[2], r[2], sv[2];
	long long pins0 = pins_outstanding(), pins1;
	size_t filled, got, i, canceled = 0;
	ioring_t raw;
	sqe_t sqe;

	if (dev < 0 || raw_setup(dev, &raw, NULL, 8, 8) < 0)
		tap_bail("raw setup: %s", strerror(errno));
	xpipe(p);
	xpipe(q);
	xpipe(r);
	xsocketpair(sv);
	filled = fill_fd(q[1]);
	memset(wbuf, 'W', sizeof(wbuf));

	/* A READ (3 pages), a WRITE (3 pages), a POLL and a socket READ, all blocked. */
	sqe_prep_read(&sqe, p[0], rbuf + 100, 2 * PAGE, IO_OFF_CUR, CLOCKS_NEVER, ptr_of(1));
	sqe_push(&raw, &sqe);
	sqe_prep_write(&sqe, q[1], wbuf + 100, 2 * PAGE, IO_OFF_CUR, CLOCKS_NEVER, ptr_of(2));
	sqe_push(&raw, &sqe);
	sqe_prep_poll(&sqe, r[0], IO_POLL_READ, CLOCKS_NEVER, ptr_of(3));
	sqe_push(&raw, &sqe);
	sqe_prep_read(&sqe, sv[0], sbuf, sizeof(sbuf), IO_OFF_CUR, CLOCKS_NEVER, ptr_of(4));
	sqe_push(&raw, &sqe);
	EXPECT_EQ(raw_enter(dev, raw.id, 4, 0), 4, "a READ, a WRITE, a POLL and a socket READ, "
		  "all blocked, on a ring of a private device file");
	sleep_ns(30 * MS);
	pins1 = pins_outstanding();
	tap_ok(raw.ctrl->ctail == 0, "30 ms later none has completed");
	tap_ok(pins0 < 0 || pins1 == pins0,
	       "a waiting request pins nothing (pins outstanding %lld -> %lld)", pins0, pins1);

	/* Our own descriptors go: the module's references keep the files open. */
	close(p[0]);
	close(q[1]);
	close(r[0]);
	close(sv[0]);
	tap_ok(readers_left(p[1]) && readers_left(r[1]),
	       "with the user's read ends closed, the pipes still have a reader (the requests')");

	EXPECT_EQ(close(dev), 0, "close the device file");
	tap_ok(raw.ctrl->ctail == 4, "all 4 completed by the time close returned (ctail %u)",
	       raw.ctrl->ctail);
	for (i = 0; i < 4 && i < raw.ctrl->ctail; i++) {
		const cqe_t *c = &raw.cqueue[i];

		canceled += c->error == ECANCELED && c->_result == 0 && cqe_data(c) >= 1 &&
			    cqe_data(c) <= 4;
	}
	tap_ok(canceled == 4, "each with ECANCELED and result 0");
	if (!TAP_LAST)
		for (i = 0; i < raw.ctrl->ctail && i < 8; i++)
			tap_diag("CQE %zu: op %s data %llu error %s result %llu", i,
				 op_name(raw.cqueue[i].op), (unsigned long long)cqe_data(&raw.cqueue[i]),
				 tap_errname(raw.cqueue[i].error),
				 (unsigned long long)raw.cqueue[i]._result);
	tap_ok(pins0 < 0 || pins_settle(pins0) == pins0,
	       "their pinned pages are released (pins outstanding back to %lld: %lld)", pins0,
	       pins_outstanding());

	/* File references: the last reader/writer of each pipe is gone. */
	tap_ok(readers_gone(p[1]), "READ's pipe: its last reader (the request's reference) is gone");
	errno = 0;
	tap_ok(write(p[1], "x", 1) == -1 && errno == EPIPE, "so a write(2) to it fails EPIPE");
	tap_ok(readers_gone(r[1]), "POLL's pipe: its last reader is gone too");
	errno = 0;
	tap_ok(write(r[1], "x", 1) == -1 && errno == EPIPE, "so a write(2) to it fails EPIPE");
	got = drain_fd(q[0], NULL, 0);
	tap_ok(got == filled, "WRITE's pipe: holds only the %zu filler bytes (read %zu): the "
	       "cancelled WRITE wrote nothing", filled, got);
	set_nonblock(q[0], true);
	errno = 0;
	tap_ok(read(q[0], rbuf, 1) == 0, "and reads EOF: its last writer (the request's) is gone "
	       "(%s)", errno ? strerror(errno) : "no error");
	set_nonblock(sv[1], true);
	errno = 0;
	tap_ok(read(sv[1], sbuf, 1) == 0, "socket: the peer reads EOF: the request's reference to "
	       "the other end is gone (%s)", errno ? strerror(errno) : "no error");
	munmap(raw.ctrl, ring_bytes(8, 8));
	close(p[1]);
	close(q[0]);
	close(r[1]);
	close(sv[1]);
}

/* The same when the process is killed while waiting in enter. 3 tests */
static void kill_cancels(void)
{
	int p[2], ready[2], status;
	char c;
	pid_t pid;

	xpipe(p);
	xpipe(ready);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		static char buf[PAGE];
		ioring_t r;
		sqe_t sqe;

		close(p[1]);
		if (ioring_setup(&r, NULL, 4, 4) == ERR)
			_exit(2);
		sqe_prep_read(&sqe, p[0], buf, sizeof(buf), IO_OFF_CUR, CLOCKS_NEVER, NULL);
		sqe_push(&r, &sqe);
		if (ioring_enter(r.id, 1, 0) != 1)
			_exit(3);
		close(p[0]);
		write(ready[1], "r", 1);
		ioring_enter(r.id, 0, 1);
		_exit(4);
	}
	close(p[0]);
	close(ready[1]);
	tap_ok(pid > 0 && read(ready[0], &c, 1) == 1 && wait_in_ioctl(pid, pid) &&
	       readers_left(p[1]),
	       "a child blocks a READ on a pipe, closes its descriptor and waits in enter: only the "
	       "request reads the pipe");
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	tap_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "SIGKILL ends the child");
	tap_ok(readers_gone(p[1]), "and its request's file reference is released: no reader left");
	close(p[1]);
	close(ready[0]);
}

/* ---- A worker blocked in a read ------------------------------------------------------------ */

#define NBLOCK 8

/* A pty pair in raw mode; false (and a diagnostic) when the guest has no ptys. */
static bool open_pty(int *master, int *slave)
{
	struct termios t;
	const char *name;

	*master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*master < 0 || grantpt(*master) || unlockpt(*master) || !(name = ptsname(*master))) {
		tap_diag("no pty: %s", strerror(errno));
		return false;
	}
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0 || tcgetattr(*slave, &t)) {
		tap_diag("%s: %s", name, strerror(errno));
		return false;
	}
	cfmakeraw(&t);
	return tcsetattr(*slave, TCSANOW, &t) == 0;
}

/* NBLOCK one-byte READs of the pty's slave, data 1..NBLOCK. */
static void push_tty_reads(ioring_t *r, int slave, char *bufs, uint64_t timeout)
{
	sqe_t sqe;

	for (int i = 0; i < NBLOCK; i++) {
		sqe_prep_read(&sqe, slave, bufs + i, 1, IO_OFF_CUR, timeout, ptr_of(i + 1));
		push_sqe(r, &sqe);
	}
}

/* One CQE read the byte `c`; every other one ended with `error`, having read nothing. */
static bool one_got(const cqe_t *cq, size_t n, const char *bufs, char c, int error)
{
	size_t got = 0, ended = 0;

	for (size_t i = 0; i < n; i++) {
		const uintptr_t d = cqe_data(&cq[i]);

		if (d < 1 || d > NBLOCK)
			return false;
		if (cq[i].error == 0 && cq[i]._result == 1 && bufs[d - 1] == c)
			got++;
		else if (cq[i].error == error && cq[i]._result == 0)
			ended++;
		else
			tap_diag("CQE data %zu: error %s result %llu", (size_t)d,
				 tap_errname(cq[i].error), (unsigned long long)cq[i]._result);
	}
	return got == 1 && ended == n - 1;
}

/* The byte written next is still there for a plain read(2). */
static bool left_intact(int master, int slave)
{
	struct pollfd pfd = { .fd = slave, .events = POLLIN };
	char c = 0;

	return write(master, "y", 1) == 1 && poll(&pfd, 1, 2000) == 1 && read(slave, &c, 1) == 1 &&
	       c == 'y';
}

/*
 * A tty has no non-blocking read for us: when poll says it is readable, a
 * worker reads it with a blocking call. One byte for NBLOCK READs wakes them
 * all; the workers that lose the race for it block in the tty's read, where
 * no data will come. Their timeouts, and closing the device, must still end
 * them, and the byte written later is there for the next reader. 7 tests
 */
static void blocked_workers(void)
{
	char bufs[NBLOCK];
	cqe_t cq[NBLOCK];
	int m, sl, dev;
	ioring_t raw;
	uint64_t t0, took;
	bool all;

	if (!open_pty(&m, &sl)) {
		for (int i = 0; i < 7; i++)
			tap_skip("no pty in this guest", "blocked workers");
		return;
	}
	memset(bufs, 0, sizeof(bufs));
	push_tty_reads(&ring, sl, bufs, 200 * MS);
	t0 = now_ns();
	EXPECT_EQ(ioring_enter(ring.id, NBLOCK, 0), NBLOCK, "%d READs of an empty tty, 200 ms "
		  "timeouts", NBLOCK);
	sleep_ns(20 * MS);
	write(m, "x", 1);
	all = wait_pop(&ring, cq, NBLOCK);
	took = now_ns() - t0;
	tap_ok(all && took >= 200 * MS, "all %d complete, not before the deadline (%llu ms)",
	       NBLOCK, (unsigned long long)(took / MS));
	tap_ok(one_got(cq, NBLOCK, bufs, 'x', ETIMEDOUT),
	       "one READ got the byte; the other %d timed out, reading nothing", NBLOCK - 1);
	tap_ok(left_intact(m, sl), "a byte written afterwards is read intact by read(2)");

	/* Its blocking reads run in workers: threads of ours lent to the file. */
	dev = raw_open();
	if (dev < 0 || raw_setup(dev, &raw, NULL, 16, 16) < 0 || raw_lend_worker(dev) < 0)
		tap_bail("raw setup: %s", strerror(errno));
	memset(bufs, 0, sizeof(bufs));
	push_tty_reads(&raw, sl, bufs, CLOCKS_NEVER);
	EXPECT_EQ(raw_enter(dev, raw.id, NBLOCK, 0), NBLOCK, "%d READs of an empty tty, no "
		  "timeout, on a ring of a private device file", NBLOCK);
	sleep_ns(20 * MS);
	write(m, "x", 1);
	for (int i = 0; i < 2000 && !__atomic_load_n(&raw.ctrl->ctail, __ATOMIC_ACQUIRE); i++)
		sleep_ns(MS);
	sleep_ns(30 * MS);	/* time for the losers to block */
	close(dev);
	/* Close cancels and returns; the interrupted workers post their CQEs just after. */
	for (int i = 0; i < 2000 && __atomic_load_n(&raw.ctrl->ctail, __ATOMIC_ACQUIRE) != NBLOCK; i++)
		sleep_ns(MS);
	tap_ok(raw.ctrl->ctail == NBLOCK &&
	       one_got(raw.cqueue, NBLOCK, bufs, 'x', ECANCELED),
	       "closing the device: one READ got the byte, the other %d ECANCELED (ctail %u)",
	       NBLOCK - 1, raw.ctrl->ctail);
	munmap(raw.ctrl, ring_bytes(16, 16));
	tap_ok(left_intact(m, sl), "a byte written afterwards is read intact by read(2)");
	close(m);
	close(sl);
}

/* ---- Cancellation by a failed link --------------------------------------------------------- */

/* 5 tests */
static void link_cancels(void)
{
	char buf[64];
	int p[2], q[2];
	sqe_t sqe[4];
	cqe_t cq[4];

	xpipe(p);
	xpipe(q);
	write(p[1], "keep", 4);
	sqe_prep_read(&sqe[0], 1000, buf, 4, IO_OFF_CUR, CLOCKS_NEVER, ptr_of(1));
	sqe_set_link(&sqe[0]);
	sqe_prep_read(&sqe[1], p[0], buf, 4, IO_OFF_CUR, CLOCKS_NEVER, ptr_of(2));
	sqe_set_link(&sqe[1]);
	sqe_prep_write(&sqe[2], q[1], "lost", 4, IO_OFF_CUR, CLOCKS_NEVER, ptr_of(3));
	sqe_set_link(&sqe[2]);
	sqe_prep_poll(&sqe[3], p[0], IO_POLL_READ, CLOCKS_NEVER, ptr_of(4));
	for (int i = 0; i < 4; i++)
		push_sqe(&ring, &sqe[i]);
	submit_all(&ring, 4, cq);
	expect_err(find_cqe(cq, 4, 1), IO_OP_READ, 1, EBADF, "chain head, a READ of fd 1000");
	expect_io(find_cqe(cq, 4, 2), IO_OP_READ, 2, ECANCELED, 0, "linked READ of a ready pipe");
	expect_io(find_cqe(cq, 4, 3), IO_OP_WRITE, 3, ECANCELED, 0, "linked WRITE");
	expect_io(find_cqe(cq, 4, 4), IO_OP_POLL, 4, ECANCELED, 0, "linked POLL");
	tap_ok(read(p[0], buf, sizeof(buf)) == 4 && !memcmp(buf, "keep", 4) &&
	       drain_fd(q[0], NULL, 0) == 0, "the cancelled READ took nothing, the WRITE wrote nothing");
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

int main(void)
{
	long long pins;

	io_init();
	tap_plan(9 + 9 + 6 + 8 + 2 + 4 + 1 + 15 + 3 + 7 + 5 + 1);
	if (ioring_setup(&ring, NULL, 16, 16) == ERR)
		tap_bail("ioring_setup: %s", strerror(errno));
	pins = pins_outstanding();
	section("READ timeouts", 60);
	read_timeouts();
	section("WRITE timeouts", 60);
	write_timeouts();
	section("POLL timeouts", 60);
	poll_timeouts();
	section("timeout 0", 60);
	zero_timeouts();
	section("a timeout that does not fire", 60);
	unfired();
	section("timeouts racing completions", 240);
	races();
	tap_ok(pins < 0 || pins_settle(pins) == pins,
	       "after all those timeouts no page is left pinned (%lld -> %lld)", pins,
	       pins_outstanding());
	section("cancellation by close", 60);
	close_cancels();
	section("cancellation by SIGKILL", 60);
	kill_cancels();
	section("a worker blocked in a read", 60);
	blocked_workers();
	section("cancellation by a failed link", 60);
	link_cancels();
	alarm(0);
	EXPECT_EQ(ioring_teardown(ring.id), 0, "teardown: nothing left in flight");
	return tap_done();
}
