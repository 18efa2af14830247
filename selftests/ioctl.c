// SPDX-License-Identifier: MIT
/*
 * ioctl: the raw device interface. Unknown commands -> ENOTTY. Each argument
 * struct starts with its size: below the first published size -> EINVAL,
 * larger with non-zero bytes past what the kernel knows -> E2BIG, larger with
 * zero tail -> accepted. Commands match by type and number, not size bits.
 * flags must be 0; a bad argument pointer is EFAULT.
 *
 * Written with kselftest_harness.h: the refused calls are one table (the
 * variants of `refused`), each TEST runs in a child of its own with a
 * descriptor on which ring 0 (4/4) exists: a well-formed enter or teardown
 * on it would work.
 */
#include "kselftest_harness.h"
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

/* A descriptor of its own with ring 0 (4/4). */
static void open_ring0(struct __test_metadata *_metadata, int *fd, ioring_t *ring)
{
	*fd = raw_open();
	ASSERT_LE(0, *fd) TH_LOG("open: %s", strerror(errno));
	ASSERT_EQ(0, RESULT(raw_setup(*fd, ring, NULL, 4, 4)));
}

enum args_kind { ARGS_SETUP, ARGS_ENTER, ARGS_TEARDOWN };
enum args_pointer { ARG_STRUCT, ARG_NULL, ARG_ONE };	/* &struct, NULL, (void *)1 */

/* A call the device refuses: the command, its argument, and the errno. */
FIXTURE(refused) {
	int fd;
	ioring_t ring, ring2;
};
FIXTURE_VARIANT(refused) {
	unsigned long cmd;
	enum args_kind kind;
	uint32_t size;		/* the struct's size field */
	int tail;		/* a byte past the known struct to set (0: none) */
	unsigned char tail_value;
	uint64_t flags;		/* the teardown struct's flags */
	enum args_pointer arg;
	int error;
};

#define SETUP_STRUCT_CMD(magic, nr) _IOWR(magic, nr, struct pwring_setup_args)
/* Unknown commands. */
FIXTURE_VARIANT_ADD(refused, nr0_enotty) {
	.cmd = _IO(PWRING_IOC_MAGIC, 0), .size = sizeof(struct pwring_setup_args),
	.error = ENOTTY };
FIXTURE_VARIANT_ADD(refused, nr5_enotty) {
	.cmd = SETUP_STRUCT_CMD(PWRING_IOC_MAGIC, 5), .size = sizeof(struct pwring_setup_args),
	.error = ENOTTY };
FIXTURE_VARIANT_ADD(refused, nr99_enotty) {
	.cmd = SETUP_STRUCT_CMD(PWRING_IOC_MAGIC, 99), .size = sizeof(struct pwring_setup_args),
	.error = ENOTTY };
FIXTURE_VARIANT_ADD(refused, other_magic_enotty) {
	.cmd = SETUP_STRUCT_CMD('x', PWRING_IOC_NR_SETUP), .size = sizeof(struct pwring_setup_args),
	.error = ENOTTY };
FIXTURE_VARIANT_ADD(refused, fionread_enotty) {
	.cmd = FIONREAD, .size = sizeof(struct pwring_setup_args), .error = ENOTTY };
/* Sizes below the first version. */
FIXTURE_VARIANT_ADD(refused, setup_size39_einval) {
	.cmd = PWRING_IOC_SETUP, .size = PWRING_SETUP_ARGS_SIZE_VER0 - 1, .error = EINVAL };
FIXTURE_VARIANT_ADD(refused, setup_size0_einval) {
	.cmd = PWRING_IOC_SETUP, .size = 0, .error = EINVAL };
FIXTURE_VARIANT_ADD(refused, setup_size8_einval) {
	.cmd = PWRING_IOC_SETUP, .size = 8, .error = EINVAL };
FIXTURE_VARIANT_ADD(refused, enter_size31_einval) {
	.cmd = PWRING_IOC_ENTER, .kind = ARGS_ENTER, .size = PWRING_ENTER_ARGS_SIZE_VER0 - 1,
	.error = EINVAL };
FIXTURE_VARIANT_ADD(refused, teardown_size15_einval) {
	.cmd = PWRING_IOC_TEARDOWN, .kind = ARGS_TEARDOWN,
	.size = PWRING_TEARDOWN_ARGS_SIZE_VER0 - 1, .error = EINVAL };
FIXTURE_VARIANT_ADD(refused, teardown_null_efault) {
	.cmd = PWRING_IOC_TEARDOWN, .kind = ARGS_TEARDOWN, .arg = ARG_NULL, .error = EFAULT };
/* Larger, with a non-zero tail. */
FIXTURE_VARIANT_ADD(refused, setup_size48_tail_e2big) {
	.cmd = PWRING_IOC_SETUP, .size = 48, .tail = 47, .tail_value = 1, .error = E2BIG };
FIXTURE_VARIANT_ADD(refused, setup_size256_last_byte_e2big) {
	.cmd = PWRING_IOC_SETUP, .size = 256, .tail = 255, .tail_value = 0x80, .error = E2BIG };
