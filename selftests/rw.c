// SPDX-License-Identifier: MIT
/*
 * rw: READ and WRITE on every kind of file the issue names, compared with what
 * read(2)/write(2) give. Regular files (tmpfs, and an ext4 image when the
 * kernel can mount one): explicit offsets leave the file position alone,
 * IO_OFF_CUR uses and advances it (lseek sees it, dup'ed descriptors share it,
 * O_APPEND appends), concurrent IO_OFF_CUR users are serialised like
 * read(2)/write(2) (no block written or read twice), short reads at EOF,
 * unaligned multi-page and 1 MiB buffers. Pipes (short reads, partial writes,
 * EOF), AF_UNIX socket pairs, eventfd, /dev/zero and /dev/null. Counts above
 * MAX_RW_COUNT are clamped as write(2) does. Every argument can come from a
 * register.
 */
#include <pthread.h>
#include <sys/eventfd.h>

#include "io.h"

#define MAX_RW_COUNT 0x7ffff000ull
#define FILE_LEN 10000

static ioring_t ring;
static uint64_t next_data = 1;
/* Requests expected to complete promptly get this timeout: a hang fails, not stalls. */
static uint64_t op_timeout = 10 * IORING_NSEC_PER_SEC;

/* One READ or WRITE, waited for; the CQE's data is checked by the callers. */
static cqe_t rw1(io_op_t op, int fd, void *buf, uint64_t count, int64_t offset)
{
	sqe_t sqe;
	cqe_t cqe = { .op = 0xdead, .error = -1 };

	if (op == IO_OP_READ)
		sqe_prep_read(&sqe, fd, buf, count, offset, op_timeout, ptr_of(next_data));
	else
		sqe_prep_write(&sqe, fd, buf, count, offset, op_timeout, ptr_of(next_data));
	next_data++;
	if (!run1(&ring, &sqe, &cqe))
		tap_diag("no CQE for %s fd %d", op_name(op), fd);
	return cqe;
}

