// SPDX-License-Identifier: MIT
/*
 * access: who may set up rings - the module parameters `disabled` (0 anyone,
 * 1 members of `group` and CAP_SYS_ADMIN, 2 nobody) and `group`, as root and
 * as an unprivileged user (uid/gid 65534 in a forked child). open() always
 * succeeds; only setup fails EPERM. Rings set up before a change keep
 * working. Written values are validated. The parameters are restored at exit.
 * Runs as root (skips otherwise).
 */
#include <grp.h>

#include "common.h"

#define PARAMS "/sys/module/pwring/parameters/"
#define NOBODY 65534
#define TEST_GID 4242

/* What the child saw (its exit status). */
enum { SETUP_OK = 0, SETUP_EPERM = 1, OPEN_FAILED = 2, SETUP_OTHER = 3, CREDS_FAILED = 5 };

static const char *outcome_name(int o)
{
	switch (o) {
	case SETUP_OK: return "setup succeeds";
	case SETUP_EPERM: return "setup fails EPERM";
	case OPEN_FAILED: return "open fails";
	case SETUP_OTHER: return "setup fails with another errno";
	case CREDS_FAILED: return "could not change credentials";
	default: return "child died";
	}
}

static int saved_disabled, saved_group;

static int read_param(const char *name)
{
	char path[128], buf[32];
	int fd, n;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -100;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -100;
	buf[n] = 0;
	return atoi(buf);
}

/* 0, or the errno of the failed open/write. */
static int write_param(const char *name, const char *value)
{
	char path[128];
	int fd, err = 0;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (write(fd, value, strlen(value)) < 0)
		err = errno;
	close(fd);
	return err;
}

static void set_param(const char *name, int v)
{
	char buf[16];
	int err;

	snprintf(buf, sizeof(buf), "%d", v);
	err = write_param(name, buf);
	if (err)
		tap_bail("writing %d to %s: %s", v, name, strerror(err));
}

static void restore(void)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", saved_disabled);
	write_param("disabled", buf);
	snprintf(buf, sizeof(buf), "%d", saved_group);
	write_param("group", buf);
}

struct who {
	bool drop;		/* become uid/gid NOBODY */
	gid_t gid;		/* primary gid after dropping */
	gid_t extra;		/* a supplementary group, or 0 for none */
};

static void try_setup(void *arg)
{
	const struct who *w = arg;
	ioring_t ring;
	int fd;

	if (w->drop) {
		gid_t groups[1] = { w->extra };

		if (setgroups(w->extra ? 1 : 0, groups) || setgid(w->gid) || setuid(NOBODY))
			_exit(CREDS_FAILED);
	}
	fd = raw_open();
	if (fd < 0) {
		fprintf(stderr, "# open %s as uid %d: %s\n", PWRING_DEVICE_PATH, (int)getuid(),
			strerror(errno));
		_exit(OPEN_FAILED);
	}
	if (raw_setup(fd, &ring, NULL, 4, 4) >= 0)
		_exit(SETUP_OK);
	_exit(errno == EPERM ? SETUP_EPERM : SETUP_OTHER);
}

