// SPDX-License-Identifier: MIT
/*
 * buffered: READs of a file on ext4 whose pages are not in the page cache
 * wait for the pages asynchronously (IOCB_WAITQ) and go on in the
 * submitter's context when they are in, instead of a worker blocking per
 * request. Random 4 KiB reads of a cold 2 MiB file in one enter return the
 * file's bytes; reads over the end are short; a timeout while a page is
 * read in still completes; and the same reads served from the cache
 * complete during enter.
 */
#include "common.h"
#include "io.h"

#define BLK	4096u
#define NBLK	512u
#define QD	32u

static unsigned char byte_at(uint64_t off)
{
	return (unsigned char)(off / BLK * 13 + off % 251);
}

static bool make_file(const char *path)
{
	static unsigned char blk[BLK];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		return false;
	for (uint64_t b = 0; b < NBLK; b++) {
		for (size_t i = 0; i < BLK; i++)
			blk[i] = byte_at(b * BLK + i);
		if (write(fd, blk, BLK) != BLK)
			return false;
	}
	fsync(fd);
	close(fd);
	return true;
}

/* Out of the page cache, so that the reads must wait for the disk. */
static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "3", 1) != 1)
			tap_diag("drop_caches: %s", strerror(errno));
		close(fd);
	}
}

/* QD reads of random blocks in one enter; true if each has its block's bytes. */
static unsigned random_reads(ioring_t *ring, int fd, clock_t timeout, unsigned *timed_out)
{
	static unsigned char buf[QD][BLK];
	uint64_t blocks[QD], seed = 0xb0f;
	unsigned good = 0;
	cqe_t cq[QD];
	sqe_t sqe;

	*timed_out = 0;
	for (unsigned i = 0; i < QD; i++) {
		blocks[i] = rng_next(&seed) % NBLK;
		sqe_prep_read(&sqe, fd, buf[i], BLK, (int64_t)(blocks[i] * BLK), timeout, ptr_of(i));
		push_sqe(ring, &sqe);
	}
	if (submit_all(ring, QD, cq) != QD)
		return 0;
	for (unsigned i = 0; i < QD; i++) {
		const cqe_t *c = find_cqe(cq, QD, i);
		bool ok = c && c->error == 0 && c->_result == BLK;

		if (c && c->error == ETIMEDOUT)
			(*timed_out)++;
		for (size_t k = 0; ok && k < BLK; k++)
			ok = buf[i][k] == byte_at(blocks[i] * BLK + k);
		good += ok;
	}
	return good;
}

int main(void)
{
	char reason[256], path[PATH_MAX + 8];
	const char *mnt;
	unsigned char tail[2 * BLK];
	unsigned good, timed_out;
	bool ran;
	ioring_t ring;
	cqe_t c = { 0 };
	sqe_t sqe;
	int fd;

	io_init();
	mnt = ext4_mount(reason, sizeof(reason));
	if (!mnt)
		tap_skip_all(reason);
	tap_plan(6);
	snprintf(path, sizeof(path), "%s/cold", mnt);
	if (!make_file(path))
		tap_bail("cannot write %s: %s", path, strerror(errno));
	EXPECT_EQ(ioring_setup(&ring, NULL, 64, 64), 0, "ring");
	fd = xopen(path, O_RDONLY, 0);

	section("cold reads", 60);
	drop_caches();
	good = random_reads(&ring, fd, CLOCKS_NEVER, &timed_out);
	tap_ok(good == QD, "%u READs of a cold file in one enter: each has its block (%u)", QD, good);

	section("cached reads", 60);
	good = random_reads(&ring, fd, 0, &timed_out);
	tap_ok(good == QD, "the same reads from the page cache complete during enter (timeout 0): %u",
	       good);

	section("over the end", 30);
	drop_caches();
	sqe_prep_read(&sqe, fd, tail, sizeof(tail), (int64_t)((NBLK - 1) * BLK), CLOCKS_NEVER,
		      ptr_of(9));
	ran = run1(&ring, &sqe, &c);
	tap_ok(ran && c.error == 0 && c._result == BLK && tail[0] == byte_at((NBLK - 1) * BLK),
	       "a cold READ over the end of the file is short: %llu of %u",
	       (unsigned long long)c._result, 2 * BLK);

	section("timeouts", 60);
	drop_caches();
	good = random_reads(&ring, fd, 1 * NSEC_PER_MSEC, &timed_out);
	tap_ok(good + timed_out == QD, "cold READs with 1 ms timeouts: each has its block or "
	       "ETIMEDOUT (%u + %u)", good, timed_out);
	close(fd);
	EXPECT_EQ(ioring_teardown(ring.id), 0, "teardown");
	ext4_umount(mnt);
	return tap_done();
}