/* Pass when the CQE succeeded with `want` bytes. */
static int expect_bytes(const cqe_t *c, uint64_t want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int expect_bytes(const cqe_t *c, uint64_t want, const char *fmt, ...)
{
	int ok = c->error == 0 && c->_result == want;
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	tap_ok(ok, "%s: %llu bytes", what, (unsigned long long)want);
	if (!ok)
		tap_diag("got error %s (%d), result %llu", c->error ? tap_errname(c->error) : "0",
			 c->error, (unsigned long long)c->_result);
	return ok;
}

static off_t pos_of(int fd)
{
	return lseek(fd, 0, SEEK_CUR);
}

/* ---- Regular files ---------------------------------------------------------------- */

#define SER_BLOCKS 64
#define SER_BLOCK 4096

struct ser {
	int fd;
	pthread_barrier_t *barrier;
	unsigned char *seen; /* READ test: block indices read by the thread */
};

static void *ser_writer(void *arg)
{
	struct ser *s = arg;
	static char block[SER_BLOCK];
	int i;

	memset(block, 'A', sizeof(block));
	pthread_barrier_wait(s->barrier);
	for (i = 0; i < SER_BLOCKS; i++)
		if (write(s->fd, block, sizeof(block)) != (ssize_t)sizeof(block))
			break;
	return NULL;
}

static void *ser_reader(void *arg)
{
	struct ser *s = arg;
	uint32_t block[SER_BLOCK / 4];

	pthread_barrier_wait(s->barrier);
	while (read(s->fd, block, sizeof(block)) == (ssize_t)sizeof(block))
		if (block[0] < 2 * SER_BLOCKS)
			s->seen[block[0]]++;
	return NULL;
}

/*
 * A thread appends SER_BLOCKS blocks of 'A' with write(2) while the ring
 * appends SER_BLOCKS blocks of 'B' with IO_OFF_CUR WRITEs on the same open
 * file; then a thread and the ring read it back in blocks with read(2) and
 * IO_OFF_CUR READs. Serialised positions: no block is lost, overwritten or
 * read twice. 3 tests
 */
static void pos_serialisation(int fd, const char *fs)
{
	static char bblock[SER_BLOCKS][SER_BLOCK];
	static uint32_t rbuf[SER_BLOCKS][SER_BLOCK / 4];
	unsigned char seen[2 * SER_BLOCKS] = { 0 };
	pthread_barrier_t barrier;
	struct ser s = { .fd = fd, .barrier = &barrier, .seen = seen };
	size_t i, good = 0, a = 0, b = 0, bad = 0, got, reads = 0, twice = 0, missing = 0;
	cqe_t cqes[SER_BLOCKS];
	pthread_t t;
	struct stat st;
	sqe_t sqe;
	char *check;

	ftruncate(fd, 0);
	lseek(fd, 0, SEEK_SET);
	pthread_barrier_init(&barrier, NULL, 2);
	pthread_create(&t, NULL, ser_writer, &s);
	for (i = 0; i < SER_BLOCKS; i++) {
		memset(bblock[i], 'B', SER_BLOCK);
		sqe_prep_write(&sqe, fd, bblock[i], SER_BLOCK, IO_OFF_CUR, CLOCKS_NEVER,
			       ptr_of(1000 + i));
		push_sqe(&ring, &sqe);
	}
	pthread_barrier_wait(&barrier);
	got = submit_all(&ring, SER_BLOCKS, cqes);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&barrier);
	for (i = 0; i < got; i++)
		good += cqes[i].error == 0 && cqes[i]._result == SER_BLOCK;
	fstat(fd, &st);
	check = malloc(2 * SER_BLOCKS * SER_BLOCK);
	if (check && pread(fd, check, 2 * SER_BLOCKS * SER_BLOCK, 0) == 2 * SER_BLOCKS * SER_BLOCK) {
		for (i = 0; i < 2 * SER_BLOCKS; i++) {
			if (all_bytes(check + i * SER_BLOCK, SER_BLOCK, 'A'))
				a++;
			else if (all_bytes(check + i * SER_BLOCK, SER_BLOCK, 'B'))
				b++;
			else
				bad++;
		}
	}
	free(check);
	tap_ok(good == SER_BLOCKS && st.st_size == 2 * SER_BLOCKS * SER_BLOCK &&
	       pos_of(fd) == st.st_size,
	       "%s: %d IO_OFF_CUR WRITEs racing %d write(2)s on one open file: all done, the file "
	       "and its position are %d blocks long", fs, SER_BLOCKS, SER_BLOCKS, 2 * SER_BLOCKS);
	if (!TAP_LAST)
		tap_diag("WRITEs ok %zu/%d, size %lld, position %lld", good, SER_BLOCKS,
			 (long long)st.st_size, (long long)pos_of(fd));
	tap_ok(a == SER_BLOCKS && b == SER_BLOCKS && bad == 0,
	       "%s: every block intact, %d of each writer (no write landed on another)", fs,
	       SER_BLOCKS);
	if (!TAP_LAST)
		tap_diag("blocks: %zu A, %zu B, %zu mixed", a, b, bad);

	/* Reading back: each block starts with its index. */
	for (i = 0; i < 2 * SER_BLOCKS; i++) {
		uint32_t idx = (uint32_t)i;

		pwrite(fd, &idx, sizeof(idx), (off_t)i * SER_BLOCK);
	}
	lseek(fd, 0, SEEK_SET);
	pthread_barrier_init(&barrier, NULL, 2);
	pthread_create(&t, NULL, ser_reader, &s);
	for (i = 0; i < SER_BLOCKS; i++) {
		sqe_prep_read(&sqe, fd, rbuf[i], SER_BLOCK, IO_OFF_CUR, CLOCKS_NEVER, ptr_of(2000 + i));
		push_sqe(&ring, &sqe);
	}
	pthread_barrier_wait(&barrier);
	got = submit_all(&ring, SER_BLOCKS, cqes);
	pthread_join(t, NULL);
	pthread_barrier_destroy(&barrier);
	for (i = 0; i < got; i++) {
		size_t k = cqe_data(&cqes[i]) - 2000;

		if (k < SER_BLOCKS && cqes[i].error == 0 && cqes[i]._result == SER_BLOCK &&
		    rbuf[k][0] < 2 * SER_BLOCKS) {
			seen[rbuf[k][0]]++;
			reads++;
		}
	}
	for (i = 0; i < 2 * SER_BLOCKS; i++) {
		twice += seen[i] > 1;
		missing += seen[i] == 0;
	}
	tap_ok(twice == 0 && missing == 0,
	       "%s: IO_OFF_CUR READs racing read(2)s: every block read exactly once", fs);
	if (!TAP_LAST)
		tap_diag("%zu full READs; %zu blocks read twice, %zu never", reads, twice, missing);
}

#define REG_TESTS 29

