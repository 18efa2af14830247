// SPDX-License-Identifier: MIT
/*
 * pwring-bench: the same workloads through pwring (<sys/ioring.h>), through
 * io_uring (liburing) and through plain system calls, interleaved in one
 * process so that noise hits all of them alike.
 *
 * Workloads (rows of the summary; docs/performance.md explains each):
 *   nop_b{1,8,32,128}   empty requests, a batch per enter, submit+wait in one call
 *   read4k_qd{1,32}     4 KiB reads at random offsets of a tmpfs file
 *   pingpong_p{50,99}   pipe round trip between two threads, POLL+READ
 *   timer{100us,1ms}_p{50,99}  lateness of a timeout
 *   chain_rw            file -> pipe copy, each WRITE sends what its READ got
 *   setup_teardown      ring setup + teardown (256/256)
 * plus the pages a 256/256 ring maps. With --storage, instead (the third
 * column is then the best conventional way: libaio, pread(2) or epoll):
 *   direct_rand{read,write}4k_qd{1,32,128}_{nullb,nvme}  O_DIRECT on a block device
 *   chain_rw_{nullb,nvme}   device -> device copy, READ's count into the WRITE
 *   buffered_randread4k_cold_qd32   cold page cache, a file on ext4
 *   tcp_echo_c64{,_p99}     64 loopback connections served by one thread
 *
 * Method: each workload warms up (and calibrates the iteration count of
 * throughput runs to --budget-ms) once per method, then runs --reps
 * repetitions; repetition r runs the methods in the order rotated by r. A
 * figure is the median over the repetitions, with min..max; the ratio is
 * pwring's advantage (throughput pwring/io_uring, latency io_uring/pwring).
 *
 * Runs unchanged on any Linux with /dev/pwring (the pwring module) loaded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <libaio.h>
#include <liburing.h>
#include <linux/fs.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioring.h>
#include <sys/socket.h>

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

#define PAGE 4096u
#define RING_ENTRIES 256u
#define MAX_REPS 101
#define READ_SIZE 4096u
#define CHUNK (64u * 1024u)	/* chain_rw: bytes per READ/WRITE pair */
#define PAIRS 4u		/* chain_rw: pairs per enter */
#define PIPE_CAP (1024u * 1024u)	/* chain_rw: pipe size (F_SETPIPE_SZ) */
#define NOFF 65536u		/* random offsets, cycled */

enum { M_PW, M_UR, M_SYS, NMETH };
static const char *const meth_name[NMETH] = {"pwring", "io_uring", "syscalls"};

/* ---- options ------------------------------------------------------------------ */

static struct {
	bool quick, machine, verbose, storage;
	int reps;
	double budget_ms;
	const char *csv, *detail, *only, *dir, *label, *method;
	const char *nullb, *nvme, *ext4_dir;
	long pp_samples, t100_samples, t1ms_samples;
	size_t read_file, chain_bytes;
	size_t dev_region, dchain_bytes, cold_file;
	long cold_ops, tcp_reqs;
} opt;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pwring-bench [options]\n"
		"  Runs the same workloads through pwring, io_uring and plain system calls,\n"
		"  interleaved, and prints a table (median [min..max] over repetitions).\n"
		"  --quick          a few seconds in all: fewer reps, shorter runs, smaller files\n"
		"  --reps N         repetitions per workload (default 7, --quick 3)\n"
		"  --budget-ms MS   length of one throughput run (default 200, --quick 15)\n"
		"  --only LIST      comma-separated workload names or prefixes (e.g. nop,timer1ms);\n"
		"                   'breakdown' runs only the cost breakdown of one round trip\n"
		"  --csv FILE       write the summary CSV (workload,kernel,metric,pwring,io_uring,\n"
		"                   syscalls,ratio)\n"
		"  --detail FILE    write every repetition of every method (CSV)\n"
		"  --dir DIR        where the test file lives (default $TMPDIR or /tmp; use tmpfs)\n"
		"  --label NAME     kernel column of the CSV (default: major.minor of uname -r)\n"
		"  --storage        the storage and server rows instead of the default ones\n"
		"                   (direct I/O, device copy, cold buffered reads, TCP echo)\n"
		"  --nullb DEV      block device of the *_nullb rows (null_blk), O_DIRECT\n"
		"  --nvme DEV       block device of the *_nvme rows, O_DIRECT; both are written\n"
		"                   to (the first 256 MiB, and chain_rw_* a region at 512 MiB)\n"
		"  --ext4-dir DIR   where buffered_randread4k_cold_qd32 puts its file (ext4\n"
		"                   on a real device; the run drops the page cache: root)\n"
		"  --machine        also print @@BENCH lines for scripts/bench\n"
		"  --method NAME    run only NAME (pwring, io_uring or syscalls), e.g. under perf\n"
		"  -v, --verbose    progress on stderr\n"
		"  -h, --help       this text\n"
		"Environment: PWRING_BENCH_URING_RW set: tcp_echo's io_uring server uses READ\n"
		"  and WRITE (what pwring's READ and WRITE do: read(2)/write(2), with their\n"
		"  file permission hook) instead of RECV and SEND.\n");
}

/* ---- small helpers ------------------------------------------------------------- */

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static const char *cur_bench = "";
static const char *cur_meth = "";

