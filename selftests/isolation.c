// SPDX-License-Identifier: MIT
/*
 * isolation: spec section 5, "a ring belongs to the process that set it up"
 * and "requests run as their submitter".
 *
 * Ownership. Another process sharing the open file of /dev/pwring (a raw
 * fork() child using the inherited descriptor, a process that received it
 * with SCM_RIGHTS, one that took it with pidfd_getfd()) gets EPERM from setup,
 * enter (both forms) and teardown, and changes nothing: the owner's queued
 * SQE is still unconsumed, its next ring gets the next id, its ring works.
 * Threads of the owner use it freely; the library's fork handling (the child
 * opens a file of its own) keeps working.
 *
 * Submitter's context. RLIMIT_FSIZE gives the short write (and EFBIG) that
 * write(2) gives, inline and for a WRITE dispatched by a timer as a linked
 * successor; a WRITE submitted as an unprivileged user clears S_ISUID as
 * write(2) does, and one submitted as root on a ring set up by an
 * unprivileged euid does not; tmpfs pages written through the ring are
 * charged to the submitter's memory cgroup; /proc/self/io counts what the
 * ring moved. Pins: 64 parked 1 MiB READs of an unprivileged process with
 * RLIMIT_MEMLOCK 64 KiB pin (next to) nothing and all complete.
 *
 * Runs as root; children drop to uid 1000 where an unprivileged user is
 * needed. Results of children are printed by the parent (iso.h).
 */
#include <pthread.h>
#include <sys/stat.h>

#include "iso.h"

#define SQE_NOP_DATA 77

/* ---- Ownership -------------------------------------------------------------------------- */

/* The owner's side: a ring on a private file with one NOP queued, not entered. */
struct owner {
	int fd;
	ioring_t ring;
	uint64_t id;
};

static void owner_open(struct owner *o)
{
	int r;

	o->fd = raw_open();
	if (o->fd < 0)
		tap_bail("open %s: %s", PWRING_DEVICE_PATH, strerror(errno));
	r = raw_setup(o->fd, &o->ring, NULL, 4, 4);
	if (r < 0)
		tap_bail("setup: %s", strerror(errno));
	o->id = (uint64_t)r;
	push_nop(&o->ring, 0, SQE_NOP_DATA);
}

/* In the foreign process: every ring call on the owner's file must fail EPERM. */
static void probe_foreign(int fd, uint64_t id, const char *how)
{
	unsigned long packed = id | (1ul << PWRING_ENTER_AMOUNT_SHIFT);
	ioring_t other;
	int r;

	r = raw_enter(fd, id, 1, 0);
	rec_ok(r < 0 && errno == EPERM, "%s: enter on the owner's ring fails EPERM", how);
	if (r >= 0 || errno != EPERM)
		rec_diag("got %d (%s)", r, r < 0 ? tap_errname(errno) : "success");
	r = ioctl(fd, PWRING_IOC_ENTER_PACKED, packed);
	rec_ok(r < 0 && errno == EPERM, "%s: packed enter on the owner's ring fails EPERM", how);
	if (r >= 0 || errno != EPERM)
		rec_diag("got %d (%s)", r, r < 0 ? tap_errname(errno) : "success");
	r = raw_setup(fd, &other, NULL, 4, 4);
	rec_ok(r < 0 && errno == EPERM, "%s: setup on the owner's file fails EPERM", how);
	if (r >= 0 || errno != EPERM)
		rec_diag("got %d (%s)", r, r < 0 ? tap_errname(errno) : "success");
	r = raw_teardown(fd, id);
	rec_ok(r < 0 && errno == EPERM, "%s: teardown of the owner's ring fails EPERM", how);
	if (r >= 0 || errno != EPERM)
		rec_diag("got %d (%s)", r, r < 0 ? tap_errname(errno) : "success");
}