/* READ and WRITE on a regular file in dir. REG_TESTS tests */
static void regular_suite(const char *dir, const char *fs)
{
	static unsigned char data[FILE_LEN], buf[FILE_LEN + 4096];
	unsigned char *map, *big, *back;
	int fd = tmpfile_in(dir), fd2, app;
	const size_t bigsz = 1 << 20;
	struct stat st;
	cqe_t c;

	fill_random(data, sizeof(data), 0x5eed);

	/* Explicit offsets. */
	c = rw1(IO_OP_WRITE, fd, data, FILE_LEN, 0);
	expect_bytes(&c, FILE_LEN, "%s: WRITE %d random bytes at offset 0", fs, FILE_LEN);
	memset(buf, 0, sizeof(buf));
	tap_ok(pread(fd, buf, FILE_LEN, 0) == FILE_LEN && !memcmp(buf, data, FILE_LEN),
	       "%s: pread(2) finds them", fs);
	memset(buf, 0, sizeof(buf));
	c = rw1(IO_OP_READ, fd, buf, FILE_LEN, 0);
	tap_ok(c.error == 0 && c._result == FILE_LEN && !memcmp(buf, data, FILE_LEN),
	       "%s: READ at offset 0 returns all %d bytes intact", fs, FILE_LEN);
	memset(buf, 0, sizeof(buf));
	c = rw1(IO_OP_READ, fd, buf, 3000, 4000);
	tap_ok(c.error == 0 && c._result == 3000 && !memcmp(buf, data + 4000, 3000),
	       "%s: READ 3000 at offset 4000 returns that range", fs);

	/* Short reads at EOF. */
	memset(buf, 0, sizeof(buf));
	c = rw1(IO_OP_READ, fd, buf, 4096, 8192);
	tap_ok(c.error == 0 && c._result == FILE_LEN - 8192 &&
	       !memcmp(buf, data + 8192, FILE_LEN - 8192),
	       "%s: READ 4096 at 8192 of a %d-byte file: short count %d, the tail intact", fs,
	       FILE_LEN, FILE_LEN - 8192);
	if (!TAP_LAST)
		tap_diag("error %d result %llu", c.error, (unsigned long long)c._result);
	c = rw1(IO_OP_READ, fd, buf, 4096, FILE_LEN);
	expect_bytes(&c, 0, "%s: READ at EOF", fs);
	c = rw1(IO_OP_READ, fd, buf, 4096, 1ll << 40);
	expect_bytes(&c, 0, "%s: READ far beyond EOF (offset 2^40)", fs);
	c = rw1(IO_OP_READ, fd, NULL, 0, 0);
	expect_bytes(&c, 0, "%s: READ of 0 bytes (NULL buffer), like read(2)", fs);

	/* Explicit offsets leave the file position alone. */
	lseek(fd, 123, SEEK_SET);
	c = rw1(IO_OP_READ, fd, buf, 100, 0);
	tap_ok(c.error == 0 && c._result == 100 && pos_of(fd) == 123,
	       "%s: READ at an explicit offset leaves the position (123) alone", fs);
	c = rw1(IO_OP_WRITE, fd, data + 500, 10, 500);
	tap_ok(c.error == 0 && c._result == 10 && pos_of(fd) == 123,
	       "%s: WRITE at an explicit offset leaves the position alone", fs);

	/* IO_OFF_CUR uses and advances it. */
	lseek(fd, 0, SEEK_SET);
	memset(buf, 0, sizeof(buf));
	c = rw1(IO_OP_READ, fd, buf, 100, IO_OFF_CUR);
	tap_ok(c.error == 0 && c._result == 100 && !memcmp(buf, data, 100),
	       "%s: READ IO_OFF_CUR at position 0 reads bytes 0..99", fs);
	EXPECT_EQ(pos_of(fd), 100, "%s: lseek(SEEK_CUR) sees the position advanced to 100", fs);
	memset(buf, 0, sizeof(buf));
	c = rw1(IO_OP_READ, fd, buf, 200, IO_OFF_CUR);
	tap_ok(c.error == 0 && c._result == 200 && !memcmp(buf, data + 100, 200) && pos_of(fd) == 300,
	       "%s: the next IO_OFF_CUR READ continues there (bytes 100..299, position 300)", fs);
	c = rw1(IO_OP_WRITE, fd, "0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCD", 50, IO_OFF_CUR);
	tap_ok(c.error == 0 && c._result == 50 && pos_of(fd) == 350,
	       "%s: WRITE IO_OFF_CUR of 50 bytes advances the position to 350", fs);
	memset(buf, 0, sizeof(buf));
	tap_ok(pread(fd, buf, 50, 300) == 50 &&
	       !memcmp(buf, "0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCD", 50),
	       "%s: and its bytes are at 300..349", fs);
	pwrite(fd, data + 300, 50, 300);
	lseek(fd, 9000, SEEK_SET);
	memset(buf, 0, sizeof(buf));
	c = rw1(IO_OP_READ, fd, buf, 4096, IO_OFF_CUR);
	tap_ok(c.error == 0 && c._result == 1000 && !memcmp(buf, data + 9000, 1000) &&
	       pos_of(fd) == FILE_LEN,
	       "%s: IO_OFF_CUR READ at 9000: short count 1000, position at EOF", fs);
	c = rw1(IO_OP_READ, fd, buf, 4096, IO_OFF_CUR);
	tap_ok(c.error == 0 && c._result == 0 && pos_of(fd) == FILE_LEN,
	       "%s: IO_OFF_CUR READ at EOF: 0, position unchanged", fs);
	fd2 = dup(fd);
	lseek(fd, 10, SEEK_SET);
	c = rw1(IO_OP_READ, fd2, buf, 10, IO_OFF_CUR);
	tap_ok(c.error == 0 && c._result == 10 && pos_of(fd) == 20 && !memcmp(buf, data + 10, 10),
	       "%s: a dup'ed descriptor shares the position (READ through it moves 10 -> 20)", fs);
	close(fd2);
	tap_ok(lseek(fd, 4000, SEEK_SET) == 4000 &&
	       (c = rw1(IO_OP_WRITE, fd, data, 0, IO_OFF_CUR)).error == 0 && c._result == 0 &&
	       pos_of(fd) == 4000, "%s: an IO_OFF_CUR WRITE of 0 bytes changes nothing", fs);

	/* O_APPEND. */
	{
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		app = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	}
	c = rw1(IO_OP_WRITE, app, "appended", 8, IO_OFF_CUR);
	fstat(fd, &st);
	memset(buf, 0, sizeof(buf));
	tap_ok(app >= 0 && c.error == 0 && c._result == 8 && st.st_size == FILE_LEN + 8 &&
	       pos_of(app) == FILE_LEN + 8 && pread(fd, buf, 8, FILE_LEN) == 8 &&
	       !memcmp(buf, "appended", 8),
	       "%s: IO_OFF_CUR WRITE on an O_APPEND descriptor appends; position at the end", fs);
	if (app >= 0)
		close(app);
	ftruncate(fd, FILE_LEN);

	/* Buffers: unaligned across pages, and 1 MiB (256 pages and more). */
	map = xmap(4 * PAGE, PROT_READ | PROT_WRITE);
	memset(map, 0, 4 * PAGE);
	c = rw1(IO_OP_READ, fd, map + 4000, 9000, 100);
	tap_ok(c.error == 0 && c._result == 9000 && !memcmp(map + 4000, data + 100, 9000) &&
	       all_bytes(map, 4000, 0) && all_bytes(map + 13000, 4 * PAGE - 13000, 0),
	       "%s: READ into an unaligned buffer across 4 pages: right bytes, nothing outside", fs);
	munmap(map, 4 * PAGE);
	big = malloc(bigsz + 64);
	back = malloc(bigsz + 64);
	if (!big || !back)
		tap_bail("malloc");
	fill_random(big + 3, bigsz, 0xb16);
	c = rw1(IO_OP_WRITE, fd, big + 3, bigsz, 12345);
	expect_bytes(&c, bigsz, "%s: WRITE 1 MiB from an unaligned buffer at offset 12345", fs);
	memset(back, 0, bigsz + 64);
	c = rw1(IO_OP_READ, fd, back + 7, bigsz, 12345);
	tap_ok(c.error == 0 && c._result == bigsz && !memcmp(back + 7, big + 3, bigsz) &&
	       fnv1a(FNV_INIT, back + 7, bigsz) == fnv1a(FNV_INIT, big + 3, bigsz),
	       "%s: READ 1 MiB back into another unaligned buffer: identical (checksum too)", fs);
	tap_ok(pread(fd, back, 12345, 0) == 12345 && !memcmp(back, data, FILE_LEN) &&
	       all_bytes(back + FILE_LEN, 12345 - FILE_LEN, 0),
	       "%s: the hole before it reads as zeros, the old data is intact", fs);
	free(big);
	free(back);
	ftruncate(fd, FILE_LEN);

	/* A WRITE extends the file; a READ after it in a chain sees the new bytes. */
	{
		sqe_t sqe[2];
		cqe_t cq[2];

		memset(buf, 0, sizeof(buf));
		sqe_prep_write(&sqe[0], fd, "tail!", 5, FILE_LEN + 100, CLOCKS_NEVER, ptr_of(71));
		sqe_set_link(&sqe[0]);
		sqe_prep_read(&sqe[1], fd, buf, 200, FILE_LEN, CLOCKS_NEVER, ptr_of(72));
		push_sqe(&ring, &sqe[0]);
		push_sqe(&ring, &sqe[1]);
		submit_all(&ring, 2, cq);
		expect_io(find_cqe(cq, 2, 71), IO_OP_WRITE, 71, 0, 5,
			  "%s: WRITE 5 bytes 100 beyond EOF", fs);
		tap_ok(find_cqe(cq, 2, 72)->error == 0 && find_cqe(cq, 2, 72)->_result == 105 &&
		       all_bytes(buf, 100, 0) && !memcmp(buf + 100, "tail!", 5),
		       "%s: linked READ from the old EOF: 105 bytes, a zero hole then the new ones", fs);
		ftruncate(fd, FILE_LEN);
	}

	pos_serialisation(fd, fs);
	close(fd);
}

