# selftests/build.mk: the kselftest-style test programs, static, linked with
# libpwring.a, and their runner, into $(BUILD)/selftests/ (`make selftests`).
# Each selftests/<name>.c becomes <name>_test; run-selftests.sh runs every
# *_test next to it (the guest copies the directory to /pwring/).

ST_DIR    := $(TOP)/selftests
ST_OUT    := $(BUILD)/selftests
ST_DEPDIR := $(BUILD)/selftests-deps
ST_SRCS   := $(wildcard $(ST_DIR)/*.c)
ST_BINS   := $(patsubst $(ST_DIR)/%.c,$(ST_OUT)/%_test,$(ST_SRCS))
ST_CFLAGS := $(UL_CFLAGS) -I$(ST_DIR) -I$(UL_DIR)/examples

ST_EXT4   := $(ST_OUT)/ext4.img
MKFS_EXT4 := $(firstword $(wildcard /sbin/mkfs.ext4 /usr/sbin/mkfs.ext4) $(shell command -v mkfs.ext4))

selftests: $(ST_BINS) $(ST_OUT)/run-selftests.sh $(ST_EXT4) $(ST_OUT)/pwring-cp $(ST_OUT)/pwring-echo

$(ST_OUT)/%_test: $(ST_DIR)/%.c $(UL_LIB_A) | $(UL_DEPS_STAMP)
	@mkdir -p $(@D) $(ST_DEPDIR)
	$(CC) $(ST_CFLAGS) -MF $(ST_DEPDIR)/$*.d -static -o $@ $< $(UL_LIB_A) -pthread $(LDFLAGS)

$(ST_OUT)/run-selftests.sh: $(ST_DIR)/run-selftests.sh
	@mkdir -p $(@D)
	install -m 755 $< $@

# An 8 MiB ext4 file system for the regular-file tests (rw, examples). The test
# guests have no mkfs (busybox only), so it is made here; the tests mount a
# copy through a loop device and skip the ext4 cases when the kernel cannot
# (Debian's cloud kernels have ext4 and loop as modules the initramfs lacks).
# Without mkfs.ext4 on the build host the image is empty and those cases skip.
$(ST_EXT4): $(ST_DIR)/build.mk
	@mkdir -p $(@D)
	rm -f $@
	@if [ -n "$(MKFS_EXT4)" ]; then \
		echo "truncate -s 8M $@ && $(MKFS_EXT4) -q -F -E root_owner=0:0 $@"; \
		truncate -s 8M $@ && $(MKFS_EXT4) -q -F -E root_owner=0:0 $@; \
	else \
		echo "warning: mkfs.ext4 not found: the ext4 selftests will skip" >&2; \
		: > $@; \
	fi

# The examples the `examples` selftest runs, next to it under fixed names.
$(ST_OUT)/pwring-%: $(BUILD)/examples/%
	@mkdir -p $(@D)
	install -m 755 $< $@

-include $(patsubst $(ST_DIR)/%.c,$(ST_DEPDIR)/%.d,$(ST_SRCS))
