// SPDX-License-Identifier: MIT
/*
 * direct: O_DIRECT READ and WRITE at an offset go to the device with an
 * asynchronous kiocb. Enter returns once the bios are submitted and the
 * device's completion posts the CQE. Tested on a loop device over a tmpfs
 * file: aligned and misaligned buffers and offsets, short reads at the
 * device's end, writes read back, timeouts, IO_OFF_CUR (the synchronous
 * way), and close with requests in flight. Then a file on ext4: WRITEs of a
 * regular file take the file system's freeze protection, and on a frozen file
 * system enter does not wait for the thaw (the write does, elsewhere).
 */
#include "common.h"
#include "io.h"

#include <linux/fs.h>
#include <linux/loop.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#define BLK		4096u
#define DEV_BYTES	(4u << 20)
#define NBLK		(DEV_BYTES / BLK)
#define QD		32u
#define MS		NSEC_PER_MSEC

static const char *img = "/tmp/pwring-direct.img";

/* Byte i of block b, before any test writes. */
static unsigned char pattern(uint64_t b, size_t i)
{
	return (unsigned char)(b * 7 + i / 512);
}

/* A loop device over a fresh image; its path in `dev`. -1 if the kernel has no loop. */
static int loop_attach(char *dev, size_t len)
{
	static unsigned char blk[BLK];
	int ctl, n, back, lfd;

	back = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (back < 0)
		return -1;
	for (uint64_t b = 0; b < NBLK; b++) {
		for (size_t i = 0; i < BLK; i++)
			blk[i] = pattern(b, i);
		if (pwrite(back, blk, BLK, (off_t)(b * BLK)) != BLK)
			return -1;
	}
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return -1;
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (n < 0)
		return -1;
	snprintf(dev, len, "/dev/loop%d", n);
	lfd = open(dev, O_RDWR | O_CLOEXEC);
	if (lfd < 0 || ioctl(lfd, LOOP_SET_FD, back) < 0)
		return -1;
	close(back);
	return lfd;
}

static void *aligned(size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, BLK, len))
		tap_bail("posix_memalign: %s", strerror(errno));
	return p;
}

static void prep(sqe_t *sqe, io_op_t op, int fd, void *buf, size_t count, int64_t off,
		 clock_t timeout, uint64_t data)
{
	if (op == IO_OP_READ)
		sqe_prep_read(sqe, fd, buf, count, off, timeout, ptr_of(data));
	else
		sqe_prep_write(sqe, fd, buf, count, off, timeout, ptr_of(data));
}

/* QD reads of random blocks, in one enter: every CQE is the block it asked for. 2 tests */
static void random_reads(ioring_t *ring, int fd)
{
	unsigned char *buf = aligned(QD * BLK);
	uint64_t blocks[QD], seed = 0x5eed;
	cqe_t cq[QD];
	unsigned good = 0;
	sqe_t sqe;

	for (unsigned i = 0; i < QD; i++) {
		blocks[i] = rng_next(&seed) % NBLK;
		prep(&sqe, IO_OP_READ, fd, buf + i * BLK, BLK, (int64_t)(blocks[i] * BLK),
		     CLOCKS_NEVER, i);
		push_sqe(ring, &sqe);
	}
	EXPECT_EQ(submit_all(ring, QD, cq), QD, "%u O_DIRECT READs of random blocks in one enter", QD);
	for (unsigned i = 0; i < QD; i++) {
		const cqe_t *c = find_cqe(cq, QD, i);
		bool ok = c && c->error == 0 && c->_result == BLK;

		for (size_t k = 0; ok && k < BLK; k++)
			ok = buf[i * BLK + k] == pattern(blocks[i], k);
		good += ok;
	}
	tap_ok(good == QD, "each read its block: %u of %u", good, QD);
	free(buf);
}

/* WRITEs, read back with pread(2) through O_DIRECT. 2 tests */
static void writes_read_back(ioring_t *ring, int fd)
{
	unsigned char *w = aligned(8 * BLK), *r = aligned(BLK);
	cqe_t cq[8];
	unsigned good = 0, back = 0;
	sqe_t sqe;

	for (unsigned i = 0; i < 8; i++) {
		memset(w + i * BLK, 0xa0 + i, BLK);
		prep(&sqe, IO_OP_WRITE, fd, w + i * BLK, BLK, (int64_t)((100 + 3 * i) * BLK),
		     CLOCKS_NEVER, i);
		push_sqe(ring, &sqe);
	}
	EXPECT_EQ(submit_all(ring, 8, cq), 8, "8 O_DIRECT WRITEs");
	for (unsigned i = 0; i < 8; i++) {
		const cqe_t *c = find_cqe(cq, 8, i);

		good += c && c->error == 0 && c->_result == BLK;
		back += pread(fd, r, BLK, (off_t)((100 + 3 * i) * BLK)) == BLK && all_bytes(r, BLK, 0xa0 + i);
	}
	tap_ok(good == 8 && back == 8, "all wrote 4096 bytes (%u) and read back intact (%u)", good, back);
	free(w);
	free(r);
}

