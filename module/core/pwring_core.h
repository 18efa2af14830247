/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Entry points of the C++ core, called by the kernel glue (main.c) with
 * arguments already copied from user space. They return a value >= 0 or a
 * negative errno, the ioctl convention.
 */
#ifndef PWRING_CORE_H
#define PWRING_CORE_H

#ifdef __cplusplus
extern "C" {
#endif

struct kapi_file;
struct pwring_setup_args;
struct pwring_enter_args;
struct pwring_teardown_args;
struct pwring_restrict_args;
struct pwring_restriction;
struct pwring_table;

struct pwring_table *pwring_core_open(void);
/*
 * Last close or owner exit: cancels everything in flight and frees every
 * ring, at once if idle, else when its last request completes. Once only.
 */
void pwring_core_shutdown(struct pwring_table *t);
/* After shutdown, when nothing refers to the table any more. */
void pwring_core_free(struct pwring_table *t);
long pwring_core_setup(struct pwring_table *t, struct kapi_file *f,
		       const struct pwring_setup_args *a);
long pwring_core_enter(struct pwring_table *t, const struct pwring_enter_args *a);
long pwring_core_teardown(struct pwring_table *t, const struct pwring_teardown_args *a);
/* `entries`: a->nentries entries (at most PWRING_RESTRICT_MAX), copied in by the caller. */
long pwring_core_restrict(struct pwring_table *t, const struct pwring_restrict_args *a,
			  const struct pwring_restriction *entries);

#ifdef __cplusplus
}
#endif

#endif /* PWRING_CORE_H */