/* In the owner, after the foreign process is gone: nothing changed. */
static void owner_check(struct owner *o, const char *how)
{
	bool mapped = !range_unmapped(o->ring.ctrl, PAGE);
	uint32_t shead = mapped ? __atomic_load_n(&o->ring.ctrl->shead, __ATOMIC_ACQUIRE) : ~0u;
	ioring_t next;
	cqe_t cqe;
	int r;

	tap_ok(mapped && shead == 0, "%s: the owner's queued SQE is still unconsumed", how);
	if (!TAP_LAST)
		tap_diag(mapped ? "shead is %u" : "the owner's ring is no longer mapped", shead);
	r = raw_setup(o->fd, &next, NULL, 4, 4);
	tap_ok(r == (int)o->id + 1, "%s: the owner's next ring gets id %d (no slot taken)", how,
	       (int)o->id + 1);
	if (!TAP_LAST)
		tap_diag("setup returned %d (%s)", r, r < 0 ? tap_errname(errno) : "an id");
	if (r >= 0)
		raw_teardown(o->fd, (uint64_t)r);
	r = mapped ? raw_enter(o->fd, o->id, 1, 1) : -1;
	tap_ok(r == 1 && cqe_pop(&o->ring, &cqe) && cqe_data(&cqe) == SQE_NOP_DATA,
	       "%s: the owner's ring still works (its NOP is consumed and completes)", how);
	if (!TAP_LAST)
		tap_diag("enter returned %d (%s)", r, r < 0 ? tap_errname(errno) : "count");
	raw_teardown(o->fd, o->id);
	close(o->fd);
}

static void test_raw_fork(void)
{
	struct owner o;
	pid_t pid;

	owner_open(&o);
	recs_reset();
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		tap_bail("fork: %s", strerror(errno));
	if (pid == 0) {
		probe_foreign(o.fd, o.id, "raw fork child");
		_exit(0);
	}
	recs_emit(4, "raw fork child", wait_child(pid, 10000));
	owner_check(&o, "raw fork child");
}

/* The foreign side of SCM_RIGHTS and pidfd_getfd: waits for the owner's message. */
struct handoff {
	int sock;	/* SCM_RIGHTS: the descriptor arrives here */
	int pipe_rd;	/* pidfd_getfd: the descriptor number arrives here */
	bool use_pidfd;
};

static void foreign_main(void *arg)
{
	struct handoff *h = arg;
	int fd = -1, pidfd, i;
	struct { int fd; uint64_t id; } msg;

	if (h->use_pidfd) {
		if (read(h->pipe_rd, &msg, sizeof(msg)) != sizeof(msg)) {
			rec_broken("pidfd_getfd: receiving the descriptor number");
			return;
		}
		pidfd = (int)syscall(SYS_pidfd_open, getppid(), 0);
		if (pidfd >= 0)
			fd = (int)syscall(SYS_pidfd_getfd, pidfd, msg.fd, 0);
		if (fd < 0) {
			for (i = 0; i < 4; i++)
				rec_skip(strerror(errno), "pidfd_getfd: no descriptor");
			return;
		}
		probe_foreign(fd, msg.id, "pidfd_getfd");
	} else {
		fd = recv_fd(h->sock);
		if (read(h->sock, &msg, sizeof(msg)) != sizeof(msg) || fd < 0) {
			rec_broken("SCM_RIGHTS: receiving the descriptor");
			return;
		}
		probe_foreign(fd, msg.id, "SCM_RIGHTS receiver");
	}
	close(fd);
}

