// SPDX-License-Identifier: MIT
/*
 * setup: ioring_setup() - the ring descriptor it fills, zeroed memory, argument
 * checks, the 8-slot table, and mapping at a caller-chosen address.
 */
#include "common.h"

static bool all_zero(const void *p, size_t len)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (c[i])
			return false;
	return true;
}

static int count_maps(void)
{
	static char buf[1 << 16];
	ssize_t n, i;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), lines = 0;

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++)
			lines += buf[i] == '\n';
	close(fd);
	return lines;
}

static void teardown_or_bail(ioring_id_t id)
{
	if (ioring_teardown(id) == ERR)
		tap_bail("ioring_teardown(%llu): %s", (unsigned long long)id, strerror(errno));
}

/* 9 tests */
static void test_basic(void)
{
	ioring_t ring;
	ioring_id_t id;
	uintptr_t ctrl;

	memset(&ring, 0xa5, sizeof(ring));
	id = ioring_setup(&ring, NULL, 4, 8);
	EXPECT_EQ(id, 0, "first ring of the process gets id 0");
	if (id == ERR)
		tap_bail("cannot set up a ring");
	ctrl = (uintptr_t)ring.ctrl;
	tap_ok(ctrl && !(ctrl % PAGE), "ctrl %p is page aligned", (void *)ring.ctrl);
	tap_ok(ring.id == id, "ring.id = %llu", (unsigned long long)ring.id);
	tap_ok((uintptr_t)ring.squeue == ctrl + 192, "squeue = ctrl + 192");
	tap_ok((uintptr_t)ring.cqueue == (uintptr_t)ring.squeue + 4 * 64,
	       "cqueue = squeue + 64 * sentries");
	tap_ok(ring.sentries == 4 && ring.smask == 3 && ring.centries == 8 && ring.cmask == 7,
	       "sentries %zu smask %zu centries %zu cmask %zu", ring.sentries, ring.smask,
	       ring.centries, ring.cmask);
	tap_ok(all_zero(ring.ctrl, ring_bytes(4, 8)),
	       "the whole mapping is zero (indices and registers 0)");
	memset(ring.squeue, 0x5a, 4 * sizeof(sqe_t));
	tap_ok(((unsigned char *)ring.squeue)[4 * sizeof(sqe_t) - 1] == 0x5a,
	       "ring memory is writable by user space");
	EXPECT_EQ(ioring_teardown(id), 0, "teardown");
}

/* Both rules apply (centries too big, too many pages): either errno will do. */
static void expect_einval_or_enomem(uint64_t ret, const char *what)
{
	int err = errno;

	tap_ok(ret == ERR && (err == EINVAL || err == ENOMEM), "%s -> EINVAL or ENOMEM", what);
	if (ret != ERR)
		tap_diag("setup succeeded");
	else if (err != EINVAL && err != ENOMEM)
		tap_diag("got %s", tap_errname(err));
}

/* 11 tests */
static void test_bad_arguments(void)
{
	ioring_t ring;

	EXPECT_ERRNO(ioring_setup(&ring, NULL, 0, 8), EINVAL, "sentries 0 -> EINVAL");
	EXPECT_ERRNO(ioring_setup(&ring, NULL, 8, 0), EINVAL, "centries 0 -> EINVAL");
	EXPECT_ERRNO(ioring_setup(&ring, NULL, 3, 8), EINVAL, "sentries 3 -> EINVAL");
	EXPECT_ERRNO(ioring_setup(&ring, NULL, 8, 12), EINVAL, "centries 12 -> EINVAL");
	EXPECT_ERRNO(ioring_setup(&ring, NULL, 1, 65536), EINVAL, "centries 65536 -> EINVAL");
	expect_einval_or_enomem(ioring_setup(&ring, NULL, 1, 1ULL << 32), "centries 2^32");
	EXPECT_ERRNO(ioring_setup(NULL, NULL, 4, 4), EINVAL, "ring NULL -> EINVAL");
	EXPECT_ERRNO(ioring_setup(&ring, NULL, 65536, 1), ENOMEM,
		     "65536 SQEs (1025 pages) -> ENOMEM");
	EXPECT_ERRNO(ioring_setup(&ring, NULL, 1ULL << 58, 1), ENOMEM,
		     "2^58 SQEs (64 * 2^58 wraps to 0 in 64 bits) -> ENOMEM");
	EXPECT_ERRNO(ioring_setup(&ring, NULL, 1ULL << 63, 1), ENOMEM, "2^63 SQEs -> ENOMEM");
	expect_einval_or_enomem(ioring_setup(&ring, NULL, 1, 1ULL << 62), "centries 2^62");
}