static int failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int failf(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pwring-bench: %s/%s: ", cur_bench, cur_meth);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pwring-bench: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xalloc_pages(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		       -1, 0);

	if (p == MAP_FAILED)
		die("mmap %zu bytes: %s", bytes, strerror(errno));
	memset(p, 0, bytes);
	return p;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples. */
static uint64_t pct_u64(const uint64_t *s, size_t n, double p)
{
	size_t k = (size_t)ceil(p * (double)n);

	return s[k ? k - 1 : 0];
}

static double median_dbl(const double *v, int n)
{
	double s[MAX_REPS];

	if (n <= 0)
		return NAN;
	memcpy(s, v, sizeof(double) * (size_t)n);
	qsort(s, (size_t)n, sizeof(double), cmp_dbl);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* The test file's contents: a word per 8 bytes, from its offset. */
static inline uint64_t pattern_word(uint64_t off)
{
	return (off * 0x9e3779b97f4a7c15ull) ^ 0x5bd1e9955bd1e995ull;
}

static bool pattern_check(const uint8_t *buf, uint64_t pos, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t p = pos + i, w = pattern_word(p & ~7ull);

		if (buf[i] != (uint8_t)(w >> ((p & 7) * 8)))
			return false;
	}
	return true;
}

/* ---- system-wide counters (context switches, busy CPU time) ---------------------- */

struct sysstat {
	uint64_t ctxt;
	uint64_t busy_ticks;
};

static long clk_tck = 100;

static void sysstat_read(struct sysstat *s)
{
	char line[512];
	FILE *f = fopen("/proc/stat", "r");

	memset(s, 0, sizeof(*s));
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v[10] = {0};

		if (!strncmp(line, "cpu ", 4)) {
			sscanf(line + 4, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
			       &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
			/* user nice system idle iowait irq softirq steal: all but idle, iowait */
			s->busy_ticks = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
		} else if (!strncmp(line, "ctxt ", 5)) {
			s->ctxt = strtoull(line + 5, NULL, 10);
		}
	}
	fclose(f);
}

/* ---- the rings and files shared by the workloads -------------------------------- */

static bool have[NMETH];
static ioring_t pwA, pwB;		/* pwring: main thread, second thread */
static struct io_uring urA, urB;	/* io_uring: main thread, second thread */
static int data_fd = -1;
static char data_path[512];
static uint64_t *offsets;		/* random 4 KiB aligned offsets in the file */
static uint8_t *bufs;			/* 32 read buffers, or PAIRS chain buffers */
static bool verify;			/* warm-up runs check the data they move */

/* ---- rows of the summary ----------------------------------------------------------- */

enum { HIGHER, LOWER };

struct row {
	const char *name, *metric;
	int better;
	bool has[NMETH];
	double v[NMETH][MAX_REPS];
	double cs[NMETH][MAX_REPS];	/* context switches per op (system-wide) */
	double cpu[NMETH][MAX_REPS];	/* busy CPU µs per op (all CPUs) */
	int n[NMETH];
	bool ran, failed[NMETH];
};

enum {
	R_NOP1, R_NOP8, R_NOP32, R_NOP128, R_RD1, R_RD32, R_PP50, R_PP99, R_T100_50, R_T100_99,
	R_T1M_50, R_T1M_99, R_CHAIN, R_SETUP,
	/* --storage: per device (nullb, nvme) the same four direct rows, then the rest */
	R_D_NB, R_D_NB_END = R_D_NB + 3, R_D_NV, R_D_NV_END = R_D_NV + 3,
	R_DCH_NB, R_DCH_NV, R_BCOLD, R_TCP, R_TCP99, NROWS
};

#define ALL3 {true, true, true}
#define NOSYS {true, true, false}
static struct row rows[NROWS] = {
	[R_NOP1] = {"nop_b1", "ops/s", HIGHER, ALL3},
	[R_NOP8] = {"nop_b8", "ops/s", HIGHER, ALL3},
	[R_NOP32] = {"nop_b32", "ops/s", HIGHER, ALL3},
	[R_NOP128] = {"nop_b128", "ops/s", HIGHER, ALL3},
	[R_RD1] = {"read4k_qd1", "ops/s", HIGHER, ALL3},
	[R_RD32] = {"read4k_qd32", "ops/s", HIGHER, ALL3},
	[R_PP50] = {"pingpong_p50", "rtt_us", LOWER, ALL3},
	[R_PP99] = {"pingpong_p99", "rtt_us", LOWER, ALL3},
	[R_T100_50] = {"timer100us_p50", "late_us", LOWER, ALL3},
	[R_T100_99] = {"timer100us_p99", "late_us", LOWER, ALL3},
	[R_T1M_50] = {"timer1ms_p50", "late_us", LOWER, ALL3},
	[R_T1M_99] = {"timer1ms_p99", "late_us", LOWER, ALL3},
	[R_CHAIN] = {"chain_rw", "MiB/s", HIGHER, ALL3},
	[R_SETUP] = {"setup_teardown", "rings/s", HIGHER, NOSYS},
	[R_D_NB + 0] = {"direct_randread4k_qd1_nullb", "ops/s", HIGHER, ALL3},
	[R_D_NB + 1] = {"direct_randread4k_qd32_nullb", "ops/s", HIGHER, ALL3},
	[R_D_NB + 2] = {"direct_randread4k_qd128_nullb", "ops/s", HIGHER, ALL3},
	[R_D_NB + 3] = {"direct_randwrite4k_qd32_nullb", "ops/s", HIGHER, ALL3},
	[R_D_NV + 0] = {"direct_randread4k_qd1_nvme", "ops/s", HIGHER, ALL3},
	[R_D_NV + 1] = {"direct_randread4k_qd32_nvme", "ops/s", HIGHER, ALL3},
	[R_D_NV + 2] = {"direct_randread4k_qd128_nvme", "ops/s", HIGHER, ALL3},
	[R_D_NV + 3] = {"direct_randwrite4k_qd32_nvme", "ops/s", HIGHER, ALL3},
	[R_DCH_NB] = {"chain_rw_nullb", "MiB/s", HIGHER, ALL3},
	[R_DCH_NV] = {"chain_rw_nvme", "MiB/s", HIGHER, ALL3},
	[R_BCOLD] = {"buffered_randread4k_cold_qd32", "ops/s", HIGHER, ALL3},
	[R_TCP] = {"tcp_echo_c64", "req/s", HIGHER, ALL3},
	[R_TCP99] = {"tcp_echo_c64_p99", "rtt_us", LOWER, ALL3},
};

/* What the syscalls column measures, per row. */
static const char *const sys_what[NROWS] = {
	[R_NOP1] = "getppid(2) per op", [R_NOP8] = "getppid(2) per op",
	[R_NOP32] = "getppid(2) per op", [R_NOP128] = "getppid(2) per op",
	[R_RD1] = "pread(2)", [R_RD32] = "pread(2), one at a time",
	[R_PP50] = "poll(2)+read(2)", [R_PP99] = "poll(2)+read(2)",
	[R_T100_50] = "clock_nanosleep(2)", [R_T100_99] = "clock_nanosleep(2)",
	[R_T1M_50] = "clock_nanosleep(2)", [R_T1M_99] = "clock_nanosleep(2)",
	[R_CHAIN] = "pread(2)+write(2)",
	[R_D_NB + 0] = "libaio io_submit/io_getevents", [R_D_NB + 1] = "libaio io_submit/io_getevents",
	[R_D_NB + 2] = "libaio io_submit/io_getevents", [R_D_NB + 3] = "libaio io_submit/io_getevents",
	[R_D_NV + 0] = "libaio io_submit/io_getevents", [R_D_NV + 1] = "libaio io_submit/io_getevents",
	[R_D_NV + 2] = "libaio io_submit/io_getevents", [R_D_NV + 3] = "libaio io_submit/io_getevents",
	[R_DCH_NB] = "libaio: READs, io_getevents, then WRITEs of their counts",
	[R_DCH_NV] = "libaio: READs, io_getevents, then WRITEs of their counts",
	[R_BCOLD] = "pread(2), one at a time",
	[R_TCP] = "epoll_wait(2) + read(2)/write(2)", [R_TCP99] = "epoll_wait(2) + read(2)/write(2)",
};

/* ---- workload runners: 0 or -1; out[] gets one value per row of the bench ---------- */

struct bench;
typedef int (*run_fn)(const struct bench *b, int m, long iters, double *out, long *ops);

struct bench {
	const char *name;
	int row[2], nrows;
	bool calibrated;	/* throughput: iterations scaled to the time budget */
	long arg;
	run_fn run;
	long iters[NMETH];
	/* --storage rows */
	bool storage;
	int dev;		/* D_NULLB, D_NVME, or -1 */
	bool write;		/* direct rows: WRITE instead of READ */
	void (*prep)(const struct bench *b);	/* before each run, untimed, uncounted */
};

static double secs(uint64_t t0, uint64_t t1)
{
	return (double)(t1 - t0) / 1e9;
}

/*
 * ioring_enter(id, submit, wait), then make sure `wait` CQEs are there: a
 * wait that a signal or task work cut short is resumed with a wait-only
 * enter (amount 0), as a careful program would.
 */
static int pw_enter(ioring_t *r, unsigned submit, unsigned wait)
{
	uint64_t k;

	do
		k = ioring_enter(r->id, submit, wait);
	while (k == ERR && errno == EINTR);
	if (k != submit)
		return failf("ioring_enter(%u, %u): %s (%llu)", submit, wait,
			     k == ERR ? strerror(errno) : "short", (unsigned long long)k);
	while (ioring_cq_ready(r) < wait)
		if (ioring_enter(r->id, 0, wait) == ERR && errno != EINTR)
			return failf("ioring_enter(0, %u): %s", wait, strerror(errno));
	return 0;
}

/* 1. Empty requests: a batch per enter, submitted and waited for in one call. */
static int run_nop(const struct bench *b, int m, long iters, double *out, long *ops)
{
	const unsigned batch = (unsigned)b->arg;
	uint64_t t0 = now_ns();

	if (m == M_PW) {
		sqe_t s;
		cqe_t c;

		sqe_prep_nop(&s, 0, NULL);	/* timeout 0: completes at once, ETIMEDOUT */
		for (long i = 0; i < iters; i++) {
			for (unsigned j = 0; j < batch; j++)
				sqe_push(&pwA, &s);
			if (pw_enter(&pwA, batch, batch))
				return -1;
			for (unsigned j = 0; j < batch; j++)
				if (!cqe_pop(&pwA, &c) || c.error != ETIMEDOUT)
					return failf("CQE %u: missing or error %d", j, c.error);
		}
	} else if (m == M_UR) {
		for (long i = 0; i < iters; i++) {
			struct io_uring_cqe *cqe;
			unsigned head, n = 0;
			bool bad = false;

			for (unsigned j = 0; j < batch; j++)
				io_uring_prep_nop(io_uring_get_sqe(&urA));
			int k = io_uring_submit_and_wait(&urA, batch);

			if (k != (int)batch)
				return failf("io_uring_submit_and_wait: %d", k);
			io_uring_for_each_cqe(&urA, head, cqe) {
				bad |= cqe->res != 0;
				n++;
			}
			io_uring_cq_advance(&urA, n);
			if (n != batch || bad)
				return failf("%u CQEs of %u, bad %d", n, batch, bad);
		}
	} else {
		for (long i = 0; i < iters; i++)
			for (unsigned j = 0; j < batch; j++)
				syscall(SYS_getppid);
	}
	*ops = iters * (long)batch;
	out[0] = (double)*ops / secs(t0, now_ns());
	return 0;
}

/* 2. 4 KiB reads at random offsets, queue depth 1 or 32. */
static int check_read(uint64_t off, const uint8_t *buf, long res)
{
	if (res != READ_SIZE)
		return failf("read at %llu: %ld", (unsigned long long)off, res);
	if (verify && !pattern_check(buf, off, READ_SIZE))
		return failf("read at %llu: wrong data", (unsigned long long)off);
	return 0;
}

static int run_read(const struct bench *b, int m, long iters, double *out, long *ops)
{
	const unsigned qd = (unsigned)b->arg;
	unsigned freel[32], nfree = qd;
	uint64_t slot_off[32];
	long sub = 0, done = 0;
	unsigned inflight = 0;
	uint64_t t0;

	for (unsigned i = 0; i < qd; i++)
		freel[i] = i;
	t0 = now_ns();
	if (m == M_SYS) {
		for (long i = 0; i < iters; i++) {
			uint64_t off = offsets[i % NOFF];
			ssize_t r = pread(data_fd, bufs, READ_SIZE, (off_t)off);

			if (check_read(off, bufs, r))
				return -1;
		}
	} else if (m == M_PW) {
		while (done < iters) {
			unsigned pending = 0;
			sqe_t s;
			cqe_t c;

			while (inflight < qd && sub < iters) {
				unsigned slot = freel[--nfree];

				slot_off[slot] = offsets[sub++ % NOFF];
				sqe_prep_read(&s, data_fd, bufs + (size_t)slot * READ_SIZE, READ_SIZE,
					      (ssize_t)slot_off[slot], CLOCKS_NEVER,
					      (void *)(uintptr_t)slot);
				sqe_push(&pwA, &s);
				inflight++;
				pending++;
			}
			if (pw_enter(&pwA, pending, 1))
				return -1;
			while (cqe_pop(&pwA, &c)) {
				unsigned slot = (unsigned)(uintptr_t)c.data;

				if (check_read(slot_off[slot], bufs + (size_t)slot * READ_SIZE,
					       c.error ? -c.error : (long)c.count))
					return -1;
				freel[nfree++] = slot;
				inflight--;
				done++;
			}
		}
	} else {
		while (done < iters) {
			struct io_uring_cqe *cqe;
			unsigned head, n = 0;
			int bad = 0;

			while (inflight < qd && sub < iters) {
				unsigned slot = freel[--nfree];
				struct io_uring_sqe *sqe = io_uring_get_sqe(&urA);

				slot_off[slot] = offsets[sub++ % NOFF];
				io_uring_prep_read(sqe, data_fd, bufs + (size_t)slot * READ_SIZE, READ_SIZE,
						   slot_off[slot]);
				io_uring_sqe_set_data64(sqe, slot);
				inflight++;
			}
			int k = io_uring_submit_and_wait(&urA, 1);

			if (k < 0)
				return failf("io_uring_submit_and_wait: %s", strerror(-k));
			io_uring_for_each_cqe(&urA, head, cqe) {
				unsigned slot = (unsigned)cqe->user_data;

				if (!bad)
					bad = check_read(slot_off[slot], bufs + (size_t)slot * READ_SIZE,
							 cqe->res);
				freel[nfree++] = slot;
				inflight--;
				done++;
				n++;
			}
			io_uring_cq_advance(&urA, n);
			if (bad)
				return -1;
		}
	}
	*ops = iters;
	out[0] = (double)iters / secs(t0, now_ns());
	return 0;
}

/* 3. Pipe ping-pong between two threads: wait for readability, read one byte. */
static int recv1(int m, int fd, char *c, ioring_t *pw, struct io_uring *ur)
{
	if (m == M_PW) {
		sqe_t s[2];
		cqe_t q[2];

		sqe_prep_poll(&s[0], fd, IO_POLL_READ, CLOCKS_NEVER, NULL);
		sqe_set_link(&s[0]);
		sqe_prep_read(&s[1], fd, c, 1, IO_OFF_CUR, CLOCKS_NEVER, NULL);
		sqe_push(pw, &s[0]);
		sqe_push(pw, &s[1]);
		if (pw_enter(pw, 2, 2))
			return -1;
		if (!cqe_pop(pw, &q[0]) || !cqe_pop(pw, &q[1]))
			return failf("CQEs missing");
		if (q[0].error || !(q[0].events & IO_POLL_READ) || q[1].error || q[1].count != 1)
			return failf("poll %d/%#llx, read %d/%llu", q[0].error,
				     (unsigned long long)q[0].events, q[1].error,
				     (unsigned long long)q[1].count);
	} else if (m == M_UR) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ur);
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		int res[2] = {0, 0};

		io_uring_prep_poll_add(sqe, fd, POLLIN);
		sqe->flags |= IOSQE_IO_LINK;
		io_uring_sqe_set_data64(sqe, 0);
		sqe = io_uring_get_sqe(ur);
		io_uring_prep_read(sqe, fd, c, 1, (uint64_t)-1);
		io_uring_sqe_set_data64(sqe, 1);
		int k = io_uring_submit_and_wait(ur, 2);

		if (k != 2)
			return failf("io_uring_submit_and_wait: %d", k);
		io_uring_for_each_cqe(ur, head, cqe) {
			res[cqe->user_data & 1] = cqe->res;
			n++;
		}
		io_uring_cq_advance(ur, n);
		if (n != 2 || !(res[0] & POLLIN) || res[1] != 1)
			return failf("%u CQEs, poll %d, read %d", n, res[0], res[1]);
	} else {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		if (poll(&p, 1, -1) != 1 || !(p.revents & POLLIN))
			return failf("poll: %s", strerror(errno));
		if (read(fd, c, 1) != 1)
			return failf("read: %s", strerror(errno));
	}
	return 0;
}

struct pp_echo {
	int m, in, out;
	int err;
};

static void *pp_echo_main(void *arg)
{
	struct pp_echo *e = arg;
	char c;

	for (;;) {
		if (recv1(e->m, e->in, &c, &pwB, &urB)) {
			e->err = 1;
			close(e->out);	/* the main thread's wait ends with EOF */
			return NULL;
		}
		if (c == 'q')
			return NULL;
		if (write(e->out, &c, 1) != 1) {
			e->err = 1;
			return NULL;
		}
	}
}

static int run_pingpong(const struct bench *b, int m, long iters, double *out, long *ops)
{
	int p1[2], p2[2], rc = 0;
	struct pp_echo e = {.m = m};
	uint64_t *lat = calloc((size_t)iters, sizeof(*lat));
	pthread_t th;
	char c;

	(void)b;
	if (!lat || pipe(p1) || pipe(p2))
		die("ping-pong setup: %s", strerror(errno));
	e.in = p1[0];
	e.out = p2[1];
	if (pthread_create(&th, NULL, pp_echo_main, &e))
		die("pthread_create");
	for (long i = 0; i < iters && !rc; i++) {
		uint64_t t0 = now_ns();

		if (write(p1[1], "p", 1) != 1) {
			rc = failf("write: %s", strerror(errno));
			break;
		}
		rc = recv1(m, p2[0], &c, &pwA, &urA);
		lat[i] = now_ns() - t0;
	}
	if (write(p1[1], "q", 1) != 1)
		die("ping-pong: cannot stop the echo thread");
	pthread_join(th, NULL);
	if (e.err)
		rc = -1;
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	if (!e.err)
		close(p2[1]);
	if (!rc) {
		qsort(lat, (size_t)iters, sizeof(*lat), cmp_u64);
		out[0] = (double)pct_u64(lat, (size_t)iters, 0.50) / 1e3;
		out[1] = (double)pct_u64(lat, (size_t)iters, 0.99) / 1e3;
	}
	*ops = iters;
	free(lat);
	return rc;
}