static void test_handoff(bool use_pidfd)
{
	const char *how = use_pidfd ? "pidfd_getfd" : "SCM_RIGHTS receiver";
	struct handoff h = { .use_pidfd = use_pidfd };
	struct { int fd; uint64_t id; } msg;
	int sv[2], p[2];
	struct owner o;
	pid_t pid;

	xsocketpair(sv);
	xpipe(p);
	h.sock = sv[1];
	h.pipe_rd = p[0];
	recs_reset();
	/* The foreign process exists before the owner opens anything. */
	pid = spawn(foreign_main, &h);
	owner_open(&o);
	msg.fd = o.fd;
	msg.id = o.id;
	if (use_pidfd) {
		if (write(p[1], &msg, sizeof(msg)) != sizeof(msg))
			tap_diag("handoff: %s", strerror(errno));
	} else if (send_fd(sv[0], o.fd) < 0 || write(sv[0], &msg, sizeof(msg)) != sizeof(msg)) {
		tap_diag("handoff: %s", strerror(errno));
	}
	recs_emit(4, how, wait_child(pid, 10000));
	owner_check(&o, how);
	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

struct thread_arg {
	struct owner *o;
	int enter_ret, setup_ret, teardown_ret;
};

static void *owner_thread(void *arg)
{
	struct thread_arg *t = arg;
	ioring_t second;

	t->enter_ret = raw_enter(t->o->fd, t->o->id, 1, 1);
	t->setup_ret = raw_setup(t->o->fd, &second, NULL, 4, 4);
	t->teardown_ret = t->setup_ret >= 0 ? raw_teardown(t->o->fd, (uint64_t)t->setup_ret) : -1;
	return NULL;
}

static void test_threads(void)
{
	struct thread_arg t = { 0 };
	struct owner o;
	pthread_t th;
	cqe_t cqe;

	owner_open(&o);
	t.o = &o;
	pthread_create(&th, NULL, owner_thread, &t);
	pthread_join(th, NULL);
	tap_ok(t.enter_ret == 1 && cqe_pop(&o.ring, &cqe) && cqe_data(&cqe) == SQE_NOP_DATA,
	       "a thread of the owner: enter consumes and completes the owner's SQE");
	if (!TAP_LAST)
		tap_diag("enter returned %d", t.enter_ret);
	tap_ok(t.setup_ret == 1 && t.teardown_ret == 0,
	       "a thread of the owner: setup and teardown work");
	if (!TAP_LAST)
		tap_diag("setup %d teardown %d", t.setup_ret, t.teardown_ret);
	raw_teardown(o.fd, o.id);
	close(o.fd);
}

static bool nop_round_trip(ioring_t *ring, uint64_t timeout)
{
	cqe_t cqe;

	if (!push_nop(ring, timeout, 5) || ioring_enter(ring->id, 1, 1) != 1)
		return false;
	return cqe_pop(ring, &cqe) && cqe_data(&cqe) == 5 && cqe.error == ETIMEDOUT;
}

static void library_child(void *arg)
{
	ioring_t ring;
	ioring_id_t id = ioring_setup(&ring, NULL, 4, 4);

	(void)arg;
	rec_ok(id == 0 && nop_round_trip(&ring, MS) && ioring_teardown(id) == 0,
	       "library: a fork child's own ring (its own file) works");
	if (!TAP_LAST)
		rec_diag("setup %lld errno %s", (long long)id, tap_errname(errno));
}

static void test_library_fork(void)
{
	ioring_t ring;
	ioring_id_t id = ioring_setup(&ring, NULL, 4, 4);

	if (id == ERR)
		tap_bail("ioring_setup: %s", strerror(errno));
	run_recorded(library_child, NULL, 1, "library fork child", 10000);
	tap_ok(nop_round_trip(&ring, MS), "library: the parent's ring works after the child");
	ioring_teardown(id);
}

/* ---- Requests run as their submitter ------------------------------------------------------ */

/* One WRITE (optionally after a 1 ms NOP timer, hardlinked); its CQE. */
static cqe_t ring_write(ioring_t *ring, int fd, const void *buf, size_t n, ssize_t off, bool linked)
{
	cqe_t cqes[2] = { { .op = 0xdead, .error = -1 }, { .op = 0xdead, .error = -1 } };
	sqe_t sqe;

	if (linked) {
		sqe_prep_nop(&sqe, MS, ptr_of(1));
		sqe.flags |= SQE_HARDLINK;
		push_sqe(ring, &sqe);
	}
	sqe_prep_write(&sqe, fd, buf, n, off, CLOCKS_NEVER, ptr_of(2));
	push_sqe(ring, &sqe);
	submit_all(ring, linked ? 2 : 1, cqes);
	return *find_cqe(cqes, 2, 2);
}

static cqe_t ring_read(ioring_t *ring, int fd, void *buf, size_t n, ssize_t off)
{
	cqe_t cqe = { .op = 0xdead, .error = -1 };
	sqe_t sqe;

	sqe_prep_read(&sqe, fd, buf, n, off, CLOCKS_NEVER, ptr_of(3));
	push_sqe(ring, &sqe);
	submit_all(ring, 1, &cqe);
	return cqe;
}

static void fsize_child(void *arg)
{
	struct rlimit rl = { .rlim_cur = 4096, .rlim_max = 4096 };
	static char buf[8192];
	int ref = tmpfile_in("/tmp"), f1 = tmpfile_in("/tmp"), f2 = tmpfile_in("/tmp");
	ssize_t want, over;
	int over_err;
	struct stat s1, s2;
	ioring_t ring;
	cqe_t c;

	(void)arg;
	memset(buf, 'w', sizeof(buf));
	signal(SIGXFSZ, SIG_IGN);
	if (ioring_setup(&ring, NULL, 8, 8) == ERR || setrlimit(RLIMIT_FSIZE, &rl) < 0) {
		rec_broken("RLIMIT_FSIZE: ring setup or setrlimit");
		return;
	}
	want = write(ref, buf, sizeof(buf));
	rec_ok(want == 4096, "RLIMIT_FSIZE 4 KiB: write(2) of 8 KiB writes 4096 (reference)");
	over = pwrite(ref, buf, 10, 4096);
	over_err = errno;

	c = ring_write(&ring, f1, buf, sizeof(buf), 0, false);
	rec_ok(c.error == 0 && (ssize_t)c._result == want,
	       "RLIMIT_FSIZE 4 KiB: ring WRITE of 8 KiB is short (%zd) like write(2)", want);
	if (!TAP_LAST)
		rec_diag("CQE error %s result %llu", tap_errname(c.error),
			 (unsigned long long)c._result);
	c = ring_write(&ring, f2, buf, sizeof(buf), 0, true);
	rec_ok(c.error == 0 && (ssize_t)c._result == want,
	       "RLIMIT_FSIZE 4 KiB: WRITE linked after a 1 ms NOP timer is short (%zd) too", want);
	if (!TAP_LAST)
		rec_diag("CQE error %s result %llu", tap_errname(c.error),
			 (unsigned long long)c._result);
	c = ring_write(&ring, f1, buf, 10, 4096, false);
	rec_ok(over < 0 && over_err == EFBIG && c.error == EFBIG,
	       "RLIMIT_FSIZE 4 KiB: ring WRITE at the limit fails EFBIG like write(2)");
	if (!TAP_LAST)
		rec_diag("write(2): %zd %s; CQE error %s result %llu", over, tap_errname(over_err),
			 tap_errname(c.error), (unsigned long long)c._result);
	fstat(f1, &s1);
	fstat(f2, &s2);
	rec_ok(s1.st_size == 4096 && s2.st_size == 4096,
	       "RLIMIT_FSIZE 4 KiB: the files written through the ring hold 4096 bytes");
	if (!TAP_LAST)
		rec_diag("sizes %lld and %lld", (long long)s1.st_size, (long long)s2.st_size);
}

#define SUID_REF "/tmp/pwring-suid-ref"
#define SUID_RING "/tmp/pwring-suid-ring"
#define SUID_ROOT "/tmp/pwring-suid-root"

static void make_suid_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, "#!/bin/true\n", 12) != 12 ||
	    fchown(fd, USER_OTHER, USER_OTHER) < 0 || fchmod(fd, 04777) < 0)
		tap_bail("preparing %s: %s", path, strerror(errno));
	close(fd);
}

