// SPDX-License-Identifier: MIT
/*
 * cp - copy a file through the ring, keeping several requests in flight.
 *
 * The file is cut into blocks of 64 KiB. Each of 8 slots owns a buffer and
 * copies one block at a time: a READ at the block's offset, then a WRITE of
 * what was read at the same offset. The slots run independently, so up to 8
 * requests are in flight at once, and blocks may finish in any order: every
 * request names its offset explicitly and none uses the file position.
 * A READ may return less than asked (a short read): the slot writes what it
 * got and reads the rest. A WRITE may write less than asked: the slot writes
 * the rest. A READ returning 0 means the source ended early (it shrank while
 * being copied); the copy is then cut there.
 *
 * Usage: cp SRC DST   copy SRC to DST (created or truncated, SRC's mode)
 *        cp           demonstration: copy a generated 3 MiB file in /tmp,
 *                     compare the copy, print what happened
 * Exit status 0 on success, 1 on failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/ioring.h>

#define SLOTS 8
#define BLOCK (64 * 1024)

enum state { IDLE, READING, WRITING };

struct slot {
	enum state state;
	off_t off;       /* the block's offset in both files */
	size_t len;      /* the block's length */
	size_t got;      /* bytes of the block read so far */
	size_t put;      /* bytes of the block written so far */
	unsigned char buf[BLOCK];
};

struct stats {
	size_t blocks, reads, writes, short_reads, short_writes, peak;
};

static struct slot slots[SLOTS];

/* Queue a READ or WRITE for slot i; `data` tells the completion which slot it was. */
static void queue(ioring_t *ring, int i, io_op_t op, int fd, size_t *inflight)
{
	struct slot *s = &slots[i];
	sqe_t sqe;

	if (op == IO_OP_READ)
		sqe_prep_read(&sqe, fd, s->buf + s->got, s->len - s->got, s->off + (off_t)s->got,
			      CLOCKS_NEVER, (void *)(uintptr_t)i);
	else
		sqe_prep_write(&sqe, fd, s->buf + s->put, s->got - s->put, s->off + (off_t)s->put,
			       CLOCKS_NEVER, (void *)(uintptr_t)i);
	sqe_push(ring, &sqe); /* never full: at most one request per slot */
	s->state = op == IO_OP_READ ? READING : WRITING;
	(*inflight)++;
}