/* ---- Pipes, sockets, eventfd, /dev/zero, /dev/null ------------------------------------ */

struct drain_arg {
	int fd;
	unsigned char *buf;
	size_t max, got;
};

/* Read until EOF (or max). */
static void *drainer(void *arg)
{
	struct drain_arg *d = arg;
	ssize_t n;

	while (d->got < d->max && (n = read(d->fd, d->buf + d->got, d->max - d->got)) > 0)
		d->got += (size_t)n;
	return NULL;
}

/* 12 tests */
static void pipes(void)
{
	static unsigned char src[100000], dst[100000];
	struct drain_arg d = { .buf = dst, .max = sizeof(dst) };
	unsigned char buf[4096];
	pthread_t t;
	int p[2];
	cqe_t c;

	fill_random(src, sizeof(src), 0x919e);
	xpipe(p);
	c = rw1(IO_OP_WRITE, p[1], src, 1000, IO_OFF_CUR);
	memset(buf, 0, sizeof(buf));
	tap_ok(c.error == 0 && c._result == 1000 && read(p[0], buf, sizeof(buf)) == 1000 &&
	       !memcmp(buf, src, 1000), "pipe: WRITE 1000 bytes; read(2) gets them");
	write(p[1], src, 300);
	memset(buf, 0, sizeof(buf));
	c = rw1(IO_OP_READ, p[0], buf, sizeof(buf), IO_OFF_CUR);
	tap_ok(c.error == 0 && c._result == 300 && !memcmp(buf, src, 300),
	       "pipe: READ 4096 with 300 bytes there: short count 300, intact");
	c = rw1(IO_OP_READ, p[0], NULL, 0, IO_OFF_CUR);
	expect_bytes(&c, 0, "pipe: READ of 0 bytes on an empty pipe completes at once");
	{
		size_t filled = fill_fd(p[1]);

		c = rw1(IO_OP_WRITE, p[1], buf, 0, IO_OFF_CUR);
		expect_bytes(&c, 0, "pipe: WRITE of 0 bytes on a full pipe completes at once");
		tap_ok(drain_fd(p[0], NULL, 0) == filled, "pipe: and added nothing");
	}

	/* A WRITE larger than the pipe, with a reader: short or whole, never more. */
	d.fd = p[0];
	pthread_create(&t, NULL, drainer, &d);
	c = rw1(IO_OP_WRITE, p[1], src, sizeof(src), IO_OFF_CUR);
	tap_ok(c.error == 0 && c._result > 0 && c._result <= sizeof(src),
	       "pipe: WRITE of 100000 bytes (more than the pipe holds) writes some (%llu)",
	       (unsigned long long)c._result);
	close(p[1]);
	pthread_join(t, NULL);
	tap_ok(d.got == c._result && !memcmp(dst, src, d.got),
	       "pipe: the reader got exactly those bytes, in order (%zu)", d.got);

	/* EOF. */
	xpipe(p);
	write(p[1], "last", 4);
	close(p[1]);
	c = rw1(IO_OP_READ, p[0], buf, sizeof(buf), IO_OFF_CUR);
	tap_ok(c.error == 0 && c._result == 4 && !memcmp(buf, "last", 4),
	       "pipe: writer gone: READ returns the 4 bytes left");
	c = rw1(IO_OP_READ, p[0], buf, sizeof(buf), IO_OFF_CUR);
	expect_bytes(&c, 0, "pipe: then EOF");
	close(p[0]);

	/* A READ waiting for a writer (asynchronous completion). */
	xpipe(p);
	{
		sqe_t sqe;
		cqe_t cq;

		memset(buf, 0, sizeof(buf));
		sqe_prep_read(&sqe, p[0], buf, sizeof(buf), IO_OFF_CUR, CLOCKS_NEVER, ptr_of(81));
		push_sqe(&ring, &sqe);
		EXPECT_EQ(ioring_enter(ring.id, 1, 0), 1, "pipe: READ on an empty pipe is consumed");
		sleep_ns(20 * NSEC_PER_MSEC);
		tap_ok(ioring_cq_ready(&ring) == 0, "pipe: 20 ms later it is still waiting");
		write(p[1], "wake up", 7);
		tap_ok(wait_pop(&ring, &cq, 1) && cq.error == 0 && cq._result == 7 &&
		       !memcmp(buf, "wake up", 7), "pipe: a write(2) completes it with the 7 bytes");
	}
	close(p[0]);
	close(p[1]);
}