static bool suid_set(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && (st.st_mode & S_ISUID);
}

/* Set up as root, drop to uid 1000, write: S_ISUID must go, as with write(2). */
static void suid_child(void *arg)
{
	ioring_t ring;
	int ref, fd;
	ssize_t n;
	cqe_t c;

	(void)arg;
	if (ioring_setup(&ring, NULL, 4, 4) == ERR || !drop_to(USER_A)) {
		rec_broken("setuid file: ring setup as root or dropping to uid 1000");
		return;
	}
	ref = open(SUID_REF, O_WRONLY | O_CLOEXEC);
	fd = open(SUID_RING, O_WRONLY | O_CLOEXEC);
	if (ref < 0 || fd < 0) {
		rec_broken("setuid file: opening the files as uid 1000");
		return;
	}
	n = write(ref, "x", 1);
	rec_ok(n == 1 && !suid_set(SUID_REF),
	       "setuid file: write(2) as uid %d clears S_ISUID (reference)", USER_A);
	c = ring_write(&ring, fd, "x", 1, 0, false);
	rec_ok(c.error == 0 && c._result == 1 && !suid_set(SUID_RING),
	       "setuid file: ring set up as root, WRITE submitted as uid %d clears S_ISUID", USER_A);
	if (!TAP_LAST)
		rec_diag("CQE error %s result %llu; S_ISUID %s", tap_errname(c.error),
			 (unsigned long long)c._result, suid_set(SUID_RING) ? "still set" : "clear");
}