static int copy(const char *src, const char *dst, struct stats *st)
{
	off_t size, next = 0, end;
	size_t inflight = 0, queued = 0;
	struct stat sb;
	ioring_t ring;
	int in, out, i, rc = 1;
	cqe_t cqe;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &sb) < 0) {
		fprintf(stderr, "cp: %s: %s\n", src, strerror(errno));
		return 1;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, sb.st_mode & 0777);
	if (out < 0) {
		fprintf(stderr, "cp: %s: %s\n", dst, strerror(errno));
		close(in);
		return 1;
	}
	if (ioring_setup(&ring, NULL, SLOTS, SLOTS) == ERR) {
		fprintf(stderr, "cp: ioring_setup: %s\n", strerror(errno));
		goto out;
	}
	size = end = sb.st_size;

	for (;;) {
		/* Give every idle slot the next block, as long as there is one. */
		for (i = 0; i < SLOTS; i++) {
			struct slot *s = &slots[i];

			if (s->state != IDLE || next >= end)
				continue;
			s->off = next;
			s->len = (size_t)(end - next < BLOCK ? end - next : BLOCK);
			s->got = s->put = 0;
			next += (off_t)s->len;
			st->blocks++;
			queue(&ring, i, IO_OP_READ, in, &inflight);
			st->reads++;
			queued++;
		}
		if (inflight == 0)
			break; /* every block copied */
		if (inflight > st->peak)
			st->peak = inflight;

		/* Submit what was queued and wait for at least one completion. */
		if (ioring_enter(ring.id, queued, 1) == ERR && errno != EINTR) {
			fprintf(stderr, "cp: ioring_enter: %s\n", strerror(errno));
			goto out;
		}
		queued = 0;

		while (cqe_pop(&ring, &cqe)) {
			struct slot *s = &slots[(uintptr_t)cqe.data];

			inflight--;
			if (cqe.error) {
				fprintf(stderr, "cp: %s %s at offset %lld: %s\n",
					cqe.op == IO_OP_READ ? "reading" : "writing",
					cqe.op == IO_OP_READ ? src : dst, (long long)s->off,
					strerror(cqe.error));
				goto out;
			}
			if (s->state == READING) {
				if (cqe.count == 0) {
					/* The source ended early: nothing beyond this point. */
					if (s->off + (off_t)s->got < end)
						end = s->off + (off_t)s->got;
				} else if (cqe.count < s->len - s->got) {
					st->short_reads++;
				}
				s->got += cqe.count;
			} else {
				if (cqe.count < s->got - s->put)
					st->short_writes++;
				s->put += cqe.count;
			}
			/* What next for this slot: write what was read, read what is missing. */
			if (s->put < s->got) {
				queue(&ring, (int)(s - slots), IO_OP_WRITE, out, &inflight);
				st->writes++;
				queued++;
			} else if (s->got < s->len && s->off + (off_t)s->got < end) {
				queue(&ring, (int)(s - slots), IO_OP_READ, in, &inflight);
				st->reads++;
				queued++;
			} else {
				s->state = IDLE;
			}
		}
	}
	/* A source that shrank: cut the copy where it ended. */
	if (end < size && ftruncate(out, end) < 0) {
		fprintf(stderr, "cp: %s: %s\n", dst, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (rc == 0 && close(out) < 0) {
		fprintf(stderr, "cp: %s: %s\n", dst, strerror(errno));
		rc = 1;
	} else if (rc) {
		close(out);
	}
	close(in);
	/* On failure requests may still be in flight: exit() closes the device, cancelling them. */
	if (rc == 0)
		ioring_teardown(ring.id);
	return rc;
}

/* The demonstration: generate a file, copy it, compare. */
static int demo(void)
{
	const char *src = "/tmp/pwring-cp-demo.src", *dst = "/tmp/pwring-cp-demo.dst";
	const size_t len = 3 * 1024 * 1024 + 12345; /* not a whole number of blocks */
	unsigned char *a = malloc(len), *b = malloc(len + 1);
	struct stats st = { 0 };
	uint64_t x = 0x2545f4914f6cdd1dull;
	size_t i;
	ssize_t n;
	int fd, rc;

	if (!a || !b)
		return 1;
	for (i = 0; i < len; i++) { /* xorshift: reproducible "random" bytes */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		a[i] = (unsigned char)x;
	}
	fd = open(src, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, a, len) != (ssize_t)len || close(fd) < 0) {
		fprintf(stderr, "cp: cannot create %s: %s\n", src, strerror(errno));
		return 1;
	}
	printf("cp: copying %s (%zu bytes) to %s\n", src, len, dst);
	rc = copy(src, dst, &st);
	printf("cp: %zu blocks of %d KiB, %zu READs and %zu WRITEs, up to %zu in flight "
	       "(of %d slots), %zu short reads, %zu short writes\n",
	       st.blocks, BLOCK / 1024, st.reads, st.writes, st.peak, SLOTS, st.short_reads,
	       st.short_writes);
	fd = open(dst, O_RDONLY | O_CLOEXEC);
	n = 0;
	if (fd >= 0) {
		ssize_t r;

		while ((r = read(fd, b + n, len + 1 - (size_t)n)) > 0)
			n += r;
		close(fd);
	}
	if (rc == 0 && n == (ssize_t)len && !memcmp(a, b, len)) {
		printf("cp: the copy is identical to the source\n");
	} else {
		printf("cp: FAILED: the copy differs (%zd bytes, copy status %d)\n", n, rc);
		rc = 1;
	}
	unlink(src);
	unlink(dst);
	free(a);
	free(b);
	return rc;
}

int main(int argc, char **argv)
{
	struct stats st = { 0 };

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 1)
		return demo();
	if (argc != 3) {
		fprintf(stderr, "usage: cp SRC DST\n       cp          (a demonstration)\n");
		return 1;
	}
	return copy(argv[1], argv[2], &st);
}