/* What O_DIRECT refuses, and the device's end. 12 tests */
static void edges(ioring_t *ring, int fd)
{
	unsigned char *buf = aligned(4 * BLK);
	cqe_t c;
	sqe_t sqe;

	prep(&sqe, IO_OP_READ, fd, buf + 1, BLK, 0, CLOCKS_NEVER, 1);
	tap_ok(run1(ring, &sqe, &c) && expect_err(&c, IO_OP_READ, 1, EINVAL, "misaligned buffer"),
	       "a misaligned buffer is EINVAL, as pread(2) says");
	prep(&sqe, IO_OP_READ, fd, buf, BLK, 100, CLOCKS_NEVER, 2);
	tap_ok(run1(ring, &sqe, &c) && expect_err(&c, IO_OP_READ, 2, EINVAL, "misaligned offset"),
	       "a misaligned offset is EINVAL");
	prep(&sqe, IO_OP_READ, fd, buf, 2 * BLK, DEV_BYTES - BLK, CLOCKS_NEVER, 3);
	tap_ok(run1(ring, &sqe, &c) && expect_io(&c, IO_OP_READ, 3, 0, BLK, "read over the end"),
	       "a READ over the device's end is short: 4096 of 8192");
	prep(&sqe, IO_OP_READ, fd, buf, BLK, DEV_BYTES, CLOCKS_NEVER, 4);
	tap_ok(run1(ring, &sqe, &c) && expect_io(&c, IO_OP_READ, 4, 0, 0, "read at the end"),
	       "a READ at the device's end reads 0");
	prep(&sqe, IO_OP_READ, fd, buf, BLK, 0, 0, 5);
	tap_ok(run1(ring, &sqe, &c) && expect_err(&c, IO_OP_READ, 5, ETIMEDOUT, "timeout 0"),
	       "timeout 0: ETIMEDOUT, nothing submitted");
	lseek(fd, 5 * BLK, SEEK_SET);
	prep(&sqe, IO_OP_READ, fd, buf, BLK, IO_OFF_CUR, CLOCKS_NEVER, 6);
	tap_ok(run1(ring, &sqe, &c) && expect_io(&c, IO_OP_READ, 6, 0, BLK, "IO_OFF_CUR") &&
	       buf[0] == pattern(5, 0) && lseek(fd, 0, SEEK_CUR) == 6 * BLK,
	       "IO_OFF_CUR reads at and advances the file position (the synchronous way)");
	free(buf);
}

static long refcnt(void)
{
	char buf[32] = "";
	int fd = open("/sys/module/pwring/refcnt", O_RDONLY);
	long n = -1;

	if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0)
		n = strtol(buf, NULL, 10);
	if (fd >= 0)
		close(fd);
	return n;
}

/*
 * Close with reads in flight: it returns at once; every request still gets
 * its CQE (done, or ECANCELED) in the mapping, and the module's references
 * go back to where they were. 3 tests
 */
static void close_in_flight(const char *path)
{
	unsigned char *buf = aligned(64 * BLK);
	long ref0 = refcnt(), ref1 = -1;
	unsigned good = 0, tail = 0;
	uint64_t t0, took;
	ioring_t raw;
	sqe_t sqe;
	int dev = raw_open(), dfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC), handle = -1;

	if (dev < 0 || dfd < 0 || raw_setup(dev, &raw, NULL, 64, 64) < 0 ||
	    (handle = raw_lend_worker(dev)) < 0)
		tap_bail("raw setup: %s", strerror(errno));
	for (unsigned i = 0; i < 64; i++) {
		prep(&sqe, IO_OP_READ, dfd, buf + i * BLK, BLK, (int64_t)(i * 5 % NBLK * BLK),
		     CLOCKS_NEVER, i);
		sqe_push(&raw, &sqe);
	}
	EXPECT_EQ(raw_enter(dev, raw.id, 64, 0), 64, "64 O_DIRECT READs on a private device file");
	t0 = now_ns();
	close(dev);
	took = now_ns() - t0;
	for (int i = 0; i < 2000 && (tail = __atomic_load_n(&raw.ctrl->ctail, __ATOMIC_ACQUIRE)) != 64; i++)
		sleep_ns(MS);
	for (unsigned i = 0; i < tail && i < 64; i++) {
		const cqe_t *c = &raw.cqueue[i];

		good += (c->error == 0 && c->_result == BLK) || (c->error == ECANCELED);
	}
	tap_ok(tail == 64 && good == 64 && took < 200 * MS,
	       "close returned in %llu ms; all 64 completed, done or ECANCELED (%u of %u)",
	       (unsigned long long)(took / MS), good, tail);
	/* The ring's mapping and the worker handle hold the module too. */
	munmap(raw.ctrl, ring_bytes(64, 64));
	close(handle);
	for (int i = 0; i < 2000 && (ref1 = refcnt()) != ref0; i++)
		sleep_ns(MS);
	tap_ok(ref0 < 0 || ref1 == ref0, "the module's use count is back (%ld -> %ld)", ref0, ref1);
	close(dfd);
	free(buf);
}