/* 6 tests */
static void sockets(void)
{
	static unsigned char src[5000], buf[8192];
	int sv[2];
	cqe_t c;

	fill_random(src, sizeof(src), 0x50c);
	xsocketpair(sv);
	c = rw1(IO_OP_WRITE, sv[0], src, sizeof(src), IO_OFF_CUR);
	memset(buf, 0, sizeof(buf));
	tap_ok(c.error == 0 && c._result == sizeof(src) &&
	       recv(sv[1], buf, sizeof(src), MSG_WAITALL) == (ssize_t)sizeof(src) &&
	       !memcmp(buf, src, sizeof(src)), "socketpair: WRITE 5000 bytes; the peer receives them");
	c = rw1(IO_OP_READ, sv[0], NULL, 0, IO_OFF_CUR);
	expect_bytes(&c, 0, "socketpair: READ of 0 bytes on an empty socket completes at once");
	send(sv[1], src, 1234, 0);
	memset(buf, 0, sizeof(buf));
	c = rw1(IO_OP_READ, sv[0], buf, sizeof(buf), IO_OFF_CUR);
	tap_ok(c.error == 0 && c._result == 1234 && !memcmp(buf, src, 1234),
	       "socketpair: READ 8192 with 1234 bytes there: short count 1234, intact");
	{
		sqe_t sqe;
		cqe_t cq;

		sqe_prep_read(&sqe, sv[0], buf, sizeof(buf), IO_OFF_CUR, CLOCKS_NEVER, ptr_of(91));
		push_sqe(&ring, &sqe);
		ioring_enter(ring.id, 1, 0);
		sleep_ns(20 * NSEC_PER_MSEC);
		tap_ok(ioring_cq_ready(&ring) == 0, "socketpair: READ on an empty socket waits");
		send(sv[1], "ping", 4, 0);
		tap_ok(wait_pop(&ring, &cq, 1) && cq.error == 0 && cq._result == 4 &&
		       !memcmp(buf, "ping", 4), "socketpair: the peer's send completes it");
	}
	close(sv[1]);
	c = rw1(IO_OP_READ, sv[0], buf, sizeof(buf), IO_OFF_CUR);
	expect_bytes(&c, 0, "socketpair: peer closed: READ returns EOF");
	close(sv[0]);
}