/* Set up with euid 1000, submit as root (CAP_FSETID): S_ISUID must stay. */
static void suid_root_child(void *arg)
{
	ioring_t ring;
	ioring_id_t id;
	int fd;
	cqe_t c;

	(void)arg;
	fd = open(SUID_ROOT, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || setresuid(-1, USER_A, 0) < 0) {
		rec_broken("setuid file: open or setresuid");
		return;
	}
	id = ioring_setup(&ring, NULL, 4, 4);
	if (seteuid(0) < 0 || id == ERR) {
		rec_ok(0, "setuid file: ring set up by euid %d, WRITE submitted as root keeps S_ISUID",
		       USER_A);
		rec_diag("setup as euid %d: %s", USER_A, strerror(errno));
		return;
	}
	c = ring_write(&ring, fd, "x", 1, 0, false);
	rec_ok(c.error == 0 && c._result == 1 && suid_set(SUID_ROOT),
	       "setuid file: ring set up by euid %d, WRITE submitted as root keeps S_ISUID", USER_A);
	if (!TAP_LAST)
		rec_diag("CQE error %s result %llu; S_ISUID %s", tap_errname(c.error),
			 (unsigned long long)c._result, suid_set(SUID_ROOT) ? "set" : "cleared");
}

static void test_suid(void)
{
	make_suid_file(SUID_REF);
	make_suid_file(SUID_RING);
	make_suid_file(SUID_ROOT);
	run_recorded(suid_child, NULL, 2, "setuid child", 10000);
	run_recorded(suid_root_child, NULL, 1, "setuid root child", 10000);
	unlink(SUID_REF);
	unlink(SUID_RING);
	unlink(SUID_ROOT);
}

/* ---- Memory cgroup ---------------------------------------------------------------------- */

#define CG_ROOT "/sys/fs/cgroup"
#define CG_DIR CG_ROOT "/pwring-iso"
#define CG_BYTES (16ul << 20)
#define CG_CHUNK (1ul << 20)

static long long cg_current(void)
{
	return read_ll(CG_DIR "/memory.current");
}