/* 4. Timer accuracy: lateness of a timeout of b->arg ns. */
static int run_timer(const struct bench *b, int m, long iters, double *out, long *ops)
{
	const uint64_t ns = (uint64_t)b->arg;
	struct __kernel_timespec kts = {.tv_sec = 0, .tv_nsec = (long long)ns};
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ns};
	uint64_t *late = calloc((size_t)iters, sizeof(*late));
	sqe_t s;
	cqe_t c;

	if (!late)
		die("out of memory");
	sqe_prep_nop(&s, ns, NULL);
	for (long i = 0; i < iters; i++) {
		uint64_t t0, t1;

		if (m == M_PW) {
			sqe_push(&pwA, &s);
			t0 = now_ns();
			int k = pw_enter(&pwA, 1, 1);

			t1 = now_ns();
			if (k || !cqe_pop(&pwA, &c) || c.error != ETIMEDOUT) {
				free(late);
				return k ? -1 : failf("CQE error %d", c.error);
			}
		} else if (m == M_UR) {
			struct io_uring_cqe *cqe;

			io_uring_prep_timeout(io_uring_get_sqe(&urA), &kts, 0, 0);
			t0 = now_ns();
			int k = io_uring_submit_and_wait(&urA, 1);

			t1 = now_ns();
			if (k != 1 || io_uring_peek_cqe(&urA, &cqe) || cqe->res != -ETIME) {
				free(late);
				return failf("submit_and_wait %d", k);
			}
			io_uring_cqe_seen(&urA, cqe);
		} else {
			t0 = now_ns();
			int r = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);

			t1 = now_ns();
			if (r) {
				free(late);
				return failf("clock_nanosleep: %s", strerror(r));
			}
		}
		late[i] = t1 - t0 > ns ? t1 - t0 - ns : 0;
	}
	qsort(late, (size_t)iters, sizeof(*late), cmp_u64);
	out[0] = (double)pct_u64(late, (size_t)iters, 0.50) / 1e3;
	out[1] = (double)pct_u64(late, (size_t)iters, 0.99) / 1e3;
	*ops = iters;
	free(late);
	return 0;
}

/*
 * 5. File -> pipe copy, CHUNK bytes per READ/WRITE pair, PAIRS pairs per
 * batch. Flow control is the same for every method: a batch starts only when
 * the pipe has room for all of it, so no WRITE ever blocks or comes back
 * short and the methods differ only in how they move the data.
 */
struct drain {
	int fd;
	uint64_t total, drained;
	bool waiting, bad;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint8_t *buf;
};

static void *drain_main(void *arg)
{
	struct drain *d = arg;
	uint64_t pos = 0;

	while (pos < d->total) {
		ssize_t n = read(d->fd, d->buf, CHUNK);

		if (n <= 0 || (verify && !pattern_check(d->buf, pos, (size_t)n))) {
			pthread_mutex_lock(&d->mu);
			d->bad = true;
			d->drained = d->total;	/* release the writer */
			pthread_cond_broadcast(&d->cv);
			pthread_mutex_unlock(&d->mu);
			return NULL;
		}
		pos += (uint64_t)n;
		pthread_mutex_lock(&d->mu);
		d->drained = pos;
		if (d->waiting)
			pthread_cond_broadcast(&d->cv);
		pthread_mutex_unlock(&d->mu);
	}
	return NULL;
}

/* Wait until the pipe holds at most `level` bytes; false if the drainer failed. */
static bool drain_wait(struct drain *d, uint64_t written, uint64_t level)
{
	pthread_mutex_lock(&d->mu);
	while (written - d->drained > level && !d->bad) {
		d->waiting = true;
		pthread_cond_wait(&d->cv, &d->mu);
	}
	d->waiting = false;
	pthread_mutex_unlock(&d->mu);
	return !d->bad;
}

static int chain_pw(int pfd, uint64_t total, struct drain *d, uint64_t *written)
{
	for (uint64_t off = 0; off < total; off += (uint64_t)PAIRS * CHUNK) {
		unsigned np = (unsigned)((total - off) / CHUNK < PAIRS ? (total - off) / CHUNK : PAIRS);
		uint64_t got[PAIRS] = {0}, put[PAIRS] = {0};
		sqe_t s;
		cqe_t c;

		if (!drain_wait(d, *written, PIPE_CAP - PAGE - (uint64_t)np * CHUNK))
			return failf("drainer failed");
		/*
		 * One chain: READ_i saves its count into r0, WRITE_i loads its
		 * count from r0; every SQE links to the next, so the pipe sees the
		 * chunks in order.
		 */
		for (unsigned i = 0; i < np; i++) {
			uint8_t *buf = bufs + (size_t)i * CHUNK;

			sqe_prep_read(&s, data_fd, buf, CHUNK, (ssize_t)(off + (uint64_t)i * CHUNK),
				      CLOCKS_NEVER, (void *)(uintptr_t)(2 * i));
			sqe_save_reg(&s, SQE_REG0);
			sqe_set_link(&s);
			sqe_push(&pwA, &s);
			sqe_prep_write(&s, pfd, buf, 0, IO_OFF_CUR, CLOCKS_NEVER,
				       (void *)(uintptr_t)(2 * i + 1));
			sqe_load_reg(&s, SQE_LOAD2, SQE_REG0);
			if (i + 1 < np)
				sqe_set_link(&s);
			sqe_push(&pwA, &s);
		}
		if (pw_enter(&pwA, 2 * np, 2 * np))
			return -1;
		for (unsigned i = 0; i < 2 * np; i++) {
			if (!cqe_pop(&pwA, &c))
				return failf("CQE missing");
			unsigned k = (unsigned)(uintptr_t)c.data;

			if (c.error)
				return failf("%s %u: error %d", k & 1 ? "WRITE" : "READ", k / 2, c.error);
			(k & 1 ? put : got)[k / 2] = c.count;
		}
		for (unsigned i = 0; i < np; i++) {
			if (got[i] != CHUNK || put[i] != got[i])
				return failf("pair %u: read %llu, wrote %llu", i,
					     (unsigned long long)got[i], (unsigned long long)put[i]);
			*written += put[i];
		}
	}
	return 0;
}

static int chain_ur(int pfd, uint64_t total, struct drain *d, uint64_t *written)
{
	for (uint64_t off = 0; off < total; off += (uint64_t)PAIRS * CHUNK) {
		unsigned np = (unsigned)((total - off) / CHUNK < PAIRS ? (total - off) / CHUNK : PAIRS);
		int got[PAIRS] = {0}, put[PAIRS] = {0};
		struct io_uring_cqe *cqe;
		unsigned head, n;

		if (!drain_wait(d, *written, PIPE_CAP - PAGE - (uint64_t)np * CHUNK))
			return failf("drainer failed");
		/* The READs, then the counts they got... */
		for (unsigned i = 0; i < np; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&urA);

			io_uring_prep_read(sqe, data_fd, bufs + (size_t)i * CHUNK, CHUNK,
					   off + (uint64_t)i * CHUNK);
			io_uring_sqe_set_data64(sqe, i);
		}
		if (io_uring_submit_and_wait(&urA, np) != (int)np)
			return failf("submit READs");
		n = 0;
		io_uring_for_each_cqe(&urA, head, cqe) {
			got[cqe->user_data % PAIRS] = cqe->res;
			n++;
		}
		io_uring_cq_advance(&urA, n);
		/* ... then the WRITEs of those counts, linked to keep them in order. */
		for (unsigned i = 0; i < np; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&urA);

			if (got[i] != (int)CHUNK)
				return failf("READ %u: %d", i, got[i]);
			io_uring_prep_write(sqe, pfd, bufs + (size_t)i * CHUNK, (unsigned)got[i],
					    (uint64_t)-1);
			io_uring_sqe_set_data64(sqe, i);
			if (i + 1 < np)
				sqe->flags |= IOSQE_IO_LINK;
		}
		if (io_uring_submit_and_wait(&urA, np) != (int)np)
			return failf("submit WRITEs");
		n = 0;
		io_uring_for_each_cqe(&urA, head, cqe) {
			put[cqe->user_data % PAIRS] = cqe->res;
			n++;
		}
		io_uring_cq_advance(&urA, n);
		for (unsigned i = 0; i < np; i++) {
			if (put[i] != got[i])
				return failf("pair %u: read %d, wrote %d", i, got[i], put[i]);
			*written += (uint64_t)put[i];
		}
	}
	return 0;
}

static int chain_sys(int pfd, uint64_t total, struct drain *d, uint64_t *written)
{
	for (uint64_t off = 0; off < total; off += (uint64_t)PAIRS * CHUNK) {
		unsigned np = (unsigned)((total - off) / CHUNK < PAIRS ? (total - off) / CHUNK : PAIRS);

		if (!drain_wait(d, *written, PIPE_CAP - PAGE - (uint64_t)np * CHUNK))
			return failf("drainer failed");
		for (unsigned i = 0; i < np; i++) {
			ssize_t r = pread(data_fd, bufs, CHUNK, (off_t)(off + (uint64_t)i * CHUNK));
			ssize_t w = r > 0 ? write(pfd, bufs, (size_t)r) : -1;

			if (r != (ssize_t)CHUNK || w != r)
				return failf("pair %u: read %zd, wrote %zd", i, r, w);
			*written += (uint64_t)w;
		}
	}
	return 0;
}

static int run_chain(const struct bench *b, int m, long iters, double *out, long *ops)
{
	const uint64_t total = opt.chain_bytes;
	struct drain d = {.total = total};
	uint64_t written = 0, t0;
	int p[2], rc;
	pthread_t th;

	(void)b;
	(void)iters;
	if (pipe(p))
		die("pipe: %s", strerror(errno));
	if (fcntl(p[1], F_SETPIPE_SZ, PIPE_CAP) < (int)PIPE_CAP)
		die("F_SETPIPE_SZ %u: %s (see /proc/sys/fs/pipe-max-size)", PIPE_CAP,
		    strerror(errno));
	d.fd = p[0];
	d.buf = xalloc_pages(CHUNK);
	pthread_mutex_init(&d.mu, NULL);
	pthread_cond_init(&d.cv, NULL);
	if (pthread_create(&th, NULL, drain_main, &d))
		die("pthread_create");
	t0 = now_ns();
	rc = m == M_PW ? chain_pw(p[1], total, &d, &written)
	     : m == M_UR ? chain_ur(p[1], total, &d, &written)
			 : chain_sys(p[1], total, &d, &written);
	if (rc) {
		close(p[1]);	/* EOF ends the drainer */
		p[1] = -1;
	} else if (!drain_wait(&d, written, 0) || d.bad) {
		rc = failf("the drainer saw wrong data or an early EOF");
	}
	out[0] = (double)total / (1024.0 * 1024.0) / secs(t0, now_ns());
	pthread_join(th, NULL);
	close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	munmap(d.buf, CHUNK);
	*ops = (long)(total / CHUNK);
	return rc;
}

/* 6. Ring setup + teardown, 256 SQEs and 256 CQEs. */
static int run_setup(const struct bench *b, int m, long iters, double *out, long *ops)
{
	uint64_t t0 = now_ns();

	(void)b;
	for (long i = 0; i < iters; i++) {
		if (m == M_PW) {
			ioring_t r;
			ioring_id_t id = ioring_setup(&r, NULL, RING_ENTRIES, RING_ENTRIES);

			if (id == ERR)
				return failf("ioring_setup: %s", strerror(errno));
			if (ioring_teardown(id) == ERR)
				return failf("ioring_teardown: %s", strerror(errno));
		} else {
			struct io_uring r;
			struct io_uring_params p = {.flags = IORING_SETUP_CQSIZE,
						    .cq_entries = RING_ENTRIES};
			int e = io_uring_queue_init_params(RING_ENTRIES, &r, &p);

			if (e < 0)
				return failf("io_uring_queue_init_params: %s", strerror(-e));
			io_uring_queue_exit(&r);
		}
	}
	*ops = iters;
	out[0] = (double)iters / secs(t0, now_ns());
	return 0;
}

/* ---- --storage: block devices, a cold file on ext4, a TCP server ------------------------ */

#define DIO_SIZE 4096u		/* direct rows: bytes per request */
#define DIO_QD_MAX 128u
#define DCHUNK (64u * 1024u)	/* chain_rw_*: bytes per READ/WRITE pair */
#define DPAIRS 4u		/* chain_rw_*: independent pairs in flight (one register each) */
#define DCH_DST (512ull << 20)	/* chain_rw_*: the copy goes to this offset */
#define TCP_CONNS 64
#define TCP_MSG 64		/* tcp_echo: request size */
#define TCP_BUF 512

enum { D_NULLB, D_NVME, NDEV };

static struct dev {
	const char *name;	/* row suffix */
	int fd;			/* O_DIRECT, read-write; -1 if not given */
	uint64_t size;		/* bytes used: the first opt.dev_region */
	uint64_t *offs;		/* NOFF random DIO_SIZE-aligned offsets below size */
} devs[NDEV] = {{"nullb", -1, 0, NULL}, {"nvme", -1, 0, NULL}};

