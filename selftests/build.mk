# selftests/build.mk: the kselftest programs (selftests/Makefile, which also
# builds them in a kernel tree through lib.mk), static, linked with
# libpwring.a, and their runner, into $(BUILD)/selftests/ (`make selftests`).
# Each selftests/<name>.c becomes <name>_test; run-selftests.sh runs every
# *_test next to it (the guest copies the directory to /pwring/).
#
# kselftest.h and kselftest_harness.h come from Debian's linux-source-6.12
# (scripts/deps ksft), extracted once into $(BUILD)/ksft/; `make selftests
# KSFT_TOP=<linux>/tools/testing/selftests` uses a kernel tree's instead,
# through its lib.mk. `make ksft-check` builds them both ways in a scratch
# copy of the kernel's selftests layout (scripts/ksft-check).

ST_DIR       := $(TOP)/selftests
ST_OUT       := $(BUILD)/selftests
KSFT_INC     := $(BUILD)/ksft
KSFT_TARBALL := /usr/src/linux-source-6.12.tar.xz
KSFT_STAMP   := $(KSFT_INC)/.extracted

.PHONY: ksft-headers ksft-check
selftests: $(UL_LIB_A) $(KSFT_STAMP)
	+@$(MAKE) --no-print-directory -C $(ST_DIR) OUTPUT=$(ST_OUT) KSFT_INC=$(KSFT_INC) \
		LIBPWRING=$(UL_LIB_A) PWRING=$(TOP)

ksft-headers: $(KSFT_STAMP)

# Only the two headers (and the license they carry) leave the tarball.
$(KSFT_STAMP): | $(UL_DEPS_STAMP)
	$(TOP)/scripts/deps ksft
	@mkdir -p $(@D)
	tar -xJf $(KSFT_TARBALL) -C $(@D) --strip-components=4 \
		linux-source-6.12/tools/testing/selftests/kselftest.h \
		linux-source-6.12/tools/testing/selftests/kselftest_harness.h
	@touch $@

ksft-check: lib
	@$(TOP)/scripts/ksft-check