/* Writes CG_BYTES through the ring in 1 MiB WRITEs (each after a 1 ms NOP if linked). */
static long long ring_fill(ioring_t *ring, int fd, const char *buf, bool linked)
{
	cqe_t cqes[2 * CG_BYTES / CG_CHUNK];
	size_t i, n = 0;
	long long done = 0;
	sqe_t sqe;

	for (i = 0; i < CG_BYTES / CG_CHUNK; i++) {
		if (linked) {
			sqe_prep_nop(&sqe, MS, ptr_of(1000 + i));
			sqe.flags |= SQE_HARDLINK;
			push_sqe(ring, &sqe);
			n++;
		}
		sqe_prep_write(&sqe, fd, buf + i * CG_CHUNK, CG_CHUNK, (ssize_t)(i * CG_CHUNK),
			       CLOCKS_NEVER, ptr_of(1 + i));
		push_sqe(ring, &sqe);
		n++;
	}
	submit_all(ring, n, cqes);
	for (i = 0; i < n; i++)
		if (cqes[i].op == IO_OP_WRITE && cqes[i].error == 0)
			done += (long long)cqes[i]._result;
	return done;
}

static void memcg_child(void *arg)
{
	char *buf = xmap(CG_BYTES, PROT_READ | PROT_WRITE);
	int fa, fb, fc;
	long long m0, m1, m2, m3, done = 0, moved;
	ioring_t ring;
	ssize_t n;

	(void)arg;
	if (write_str(CG_DIR "/cgroup.procs", "0") < 0) {
		rec_skip(strerror(errno), "memcg: cannot join the cgroup");
		return;
	}
	memset(buf, 'm', CG_BYTES);
	if (ioring_setup(&ring, NULL, 64, 64) == ERR) {
		rec_broken("memcg: ring setup");
		return;
	}
	fa = tmpfile_in("/tmp");
	fb = tmpfile_in("/tmp");
	fc = tmpfile_in("/tmp");
	m0 = cg_current();
	while ((size_t)done < CG_BYTES && (n = write(fa, buf + done, CG_BYTES - done)) > 0)
		done += n;
	m1 = cg_current();
	rec_ok(m1 - m0 >= (long long)(CG_BYTES * 3 / 4),
	       "memcg: write(2) of 16 MiB to tmpfs is charged to the cgroup (reference: +%lld KiB)",
	       (m1 - m0) >> 10);
	moved = ring_fill(&ring, fb, buf, false);
	m2 = cg_current();
	rec_ok(moved == (long long)CG_BYTES && m2 - m1 >= (long long)(CG_BYTES * 3 / 4),
	       "memcg: ring WRITEs of 16 MiB to tmpfs are charged to the submitter's cgroup "
	       "(+%lld KiB)", (m2 - m1) >> 10);
	if (!TAP_LAST)
		rec_diag("moved %lld bytes; memory.current %lld -> %lld", moved, m1, m2);
	moved = ring_fill(&ring, fc, buf, true);
	m3 = cg_current();
	rec_ok(moved == (long long)CG_BYTES && m3 - m2 >= (long long)(CG_BYTES * 3 / 4),
	       "memcg: WRITEs dispatched by NOP timers (hardlinked) are charged there too "
	       "(+%lld KiB)", (m3 - m2) >> 10);
	if (!TAP_LAST)
		rec_diag("moved %lld bytes; memory.current %lld -> %lld", moved, m2, m3);
	close(fa);
	close(fb);
	close(fc);
}

static bool has_word(const char *path, const char *word)
{
	char buf[512];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	return strstr(buf, word) != NULL;
}

static void test_memcg(void)
{
	const char *why = NULL;
	bool mounted = false;
	int i;

	if (access(CG_ROOT "/cgroup.controllers", F_OK) != 0) {
		if (mount("none", CG_ROOT, "cgroup2", 0, NULL) == 0)
			mounted = true;
		else
			why = "cgroup v2 cannot be mounted";
	}
	if (!why && !has_word(CG_ROOT "/cgroup.controllers", "memory"))
		why = "no memory controller in cgroup v2";
	if (!why) {
		write_str(CG_ROOT "/cgroup.subtree_control", "+memory");
		if (mkdir(CG_DIR, 0755) < 0 && errno != EEXIST)
			why = "cannot create a cgroup";
		else if (access(CG_DIR "/memory.current", R_OK) != 0)
			why = "the memory controller is not enabled for children";
	}
	if (why) {
		for (i = 0; i < 3; i++)
			tap_skip(why, "memcg: case %d", i + 1);
	} else {
		run_recorded(memcg_child, NULL, 3, "memcg child", 60000);
	}
	rmdir(CG_DIR);
	if (mounted)
		umount(CG_ROOT);
}

