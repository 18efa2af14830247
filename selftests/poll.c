// SPDX-License-Identifier: MIT
/*
 * poll: POLL on each kind of file - pipe read and write ends, AF_UNIX socket
 * pairs, eventfd, a regular file, /dev/null and /dev/zero - ready at once and
 * waiting for the event (a write, a read making room, a hang-up). The result
 * is the events that occurred in PatchworkOS bits: only the requested ones,
 * plus ERROR and HUP always; an fd that is not open gives NVAL with error 0,
 * as poll(2) does. POLL is one-shot. Many POLLs wait on one pipe and on many
 * pipes at once; fd and events can come from registers and the result can be
 * saved into one; a READ linked after a POLL runs once the POLL completes.
 */
#include <pthread.h>
#include <sys/eventfd.h>

#include "io.h"

#define MS NSEC_PER_MSEC
#define R IO_POLL_READ
#define W IO_POLL_WRITE
#define ERRB IO_POLL_ERROR
#define HUP IO_POLL_HUP
#define NVAL IO_POLL_NVAL

static ioring_t ring;
static uint64_t next_data = 1;

static cqe_t poll1(uint64_t fd, io_events_t ev, uint64_t timeout)
{
	cqe_t cqe = { .op = 0xdead, .error = -1 };
	sqe_t sqe;

	sqe_prep_poll(&sqe, 0, ev, timeout, ptr_of(next_data++));
	sqe.fd = fd;
	if (!run1(&ring, &sqe, &cqe))
		tap_diag("no CQE for POLL of fd %lld", (long long)fd);
	return cqe;
}

static const char *evs(uint64_t e)
{
	static char s[8][64];
	static int k;
	char *p = s[k++ & 7];

	p[0] = 0;
	if (!e)
		strcat(p, "none");
	if (e & R)
		strcat(p, "READ|");
	if (e & W)
		strcat(p, "WRITE|");
	if (e & ERRB)
		strcat(p, "ERROR|");
	if (e & HUP)
		strcat(p, "HUP|");
	if (e & NVAL)
		strcat(p, "NVAL|");
	if (e & ~(uint64_t)31)
		strcat(p, "?|");
	if (p[0] && p[strlen(p) - 1] == '|')
		p[strlen(p) - 1] = 0;
	return p;
}

/* Pass when POLL of fd for ev completes at once (no timeout) with result `want`. */
static void expect_poll(uint64_t fd, io_events_t ev, uint64_t want, const char *what)
{
	cqe_t c = poll1(fd, ev, 1000 * MS);
	int ok = c.op == IO_OP_POLL && c.error == 0 && c._result == want;

	tap_ok(ok, "%s: POLL %s -> %s", what, evs(ev), evs(want));
	if (!ok)
		tap_diag("got error %s (%d), result %s (%#llx)", c.error ? tap_errname(c.error) : "0",
			 c.error, evs(c._result), (unsigned long long)c._result);
}

/* Pass when POLL of fd for ev is still pending after 20 ms (10 ms timeout). */
static void expect_pending(uint64_t fd, io_events_t ev, const char *what)
{
	cqe_t c = poll1(fd, ev, 20 * MS);

	tap_ok(c.error == ETIMEDOUT, "%s: POLL %s waits (times out after 20 ms)", what, evs(ev));
	if (!TAP_LAST)
		tap_diag("got error %s, result %s", c.error ? tap_errname(c.error) : "0",
			 evs(c._result));
}

/* ---- Ready at once, per file kind ---------------------------------------------------- */

/* 11 tests */
static void pipes(void)
{
	int p[2];

	xpipe(p);
	expect_pending(p[0], R, "empty pipe, read end");
	expect_poll(p[1], W, W, "empty pipe, write end");
	expect_poll(p[1], R | W, W, "empty pipe, write end, READ|WRITE asked");
	write(p[1], "x", 1);
	expect_poll(p[0], R, R, "pipe with data, read end");
	expect_poll(p[0], R | W, R, "pipe with data, read end, READ|WRITE asked");
	fill_fd(p[1]);
	expect_pending(p[1], W, "full pipe, write end");
	close(p[1]);
	expect_poll(p[0], R, R | HUP, "data, writer gone");
	drain_fd(p[0], NULL, 0);
	expect_poll(p[0], R, HUP, "empty, writer gone");
	expect_poll(p[0], W, HUP, "empty, writer gone, only WRITE asked (HUP always reported)");
	expect_poll(p[0], 0, HUP, "empty, writer gone, nothing asked");
	close(p[0]);

	xpipe(p);
	close(p[0]);
	expect_poll(p[1], W, W | ERRB, "reader gone, write end (ERROR)");
	close(p[1]);
}