/* 5 tests */
static void eventfds(void)
{
	uint64_t v = 7, out[2] = { 0, 0 };
	int efd = eventfd(0, EFD_CLOEXEC);
	cqe_t c;

	if (efd < 0)
		tap_bail("eventfd: %s", strerror(errno));
	write(efd, &v, sizeof(v));
	c = rw1(IO_OP_READ, efd, out, sizeof(out), IO_OFF_CUR);
	tap_ok(c.error == 0 && c._result == 8 && out[0] == 7,
	       "eventfd: READ (16-byte buffer) returns 8 bytes, the counter 7");
	v = 5;
	c = rw1(IO_OP_WRITE, efd, &v, sizeof(v), IO_OFF_CUR);
	expect_bytes(&c, 8, "eventfd: WRITE of the value 5");
	out[0] = 0;
	set_nonblock(efd, true);
	tap_ok(read(efd, out, 8) == 8 && out[0] == 5, "eventfd: read(2) sees the counter 5 (%llu)",
	       (unsigned long long)out[0]);
	set_nonblock(efd, false);
	{
		sqe_t sqe;
		cqe_t cq;

		out[0] = 0;
		sqe_prep_read(&sqe, efd, out, 8, IO_OFF_CUR, CLOCKS_NEVER, ptr_of(95));
		push_sqe(&ring, &sqe);
		ioring_enter(ring.id, 1, 0);
		sleep_ns(20 * NSEC_PER_MSEC);
		tap_ok(ioring_cq_ready(&ring) == 0, "eventfd: READ of a zero counter waits");
		v = 3;
		write(efd, &v, sizeof(v));
		tap_ok(wait_pop(&ring, &cq, 1) && cq.error == 0 && cq._result == 8 && out[0] == 3,
		       "eventfd: a write(2) of 3 completes it with 3");
	}
	close(efd);
}