/* The direct rows' DIO_QD_MAX slots, or chain_rw_*'s DPAIRS buffers: page aligned. */
#define DBUFS_BYTES                                                                              \
	((size_t)DIO_QD_MAX * DIO_SIZE > (size_t)DPAIRS * DCHUNK ? (size_t)DIO_QD_MAX * DIO_SIZE   \
								  : (size_t)DPAIRS * DCHUNK)
static uint8_t *dbufs;
static io_context_t aio_ctx;	/* libaio, 256 events */
static int bcold_fd = -1;	/* the ext4 file, buffered */
static uint64_t *bcold_perm;	/* its pages in random order */
static size_t bcold_pages, bcold_next;

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void open_dev(int d, const char *path)
{
	struct dev *v = &devs[d];
	uint64_t bytes = 0, x = 0x9e3779b97f4a7c15ull + (uint64_t)d;

	v->fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (v->fd < 0)
		die("%s: %s", path, strerror(errno));
	if (ioctl(v->fd, BLKGETSIZE64, &bytes))
		die("%s: BLKGETSIZE64: %s (not a block device?)", path, strerror(errno));
	/* The copy rows write from DCH_DST on: they need DCH_DST + the copy. */
	if (bytes < DCH_DST + opt.dchain_bytes)
		die("%s: %llu bytes, need at least %llu", path, (unsigned long long)bytes,
		    (unsigned long long)(DCH_DST + opt.dchain_bytes));
	v->size = bytes < opt.dev_region ? bytes : opt.dev_region;
	v->offs = malloc(NOFF * sizeof(*v->offs));
	if (!v->offs)
		die("out of memory");
	for (unsigned i = 0; i < NOFF; i++)
		v->offs[i] = (xorshift(&x) % (v->size / DIO_SIZE)) * DIO_SIZE;
}

/* The ext4 file: opt.cold_file bytes of pattern_word(), written once and synced. */
static void make_cold_file(const char *dir)
{
	char path[512];
	const size_t step = 1u << 20;
	uint64_t *buf = xalloc_pages(step), x = 0x51afd7ed558ccd1dull;

	snprintf(path, sizeof(path), "%s/pwring-bench-cold.%d", dir, (int)getpid());
	bcold_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (bcold_fd < 0)
		die("%s: %s", path, strerror(errno));
	unlink(path);
	for (size_t off = 0; off < opt.cold_file; off += step) {
		for (size_t i = 0; i < step / 8; i++)
			buf[i] = pattern_word(off + i * 8);
		if (pwrite(bcold_fd, buf, step, (off_t)off) != (ssize_t)step)
			die("writing %s: %s", path, strerror(errno));
	}
	munmap(buf, step);
	if (fsync(bcold_fd))
		die("fsync %s: %s", path, strerror(errno));
	/* Random reads: no readahead, so each READ is one page from the device. */
	posix_fadvise(bcold_fd, 0, 0, POSIX_FADV_RANDOM);
	bcold_pages = opt.cold_file / READ_SIZE;
	bcold_perm = malloc(bcold_pages * sizeof(*bcold_perm));
	if (!bcold_perm)
		die("out of memory");
	for (size_t i = 0; i < bcold_pages; i++)
		bcold_perm[i] = i;
	for (size_t i = bcold_pages - 1; i > 0; i--) {
		size_t j = xorshift(&x) % (i + 1);
		uint64_t t = bcold_perm[i];

		bcold_perm[i] = bcold_perm[j];
		bcold_perm[j] = t;
	}
}

static void open_storage(void)
{
	if (opt.nullb)
		open_dev(D_NULLB, opt.nullb);
	if (opt.nvme)
		open_dev(D_NVME, opt.nvme);
	if (opt.ext4_dir)
		make_cold_file(opt.ext4_dir);
	if (posix_memalign((void **)&dbufs, PAGE, DBUFS_BYTES))
		die("posix_memalign: out of memory");
	memset(dbufs, 0x5a, DBUFS_BYTES);
	int e = io_setup((int)RING_ENTRIES, &aio_ctx);

	if (e < 0)
		die("io_setup: %s", strerror(-e));
}

/*
 * Direct I/O: DIO_SIZE requests at random aligned offsets of a block device,
 * b->arg in flight. pwring and io_uring refill what completed and enter with
 * wait 1; libaio io_submit()s the refill and io_getevents(min 1).
 */
static int check_dio(uint64_t off, long res)
{
	if (res != DIO_SIZE)
		return failf("%s at %llu: %ld", cur_bench, (unsigned long long)off, res);
	return 0;
}

static int run_dio(const struct bench *b, int m, long iters, double *out, long *ops)
{
	const struct dev *v = &devs[b->dev];
	const unsigned qd = (unsigned)b->arg;
	unsigned freel[DIO_QD_MAX], nfree = qd, inflight = 0;
	uint64_t slot_off[DIO_QD_MAX];
	long sub = 0, done = 0;
	uint64_t t0;

	for (unsigned i = 0; i < qd; i++)
		freel[i] = i;
	t0 = now_ns();
	while (done < iters) {
		if (m == M_PW) {
			unsigned pending = 0;
			sqe_t s;
			cqe_t c;

			while (inflight < qd && sub < iters) {
				unsigned slot = freel[--nfree];
				uint8_t *buf = dbufs + (size_t)slot * DIO_SIZE;

				slot_off[slot] = v->offs[sub++ % NOFF];
				if (b->write)
					sqe_prep_write(&s, v->fd, buf, DIO_SIZE, (ssize_t)slot_off[slot],
						       CLOCKS_NEVER, (void *)(uintptr_t)slot);
				else
					sqe_prep_read(&s, v->fd, buf, DIO_SIZE, (ssize_t)slot_off[slot],
						      CLOCKS_NEVER, (void *)(uintptr_t)slot);
				sqe_push(&pwA, &s);
				inflight++;
				pending++;
			}
			if (pw_enter(&pwA, pending, 1))
				return -1;
			while (cqe_pop(&pwA, &c)) {
				unsigned slot = (unsigned)(uintptr_t)c.data;

				if (check_dio(slot_off[slot], c.error ? -c.error : (long)c.count))
					return -1;
				freel[nfree++] = slot;
				inflight--;
				done++;
			}
		} else if (m == M_UR) {
			struct io_uring_cqe *cqe;
			unsigned head, n = 0;
			int bad = 0;

			while (inflight < qd && sub < iters) {
				unsigned slot = freel[--nfree];
				struct io_uring_sqe *sqe = io_uring_get_sqe(&urA);
				uint8_t *buf = dbufs + (size_t)slot * DIO_SIZE;

				slot_off[slot] = v->offs[sub++ % NOFF];
				if (b->write)
					io_uring_prep_write(sqe, v->fd, buf, DIO_SIZE, slot_off[slot]);
				else
					io_uring_prep_read(sqe, v->fd, buf, DIO_SIZE, slot_off[slot]);
				io_uring_sqe_set_data64(sqe, slot);
				inflight++;
			}
			int k = io_uring_submit_and_wait(&urA, 1);

			if (k < 0)
				return failf("io_uring_submit_and_wait: %s", strerror(-k));
			io_uring_for_each_cqe(&urA, head, cqe) {
				unsigned slot = (unsigned)cqe->user_data;

				if (!bad)
					bad = check_dio(slot_off[slot], cqe->res);
				freel[nfree++] = slot;
				inflight--;
				done++;
				n++;
			}
			io_uring_cq_advance(&urA, n);
			if (bad)
				return -1;
		} else {
			struct iocb cbs[DIO_QD_MAX], *cbp[DIO_QD_MAX];
			struct io_event ev[DIO_QD_MAX];
			unsigned pending = 0;

			while (inflight < qd && sub < iters) {
				unsigned slot = freel[--nfree];
				uint8_t *buf = dbufs + (size_t)slot * DIO_SIZE;
				struct iocb *cb = &cbs[pending];

				slot_off[slot] = v->offs[sub++ % NOFF];
				if (b->write)
					io_prep_pwrite(cb, v->fd, buf, DIO_SIZE, (long long)slot_off[slot]);
				else
					io_prep_pread(cb, v->fd, buf, DIO_SIZE, (long long)slot_off[slot]);
				cb->data = (void *)(uintptr_t)slot;
				cbp[pending++] = cb;
				inflight++;
			}
			/* The kernel copies the iocbs at submission: the array may be reused. */
			if (pending) {
				int k = io_submit(aio_ctx, (long)pending, cbp);

				if (k != (int)pending)
					return failf("io_submit %u: %s", pending, k < 0 ? strerror(-k) : "short");
			}
			int n = io_getevents(aio_ctx, 1, DIO_QD_MAX, ev, NULL);

			if (n < 0 && n != -EINTR)
				return failf("io_getevents: %s", strerror(-n));
			for (int i = 0; i < n; i++) {
				unsigned slot = (unsigned)(uintptr_t)ev[i].data;

				if (check_dio(slot_off[slot], (long)ev[i].res))
					return -1;
				freel[nfree++] = slot;
				inflight--;
				done++;
			}
		}
	}
	*ops = iters;
	out[0] = (double)iters / secs(t0, now_ns());
	return 0;
}

/*
 * Device -> device copy in DCHUNK pairs, DPAIRS independent pairs per enter,
 * from offset 0 to DCH_DST, O_DIRECT. pwring: READ_i saves its count in
 * register i and its linked WRITE_i loads its count from there. io_uring's
 * nearest equivalent: READ_i linked to a WRITE_i of the fixed count DCHUNK
 * (a result cannot feed a linked SQE). libaio: the READs, io_getevents, then
 * the WRITEs of the counts the READs got.
 */
static int run_dchain(const struct bench *b, int m, long iters, double *out, long *ops)
{
	const struct dev *v = &devs[b->dev];
	const uint64_t total = opt.dchain_bytes;
	uint64_t t0 = now_ns();

	(void)iters;
	for (uint64_t off = 0; off < total; off += (uint64_t)DPAIRS * DCHUNK) {
		unsigned np = (unsigned)((total - off) / DCHUNK < DPAIRS ? (total - off) / DCHUNK : DPAIRS);
		long got[DPAIRS] = {0}, put[DPAIRS] = {0};

		if (m == M_PW) {
			sqe_t s;
			cqe_t c;

			for (unsigned i = 0; i < np; i++) {
				uint8_t *buf = dbufs + (size_t)i * DCHUNK;
				uint64_t src = off + (uint64_t)i * DCHUNK;

				sqe_prep_read(&s, v->fd, buf, DCHUNK, (ssize_t)src, CLOCKS_NEVER,
					      (void *)(uintptr_t)(2 * i));
				sqe_save_reg(&s, SQE_REG0 + i);
				sqe_set_link(&s);
				sqe_push(&pwA, &s);
				sqe_prep_write(&s, v->fd, buf, 0, (ssize_t)(DCH_DST + src), CLOCKS_NEVER,
					       (void *)(uintptr_t)(2 * i + 1));
				sqe_load_reg(&s, SQE_LOAD2, SQE_REG0 + i);
				sqe_push(&pwA, &s);
			}
			if (pw_enter(&pwA, 2 * np, 2 * np))
				return -1;
			for (unsigned i = 0; i < 2 * np; i++) {
				if (!cqe_pop(&pwA, &c))
					return failf("CQE missing");
				unsigned k = (unsigned)(uintptr_t)c.data;

				(k & 1 ? put : got)[k / 2] = c.error ? -(long)c.error : (long)c.count;
			}
		} else if (m == M_UR) {
			struct io_uring_cqe *cqe;
			unsigned head, n = 0;

			for (unsigned i = 0; i < np; i++) {
				uint8_t *buf = dbufs + (size_t)i * DCHUNK;
				uint64_t src = off + (uint64_t)i * DCHUNK;
				struct io_uring_sqe *sqe = io_uring_get_sqe(&urA);

				io_uring_prep_read(sqe, v->fd, buf, DCHUNK, src);
				io_uring_sqe_set_data64(sqe, 2 * i);
				sqe->flags |= IOSQE_IO_LINK;
				sqe = io_uring_get_sqe(&urA);
				io_uring_prep_write(sqe, v->fd, buf, DCHUNK, DCH_DST + src);
				io_uring_sqe_set_data64(sqe, 2 * i + 1);
			}
			int k = io_uring_submit_and_wait(&urA, 2 * np);

			if (k != (int)(2 * np))
				return failf("io_uring_submit_and_wait: %d", k);
			while (n < 2 * np) {
				unsigned seen = 0;

				if (io_uring_cq_ready(&urA) == 0 && io_uring_wait_cqe(&urA, &cqe))
					return failf("io_uring_wait_cqe");
				io_uring_for_each_cqe(&urA, head, cqe) {
					unsigned u = (unsigned)cqe->user_data;

					(u & 1 ? put : got)[u / 2] = cqe->res;
					seen++;
				}
				io_uring_cq_advance(&urA, seen);
				n += seen;
			}
		} else {
			struct iocb cbs[DPAIRS], *cbp[DPAIRS];
			struct io_event ev[DPAIRS];

			for (int phase = 0; phase < 2; phase++) {
				for (unsigned i = 0; i < np; i++) {
					uint8_t *buf = dbufs + (size_t)i * DCHUNK;
					uint64_t src = off + (uint64_t)i * DCHUNK;

					if (phase == 0)
						io_prep_pread(&cbs[i], v->fd, buf, DCHUNK, (long long)src);
					else if (got[i] > 0)
						io_prep_pwrite(&cbs[i], v->fd, buf, (size_t)got[i],
							       (long long)(DCH_DST + src));
					else
						return failf("READ %u: %ld", i, got[i]);
					cbs[i].data = (void *)(uintptr_t)i;
					cbp[i] = &cbs[i];
				}
				int k = io_submit(aio_ctx, np, cbp);

				if (k != (int)np)
					return failf("io_submit: %d", k);
				for (unsigned n = 0; n < np;) {
					int e = io_getevents(aio_ctx, 1, DPAIRS, ev, NULL);

					if (e < 0 && e != -EINTR)
						return failf("io_getevents: %s", strerror(-e));
					for (int i = 0; i < e; i++)
						(phase ? put : got)[(uintptr_t)ev[i].data] = (long)ev[i].res;
					n += e > 0 ? (unsigned)e : 0;
				}
			}
		}
		for (unsigned i = 0; i < np; i++)
			if (got[i] != DCHUNK || put[i] != got[i])
				return failf("pair %u: read %ld, wrote %ld", i, got[i], put[i]);
	}
	out[0] = (double)total / (1024.0 * 1024.0) / secs(t0, now_ns());
	*ops = (long)(total / DCHUNK);
	return 0;
}

