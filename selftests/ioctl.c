// SPDX-License-Identifier: MIT
/*
 * ioctl: the raw device interface. Unknown commands -> ENOTTY. Each argument
 * struct starts with its size: below the first published size -> EINVAL,
 * larger with non-zero bytes past what the kernel knows -> E2BIG, larger with
 * zero tail -> accepted. Commands match by type and number, not size bits.
 * flags must be 0; a bad argument pointer is EFAULT.
 */
#include "common.h"

/* An argument struct with room for a tail. */
union big_args {
	struct pwring_setup_args setup;
	struct pwring_enter_args enter;
	struct pwring_teardown_args teardown;
	unsigned char bytes[256];
};

static union big_args setup_args(ioring_t *ring, uint32_t size)
{
	union big_args a;

	memset(&a, 0, sizeof(a));
	a.setup.size = size;
	a.setup.ring = (uintptr_t)ring;
	a.setup.sentries = 4;
	a.setup.centries = 4;
	return a;
}

static union big_args enter_args(uint64_t id, uint32_t size)
{
	union big_args a;

	memset(&a, 0, sizeof(a));
	a.enter.size = size;
	a.enter.id = id;
	return a;
}

static union big_args teardown_args(uint64_t id, uint32_t size)
{
	union big_args a;

	memset(&a, 0, sizeof(a));
	a.teardown.size = size;
	a.teardown.id = id;
	return a;
}

int main(void)
{
	union big_args a;
	ioring_t ring, ring2;
	int fd;

	require_device();
	tap_plan(1 + 5 + 6 + 4 + 6 + 4);
	fd = raw_open();
	if (fd < 0)
		tap_bail("open: %s", strerror(errno));
	/* Ring 0 exists throughout: a well-formed enter/teardown on it would work. */
	EXPECT_EQ(raw_setup(fd, &ring, NULL, 4, 4), 0, "ring 0");

	/* Unknown commands. */
	a = setup_args(&ring2, sizeof(a.setup));
	EXPECT_ERRNO(ioctl(fd, _IO(PWRING_IOC_MAGIC, 0), &a), ENOTTY, "command number 0 -> ENOTTY");
	EXPECT_ERRNO(ioctl(fd, _IOWR(PWRING_IOC_MAGIC, 5, struct pwring_setup_args), &a), ENOTTY,
		     "command number 5 -> ENOTTY");
	EXPECT_ERRNO(ioctl(fd, _IOWR(PWRING_IOC_MAGIC, 99, struct pwring_setup_args), &a), ENOTTY,
		     "command number 99 -> ENOTTY");
	EXPECT_ERRNO(ioctl(fd, _IOWR('x', PWRING_IOC_NR_SETUP, struct pwring_setup_args), &a), ENOTTY,
		     "another magic with the setup number -> ENOTTY");
	EXPECT_ERRNO(ioctl(fd, FIONREAD, &a), ENOTTY, "FIONREAD -> ENOTTY");

	/* Sizes below the first version. */
	a = setup_args(&ring2, PWRING_SETUP_ARGS_SIZE_VER0 - 1);
	EXPECT_ERRNO(ioctl(fd, PWRING_IOC_SETUP, &a), EINVAL, "setup size 39 -> EINVAL");
	a = setup_args(&ring2, 0);
	EXPECT_ERRNO(ioctl(fd, PWRING_IOC_SETUP, &a), EINVAL, "setup size 0 -> EINVAL");
	a = setup_args(&ring2, 8);
	EXPECT_ERRNO(ioctl(fd, PWRING_IOC_SETUP, &a), EINVAL, "setup size 8 -> EINVAL");
	a = enter_args(0, PWRING_ENTER_ARGS_SIZE_VER0 - 1);
	EXPECT_ERRNO(ioctl(fd, PWRING_IOC_ENTER, &a), EINVAL, "enter size 31 -> EINVAL");
	a = teardown_args(0, PWRING_TEARDOWN_ARGS_SIZE_VER0 - 1);
	EXPECT_ERRNO(ioctl(fd, PWRING_IOC_TEARDOWN, &a), EINVAL, "teardown size 15 -> EINVAL");
	EXPECT_ERRNO(ioctl(fd, PWRING_IOC_TEARDOWN, NULL), EFAULT, "a NULL argument -> EFAULT");

	/* Larger, with a non-zero tail. */
	a = setup_args(&ring2, 48);
	a.bytes[47] = 1;
	EXPECT_ERRNO(ioctl(fd, PWRING_IOC_SETUP, &a), E2BIG, "setup size 48, tail byte set -> E2BIG");
	a = setup_args(&ring2, 256);
	a.bytes[255] = 0x80;
	EXPECT_ERRNO(ioctl(fd, PWRING_IOC_SETUP, &a), E2BIG, "setup size 256, last byte set -> E2BIG");
	a = enter_args(0, 40);
	a.bytes[32] = 1;
	EXPECT_ERRNO(ioctl(fd, PWRING_IOC_ENTER, &a), E2BIG, "enter size 40, tail set -> E2BIG");
	a = teardown_args(0, 24);
	a.bytes[20] = 1;
	EXPECT_ERRNO(ioctl(fd, PWRING_IOC_TEARDOWN, &a), E2BIG, "teardown size 24, tail set -> E2BIG");

	/* Larger with a zero tail: accepted. */
	push_nop(&ring, 0, 1);
	a = enter_args(0, 40);
	a.enter.amount = 1;
	a.enter.wait = 1;
	EXPECT_EQ(ioctl(fd, PWRING_IOC_ENTER, &a), 1, "enter size 40, zero tail: consumed 1");
	a = teardown_args(0, 24);
	EXPECT_EQ(ioctl(fd, PWRING_IOC_TEARDOWN, &a), 0, "teardown size 24, zero tail: 0");
	a = setup_args(&ring, 256);
	EXPECT_EQ(ioctl(fd, PWRING_IOC_SETUP, &a), 0, "setup size 256, zero tail: ring 0");

	/* The size and direction bits of the command do not matter. */
	a = enter_args(0, sizeof(a.enter));
	EXPECT_EQ(ioctl(fd, _IO(PWRING_IOC_MAGIC, PWRING_IOC_NR_ENTER), &a), 0,
		  "enter through _IO (no size, no direction)");
	a = teardown_args(0, sizeof(a.teardown));
	EXPECT_EQ(ioctl(fd, _IO(PWRING_IOC_MAGIC, PWRING_IOC_NR_TEARDOWN), &a), 0,
		  "teardown through _IO");
	a = setup_args(&ring, sizeof(a.setup));
	EXPECT_EQ(ioctl(fd, _IOC(_IOC_READ | _IOC_WRITE, PWRING_IOC_MAGIC, PWRING_IOC_NR_SETUP, 64),
			&a), 0, "setup through a command encoding size 64");

	/* flags must be zero; bad pointers fault. */
	a = teardown_args(0, sizeof(a.teardown));
	a.teardown.flags = 1;
	EXPECT_ERRNO(ioctl(fd, PWRING_IOC_TEARDOWN, &a), EINVAL, "teardown flags 1 -> EINVAL");
	EXPECT_ERRNO(ioctl(fd, PWRING_IOC_SETUP, NULL), EFAULT, "setup with a NULL argument -> EFAULT");
	EXPECT_ERRNO(ioctl(fd, PWRING_IOC_ENTER, (void *)1), EFAULT, "enter with (void *)1 -> EFAULT");
	EXPECT_EQ(raw_teardown(fd, 0), 0, "ring 0 tears down normally after all this");
	close(fd);
	return tap_done();
}