/* 6 tests */
static void devices(void)
{
	static unsigned char buf[10000];
	int zero = xopen("/dev/zero", O_RDWR, 0), null = xopen("/dev/null", O_RDWR, 0);
	cqe_t c;

	memset(buf, 0xaa, sizeof(buf));
	c = rw1(IO_OP_READ, zero, buf, sizeof(buf), IO_OFF_CUR);
	tap_ok(c.error == 0 && c._result == sizeof(buf) && all_bytes(buf, sizeof(buf), 0),
	       "/dev/zero: READ 10000 bytes: all zero (read(2) gives them all, so must the READ)");
	if (!TAP_LAST)
		tap_diag("error %s, result %llu", tap_errname(c.error), (unsigned long long)c._result);
	memset(buf, 0xaa, sizeof(buf));
	c = rw1(IO_OP_READ, zero, buf + 1, 5000, 123456);
	tap_ok(c.error == 0 && c._result == 5000 && all_bytes(buf + 1, 5000, 0) && buf[0] == 0xaa &&
	       buf[5001] == 0xaa, "/dev/zero: READ at an offset: zeros, exactly 5000");
	c = rw1(IO_OP_WRITE, zero, buf, sizeof(buf), IO_OFF_CUR);
	expect_bytes(&c, sizeof(buf), "/dev/zero: WRITE swallows everything");
	c = rw1(IO_OP_WRITE, null, buf, sizeof(buf), IO_OFF_CUR);
	expect_bytes(&c, sizeof(buf), "/dev/null: WRITE swallows everything");
	c = rw1(IO_OP_WRITE, null, buf, sizeof(buf), 999);
	expect_bytes(&c, sizeof(buf), "/dev/null: WRITE at an offset too");
	c = rw1(IO_OP_READ, null, buf, sizeof(buf), IO_OFF_CUR);
	expect_bytes(&c, 0, "/dev/null: READ is EOF");
	close(zero);
	close(null);
}

/*
 * Counts above MAX_RW_COUNT are clamped, as write(2) does: a WRITE to
 * /dev/null of 2 GiB and of 4 GiB from a buffer whose first MAX_RW_COUNT
 * bytes are mapped (read-only zero pages) and the rest is not. 4 tests
 */
static void clamp(void)
{
	const size_t len = MAX_RW_COUNT + PAGE; /* one hole page after the clamp */
	int null = xopen("/dev/null", O_WRONLY, 0);
	unsigned char *p;
	cqe_t c;

	p = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		tap_skip("cannot map 2 GiB", "clamp: WRITE of 2^31 bytes");
		tap_skip("cannot map 2 GiB", "clamp: WRITE of 2^32 bytes");
		tap_skip("cannot map 2 GiB", "clamp: write(2) agrees");
		tap_skip("cannot map 2 GiB", "clamp: pins released");
		close(null);
		return;
	}
	munmap(p + MAX_RW_COUNT, PAGE);
	{
		long long pins = pins_outstanding();

		c = rw1(IO_OP_WRITE, null, p, 0x80000000ull, IO_OFF_CUR);
		expect_bytes(&c, MAX_RW_COUNT, "clamp: WRITE of 2^31 bytes to /dev/null is clamped to "
			     "MAX_RW_COUNT");
		c = rw1(IO_OP_WRITE, null, p, 1ull << 32, IO_OFF_CUR);
		expect_bytes(&c, MAX_RW_COUNT, "clamp: WRITE of 2^32 bytes too (not truncated to 0)");
		EXPECT_EQ(write(null, p, 1ull << 32), MAX_RW_COUNT, "clamp: write(2) gives the same");
		tap_ok(pins < 0 || pins_settle(pins) == pins,
		       "clamp: the 524287 pinned pages are released (pins outstanding %lld -> %lld)",
		       pins, pins_outstanding());
	}
	munmap(p, MAX_RW_COUNT);
	close(null);
}

/*
 * Every argument from a register: a WRITE and a READ whose SQEs hold garbage
 * in arg0..arg3 and load fd, buffer, count and offset from registers 1-4;
 * a chain where the count of a READ is the result of the WRITE before it.
 * 4 tests
 */