/* 7 tests */
static void sockets(void)
{
	int sv[2];

	xsocketpair(sv);
	expect_poll(sv[0], W, W, "socket pair");
	expect_pending(sv[0], R, "socket pair, nothing sent");
	send(sv[1], "hi", 2, 0);
	expect_poll(sv[0], R, R, "socket pair, data sent");
	expect_poll(sv[0], W, W, "socket pair, data sent, only WRITE asked (READ not reported)");
	expect_poll(sv[0], R | W, R | W, "socket pair, data sent");
	shutdown(sv[1], SHUT_WR);
	drain_fd(sv[0], NULL, 0);
	expect_poll(sv[0], R, R, "socket pair, peer shut down its writing (EOF is readable)");
	close(sv[1]);
	expect_poll(sv[0], R, R | HUP, "socket pair, peer closed");
	close(sv[0]);
}

/* 5 tests */
static void others(void)
{
	int efd = eventfd(0, EFD_CLOEXEC), reg = tmpfile_in("/tmp");
	int null = xopen("/dev/null", O_RDWR, 0), zero = xopen("/dev/zero", O_RDONLY, 0);
	uint64_t v = 1;

	expect_poll(efd, W, W, "eventfd, zero");
	expect_pending(efd, R, "eventfd, zero");
	write(efd, &v, 8);
	expect_poll(efd, R, R, "eventfd, counting 1");
	expect_poll(reg, R | W, R | W, "regular file (tmpfs)");
	expect_poll(null, R | W, R | W, "/dev/null");
	close(efd);
	close(reg);
	close(null);
	(void)zero;
	close(zero);
}

/* 2 tests */
static void zero_dev(void)
{
	int zero = xopen("/dev/zero", O_RDWR, 0);

	expect_poll(zero, R, R, "/dev/zero");
	expect_poll(zero, W, W, "/dev/zero");
	close(zero);
}

/* 5 tests */
static void nval(void)
{
	int opath = xopen("/tmp", O_PATH, 0), fd = xopen("/dev/null", O_RDONLY, 0);

	expect_poll(1000, R, NVAL, "fd 1000, not open (error 0, like poll(2))");
	expect_poll((uint64_t)-1, R | W, NVAL, "fd -1");
	expect_poll((1ull << 32) | (uint64_t)fd, R, NVAL, "fd 2^32 + an open fd");
	expect_poll(opath, R, NVAL, "an O_PATH descriptor");
	close(fd);
	expect_poll(fd, 0, NVAL, "a descriptor just closed, nothing asked");
	close(opath);
}

/* ---- Waiting for the event ----------------------------------------------------------- */

struct act {
	int fd;
	uint64_t delay;
	int what; /* 0 write a byte, 1 close, 2 read everything, 3 eventfd add 1 */
	uint64_t at; /* when it happened */
};

static void *act_later(void *arg)
{
	struct act *a = arg;
	uint64_t one = 1;

	sleep_ns(a->delay);
	a->at = now_ns();
	switch (a->what) {
	case 0:
		write(a->fd, "!", 1);
		break;
	case 1:
		close(a->fd);
		break;
	case 2:
		drain_fd(a->fd, NULL, 0);
		break;
	case 3:
		write(a->fd, &one, 8);
		break;
	}
	return NULL;
}

/* POLL of fd for ev, waiting while a thread does `what` 30 ms later. 1 test */
static void expect_woken(int fd, io_events_t ev, int actfd, int what, uint64_t want,
			 const char *desc)
{
	struct act a = { .fd = actfd, .delay = 30 * MS, .what = what };
	cqe_t c = { .error = -1 };
	uint64_t done;
	pthread_t t;
	sqe_t sqe;

	sqe_prep_poll(&sqe, fd, ev, CLOCKS_NEVER, ptr_of(next_data++));
	push_sqe(&ring, &sqe);
	pthread_create(&t, NULL, act_later, &a);
	submit_all(&ring, 1, &c);
	done = now_ns();
	pthread_join(t, NULL);
	tap_ok(c.error == 0 && c._result == want && done >= a.at,
	       "%s: POLL %s completes %s once it happens", desc, evs(ev), evs(want));
	if (!TAP_LAST)
		tap_diag("got error %s result %s; completed %s the event",
			 c.error ? tap_errname(c.error) : "0", evs(c._result),
			 done >= a.at ? "after" : "BEFORE");
}