/* Cold page cache: the file's pages and everything else clean are dropped. */
static void prep_cold(const struct bench *b)
{
	int fd;

	(void)b;
	sync();
	posix_fadvise(bcold_fd, 0, 0, POSIX_FADV_DONTNEED);
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "3", 1) != 1)
		fprintf(stderr, "pwring-bench: warning: drop_caches: %s (not root?)\n", strerror(errno));
	if (fd >= 0)
		close(fd);
	/* Check: how much of the file is still resident (mincore on a mapping). */
	size_t len = bcold_pages * READ_SIZE, resident = 0;
	void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, bcold_fd, 0);
	unsigned char *vec = malloc(bcold_pages);

	if (map != MAP_FAILED && vec && !mincore(map, len, vec))
		for (size_t i = 0; i < bcold_pages; i++)
			resident += vec[i] & 1;
	if (map != MAP_FAILED)
		munmap(map, len);
	free(vec);
	if (resident * 100 > bcold_pages)
		fprintf(stderr, "pwring-bench: warning: %zu of %zu pages of the cold file still cached\n",
			resident, bcold_pages);
}

/*
 * Buffered 4 KiB reads of pages not in the page cache (prep_cold), 32 in
 * flight, no readahead (POSIX_FADV_RANDOM), each page once per run: a run
 * takes the next `iters` pages of a random permutation. pread(2) is the
 * conventional way, one at a time.
 */
static int run_bcold(const struct bench *b, int m, long iters, double *out, long *ops)
{
	const unsigned qd = (unsigned)b->arg;
	unsigned freel[32], nfree = qd, inflight = 0;
	uint64_t slot_off[32];
	long sub = 0, done = 0;
	uint64_t t0, *pages = malloc((size_t)iters * sizeof(*pages));

	if (!pages)
		die("out of memory");
	for (long i = 0; i < iters; i++)
		pages[i] = bcold_perm[(bcold_next + (size_t)i) % bcold_pages] * READ_SIZE;
	bcold_next = (bcold_next + (size_t)iters) % bcold_pages;
	for (unsigned i = 0; i < qd; i++)
		freel[i] = i;
	t0 = now_ns();
	if (m == M_SYS) {
		for (long i = 0; i < iters; i++) {
			ssize_t r = pread(bcold_fd, dbufs, READ_SIZE, (off_t)pages[i]);

			if (check_read(pages[i], dbufs, r))
				goto fail;
		}
	} else if (m == M_PW) {
		while (done < iters) {
			unsigned pending = 0;
			sqe_t s;
			cqe_t c;

			while (inflight < qd && sub < iters) {
				unsigned slot = freel[--nfree];

				slot_off[slot] = pages[sub++];
				sqe_prep_read(&s, bcold_fd, dbufs + (size_t)slot * READ_SIZE, READ_SIZE,
					      (ssize_t)slot_off[slot], CLOCKS_NEVER,
					      (void *)(uintptr_t)slot);
				sqe_push(&pwA, &s);
				inflight++;
				pending++;
			}
			if (pw_enter(&pwA, pending, 1))
				goto fail;
			while (cqe_pop(&pwA, &c)) {
				unsigned slot = (unsigned)(uintptr_t)c.data;

				if (check_read(slot_off[slot], dbufs + (size_t)slot * READ_SIZE,
					       c.error ? -c.error : (long)c.count))
					goto fail;
				freel[nfree++] = slot;
				inflight--;
				done++;
			}
		}
	} else {
		while (done < iters) {
			struct io_uring_cqe *cqe;
			unsigned head, n = 0;
			int bad = 0;

			while (inflight < qd && sub < iters) {
				unsigned slot = freel[--nfree];
				struct io_uring_sqe *sqe = io_uring_get_sqe(&urA);

				slot_off[slot] = pages[sub++];
				io_uring_prep_read(sqe, bcold_fd, dbufs + (size_t)slot * READ_SIZE,
						   READ_SIZE, slot_off[slot]);
				io_uring_sqe_set_data64(sqe, slot);
				inflight++;
			}
			int k = io_uring_submit_and_wait(&urA, 1);

			if (k < 0) {
				failf("io_uring_submit_and_wait: %s", strerror(-k));
				goto fail;
			}
			io_uring_for_each_cqe(&urA, head, cqe) {
				unsigned slot = (unsigned)cqe->user_data;

				if (!bad)
					bad = check_read(slot_off[slot], dbufs + (size_t)slot * READ_SIZE,
							 cqe->res);
				freel[nfree++] = slot;
				inflight--;
				done++;
				n++;
			}
			io_uring_cq_advance(&urA, n);
			if (bad)
				goto fail;
		}
	}
	*ops = iters;
	out[0] = (double)iters / secs(t0, now_ns());
	free(pages);
	return 0;
fail:
	free(pages);
	return -1;
}

/*
 * TCP echo: TCP_CONNS loopback connections, one server thread (the method
 * under test), one client thread (the same for every method: epoll, each
 * connection sends TCP_MSG bytes and waits for them back before the next).
 * iters requests in all; then the client closes and the server ends at the
 * last EOF. Requests/s over the client's whole run, p99 of its round trips.
 */
struct tcp_client {
	int fd[TCP_CONNS];
	long total;
	uint64_t *lat;
	uint64_t elapsed;
	int err;
};

static void *tcp_client_main(void *arg)
{
	struct tcp_client *t = arg;
	uint64_t sent_at[TCP_CONNS];
	unsigned have_b[TCP_CONNS] = {0};
	char msg[TCP_MSG], buf[TCP_BUF];
	long sent = 0, got = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	uint64_t t0 = now_ns();

	memset(msg, 'e', sizeof(msg));
	for (int i = 0; i < TCP_CONNS; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

		epoll_ctl(ep, EPOLL_CTL_ADD, t->fd[i], &e);
		if (sent < t->total) {
			sent_at[i] = now_ns();
			if (write(t->fd[i], msg, TCP_MSG) != TCP_MSG)
				t->err = 1;
			sent++;
		}
	}
	while (got < t->total && !t->err) {
		struct epoll_event ev[TCP_CONNS];
		int n = epoll_wait(ep, ev, TCP_CONNS, 10000);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			t->err = 1;	/* a stuck server: 10 s without a reply */
			break;
		}
		for (int k = 0; k < n; k++) {
			int i = (int)ev[k].data.u32;
			ssize_t r = read(t->fd[i], buf, sizeof(buf));

			if (r <= 0) {
				t->err = 1;
				break;
			}
			have_b[i] += (unsigned)r;
			if (have_b[i] < TCP_MSG)
				continue;
			if (have_b[i] > TCP_MSG) {
				t->err = 1;
				break;
			}
			have_b[i] = 0;
			t->lat[got++] = now_ns() - sent_at[i];
			if (sent < t->total) {
				sent_at[i] = now_ns();
				if (write(t->fd[i], msg, TCP_MSG) != TCP_MSG)
					t->err = 1;
				sent++;
			}
		}
	}
	t->elapsed = now_ns() - t0;
	for (int i = 0; i < TCP_CONNS; i++)
		shutdown(t->fd[i], SHUT_WR);	/* the server sees EOF */
	close(ep);
	return NULL;
}

static int tcp_serve_pw(const int *fd)
{
	static char bufs_s[TCP_CONNS][TCP_BUF];
	unsigned pending = 0, open_c = TCP_CONNS;
	sqe_t s;
	cqe_t c;

	/* data: connection * 2, +1 for the WRITE */
	for (int i = 0; i < TCP_CONNS; i++) {
		sqe_prep_read(&s, fd[i], bufs_s[i], TCP_BUF, IO_OFF_CUR, CLOCKS_NEVER,
			      (void *)(uintptr_t)(2 * i));
		sqe_push(&pwA, &s);
		pending++;
	}
	while (open_c) {
		if (pw_enter(&pwA, pending, 1))
			return -1;
		pending = 0;
		while (cqe_pop(&pwA, &c)) {
			unsigned u = (unsigned)(uintptr_t)c.data, i = u / 2;

			if (c.error)
				return failf("%s on connection %u: error %d", u & 1 ? "WRITE" : "READ", i,
					     c.error);
			if (u & 1)
				continue;	/* its READ is linked behind it */
			if (c.count == 0) {
				open_c--;
				continue;
			}
			/* Echo what came, then read again once that is sent. */
			sqe_prep_write(&s, fd[i], bufs_s[i], c.count, IO_OFF_CUR, CLOCKS_NEVER,
				       (void *)(uintptr_t)(2 * i + 1));
			sqe_set_link(&s);
			sqe_push(&pwA, &s);
			sqe_prep_read(&s, fd[i], bufs_s[i], TCP_BUF, IO_OFF_CUR, CLOCKS_NEVER,
				      (void *)(uintptr_t)(2 * i));
			sqe_push(&pwA, &s);
			pending += 2;
		}
	}
	return 0;
}

static int tcp_serve_ur(const int *fd)
{
	static char bufs_s[TCP_CONNS][TCP_BUF];
	unsigned open_c = TCP_CONNS;
	/* READ/WRITE instead of RECV/SEND: the same operation as pwring's side (see --help). */
	const int ur_rw = getenv("PWRING_BENCH_URING_RW") != NULL;

	for (int i = 0; i < TCP_CONNS; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&urA);

		if (ur_rw)
			io_uring_prep_read(sqe, fd[i], bufs_s[i], TCP_BUF, (uint64_t)-1);
		else
			io_uring_prep_recv(sqe, fd[i], bufs_s[i], TCP_BUF, 0);
		io_uring_sqe_set_data64(sqe, 2 * (uint64_t)i);
	}
	while (open_c) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		int err = 0;

		int k = io_uring_submit_and_wait(&urA, 1);

		if (k < 0)
			return failf("io_uring_submit_and_wait: %s", strerror(-k));
		io_uring_for_each_cqe(&urA, head, cqe) {
			unsigned u = (unsigned)cqe->user_data, i = u / 2;

			n++;
			if (cqe->res < 0) {
				err = cqe->res;
				continue;
			}
			if (u & 1)
				continue;
			if (cqe->res == 0) {
				open_c--;
				continue;
			}
			struct io_uring_sqe *sqe = io_uring_get_sqe(&urA);

			if (ur_rw)
				io_uring_prep_write(sqe, fd[i], bufs_s[i], (unsigned)cqe->res, (uint64_t)-1);
			else
				io_uring_prep_send(sqe, fd[i], bufs_s[i], (size_t)cqe->res, 0);
			io_uring_sqe_set_data64(sqe, 2 * (uint64_t)i + 1);
			sqe->flags |= IOSQE_IO_LINK;
			sqe = io_uring_get_sqe(&urA);
			if (ur_rw)
				io_uring_prep_read(sqe, fd[i], bufs_s[i], TCP_BUF, (uint64_t)-1);
			else
				io_uring_prep_recv(sqe, fd[i], bufs_s[i], TCP_BUF, 0);
			io_uring_sqe_set_data64(sqe, 2 * (uint64_t)i);
		}
		io_uring_cq_advance(&urA, n);
		if (err)
			return failf("recv/send: %s", strerror(-err));
	}
	return 0;
}