/* Thaws the file system after 5 s unless the test did: enter must not need it. */
struct thaw_guard {
	int dirfd;
	atomic_bool done, fired;
};

static void *thaw_later(void *arg)
{
	struct thaw_guard *g = arg;

	for (int i = 0; i < 500 && !atomic_load(&g->done); i++)
		usleep(10000);
	if (!atomic_load(&g->done)) {
		atomic_store(&g->fired, true);
		ioctl(g->dirfd, FITHAW, 0);
	}
	return NULL;
}

/* O_DIRECT WRITEs of a regular file on ext4, then one while it is frozen. 4 tests */
static void ext4_file(ioring_t *ring)
{
	unsigned char *w = aligned(4 * BLK), *r = aligned(BLK);
	char reason[256], path[PATH_MAX + 8];
	struct thaw_guard g = { .dirfd = -1 };
	unsigned good = 0, back = 0;
	const char *mnt;
	pthread_t th;
	cqe_t cq[4];
	sqe_t sqe;
	int fd;

	mnt = ext4_mount(reason, sizeof(reason));
	if (!mnt) {
		for (int i = 0; i < 4; i++)
			tap_skip(reason, "O_DIRECT on ext4, test %d", i + 1);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/direct", mnt);
	fd = xopen(path, O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC, 0600);
	for (unsigned i = 0; i < 4; i++) {
		memset(w + i * BLK, 0x50 + i, BLK);
		prep(&sqe, IO_OP_WRITE, fd, w + i * BLK, BLK, (int64_t)(i * 2 * BLK), CLOCKS_NEVER, i);
		push_sqe(ring, &sqe);
	}
	EXPECT_EQ(submit_all(ring, 4, cq), 4, "4 O_DIRECT WRITEs of a file on ext4");
	for (unsigned i = 0; i < 4; i++) {
		const cqe_t *c = find_cqe(cq, 4, i);

		good += c->error == 0 && c->_result == BLK;
		back += pread(fd, r, BLK, (off_t)(i * 2 * BLK)) == BLK && all_bytes(r, BLK, 0x50 + i);
	}
	tap_ok(good == 4 && back == 4, "each wrote 4096 bytes (%u) that read back (%u)", good, back);

	/* Frozen: the WRITE is consumed and waits; the thaw lets it complete. */
	g.dirfd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (g.dirfd < 0 || ioctl(g.dirfd, FIFREEZE, 0) < 0) {
		tap_skip(strerror(errno), "FIFREEZE: a WRITE while frozen");
		tap_skip(strerror(errno), "FIFREEZE: the WRITE after the thaw");
		goto close_file;
	}
	pthread_create(&th, NULL, thaw_later, &g);
	memset(w, 0x77, BLK);
	prep(&sqe, IO_OP_WRITE, fd, w, BLK, 64 * BLK, CLOCKS_NEVER, 9);
	push_sqe(ring, &sqe);
	{
		uint64_t n = ioring_enter(ring->id, 1, 0);
		bool fired = atomic_load(&g.fired);

		tap_ok(n == 1 && !fired && pop_cqes(ring, cq, 1) == 0,
		       "frozen: enter consumes the WRITE and returns before the thaw, no CQE yet");
	}
	atomic_store(&g.done, true);
	pthread_join(th, NULL);
	if (!atomic_load(&g.fired))
		ioctl(g.dirfd, FITHAW, 0);
	{
		size_t got = 0;

		while (got < 1 && ioring_enter(ring->id, 0, 1) != ERR)
			got += pop_cqes(ring, cq, 1);
		tap_ok(got == 1 && cq[0].error == 0 && cq[0]._result == BLK &&
		       pread(fd, r, BLK, 64 * BLK) == BLK && all_bytes(r, BLK, 0x77),
		       "thawed: the WRITE completes and its block reads back");
	}
close_file:
	if (g.dirfd >= 0)
		close(g.dirfd);
	close(fd);
	ext4_umount(mnt);
out:
	free(w);
	free(r);
}

int main(void)
{
	char path[64];
	ioring_t ring;
	int lfd, fd;

	require_device();
	io_init();
	lfd = loop_attach(path, sizeof(path));
	if (lfd < 0)
		tap_skip_all("no loop device in this kernel");
	tap_plan(1 + 2 + 2 + 12 + 3 + 4);
	fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		tap_bail("open %s O_DIRECT: %s", path, strerror(errno));
	EXPECT_EQ(ioring_setup(&ring, NULL, 64, 64), 0, "ring");
	section("random reads", 60);
	random_reads(&ring, fd);
	section("writes", 60);
	writes_read_back(&ring, fd);
	section("edges", 60);
	edges(&ring, fd);
	section("close in flight", 60);
	close_in_flight(path);
	section("a file on ext4", 60);
	ext4_file(&ring);
	ioring_teardown(ring.id);
	close(fd);
	ioctl(lfd, LOOP_CLR_FD, 0);
	close(lfd);
	unlink(img);
	return tap_done();
}