/* 7 tests */
static void woken(void)
{
	int p[2], sv[2], efd = eventfd(0, EFD_CLOEXEC);

	xpipe(p);
	expect_woken(p[0], R, p[1], 0, R, "pipe: a byte written");
	drain_fd(p[0], NULL, 0);
	fill_fd(p[1]);
	expect_woken(p[1], W, p[0], 2, W, "full pipe: the reader drains it");
	expect_woken(p[0], R, p[1], 1, HUP, "pipe: the writer closes");
	close(p[0]);

	xpipe(p);
	expect_woken(p[1], R, p[0], 1, ERRB, "pipe write end, READ asked: the reader closes");
	close(p[1]);

	xsocketpair(sv);
	expect_woken(sv[0], R, sv[1], 0, R, "socket: the peer sends");
	drain_fd(sv[0], NULL, 0);
	expect_woken(sv[0], R, sv[1], 1, R | HUP, "socket: the peer closes");
	close(sv[0]);

	expect_woken(efd, R, efd, 3, R, "eventfd: a write(2) adds 1");
	close(efd);
}

/* One-shot; many POLLs on one pipe; many pipes. 6 tests */
static void many(void)
{
	enum { SAME = 16, PIPES = 32 };
	int p[2], ps[PIPES][2], i;
	size_t n, good = 0;
	cqe_t cq[PIPES];
	sqe_t sqe;
	bool order = true;

	xpipe(p);
	for (i = 0; i < SAME; i++) {
		sqe_prep_poll(&sqe, p[0], R, CLOCKS_NEVER, ptr_of(100 + i));
		push_sqe(&ring, &sqe);
	}
	EXPECT_EQ(ioring_enter(ring.id, SAME, 0), SAME, "%d POLLs on one empty pipe", SAME);
	sleep_ns(20 * MS);
	tap_ok(ioring_cq_ready(&ring) == 0, "none completes for 20 ms");
	write(p[1], "a", 1);
	n = 0;
	while (n < SAME && ioring_enter(ring.id, 0, SAME - n) != ERR)
		n += pop_cqes(&ring, cq + n, SAME - n);
	for (i = 0; i < (int)n; i++)
		good += cq[i].error == 0 && cq[i]._result == R;
	tap_ok(n == SAME && good == SAME, "one write(2) completes all %d with READ (%zu)", SAME,
	       good);
	write(p[1], "b", 1);
	sleep_ns(20 * MS);
	tap_ok(ioring_cq_ready(&ring) == 0, "one-shot: more data brings no further CQE");
	close(p[0]);
	close(p[1]);

	for (i = 0; i < PIPES; i++) {
		xpipe(ps[i]);
		sqe_prep_poll(&sqe, ps[i][0], R, CLOCKS_NEVER, ptr_of(200 + i));
		push_sqe(&ring, &sqe);
	}
	EXPECT_EQ(ioring_enter(ring.id, PIPES, 0), PIPES, "%d POLLs on %d pipes", PIPES, PIPES);
	for (i = PIPES - 1; i >= 0; i--) {
		cqe_t c;

		write(ps[i][1], "z", 1);
		if (!wait_pop(&ring, &c, 1) || cqe_data(&c) != (uint64_t)(200 + i) || c.error ||
		    c._result != R)
			order = false;
	}
	tap_ok(order, "written one at a time in reverse order: each POLL completes with READ as "
	       "its own pipe is written, and no other");
	for (i = 0; i < PIPES; i++) {
		close(ps[i][0]);
		close(ps[i][1]);
	}
}

/* ---- Registers and links --------------------------------------------------------------- */

struct late_write {
	int fd;
	uint64_t delay;
};

static void *late_write(void *arg)
{
	struct late_write *l = arg;

	sleep_ns(l->delay);
	write(l->fd, "linked", 6);
	return NULL;
}