static int probe(bool drop, gid_t gid, gid_t extra)
{
	struct who w = { .drop = drop, .gid = gid, .extra = extra };
	int status = run_child(try_setup, &w);

	if (status == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static const char *who_name(bool drop, gid_t gid, gid_t extra)
{
	static char buf[96];

	if (!drop)
		return "root";
	snprintf(buf, sizeof(buf), "uid %d gid %u%s", NOBODY, (unsigned)gid,
		 extra ? " + supplementary group" : "");
	return buf;
}

static void expect(int disabled, int group, bool drop, gid_t gid, gid_t extra, int want)
{
	int got = probe(drop, gid, extra);

	tap_ok(got == want, "disabled=%d group=%d, %s: %s", disabled, group,
	       who_name(drop, gid, extra), outcome_name(want));
	if (!TAP_LAST)
		tap_diag("got: %s (%d)", outcome_name(got), got);
}

/* 9 tests */
static void test_levels(void)
{
	set_param("group", -1);
	set_param("disabled", 0);
	expect(0, -1, false, 0, 0, SETUP_OK);
	expect(0, -1, true, NOBODY, 0, SETUP_OK);

	set_param("disabled", 1);
	expect(1, -1, false, 0, 0, SETUP_OK);
	expect(1, -1, true, NOBODY, 0, SETUP_EPERM);

	set_param("group", TEST_GID);
	expect(1, TEST_GID, true, NOBODY, 0, SETUP_EPERM);
	expect(1, TEST_GID, true, NOBODY, TEST_GID, SETUP_OK);
	expect(1, TEST_GID, true, TEST_GID, 0, SETUP_OK);

	set_param("disabled", 2);
	expect(2, TEST_GID, false, 0, 0, SETUP_EPERM);
	expect(2, TEST_GID, true, NOBODY, TEST_GID, SETUP_EPERM);
}

/* 3 tests: a ring set up before disabled=2 keeps working. */
static void test_existing_ring(void)
{
	ioring_t ring;
	ioring_id_t id;
	cqe_t cqe;

	set_param("disabled", 0);
	id = ioring_setup(&ring, NULL, 4, 4);
	tap_ok(id != ERR, "disabled=0: setup in this process");
	if (id == ERR) {
		tap_skip("no ring", "existing ring after disabled=2");
		tap_skip("no ring", "teardown after disabled=2");
		return;
	}
	set_param("disabled", 2);
	push_nop(&ring, 0, 7);
	tap_ok(ioring_enter(id, 1, 1) == 1 && cqe_pop(&ring, &cqe) && cqe.error == ETIMEDOUT &&
	       cqe_data(&cqe) == 7, "disabled=2: a ring set up before still runs a NOP");
	EXPECT_EQ(ioring_teardown(id), 0, "disabled=2: its teardown succeeds");
	set_param("disabled", 0);
}

/* 7 tests */
static void test_validation(void)
{
	set_param("disabled", 1);
	set_param("group", 7);
	tap_ok(write_param("disabled", "3") == EINVAL, "disabled=3 is refused with EINVAL");
	tap_ok(write_param("disabled", "-1") == EINVAL, "disabled=-1 is refused with EINVAL");
	tap_ok(write_param("disabled", "x") == EINVAL, "disabled=x is refused with EINVAL");
	tap_ok(write_param("group", "-2") == EINVAL, "group=-2 is refused with EINVAL");
	tap_ok(read_param("disabled") == 1 && read_param("group") == 7,
	       "refused writes change nothing (disabled=%d group=%d)", read_param("disabled"),
	       read_param("group"));
	tap_ok(write_param("disabled", "2\n") == 0 && read_param("disabled") == 2,
	       "disabled=2 with a newline is accepted");
	tap_ok(write_param("group", "-1") == 0 && read_param("group") == -1,
	       "group=-1 is accepted");
}

static void try_write_param(void *arg)
{
	(void)arg;
	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		_exit(CREDS_FAILED);
	_exit(write_param("disabled", "0") == EACCES ? 0 : 1);
}

/* 1 test */
static void test_unprivileged_write(void)
{
	int status;

	set_param("disabled", 1);
	status = run_child(try_write_param, NULL);
	tap_ok(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
	       read_param("disabled") == 1,
	       "an unprivileged user cannot write the parameters (EACCES)");
}

int main(void)
{
	require_device();
	if (geteuid() != 0)
		tap_skip_all("needs root");
	saved_disabled = read_param("disabled");
	saved_group = read_param("group");
	if (saved_disabled == -100 || saved_group == -100)
		tap_skip_all("no " PARAMS "{disabled,group} (module without access control)");
	tap_plan(2 + 9 + 3 + 7 + 1);
	atexit(restore);
	tap_ok(saved_disabled == 0, "disabled defaults to 0 (is %d)", saved_disabled);
	tap_ok(saved_group == -1, "group defaults to -1 (is %d)", saved_group);

	test_levels();
	test_existing_ring();
	test_validation();
	test_unprivileged_write();
	restore();
	return tap_done();
}