/* ---- I/O accounting ----------------------------------------------------------------------- */

static void ioacct_child(void *arg)
{
	const size_t len = 1 << 20;
	char *buf = xmap(len, PROT_READ | PROT_WRITE);
	char small[4096];
	long long a, b;
	int fd = tmpfile_in("/tmp"), p[2];
	ioring_t ring;
	sqe_t sqe;
	cqe_t c;

	(void)arg;
	memset(buf, 'a', len);
	memset(small, 's', sizeof(small));
	/* Kernels without CONFIG_TASK_IO_ACCOUNTING (the debug one) have no /proc/self/io. */
	if (proc_io("wchar") < 0) {
		for (int i = 0; i < 4; i++)
			rec_skip("no /proc/self/io in this kernel", "/proc/self/io: case %d", i + 1);
		return;
	}
	if (ioring_setup(&ring, NULL, 8, 8) == ERR) {
		rec_broken("I/O accounting: ring setup");
		return;
	}
	a = proc_io("wchar");
	c = ring_write(&ring, fd, buf, len, 0, false);
	b = proc_io("wchar");
	rec_ok(c.error == 0 && c._result == len && b - a >= (long long)len,
	       "/proc/self/io: a ring WRITE of 1 MiB adds it to wchar (+%lld)", b - a);
	a = proc_io("rchar");
	c = ring_read(&ring, fd, buf, len, 0);
	b = proc_io("rchar");
	rec_ok(c.error == 0 && c._result == len && b - a >= (long long)len,
	       "/proc/self/io: a ring READ of 1 MiB adds it to rchar (+%lld)", b - a);
	a = proc_io("wchar");
	c = ring_write(&ring, fd, buf, len, (ssize_t)len, true);
	b = proc_io("wchar");
	rec_ok(c.error == 0 && c._result == len && b - a >= (long long)len,
	       "/proc/self/io: a WRITE dispatched by a NOP timer adds to wchar (+%lld)", b - a);

	/* A READ parked on an empty pipe, completed when data arrives. */
	xpipe(p);
	sqe_prep_read(&sqe, p[0], buf, len, IO_OFF_CUR, CLOCKS_NEVER, ptr_of(9));
	push_sqe(&ring, &sqe);
	if (ioring_enter(ring.id, 1, 0) != 1) {
		rec_broken("I/O accounting: enter of a pipe READ");
		return;
	}
	sleep_ns(50 * MS);
	a = proc_io("rchar");
	if (write(p[1], small, sizeof(small)) != sizeof(small) || !wait_pop(&ring, &c, 1)) {
		rec_broken("I/O accounting: completing the pipe READ");
		return;
	}
	b = proc_io("rchar");
	rec_ok(c.error == 0 && c._result > 0 && b - a >= (long long)c._result,
	       "/proc/self/io: a parked pipe READ adds what it read (%llu) to rchar (+%lld)",
	       (unsigned long long)c._result, b - a);
}

/* ---- Pins ------------------------------------------------------------------------------- */

#define PIN_READS 64
#define PIN_LEN (1ul << 20)