/* 6 tests */
static void regs_links(void)
{
	struct late_write lw = { .delay = 30 * MS };
	char buf[32] = { 0 };
	int p[2], sv[2];
	pthread_t t;
	sqe_t sqe[2];
	cqe_t cq[2];

	xsocketpair(sv);
	send(sv[1], "x", 1, 0);
	ioring_reg_store(&ring, 1, (uint64_t)sv[0]);
	ioring_reg_store(&ring, 2, R | W);
	sqe_prep_poll(&sqe[0], 999, 0, CLOCKS_NEVER, ptr_of(300));
	sqe_load_reg(&sqe[0], SQE_LOAD0, 1);
	sqe_load_reg(&sqe[0], SQE_LOAD1, 2);
	sqe_save_reg(&sqe[0], 3);
	run1(&ring, &sqe[0], cq);
	expect_io(cq, IO_OP_POLL, 300, 0, R | W, "POLL with fd and events from registers 1 and 2");
	EXPECT_EQ(ioring_reg_load(&ring, 3), R | W, "its result saved into register 3");
	close(sv[0]);
	close(sv[1]);

	/* POLL LINK READ, data arriving later: the READ runs after the POLL. */
	xpipe(p);
	lw.fd = p[1];
	sqe_prep_poll(&sqe[0], p[0], R, CLOCKS_NEVER, ptr_of(301));
	sqe_set_link(&sqe[0]);
	sqe_prep_read(&sqe[1], p[0], buf, sizeof(buf), IO_OFF_CUR, 0, ptr_of(302));
	push_sqe(&ring, &sqe[0]);
	push_sqe(&ring, &sqe[1]);
	pthread_create(&t, NULL, late_write, &lw);
	submit_all(&ring, 2, cq);
	pthread_join(t, NULL);
	expect_io(find_cqe(cq, 2, 301), IO_OP_POLL, 301, 0, R,
		  "POLL LINK READ on an empty pipe, written 30 ms later: POLL");
	if (pipes_try_nowait()) {
		tap_ok(find_cqe(cq, 2, 302)->error == 0 && find_cqe(cq, 2, 302)->_result == 6 &&
		       !memcmp(buf, "linked", 6), "the linked READ (timeout 0: it must find the "
		       "data at dispatch) reads the 6 bytes");
	} else {
		char left[16] = {0};

		tap_ok(find_cqe(cq, 2, 302)->error == ETIMEDOUT && read(p[0], left, sizeof(left)) == 6 &&
		       !memcmp(left, "linked", 6), "the linked READ (timeout 0) on a pipe that cannot "
		       "be tried without blocking (this kernel) expires after the POLL, data intact");
	}
	if (!TAP_LAST)
		tap_diag("got error %s result %llu", tap_errname(find_cqe(cq, 2, 302)->error),
			 (unsigned long long)find_cqe(cq, 2, 302)->_result);
	tap_ok(cqe_data(&cq[0]) == 301, "the POLL's CQE comes first");

	/* Submitted without waiting: the next enter dispatches the successor. */
	drain_fd(p[0], NULL, 0);
	memset(buf, 0, sizeof(buf));
	sqe_prep_poll(&sqe[0], p[0], R, CLOCKS_NEVER, ptr_of(303));
	sqe_set_link(&sqe[0]);
	sqe_prep_read(&sqe[1], p[0], buf, sizeof(buf), IO_OFF_CUR, CLOCKS_NEVER, ptr_of(304));
	push_sqe(&ring, &sqe[0]);
	push_sqe(&ring, &sqe[1]);
	ioring_enter(ring.id, 2, 0);
	write(p[1], "later", 5);
	{
		size_t n = 0;

		while (n < 2 && ioring_enter(ring.id, 0, 1) != ERR)
			n += pop_cqes(&ring, cq + n, 2 - n);
		tap_ok(n == 2 && find_cqe(cq, 2, 303)->_result == R &&
		       find_cqe(cq, 2, 304)->error == 0 && find_cqe(cq, 2, 304)->_result == 5 &&
		       !memcmp(buf, "later", 5),
		       "POLL LINK READ submitted with enter(2, 0): later enter(0, 1) calls bring both");
	}
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	io_init();
	tap_plan(11 + 7 + 5 + 2 + 5 + 7 + 6 + 6 + 1);
	if (ioring_setup(&ring, NULL, 64, 64) == ERR)
		tap_bail("ioring_setup: %s", strerror(errno));
	section("pipes", 60);
	pipes();
	section("sockets", 60);
	sockets();
	section("eventfd, regular file, /dev/null", 60);
	others();
	section("/dev/zero", 60);
	zero_dev();
	section("NVAL", 60);
	nval();
	section("waiting for events", 60);
	woken();
	section("many POLLs", 60);
	many();
	section("registers and links", 60);
	regs_links();
	alarm(0);
	EXPECT_EQ(ioring_teardown(ring.id), 0, "teardown: nothing left in flight");
	return tap_done();
}