static void registers(void)
{
	unsigned char buf[64];
	int fd = tmpfile_in("/tmp");
	sqe_t sqe[2];
	cqe_t cq[2];

	ioring_reg_store(&ring, 1, (uint64_t)fd);
	ioring_reg_store(&ring, 2, (uint64_t)(uintptr_t)"register-borne");
	ioring_reg_store(&ring, 3, 14);
	ioring_reg_store(&ring, 4, 3);
	sqe_prep_write(&sqe[0], 999, (void *)8, 12345, -77, CLOCKS_NEVER, ptr_of(101));
	sqe_load_reg(&sqe[0], SQE_LOAD0, 1);
	sqe_load_reg(&sqe[0], SQE_LOAD1, 2);
	sqe_load_reg(&sqe[0], SQE_LOAD2, 3);
	sqe_load_reg(&sqe[0], SQE_LOAD3, 4);
	run1(&ring, &sqe[0], cq);
	memset(buf, 0, sizeof(buf));
	tap_ok(cq[0].error == 0 && cq[0]._result == 14 && pread(fd, buf, sizeof(buf), 0) == 17 &&
	       all_bytes(buf, 3, 0) && !memcmp(buf + 3, "register-borne", 14),
	       "WRITE with fd, buffer, count and offset all from registers 1-4");
	if (!TAP_LAST)
		tap_diag("error %d result %llu", cq[0].error, (unsigned long long)cq[0]._result);

	ioring_reg_store(&ring, 2, (uint64_t)(uintptr_t)buf);
	ioring_reg_store(&ring, 3, 8);
	ioring_reg_store(&ring, 4, 9);
	memset(buf, 0, sizeof(buf));
	sqe_prep_read(&sqe[0], -5, NULL, 0, -99, CLOCKS_NEVER, ptr_of(102));
	sqe_load_reg(&sqe[0], SQE_LOAD0, 1);
	sqe_load_reg(&sqe[0], SQE_LOAD1, 2);
	sqe_load_reg(&sqe[0], SQE_LOAD2, 3);
	sqe_load_reg(&sqe[0], SQE_LOAD3, 4);
	run1(&ring, &sqe[0], cq);
	tap_ok(cq[0].error == 0 && cq[0]._result == 8 && !memcmp(buf, "er-borne", 8),
	       "READ with fd, buffer, count and offset all from registers");

	/* WRITE (saves 5 into r5) LINK READ whose count is loaded from r5. */
	memset(buf, 0, sizeof(buf));
	sqe_prep_write(&sqe[0], fd, "HELLO", 5, 0, CLOCKS_NEVER, ptr_of(103));
	sqe_save_reg(&sqe[0], 5);
	sqe_set_link(&sqe[0]);
	sqe_prep_read(&sqe[1], fd, buf, 9999, 0, CLOCKS_NEVER, ptr_of(104));
	sqe_load_reg(&sqe[1], SQE_LOAD2, 5);
	push_sqe(&ring, &sqe[0]);
	push_sqe(&ring, &sqe[1]);
	submit_all(&ring, 2, cq);
	expect_io(find_cqe(cq, 2, 103), IO_OP_WRITE, 103, 0, 5, "WRITE saving its count into r5");
	tap_ok(find_cqe(cq, 2, 104)->error == 0 && find_cqe(cq, 2, 104)->_result == 5 &&
	       !memcmp(buf, "HELLO", 5) && buf[5] == 0 && ioring_reg_load(&ring, 5) == 5,
	       "linked READ whose count comes from r5 reads exactly 5 bytes");
	close(fd);
}

int main(void)
{
	char reason[256];
	const char *mnt;
	int i;

	io_init();
	tap_plan(REG_TESTS * 2 + 12 + 6 + 5 + 6 + 4 + 4 + 1);
	if (ioring_setup(&ring, NULL, 64, 128) == ERR)
		tap_bail("ioring_setup: %s", strerror(errno));

	section("regular files on tmpfs", 120);
	regular_suite("/tmp", "tmpfs");
	section("mounting the ext4 image", 60);
	mnt = ext4_mount(reason, sizeof(reason));
	if (mnt) {
		section("regular files on ext4", 120);
		regular_suite(mnt, "ext4");
		ext4_umount(mnt);
	} else {
		for (i = 0; i < REG_TESTS; i++)
			tap_skip(reason, "ext4: regular file test %d", i + 1);
	}
	section("pipes", 60);
	pipes();
	section("sockets", 60);
	sockets();
	section("eventfd", 60);
	eventfds();
	section("/dev/zero and /dev/null", 60);
	devices();
	section("count clamp", 180);
	op_timeout = 150 * IORING_NSEC_PER_SEC; /* pinning 2 GiB of zero pages takes a while */
	clamp();
	op_timeout = 10 * IORING_NSEC_PER_SEC;
	section("registers", 60);
	registers();
	alarm(0);
	EXPECT_EQ(ioring_teardown(ring.id), 0, "teardown: nothing left in flight");
	return tap_done();
}
