// SPDX-License-Identifier: MIT
/*
 * examples: the programs of userlib/examples/ that do I/O, run as a user
 * would (`make selftests` installs them here as pwring-cp and pwring-echo).
 *
 * cp: copies of random files of several sizes - multi-MiB and not a whole
 * number of blocks, exactly 2 MiB, smaller than a block, empty - compared
 * byte for byte and by checksum with the source; tmpfs to ext4 and back when
 * an ext4 image can be mounted; a missing source fails. Its demonstration
 * (no arguments) passes. echo: its default transcript and one with given
 * messages end with every message intact.
 */
#include "io.h"

static char dir[PATH_MAX];

/* Run a shell command; its output goes to the TAP log as diagnostics on failure. */
static int run(bool show, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int run(bool show, const char *fmt, ...)
{
	char cmd[2048], line[512];
	va_list ap;
	FILE *out;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = run_cmd("%s >/tmp/pwring-example.out 2>&1", cmd);
	out = fopen("/tmp/pwring-example.out", "re");
	if (out) {
		while (fgets(line, sizeof(line), out))
			if (show || rc != 0)
				tap_diag("  %s", strtok(line, "\n") ? line : "");
		fclose(out);
	}
	unlink("/tmp/pwring-example.out");
	return rc;
}

/* Read a whole file (malloc'ed); *len its length; NULL if it cannot be read. */
static unsigned char *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char *p = NULL;
	struct stat st;
	ssize_t n;
	size_t got = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		goto out;
	p = malloc((size_t)st.st_size + 1);
	while (p && (n = read(fd, p + got, (size_t)st.st_size + 1 - got)) > 0)
		got += (size_t)n;
	*len = got;
out:
	if (fd >= 0)
		close(fd);
	return p;
}

static bool write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	bool ok = fd >= 0 && write(fd, data, len) == (ssize_t)len;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* Copy src to dst with pwring-cp and compare. 1 test */
static void cp_case(const char *src, const char *dst, const unsigned char *data, size_t len,
		    const char *what)
{
	unsigned char *copy;
	size_t clen = 0;
	int rc;

	rc = run(false, "'%s/pwring-cp' '%s' '%s'", dir, src, dst);
	copy = slurp(dst, &clen);
	tap_ok(rc == 0 && copy && clen == len && !memcmp(copy, data, len) &&
	       fnv1a(FNV_INIT, copy, clen) == fnv1a(FNV_INIT, data, len),
	       "cp %s (%zu bytes): exit 0, the copy is identical (checksum %016llx)", what, len,
	       (unsigned long long)fnv1a(FNV_INIT, data, len));
	if (!TAP_LAST)
		tap_diag("exit %d, copy %s, %zu bytes", rc, copy ? "read" : "missing", clen);
	free(copy);
}

#define BIG (5u * 1024 * 1024 + 4321)

/* 7 tests */
static void cp_tests(void)
{
	unsigned char *data = malloc(BIG);
	char reason[256];
	const char *mnt;
	char path[PATH_MAX + 32];

	if (!data)
		tap_bail("malloc");
	fill_random(data, BIG, 0xc0b1);
	write_file("/tmp/pwring-cp.big", data, BIG);
	cp_case("/tmp/pwring-cp.big", "/tmp/pwring-cp.big.copy", data, BIG,
		"of a 5 MiB + 4321 byte random file on tmpfs");
	write_file("/tmp/pwring-cp.2m", data + 7, 2u << 20);
	cp_case("/tmp/pwring-cp.2m", "/tmp/pwring-cp.2m.copy", data + 7, 2u << 20,
		"of exactly 2 MiB (32 whole blocks)");
	write_file("/tmp/pwring-cp.small", data + 99, 100);
	/* Over an existing, longer file: it is truncated. */
	cp_case("/tmp/pwring-cp.small", "/tmp/pwring-cp.2m.copy", data + 99, 100,
		"of 100 bytes over a longer existing file");
	write_file("/tmp/pwring-cp.empty", data, 0);
	cp_case("/tmp/pwring-cp.empty", "/tmp/pwring-cp.empty.copy", data, 0, "of an empty file");
	tap_ok(run(false, "'%s/pwring-cp' /tmp/pwring-no-such-file /tmp/pwring-cp.none", dir) != 0,
	       "cp of a missing source exits non-zero");

	mnt = ext4_mount(reason, sizeof(reason));
	if (mnt) {
		snprintf(path, sizeof(path), "%s/big", mnt);
		cp_case("/tmp/pwring-cp.big", path, data, BIG, "from tmpfs to ext4");
		cp_case(path, "/tmp/pwring-cp.back", data, BIG, "from ext4 back to tmpfs");
		unlink(path);
		ext4_umount(mnt);
	} else {
		tap_skip(reason, "cp from tmpfs to ext4");
		tap_skip(reason, "cp from ext4 back to tmpfs");
	}
	unlink("/tmp/pwring-cp.big");
	unlink("/tmp/pwring-cp.big.copy");
	unlink("/tmp/pwring-cp.2m");
	unlink("/tmp/pwring-cp.2m.copy");
	unlink("/tmp/pwring-cp.small");
	unlink("/tmp/pwring-cp.empty");
	unlink("/tmp/pwring-cp.empty.copy");
	unlink("/tmp/pwring-cp.back");
	free(data);
}

/* 3 tests */
static void demo_tests(void)
{
	int rc = run(true, "'%s/pwring-cp'", dir);

	tap_ok(rc == 0, "cp's demonstration (no arguments) exits 0");
	rc = run(true, "'%s/pwring-echo'", dir);
	tap_ok(rc == 0, "echo's default transcript exits 0 (every message came back intact)");
	rc = run(true, "'%s/pwring-echo' one 'two words' three", dir);
	tap_ok(rc == 0, "echo with 3 given messages exits 0");
}

int main(void)
{
	char path[PATH_MAX + 16];

	io_init();
	self_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/pwring-cp", dir);
	if (access(path, X_OK) < 0)
		tap_skip_all("pwring-cp is not next to the test (make selftests installs it)");
	tap_plan(7 + 3);
	section("cp", 240);
	cp_tests();
	section("the demonstrations", 120);
	demo_tests();
	alarm(0);
	return tap_done();
}