/* 9 tests */
static void test_bad_ring_pointer(void)
{
	char *gone = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *rdonly = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int maps_before, maps_after;
	ioring_t ring;
	ioring_id_t id;

	if (gone == MAP_FAILED || rdonly == MAP_FAILED)
		tap_bail("mmap: %s", strerror(errno));
	/* gone: a writable page followed by a hole */
	munmap(gone + PAGE, PAGE);

	maps_before = count_maps();
	EXPECT_ERRNO(ioring_setup((ioring_t *)1, NULL, 4, 4), EFAULT, "ring (void *)1 -> EFAULT");
	/*
	 * The rings below need 2 pages: the kernel cannot place them in the
	 * 1-page hole after `gone`, which would make that pointer valid.
	 */
	EXPECT_ERRNO(ioring_setup((ioring_t *)(gone + PAGE), NULL, 64, 64), EFAULT,
		     "ring in an unmapped page -> EFAULT");
	EXPECT_ERRNO(ioring_setup((ioring_t *)PAGE, NULL, 64, 64), EFAULT,
		     "ring in page 1 (below mmap_min_addr) -> EFAULT");
	EXPECT_ERRNO(ioring_setup(rdonly, NULL, 4, 4), EFAULT, "ring in a read-only page -> EFAULT");
	EXPECT_ERRNO(ioring_setup((ioring_t *)(gone + PAGE - 8), NULL, 64, 64), EFAULT,
		     "ring crossing into an unmapped page -> EFAULT");
	EXPECT_ERRNO(ioring_setup((ioring_t *)0xffff888000000000ULL, NULL, 4, 4), EFAULT,
		     "ring in kernel space -> EFAULT");
	maps_after = count_maps();
	tap_ok(maps_before > 0 && maps_before == maps_after,
	       "the failed setups left no mapping behind (%d mappings before, %d after)",
	       maps_before, maps_after);

	memset(&ring, 0, sizeof(ring));
	id = ioring_setup(&ring, NULL, 4, 4);
	EXPECT_EQ(id, 0, "the failed setups consumed no slot: next setup gets id 0");
	if (id != ERR)
		teardown_or_bail(id);
	EXPECT_ERRNO(ioring_teardown(1), EINVAL, "no ring 1 was left behind either");
	munmap(rdonly, PAGE);
	munmap(gone, PAGE);
}

/* 2 tests */
static void test_raw_flags(void)
{
	struct pwring_setup_args args;
	ioring_t ring;
	int fd = raw_open();

	if (fd < 0)
		tap_bail("open: %s", strerror(errno));
	memset(&args, 0, sizeof(args));
	args.size = sizeof(args);
	args.flags = 1;
	args.ring = (uintptr_t)&ring;
	args.sentries = 4;
	args.centries = 4;
	EXPECT_ERRNO(ioctl(fd, PWRING_IOC_SETUP, &args), EINVAL, "setup args.flags 1 -> EINVAL");
	args.flags = 0x80000000u;
	EXPECT_ERRNO(ioctl(fd, PWRING_IOC_SETUP, &args), EINVAL,
		     "setup args.flags 0x80000000 -> EINVAL");
	close(fd);
}

/* 4 tests */
static void test_sizes(void)
{
	ioring_t ring;
	ioring_id_t id;

	id = ioring_setup(&ring, NULL, 1, 1);
	EXPECT_EQ(id, 0, "smallest ring: 1 SQE, 1 CQE");
	if (id != ERR) {
		tap_ok(ring.smask == 0 && ring.cmask == 0 && (uintptr_t)ring.cqueue ==
		       (uintptr_t)ring.ctrl + 192 + 64, "masks 0, cqueue = ctrl + 256");
		teardown_or_bail(id);
	} else {
		tap_ok(0, "masks 0, cqueue = ctrl + 256");
	}
	id = ioring_setup(&ring, NULL, 32768, 32768);
	EXPECT_EQ(id, 0, "32768 SQEs and 32768 CQEs (769 pages) are accepted");
	if (id != ERR) {
		ring.cqueue[32767]._padding[0] = 1;
		tap_ok(ring.cqueue[32767]._result == 0 && ring.cmask == 32767,
		       "the last CQE slot is mapped and zero");
		teardown_or_bail(id);
	} else {
		tap_ok(0, "the last CQE slot is mapped and zero");
	}
}

