/*
 * Compiled as several C and C++ standards by `make lib` (never linked): the
 * public header must build warning-free in each, helpers included.
 */
#include <sys/ioring.h>

static const sqe_flags_t header_check_flags =
	SQE_FLAGS_REG(SQE_FLAGS_SAVE(SQE_REG3), SQE_LOAD1, SQE_REG2) | SQE_HARDLINK;

#if defined(__cplusplus) ? __cplusplus >= 202002L : \
	(defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L)
static const sqe_t header_check_sqe = SQE_CREATE(IO_OP_NOP, SQE_FLAGS_NO_REGS, 0, 0);
#define HEADER_CHECK_SQE_INIT(sqe) ((sqe) = header_check_sqe)
#else
#define HEADER_CHECK_SQE_INIT(sqe) ((void)0)
#endif

int header_check(ioring_t *ring, int fd, char *buffer);

int header_check(ioring_t *ring, int fd, char *buffer)
{
	sqe_t sqe;
	cqe_t cqe;
	int n = 0;

	HEADER_CHECK_SQE_INIT(sqe);
	sqe_prep_nop(&sqe, IORING_NSEC_PER_SEC, ring);
	sqe.flags = header_check_flags;
	sqe_set_link(&sqe);
	n += sqe_push(ring, &sqe);
	sqe_prep_read(&sqe, fd, buffer, 16, IO_OFF_CUR, CLOCKS_NEVER, 0);
	sqe_load_reg(&sqe, SQE_LOAD0, SQE_REG1);
	sqe_save_reg(&sqe, SQE_REG_NONE);
	n += sqe_push(ring, &sqe);
	sqe_prep_write(&sqe, fd, buffer, 16, 0, 10 * IORING_NSEC_PER_MSEC, 0);
	sqe_set_hardlink(&sqe);
	n += sqe_push(ring, &sqe);
	sqe_prep_poll(&sqe, fd, IO_POLL_READ | IO_POLL_HUP, IORING_NSEC_PER_USEC, 0);
	n += sqe_push(ring, &sqe);
	ioring_reg_store(ring, SQE_REG6, ioring_reg_load(ring, SQE_REG0));
	if (ioring_enter(ring->id, ioring_sq_space(ring), ioring_cq_ready(ring)) == ERR)
		return -1;
	while (cqe_pop(ring, &cqe))
		n += cqe.error == EOK ? (int)cqe.count : 0;
	if (ioring_setup(ring, 0, 4, 4) == ERR || ioring_teardown(ring->id) == ERR)
		return -1;
	return n;
}