FIXTURE_VARIANT_ADD(refused, enter_size40_tail_e2big) {
	.cmd = PWRING_IOC_ENTER, .kind = ARGS_ENTER, .size = 40, .tail = 32, .tail_value = 1,
	.error = E2BIG };
FIXTURE_VARIANT_ADD(refused, teardown_size24_tail_e2big) {
	.cmd = PWRING_IOC_TEARDOWN, .kind = ARGS_TEARDOWN, .size = 24, .tail = 20,
	.tail_value = 1, .error = E2BIG };
/* flags must be zero; bad pointers fault. */
FIXTURE_VARIANT_ADD(refused, teardown_flags1_einval) {
	.cmd = PWRING_IOC_TEARDOWN, .kind = ARGS_TEARDOWN,
	.size = sizeof(struct pwring_teardown_args), .flags = 1, .error = EINVAL };
FIXTURE_VARIANT_ADD(refused, setup_null_efault) {
	.cmd = PWRING_IOC_SETUP, .arg = ARG_NULL, .error = EFAULT };
FIXTURE_VARIANT_ADD(refused, enter_address1_efault) {
	.cmd = PWRING_IOC_ENTER, .kind = ARGS_ENTER, .arg = ARG_ONE, .error = EFAULT };

FIXTURE_SETUP(refused)
{
	open_ring0(_metadata, &self->fd, &self->ring);
}

FIXTURE_TEARDOWN(refused)
{
	close(self->fd);
}

TEST_F(refused, errno_and_ring0_intact)
{
	union big_args a;
	void *arg = &a;

	switch (variant->kind) {
	case ARGS_SETUP:
		a = setup_args(&self->ring2, variant->size);
		break;
	case ARGS_ENTER:
		a = enter_args(0, variant->size);
		break;
	case ARGS_TEARDOWN:
		a = teardown_args(0, variant->size);
		a.teardown.flags = variant->flags;
		break;
	}
	if (variant->tail)
		a.bytes[variant->tail] = variant->tail_value;
	if (variant->arg == ARG_NULL)
		arg = NULL;
	else if (variant->arg == ARG_ONE)
		arg = (void *)1;
	EXPECT_EQ(-variant->error, RESULT(ioctl(self->fd, variant->cmd, arg)));
	/* Nothing happened to ring 0: it tears down normally. */
	EXPECT_EQ(0, RESULT(raw_teardown(self->fd, 0)));
}

/* Calls the device accepts. */
FIXTURE(accepted) {
	int fd;
	ioring_t ring;
};

FIXTURE_SETUP(accepted)
{
	open_ring0(_metadata, &self->fd, &self->ring);
}

FIXTURE_TEARDOWN(accepted)
{
	close(self->fd);
}

/* Larger with a zero tail: accepted. */
TEST_F(accepted, enter_size40_zero_tail)
{
	union big_args a = enter_args(0, 40);

	push_nop(&self->ring, 0, 1);
	a.enter.amount = 1;
	a.enter.wait = 1;
	EXPECT_EQ(1, RESULT(ioctl(self->fd, PWRING_IOC_ENTER, &a)));
}

TEST_F(accepted, teardown_size24_zero_tail)
{
	union big_args a = teardown_args(0, 24);

	EXPECT_EQ(0, RESULT(ioctl(self->fd, PWRING_IOC_TEARDOWN, &a)));
}

TEST_F(accepted, setup_size256_zero_tail)
{
	union big_args a = setup_args(&self->ring, 256);

	ASSERT_EQ(0, RESULT(raw_teardown(self->fd, 0)));
	EXPECT_EQ(0, RESULT(ioctl(self->fd, PWRING_IOC_SETUP, &a))) TH_LOG("ring 0 again");
}

/* The size and direction bits of the command do not matter. */
TEST_F(accepted, enter_through_io)
{
	union big_args a = enter_args(0, sizeof(a.enter));

	EXPECT_EQ(0, RESULT(ioctl(self->fd, _IO(PWRING_IOC_MAGIC, PWRING_IOC_NR_ENTER), &a)));
}

TEST_F(accepted, teardown_through_io)
{
	union big_args a = teardown_args(0, sizeof(a.teardown));

	EXPECT_EQ(0, RESULT(ioctl(self->fd, _IO(PWRING_IOC_MAGIC, PWRING_IOC_NR_TEARDOWN), &a)));
}

TEST_F(accepted, setup_through_size64_encoding)
{
	union big_args a = setup_args(&self->ring, sizeof(a.setup));
	unsigned long cmd = _IOC(_IOC_READ | _IOC_WRITE, PWRING_IOC_MAGIC, PWRING_IOC_NR_SETUP, 64);

	ASSERT_EQ(0, RESULT(raw_teardown(self->fd, 0)));
	EXPECT_EQ(0, RESULT(ioctl(self->fd, cmd, &a)));
}

int main(int argc, char **argv)
{
	require_device();
	return test_harness_run(argc, argv);
}