static void pins_child(void *arg)
{
	struct rlimit rl = { .rlim_cur = 64 << 10, .rlim_max = 64 << 10 };
	char *bufs = xmap(PIN_READS * PIN_LEN, PROT_READ | PROT_WRITE);
	int pipes[PIN_READS][2], i, good = 0;
	cqe_t cqes[PIN_READS];
	uint64_t r, end;
	ioring_t ring;
	sqe_t sqe;

	(void)arg;
	memset(bufs, 'p', PIN_READS * PIN_LEN);
	for (i = 0; i < PIN_READS; i++)
		xpipe(pipes[i]);
	if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0 || !drop_to(USER_A) ||
	    ioring_setup(&ring, NULL, PIN_READS, PIN_READS) == ERR) {
		rec_broken("pins: setrlimit, dropping to uid 1000 or ring setup");
		recs->flag[0] = 1;
		return;
	}
	for (i = 0; i < PIN_READS; i++) {
		sqe_prep_read(&sqe, pipes[i][0], bufs + i * PIN_LEN, PIN_LEN, IO_OFF_CUR,
			      CLOCKS_NEVER, ptr_of(i + 1));
		push_sqe(&ring, &sqe);
	}
	r = ioring_enter(ring.id, PIN_READS, 0);
	rec_ok(r == PIN_READS && ioring_cq_ready(&ring) == 0,
	       "pins: 64 READs of 1 MiB on empty pipes are admitted and park (uid %d, "
	       "RLIMIT_MEMLOCK 64 KiB)", USER_A);
	if (!TAP_LAST)
		rec_diag("enter %lld, %zu CQEs early", (long long)r, ioring_cq_ready(&ring));
	recs->flag[0] = 1;
	end = now_ns() + 20000 * MS;
	while (!recs->flag[1] && now_ns() < end)
		sleep_ns(5 * MS);
	for (i = 0; i < PIN_READS; i++)
		if (write(pipes[i][1], "z", 1) != 1)
			break;
	if (ioring_enter(ring.id, 0, PIN_READS) == ERR) {
		rec_broken("pins: waiting for the 64 READs");
		return;
	}
	r = pop_cqes(&ring, cqes, PIN_READS);
	for (i = 0; i < (int)r; i++)
		good += cqes[i].error == 0 && cqes[i]._result == 1;
	rec_ok(good == PIN_READS, "pins: all 64 complete with the byte written (none ENOMEM)");
	if (!TAP_LAST)
		rec_diag("%d of %d good (%llu CQEs)", good, PIN_READS, (unsigned long long)r);
}

static void test_pins(void)
{
	long long p0 = pins_outstanding(), p1, p2;
	uint64_t end;
	pid_t pid;

	recs_reset();
	pid = spawn(pins_child, NULL);
	end = now_ns() + 20000 * MS;
	while (!recs->flag[0] && now_ns() < end)
		sleep_ns(5 * MS);
	sleep_ns(300 * MS);
	p1 = pins_outstanding();
	recs->flag[1] = 1;
	recs_emit(2, "pins child", wait_child(pid, 30000));
	if (p0 < 0) {
		tap_skip("no nr_foll_pin_* in /proc/vmstat", "pins: parked READs pin nothing");
		tap_skip("no nr_foll_pin_* in /proc/vmstat", "pins: back to the start");
		return;
	}
	tap_ok(p1 - p0 <= 16, "pins: 64 parked 1 MiB READs pin at most 16 pages (+%lld)", p1 - p0);
	p2 = pins_settle(p0);
	tap_ok(p2 == p0, "pins: the pin count is back to its start after completion (%lld)",
	       p2 - p0);
}

int main(void)
{
	io_init();
	recs_init();
	tap_plan(3 * 7 + 2 + 2 + 5 + 3 + 3 + 4 + 4);

	section("ownership: raw fork", 30);
	test_raw_fork();
	section("ownership: SCM_RIGHTS", 30);
	test_handoff(false);
	section("ownership: pidfd_getfd", 30);
	test_handoff(true);
	section("ownership: threads", 30);
	test_threads();
	section("ownership: library fork", 30);
	test_library_fork();

	section("submitter: RLIMIT_FSIZE", 30);
	run_recorded(fsize_child, NULL, 5, "RLIMIT_FSIZE child", 20000);
	section("submitter: setuid", 30);
	test_suid();
	section("submitter: memcg", 90);
	test_memcg();
	section("submitter: I/O accounting", 30);
	run_recorded(ioacct_child, NULL, 4, "I/O accounting child", 20000);
	section("pins", 90);
	test_pins();
	alarm(0);
	return tap_done();
}