static int tcp_serve_epoll(const int *fd)
{
	int ep = epoll_create1(EPOLL_CLOEXEC), open_c = TCP_CONNS, rc = 0;
	char buf[TCP_BUF];

	for (int i = 0; i < TCP_CONNS; i++) {
		struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};

		epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &e);
	}
	while (open_c && !rc) {
		struct epoll_event ev[TCP_CONNS];
		int n = epoll_wait(ep, ev, TCP_CONNS, -1);

		if (n < 0 && errno != EINTR)
			rc = failf("epoll_wait: %s", strerror(errno));
		for (int k = 0; k < n && !rc; k++) {
			int i = (int)ev[k].data.u32;
			ssize_t r = read(fd[i], buf, sizeof(buf));

			if (r < 0)
				rc = failf("read: %s", strerror(errno));
			else if (r == 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd[i], NULL);
				open_c--;
			} else if (write(fd[i], buf, (size_t)r) != r)
				rc = failf("write: %s", strerror(errno));
		}
	}
	close(ep);
	return rc;
}

static int run_tcp(const struct bench *b, int m, long iters, double *out, long *ops)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	struct tcp_client t = {.total = iters};
	int lfd, sfd[TCP_CONNS], one = 1, rc;
	pthread_t th;

	(void)b;
	t.lat = calloc((size_t)iters, sizeof(*t.lat));
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!t.lat || lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(lfd, TCP_CONNS) || getsockname(lfd, (struct sockaddr *)&a, &alen))
		die("tcp_echo setup: %s", strerror(errno));
	for (int i = 0; i < TCP_CONNS; i++) {
		t.fd[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (t.fd[i] < 0 || connect(t.fd[i], (struct sockaddr *)&a, sizeof(a)))
			die("tcp_echo connect: %s", strerror(errno));
		sfd[i] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (sfd[i] < 0)
			die("tcp_echo accept: %s", strerror(errno));
		setsockopt(t.fd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(sfd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	close(lfd);
	if (pthread_create(&th, NULL, tcp_client_main, &t))
		die("pthread_create");
	rc = m == M_PW ? tcp_serve_pw(sfd) : m == M_UR ? tcp_serve_ur(sfd) : tcp_serve_epoll(sfd);
	if (rc) {
		for (int i = 0; i < TCP_CONNS; i++)
			shutdown(sfd[i], SHUT_RDWR);	/* the client's reads end */
	}
	pthread_join(th, NULL);
	if (!rc && t.err)
		rc = failf("the client saw an error or a wrong reply");
	for (int i = 0; i < TCP_CONNS; i++) {
		close(sfd[i]);
		close(t.fd[i]);
	}
	if (!rc) {
		qsort(t.lat, (size_t)iters, sizeof(*t.lat), cmp_u64);
		out[0] = (double)iters / ((double)t.elapsed / 1e9);
		out[1] = (double)pct_u64(t.lat, (size_t)iters, 0.99) / 1e3;
	}
	free(t.lat);
	*ops = iters;
	return rc;
}

static struct bench benches[] = {
	{"nop_b1", {R_NOP1}, 1, true, 1, run_nop, {0}, false, -1, false, NULL},
	{"nop_b8", {R_NOP8}, 1, true, 8, run_nop, {0}, false, -1, false, NULL},
	{"nop_b32", {R_NOP32}, 1, true, 32, run_nop, {0}, false, -1, false, NULL},
	{"nop_b128", {R_NOP128}, 1, true, 128, run_nop, {0}, false, -1, false, NULL},
	{"read4k_qd1", {R_RD1}, 1, true, 1, run_read, {0}, false, -1, false, NULL},
	{"read4k_qd32", {R_RD32}, 1, true, 32, run_read, {0}, false, -1, false, NULL},
	{"pingpong", {R_PP50, R_PP99}, 2, false, 0, run_pingpong, {0}, false, -1, false, NULL},
	{"timer100us", {R_T100_50, R_T100_99}, 2, false, 100000, run_timer, {0}, false, -1, false, NULL},
	{"timer1ms", {R_T1M_50, R_T1M_99}, 2, false, 1000000, run_timer, {0}, false, -1, false, NULL},
	{"chain_rw", {R_CHAIN}, 1, false, 0, run_chain, {0}, false, -1, false, NULL},
	{"setup_teardown", {R_SETUP}, 1, true, 0, run_setup, {0}, false, -1, false, NULL},
#define DIO(nm, r, qd, d, w)                                                                \
	{.name = nm, .row = {r}, .nrows = 1, .calibrated = true, .arg = qd, .run = run_dio,     \
	 .storage = true, .dev = d, .write = w}
	DIO("direct_randread4k_qd1_nullb", R_D_NB + 0, 1, D_NULLB, false),
	DIO("direct_randread4k_qd32_nullb", R_D_NB + 1, 32, D_NULLB, false),
	DIO("direct_randread4k_qd128_nullb", R_D_NB + 2, 128, D_NULLB, false),
	DIO("direct_randwrite4k_qd32_nullb", R_D_NB + 3, 32, D_NULLB, true),
	DIO("direct_randread4k_qd1_nvme", R_D_NV + 0, 1, D_NVME, false),
	DIO("direct_randread4k_qd32_nvme", R_D_NV + 1, 32, D_NVME, false),
	DIO("direct_randread4k_qd128_nvme", R_D_NV + 2, 128, D_NVME, false),
	DIO("direct_randwrite4k_qd32_nvme", R_D_NV + 3, 32, D_NVME, true),
#undef DIO
	{.name = "chain_rw_nullb", .row = {R_DCH_NB}, .nrows = 1, .run = run_dchain,
	 .storage = true, .dev = D_NULLB},
	{.name = "chain_rw_nvme", .row = {R_DCH_NV}, .nrows = 1, .run = run_dchain,
	 .storage = true, .dev = D_NVME},
	{.name = "buffered_randread4k_cold_qd32", .row = {R_BCOLD}, .nrows = 1, .arg = 32,
	 .run = run_bcold, .storage = true, .dev = -1, .prep = prep_cold},
	{.name = "tcp_echo_c64", .row = {R_TCP, R_TCP99}, .nrows = 2, .run = run_tcp,
	 .storage = true, .dev = -1},
};
#define NBENCH (sizeof(benches) / sizeof(benches[0]))

/* ---- ring memory ------------------------------------------------------------------ */

struct memfig {
	size_t need_bytes;	/* what the layout needs */
	size_t pages;		/* the layout's mappings, each rounded up to pages */
	size_t mapped_pages;	/* what /proc/self/maps shows, 0 if not found */
};
static struct memfig memf[2];

/* Size in pages of the mapping that starts at addr, from /proc/self/maps. */
static size_t mapping_pages(const void *addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char line[512];
	size_t pages = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo == (unsigned long)addr) {
			pages = (hi - lo) / PAGE;
			break;
		}
	fclose(f);
	return pages;
}

static size_t pages_of(size_t bytes)
{
	return (bytes + PAGE - 1) / PAGE;
}

static void measure_memory(void)
{
	if (have[M_PW]) {
		ioring_t r;
		ioring_id_t id = ioring_setup(&r, NULL, RING_ENTRIES, RING_ENTRIES);

		/* The layout: control block, SQEs, CQEs, one mapping. */
		memf[0].need_bytes = sizeof(ioring_ctrl_t) + RING_ENTRIES * sizeof(sqe_t) +
				     RING_ENTRIES * sizeof(cqe_t);
		memf[0].pages = pages_of(memf[0].need_bytes);
		if (id != ERR) {
			memf[0].mapped_pages = mapping_pages(r.ctrl);
			ioring_teardown(id);
		}
	}
	if (have[M_UR]) {
		struct io_uring r;
		struct io_uring_params p = {.flags = IORING_SETUP_CQSIZE, .cq_entries = RING_ENTRIES};

		if (!io_uring_queue_init_params(RING_ENTRIES, &r, &p)) {
			/* SQ ring (with its index array), CQ ring, SQE array; the two
			 * rings share one mapping with IORING_FEAT_SINGLE_MMAP. */
			size_t sq = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
			size_t cq = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
			size_t sqes = p.sq_entries * sizeof(struct io_uring_sqe);
			bool single = p.features & IORING_FEAT_SINGLE_MMAP;

			memf[1].need_bytes = (single ? (sq > cq ? sq : cq) : sq + cq) + sqes;
			memf[1].pages = (single ? pages_of(sq > cq ? sq : cq)
					       : pages_of(sq) + pages_of(cq)) +
					pages_of(sqes);
			memf[1].mapped_pages = mapping_pages(r.sq.ring_ptr) + mapping_pages(r.sq.sqes) +
					       (r.cq.ring_ptr != r.sq.ring_ptr
							? mapping_pages(r.cq.ring_ptr)
							: 0);
			io_uring_queue_exit(&r);
		}
	}
}

/* ---- cost breakdown of one round trip ------------------------------------------------ */

/*
 * Where the time of nop_b1 goes: the same calls with parts taken away. The
 * "raw" pwring rows call the ioctl directly on a /dev/pwring file of our own
 * (no library), so they show what libpwring itself adds.
 */
enum { BD_GETPID, BD_IOCTL_NOTTY, BD_PW_EMPTY, BD_PW_EMPTY_PACKED, BD_PW_RAW1, BD_PW_LIB1,
       BD_UR_EMPTY, BD_UR1, NBD };
static const char *const bd_name[NBD] = {
	[BD_GETPID] = "getpid(2)",
	[BD_IOCTL_NOTTY] = "ioctl(/dev/pwring, unknown cmd) -> ENOTTY",
	[BD_PW_EMPTY] = "pwring ENTER ioctl, amount 0, wait 0",
	[BD_PW_EMPTY_PACKED] = "pwring ENTER_PACKED ioctl, amount 0, wait 0",
	[BD_PW_RAW1] = "pwring ENTER ioctl, 1 NOP (timeout 0), wait 1",
	[BD_PW_LIB1] = "pwring ioring_enter(), 1 NOP, wait 1 (libpwring)",
	[BD_UR_EMPTY] = "io_uring_enter(fd, 0, 0, 0)",
	[BD_UR1] = "io_uring 1 NOP, io_uring_submit_and_wait(1)",
};
static double bd_ns[NBD][MAX_REPS];
static int bd_n;

static long pw_raw_enter(int fd, uint64_t id, uint64_t amount, uint64_t wait)
{
	struct pwring_enter_args a = {.size = sizeof(a), .id = id, .amount = amount, .wait = wait};

	return ioctl(fd, PWRING_IOC_ENTER, &a);
}

static void breakdown(void)
{
	const long n = opt.quick ? 2000 : 20000;
	struct pwring_setup_args sa = {.size = sizeof(sa), .sentries = RING_ENTRIES,
				       .centries = RING_ENTRIES};
	ioring_t raw;
	int fd;
	long id;

	if (!have[M_PW] || !have[M_UR])
		return;
	fd = open(PWRING_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	sa.ring = (uint64_t)(uintptr_t)&raw;
	id = fd < 0 ? -1 : ioctl(fd, PWRING_IOC_SETUP, &sa);
	if (id < 0) {
		fprintf(stderr, "pwring-bench: breakdown: raw setup: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	for (int rep = 0; rep < opt.reps; rep++) {
		for (int k = 0; k < NBD; k++) {
			int b = (k + rep) % NBD;
			sqe_t s;
			cqe_t c;
			uint64_t t0 = now_ns();

			sqe_prep_nop(&s, 0, NULL);
			for (long i = 0; i < n; i++) {
				switch (b) {
				case BD_GETPID:
					syscall(SYS_getpid);
					break;
				case BD_IOCTL_NOTTY:
					ioctl(fd, _IO(0x00, 0x7f), NULL);
					break;
				case BD_PW_EMPTY:
					pw_raw_enter(fd, (uint64_t)id, 0, 0);
					break;
				case BD_PW_EMPTY_PACKED:
					ioctl(fd, PWRING_IOC_ENTER_PACKED, (unsigned long)id);
					break;
				case BD_PW_RAW1:
					sqe_push(&raw, &s);
					pw_raw_enter(fd, (uint64_t)id, 1, 1);
					cqe_pop(&raw, &c);
					break;
				case BD_PW_LIB1:
					sqe_push(&pwA, &s);
					ioring_enter(pwA.id, 1, 1);
					cqe_pop(&pwA, &c);
					break;
				case BD_UR_EMPTY:
					syscall(__NR_io_uring_enter, urA.ring_fd, 0, 0, 0, NULL, 0);
					break;
				case BD_UR1: {
					struct io_uring_cqe *cqe;

					io_uring_prep_nop(io_uring_get_sqe(&urA));
					io_uring_submit_and_wait(&urA, 1);
					if (!io_uring_peek_cqe(&urA, &cqe))
						io_uring_cqe_seen(&urA, cqe);
					break;
				}
				}
			}
			bd_ns[b][rep] = (double)(now_ns() - t0) / (double)n;
		}
	}
	bd_n = opt.reps;
	close(fd);	/* frees the raw ring */
}

static void print_breakdown(FILE *f)
{
	if (!bd_n)
		return;
	fprintf(f, "\ncost of one call, ns (median [min..max] of %d runs):\n", bd_n);
	for (int b = 0; b < NBD; b++) {
		double lo = INFINITY, hi = -INFINITY;

		for (int i = 0; i < bd_n; i++) {
			lo = fmin(lo, bd_ns[b][i]);
			hi = fmax(hi, bd_ns[b][i]);
		}
		fprintf(f, "  %-50s %7.0f [%.0f..%.0f]\n", bd_name[b], median_dbl(bd_ns[b], bd_n), lo,
			hi);
	}
}

/* ---- environment -------------------------------------------------------------------- */

static char kernel_release[128], kernel_label[64], clocksource[64], meltdown[128];
static double ns_clock, ns_getpid;

static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	snprintf(buf, len, "?");
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

static void probe_env(void)
{
	struct utsname u;
	int maj = 0, min = 0;

	uname(&u);
	snprintf(kernel_release, sizeof(kernel_release), "%s", u.release);
	sscanf(u.release, "%d.%d", &maj, &min);
	if (opt.label)
		snprintf(kernel_label, sizeof(kernel_label), "%s", opt.label);
	else
		snprintf(kernel_label, sizeof(kernel_label), "%d.%d", maj, min);
	read_line("/sys/devices/system/clocksource/clocksource0/current_clocksource", clocksource,
		  sizeof(clocksource));
	read_line("/sys/devices/system/cpu/vulnerabilities/meltdown", meltdown, sizeof(meltdown));

	enum { N = 20000 };
	uint64_t t0 = now_ns();

	for (int i = 0; i < N; i++)
		(void)now_ns();
	ns_clock = (double)(now_ns() - t0) / N;
	t0 = now_ns();
	for (int i = 0; i < N; i++)
		syscall(SYS_getpid);
	ns_getpid = (double)(now_ns() - t0) / N;
}

static void open_rings(void)
{
	int e;

	have[M_SYS] = true;
	have[M_PW] = ioring_setup(&pwA, NULL, RING_ENTRIES, RING_ENTRIES) != ERR &&
		     ioring_setup(&pwB, NULL, RING_ENTRIES, RING_ENTRIES) != ERR;
	if (!have[M_PW])
		fprintf(stderr, "pwring-bench: warning: pwring unavailable (%s): is the module loaded?\n",
			strerror(errno));
	e = io_uring_queue_init(RING_ENTRIES, &urA, 0);
	if (!e)
		e = io_uring_queue_init(RING_ENTRIES, &urB, 0);
	have[M_UR] = e == 0;
	if (!have[M_UR])
		fprintf(stderr,
			"pwring-bench: warning: io_uring unavailable (%s): see "
			"/proc/sys/kernel/io_uring_disabled\n",
			strerror(-e));
	if (!have[M_PW] && !have[M_UR])
		die("neither pwring nor io_uring works here");
}

/* The data file: opt.read_file bytes of pattern_word(), in opt.dir. */
static void make_file(void)
{
	const char *dir = opt.dir ? opt.dir : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	const size_t step = 1u << 20;
	uint64_t *buf = xalloc_pages(step);
	struct statfs sf;

	snprintf(data_path, sizeof(data_path), "%s/pwring-bench.%d", dir, (int)getpid());
	data_fd = open(data_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (data_fd < 0)
		die("%s: %s", data_path, strerror(errno));
	unlink(data_path);	/* gone when we exit */
	if (!fstatfs(data_fd, &sf) && sf.f_type != TMPFS_MAGIC)
		fprintf(stderr, "pwring-bench: warning: %s is not on tmpfs; the read figures "
				"include the file system (--dir /dev/shm?)\n", dir);
	for (size_t off = 0; off < opt.read_file; off += step) {
		for (size_t i = 0; i < step / 8; i++)
			buf[i] = pattern_word(off + i * 8);
		if (pwrite(data_fd, buf, step, (off_t)off) != (ssize_t)step)
			die("writing %s: %s", data_path, strerror(errno));
	}
	munmap(buf, step);

	uint64_t x = 0x2545f4914f6cdd1dull;

	offsets = malloc(NOFF * sizeof(*offsets));
	if (!offsets)
		die("out of memory");
	for (unsigned i = 0; i < NOFF; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		offsets[i] = (x % (opt.read_file / READ_SIZE)) * READ_SIZE;
	}
	bufs = xalloc_pages((size_t)PAIRS * CHUNK > 32u * READ_SIZE ? (size_t)PAIRS * CHUNK
								    : 32u * READ_SIZE);
}

/* ---- the driver ---------------------------------------------------------------------- */

/* --only names `word` exactly. */
static bool only_has(const char *word)
{
	char list[512], *save = NULL;

	snprintf(list, sizeof(list), "%s", opt.only ? opt.only : "");
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (!strcmp(t, word))
			return true;
	return false;
}

/* Does token `t` (a workload name, or a prefix of names) select bench `b`? */
static bool token_selects(const char *t, const struct bench *b)
{
	bool exact = false;

	/* A full name selects only itself: nop_b1 is not nop_b128. */
	for (size_t i = 0; i < NBENCH; i++)
		exact |= !strcmp(t, benches[i].name);
	for (int r = 0; r < NROWS; r++)
		exact |= !strcmp(t, rows[r].name);
	if (!strcmp(t, b->name))
		return true;
	for (int r = 0; r < b->nrows; r++)
		if (exact ? !strcmp(rows[b->row[r]].name, t)
			  : !strncmp(rows[b->row[r]].name, t, strlen(t)))
			return true;
	return !exact && !strncmp(b->name, t, strlen(t));
}

static bool selected(const struct bench *b)
{
	char list[512], *save = NULL;

	if (b->storage && b->dev >= 0 && devs[b->dev].fd < 0)
		return false;	/* its device was not given */
	if (b->run == run_bcold && bcold_fd < 0)
		return false;
	if (b->storage != opt.storage)
		return false;	/* --storage runs storage rows only, and only then */
	if (!opt.only)
		return true;
	snprintf(list, sizeof(list), "%s", opt.only);
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (token_selects(t, b))
			return true;
	return false;
}

static bool method_in(const struct bench *b, int m)
{
	if (opt.method && strcmp(opt.method, meth_name[m]))
		return false;
	return have[m] && rows[b->row[0]].has[m] && !rows[b->row[0]].failed[m];
}

static void mark_failed(const struct bench *b, int m)
{
	for (int r = 0; r < b->nrows; r++)
		rows[b->row[r]].failed[m] = true;
}

/* One run; the values go to rep `rep` of the bench's rows unless rep < 0. */
static int one_run(struct bench *b, int m, long iters, int rep)
{
	struct sysstat s0, s1;
	double out[2] = {0, 0};
	long ops = 0;
	int rc;

	cur_bench = b->name;
	cur_meth = meth_name[m];
	if (b->prep)
		b->prep(b);
	sysstat_read(&s0);
	rc = b->run(b, m, iters, out, &ops);
	sysstat_read(&s1);
	if (rc) {
		mark_failed(b, m);
		return rc;
	}
	if (rep < 0)
		return 0;
	for (int r = 0; r < b->nrows; r++) {
		struct row *w = &rows[b->row[r]];

		w->v[m][rep] = out[r];
		w->cs[m][rep] = ops ? (double)(s1.ctxt - s0.ctxt) / (double)ops : NAN;
		w->cpu[m][rep] = ops ? (double)(s1.busy_ticks - s0.busy_ticks) * 1e6 /
					       (double)clk_tck / (double)ops
				     : NAN;
		w->n[m] = rep + 1;
	}
	return 0;
}

static long fixed_iters(const struct bench *b)
{
	if (b->run == run_pingpong)
		return opt.pp_samples;
	if (b->run == run_timer)
		return b->arg == 100000 ? opt.t100_samples : opt.t1ms_samples;
	if (b->run == run_bcold)
		return opt.cold_ops;
	if (b->run == run_tcp)
		return opt.tcp_reqs;
	return 1;
}

/* Warm up; for throughput runs find the iteration count that fills the budget. */
static void warm_up(struct bench *b, int m)
{
	verify = true;
	if (!b->calibrated) {
		b->iters[m] = fixed_iters(b);
		one_run(b, m, b->iters[m], -1);
		verify = false;
		return;
	}
	long n = 4;
	const double budget = opt.budget_ms / 1e3;

	/*
	 * The first calls pay first-touch costs (page faults, lazily built
	 * packets, and under TCG the translation of every code path): timed,
	 * they would make the calibration pick far too few iterations.
	 */
	if (one_run(b, m, n, -1)) {
		verify = false;
		return;
	}
	verify = false;
	for (;;) {
		uint64_t t0 = now_ns();

		if (one_run(b, m, n, -1))
			break;
		verify = false;
		double t = secs(t0, now_ns());

		if (t >= budget / 4 || n >= (1l << 30)) {
			double want = (double)n * budget / (t > 0 ? t : 1e-9);

			b->iters[m] = want < 1 ? 1 : (long)want;
			break;
		}
		n *= t < budget / 64 ? 8 : 2;
	}
	verify = false;
}

static void run_bench(struct bench *b, int idx, int total)
{
	uint64_t t0 = now_ns();

	for (int m = 0; m < NMETH; m++)
		if (method_in(b, m))
			warm_up(b, m);
	for (int r = 0; r < b->nrows; r++)
		rows[b->row[r]].ran = true;
	for (int rep = 0; rep < opt.reps; rep++) {
		for (int k = 0; k < NMETH; k++) {
			int m = (k + rep) % NMETH;	/* rotate the order */

			if (method_in(b, m))
				one_run(b, m, b->iters[m], rep);
		}
	}
	if (opt.verbose)
		fprintf(stderr, "pwring-bench: [%d/%d] %s: %d reps in %.1f s\n", idx, total, b->name,
			opt.reps, secs(t0, now_ns()));
}

/* ---- output ---------------------------------------------------------------------------- */

static double row_median(const struct row *w, int m)
{
	if (!w->has[m] || !have[m] || w->failed[m] || w->n[m] == 0)
		return NAN;
	return median_dbl(w->v[m], w->n[m]);
}

static double row_min(const struct row *w, int m)
{
	double v = INFINITY;

	for (int i = 0; i < w->n[m]; i++)
		v = fmin(v, w->v[m][i]);
	return v;
}

static double row_max(const struct row *w, int m)
{
	double v = -INFINITY;

	for (int i = 0; i < w->n[m]; i++)
		v = fmax(v, w->v[m][i]);
	return v;
}

static double advantage(const struct row *w, double pw, double ur)
{
	if (isnan(pw) || isnan(ur))
		return NAN;
	if (w->better == HIGHER)
		return ur > 0 ? pw / ur : NAN;
	/* Latency: io_uring / pwring; below 0.1 µs counts as 0.1 µs. */
	return fmax(ur, 0.1) / fmax(pw, 0.1);
}

/* Paired per-repetition ratios (the runs of one repetition ran back to back). */
static void ratio_range(const struct row *w, double *lo, double *hi)
{
	int n = w->n[M_PW] < w->n[M_UR] ? w->n[M_PW] : w->n[M_UR];

	*lo = INFINITY;
	*hi = -INFINITY;
	for (int i = 0; i < n; i++) {
		double r = advantage(w, w->v[M_PW][i], w->v[M_UR][i]);

		*lo = fmin(*lo, r);
		*hi = fmax(*hi, r);
	}
	if (n == 0)
		*lo = *hi = NAN;
}

static void fmt_num(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else if (fabs(v) >= 1e6)
		snprintf(buf, len, "%.2fM", v / 1e6);
	else if (fabs(v) >= 1e4)
		snprintf(buf, len, "%.1fk", v / 1e3);
	else if (fabs(v) >= 100)
		snprintf(buf, len, "%.0f", v);
	else if (fabs(v) >= 10)
		snprintf(buf, len, "%.1f", v);
	else
		snprintf(buf, len, "%.2f", v);
}

static void fmt_cell(char *buf, size_t len, const struct row *w, int m)
{
	double med = row_median(w, m);
	char a[32], b[32], c[32];

	if (!w->has[m]) {
		buf[0] = 0;
		return;
	}
	if (isnan(med)) {
		snprintf(buf, len, "%s", w->failed[m] ? "FAILED" : "n/a");
		return;
	}
	fmt_num(a, sizeof(a), med);
	fmt_num(b, sizeof(b), row_min(w, m));
	fmt_num(c, sizeof(c), row_max(w, m));
	snprintf(buf, len, "%s [%s..%s]", a, b, c);
}

/* Width of the workload column: the longest name that ran, at least 15. */
static int name_width(void)
{
	int w = 15;

	for (int i = 0; i < NROWS; i++)
		if (rows[i].ran && (int)strlen(rows[i].name) > w)
			w = (int)strlen(rows[i].name);
	return w;
}

static void print_table(FILE *f)
{
	const int nw = name_width();

	fprintf(f, "%-*s %-8s %-24s %-24s %-24s %s\n", nw, "workload", "metric", "pwring",
		"io_uring", opt.storage ? "conventional" : "syscalls", "pwring advantage");
	for (int i = 0; i < NROWS; i++) {
		const struct row *w = &rows[i];
		char c[NMETH][128], rr[64];
		double lo, hi;

		if (!w->ran)
			continue;
		for (int m = 0; m < NMETH; m++)
			fmt_cell(c[m], sizeof(c[m]), w, m);
		double ratio = advantage(w, row_median(w, M_PW), row_median(w, M_UR));

		ratio_range(w, &lo, &hi);
		if (isnan(ratio))
			snprintf(rr, sizeof(rr), "-");
		else
			snprintf(rr, sizeof(rr), "%.2fx [%.2f..%.2f]", ratio, lo, hi);
		fprintf(f, "%-*s %-8s %-24s %-24s %-24s %s\n", nw, w->name, w->metric, c[M_PW],
			c[M_UR], c[M_SYS], rr);
	}
}

static void print_costs(FILE *f)
{
	fprintf(f, "\nper op (medians): wall ns/op for throughput rows; context switches and busy CPU\n"
		   "time per op, system-wide (includes kernel workers)\n");
	const int nw = name_width();

	fprintf(f, "%-*s %10s %10s %10s | %8s %8s %8s | %9s %9s %9s\n", nw, "workload", "pw ns",
		"uring ns", "sys ns", "pw cs", "uring cs", "sys cs", "pw cpu", "uring cpu",
		"sys cpu");
	for (int i = 0; i < NROWS; i++) {
		const struct row *w = &rows[i];
		char ns[NMETH][32], cs[NMETH][32], cpu[NMETH][32];

		if (!w->ran || i == R_PP99 || i == R_T100_99 || i == R_T1M_99 || i == R_TCP99)
			continue;
		for (int m = 0; m < NMETH; m++) {
			double v = row_median(w, m);
			bool ok = !isnan(v);

			if (ok && w->better == HIGHER && strcmp(w->metric, "MiB/s"))
				snprintf(ns[m], 32, "%.0f", 1e9 / v);
			else
				snprintf(ns[m], 32, "-");
			snprintf(cs[m], 32, ok ? "%.2f" : "-", ok ? median_dbl(w->cs[m], w->n[m]) : 0.0);
			snprintf(cpu[m], 32, ok ? "%.1fus" : "-",
				 ok ? median_dbl(w->cpu[m], w->n[m]) : 0.0);
		}
		fprintf(f, "%-*s %10s %10s %10s | %8s %8s %8s | %9s %9s %9s\n", nw,
			i == R_PP50 ? "pingpong" : i == R_T100_50 ? "timer100us"
						   : i == R_T1M_50 ? "timer1ms" : w->name,
			ns[0], ns[1], ns[2], cs[0], cs[1], cs[2], cpu[0], cpu[1], cpu[2]);
	}
}

static void print_legend(FILE *f)
{
	const char *last = NULL;

	fprintf(f, "\nsyscalls column:");
	for (int i = 0; i < NROWS; i++) {
		if (!rows[i].ran || !sys_what[i] || (last && !strcmp(last, sys_what[i])))
			continue;
		fprintf(f, "%s %s: %s", last ? ";" : "", rows[i].name, sys_what[i]);
		last = sys_what[i];
	}
	fprintf(f, "\n");
}

static void print_memory(FILE *f)
{
	fprintf(f, "\nring memory, 256 SQEs + 256 CQEs (io_uring: IORING_SETUP_CQSIZE):\n");
	for (int k = 0; k < 2; k++) {
		const struct memfig *g = &memf[k];

		if (!have[k ? M_UR : M_PW])
			continue;
		fprintf(f, "  %-9s needs %6zu bytes -> %zu pages (%zu bytes); /proc/self/maps shows "
			   "%zu pages\n",
			k ? "io_uring" : "pwring", g->need_bytes, g->pages, g->pages * PAGE,
			g->mapped_pages);
	}
}

static void write_csv(FILE *f, const char *prefix)
{
	for (int i = 0; i < NROWS; i++) {
		const struct row *w = &rows[i];
		double v[NMETH], ratio;

		if (!w->ran)
			continue;
		for (int m = 0; m < NMETH; m++)
			v[m] = row_median(w, m);
		ratio = advantage(w, v[M_PW], v[M_UR]);
		fprintf(f, "%s%s,%s,%s", prefix, w->name, kernel_label, w->metric);
		for (int m = 0; m < NMETH; m++)
			isnan(v[m]) ? fprintf(f, ",") : fprintf(f, ",%.6g", v[m]);
		isnan(ratio) ? fprintf(f, ",\n") : fprintf(f, ",%.3f\n", ratio);
	}
}

static void write_detail(FILE *f, const char *prefix)
{
	for (int i = 0; i < NROWS; i++) {
		const struct row *w = &rows[i];

		if (!w->ran)
			continue;
		for (int m = 0; m < NMETH; m++)
			for (int r = 0; r < w->n[m]; r++)
				fprintf(f, "%s%s,%s,%s,%s,%d,%.6g,%.4g,%.4g\n", prefix, w->name,
					kernel_label, w->metric, meth_name[m], r, w->v[m][r],
					w->cs[m][r], w->cpu[m][r]);
	}
}

static void print_header(FILE *f)
{
	fprintf(f, "pwring-bench: kernel %s (%s), %ld CPUs, clocksource %s, meltdown: %s\n",
		kernel_release, kernel_label, sysconf(_SC_NPROCESSORS_ONLN), clocksource, meltdown);
	fprintf(f, "pwring-bench: %d reps%s, budget %.0f ms/run, median [min..max]; "
		   "clock_gettime %.0f ns, getpid(2) %.0f ns\n",
		opt.reps, opt.quick ? " (--quick)" : "", opt.budget_ms, ns_clock, ns_getpid);
	fprintf(f, "pwring-bench: advantage > 1 means pwring is better (throughput pwring/io_uring, "
		   "latency io_uring/pwring)\n");
}

static FILE *open_out(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		die("%s: %s", path, strerror(errno));
	return f;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"quick", no_argument, NULL, 'q'},	  {"reps", required_argument, NULL, 'r'},
		{"budget-ms", required_argument, NULL, 'b'}, {"only", required_argument, NULL, 'o'},
		{"csv", required_argument, NULL, 'c'},	  {"detail", required_argument, NULL, 'd'},
		{"dir", required_argument, NULL, 'D'},	  {"label", required_argument, NULL, 'l'},
		{"machine", no_argument, NULL, 'm'},	  {"verbose", no_argument, NULL, 'v'},
		{"storage", no_argument, NULL, 'S'},	  {"nullb", required_argument, NULL, 'N'},
		{"nvme", required_argument, NULL, 'V'},	  {"ext4-dir", required_argument, NULL, 'E'},
		{"method", required_argument, NULL, 'M'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, reps = -1;
	double budget = -1;

	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case 'q': opt.quick = true; break;
		case 'r': reps = atoi(optarg); break;
		case 'b': budget = atof(optarg); break;
		case 'o': opt.only = optarg; break;
		case 'c': opt.csv = optarg; break;
		case 'd': opt.detail = optarg; break;
		case 'D': opt.dir = optarg; break;
		case 'l': opt.label = optarg; break;
		case 'm': opt.machine = true; break;
		case 'v': opt.verbose = true; break;
		case 'S': opt.storage = true; break;
		case 'N': opt.nullb = optarg; break;
		case 'V': opt.nvme = optarg; break;
		case 'E': opt.ext4_dir = optarg; break;
		case 'M': opt.method = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	opt.reps = reps > 0 ? reps : opt.quick ? 3 : 7;
	if (opt.reps > MAX_REPS)
		die("--reps: at most %d", MAX_REPS);
	opt.budget_ms = budget > 0 ? budget : opt.quick ? 15 : 200;
	opt.pp_samples = opt.quick ? 100 : 1000;
	opt.t100_samples = opt.quick ? 30 : 300;
	opt.t1ms_samples = opt.quick ? 10 : 100;
	opt.read_file = (opt.storage ? 1u : opt.quick ? 16u : 64u) << 20;
	opt.chain_bytes = (opt.quick ? 2u : 16u) << 20;
	opt.dev_region = 256u << 20;
	opt.dchain_bytes = (opt.quick ? 4u : 32u) << 20;
	opt.cold_file = (opt.quick ? 32u : 128u) << 20;
	opt.cold_ops = opt.quick ? 256 : 2048;
	opt.tcp_reqs = opt.quick ? 2000 : 10000;
	clk_tck = sysconf(_SC_CLK_TCK);

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Timer slack would add 50 µs to clock_nanosleep only; ring timers have none. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	probe_env();
	open_rings();
	make_file();
	if (opt.storage || opt.nullb || opt.nvme || opt.ext4_dir)
		open_storage();
	print_header(stdout);
	fflush(stdout);

	int nsel = 0, k = 0;

	for (size_t i = 0; i < NBENCH; i++)
		nsel += selected(&benches[i]);
	for (size_t i = 0; i < NBENCH; i++)
		if (selected(&benches[i]))
			run_bench(&benches[i], ++k, nsel);
	if (!opt.storage)
		measure_memory();
	if ((!opt.only && !opt.storage) || only_has("breakdown"))
		breakdown();

	if (opt.machine)
		printf("@@BENCH TABLE BEGIN\n");
	printf("\n");
	print_header(stdout);
	print_table(stdout);
	print_costs(stdout);
	print_breakdown(stdout);
	print_legend(stdout);
	if (!opt.storage)
		print_memory(stdout);
	if (opt.machine) {
		printf("@@BENCH TABLE END\n");
		write_csv(stdout, "@@BENCH csv ");
		write_detail(stdout, "@@BENCH detail ");
		for (int k = 0; k < 2 && !opt.storage; k++)
			if (have[k ? M_UR : M_PW])
				printf("@@BENCH mem %s,%s,%zu,%zu,%zu\n", kernel_label,
				       k ? "io_uring" : "pwring", memf[k].need_bytes, memf[k].pages,
				       memf[k].mapped_pages);
		printf("@@BENCH END\n");
	}
	if (opt.csv) {
		FILE *f = open_out(opt.csv);

		fprintf(f, "workload,kernel,metric,pwring,io_uring,syscalls,ratio\n");
		write_csv(f, "");
		fclose(f);
	}
	if (opt.detail) {
		FILE *f = open_out(opt.detail);

		fprintf(f, "workload,kernel,metric,method,rep,value,cs_per_op,cpu_us_per_op\n");
		write_detail(f, "");
		fclose(f);
	}

	bool failed = false;

	for (int i = 0; i < NROWS; i++)
		for (int m = 0; m < NMETH; m++)
			failed |= rows[i].ran && rows[i].failed[m];
	close(data_fd);
	return failed ? 1 : 0;
}