/* 8 tests */
static void test_slots(void)
{
	ioring_t rings[9];
	ioring_id_t ids[8];
	int i, in_order = 1;

	for (i = 0; i < 8; i++) {
		ids[i] = ioring_setup(&rings[i], NULL, 2, 2);
		in_order &= ids[i] == (ioring_id_t)i;
	}
	tap_ok(in_order, "8 rings get ids 0..7 in order");
	if (!in_order)
		for (i = 0; i < 8; i++)
			tap_diag("ring %d: id %lld (%s)", i, (long long)ids[i],
				 ids[i] == ERR ? strerror(errno) : "ok");
	EXPECT_ERRNO(ioring_setup(&rings[8], NULL, 2, 2), EMFILE, "a 9th ring -> EMFILE");

	EXPECT_EQ(ioring_teardown(3), 0, "teardown ring 3");
	EXPECT_EQ(ioring_setup(&rings[3], NULL, 2, 2), 3, "the freed slot 3 is reused");
	EXPECT_EQ(ioring_teardown(5), 0, "teardown ring 5");
	EXPECT_EQ(ioring_teardown(1), 0, "teardown ring 1");
	EXPECT_EQ(ioring_setup(&rings[1], NULL, 2, 2), 1, "the lowest free slot (1) comes first");
	in_order = 1;
	for (i = 0; i < 8; i++)
		if (i != 5)
			in_order &= ioring_teardown(i) == 0;
	tap_ok(in_order, "every ring tears down");
}

/* 12 tests */
static void test_fixed_address(void)
{
	size_t len = ring_bytes(64, 64); /* 192 + 4096 + 2048: 2 pages */
	unsigned char *addr = free_address(len), *mapped;
	ioring_t ring;
	ioring_id_t id;
	bool intact;
	size_t i;

	if (!addr)
		tap_bail("no free address space");
	id = ioring_setup(&ring, addr, 64, 64);
	EXPECT_EQ(id, 0, "setup at a free address %p", addr);
	tap_ok(id != ERR && (unsigned char *)ring.ctrl == addr, "the ring is mapped exactly there");
	tap_ok(id != ERR && all_zero(addr, len), "and its memory is zero");
	if (id != ERR)
		teardown_or_bail(id);
	tap_ok(range_unmapped(addr, len), "teardown unmapped it");

	EXPECT_ERRNO(ioring_setup(&ring, addr + 1, 64, 64), EINVAL, "address + 1 -> EINVAL");
	EXPECT_ERRNO(ioring_setup(&ring, addr + 2048, 64, 64), EINVAL, "address + 2048 -> EINVAL");

	/* A page already mapped at the address: EEXIST, and it is left alone. */
	mapped = mmap(addr, PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (mapped != addr)
		tap_bail("mmap at %p: %s", addr, strerror(errno));
	for (i = 0; i < PAGE; i++)
		mapped[i] = (unsigned char)(i * 7 + 1);
	EXPECT_ERRNO(ioring_setup(&ring, addr, 64, 64), EEXIST,
		     "setup over an existing mapping -> EEXIST");
	intact = true;
	for (i = 0; i < PAGE; i++)
		intact &= mapped[i] == (unsigned char)(i * 7 + 1);
	tap_ok(intact, "the existing mapping keeps its content");
	tap_ok(range_unmapped(addr + PAGE, len - PAGE), "nothing was mapped after it");
	munmap(mapped, PAGE);

	/* Only the second page of the range is taken. */
	mapped = mmap(addr + PAGE, PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (mapped != addr + PAGE)
		tap_bail("mmap at %p: %s", addr + PAGE, strerror(errno));
	memset(mapped, 0x3c, PAGE);
	EXPECT_ERRNO(ioring_setup(&ring, addr, 64, 64), EEXIST,
		     "setup over a partly mapped range -> EEXIST");
	intact = range_unmapped(addr, PAGE);
	for (i = 0; i < PAGE; i++)
		intact &= mapped[i] == 0x3c;
	tap_ok(intact, "the mapped page is intact and the free page stayed free");
	munmap(mapped, PAGE);

	EXPECT_EQ(ioring_setup(&ring, NULL, 4, 4), 0, "the failed setups consumed no slot");
	teardown_or_bail(0);
}

int main(void)
{
	require_device();
	tap_plan(9 + 11 + 9 + 2 + 4 + 8 + 12);
	test_basic();
	test_bad_arguments();
	test_bad_ring_pointer();
	test_raw_flags();
	test_sizes();
	test_slots();
	test_fixed_address();
	return tap_done();
}
