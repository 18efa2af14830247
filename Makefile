# pwring: top-level build. `make` builds the module for every installed Debian
# cloud and PREEMPT_RT kernel (6.1 and 6.12 each), the user library, the
# selftests and examples.
# `make check` runs host unit tests, make lint, man-check, the packaging
# checks and the selftests in QEMU on five kernels;
# `make demo` boots the 6.12 guest and runs the examples.
#
# The kernel's own build reads ./Kbuild, so the standard out-of-tree call
# `make -C /lib/modules/<version>/build M=$PWD` works from here too.

SHELL    := /bin/bash
TOP      := $(CURDIR)
BUILD    ?= $(TOP)/build
CC       ?= cc
CXX      ?= g++
export TOP BUILD

# Kernels the module is built for: every installed cloud-amd64 and rt-amd64
# headers tree.
KDIRS    ?= $(sort $(wildcard /usr/src/linux-headers-*-cloud-amd64 /usr/src/linux-headers-*-rt-amd64))
KVERS     = $(patsubst /usr/src/linux-headers-%,%,$(KDIRS))

.PHONY: all deps module lib selftests examples host-tests check demo vm-run \
	install clean debug-kernel check-prepare coverage bench lint pkg-check deb dkms-check dkms-install
all: module lib selftests examples stuckdev fuzz-bin

# Missing Debian packages install themselves the first time they are needed.
deps:
	@$(TOP)/scripts/deps build

include $(TOP)/module/build.mk
include $(TOP)/userlib/build.mk
include $(TOP)/selftests/build.mk
include $(TOP)/tests/host/build.mk
include $(TOP)/tests/stuckdev/build.mk
include $(TOP)/bench/build.mk
include $(TOP)/man/build.mk
include $(TOP)/tests/fuzz/build.mk

debug-kernel: deps
	@$(TOP)/scripts/debug-kernel

# Coverage of module/ by the selftests and the fuzzer, on the debug kernel
# (scripts/coverage). COV_SECONDS: how long the fuzzer runs (default 120).
coverage: all
	@$(TOP)/scripts/coverage --fuzz-seconds $(or $(COV_SECONDS),120) $(if $(SEED),--seed $(SEED))

# check-prepare: the debug kernel build started in the background, every
# package the check needs installed meanwhile (scripts/check --prepare).
check: check-prepare all
	@$(TOP)/scripts/check

check-prepare:
	@$(TOP)/scripts/check --prepare

demo: all bench-bin
	@$(TOP)/scripts/demo

# Kernel-style static analysis of the C glue and the ABI header: W=1, sparse, checkpatch.
lint:
	@$(TOP)/scripts/lint

# Packaging (docs/packaging.md). deb: build/deb/*.deb. dkms-check: dkms
# build and install for every kernel with headers, in a scratch DKMS tree.
# dkms-install: the real thing, as root, into /usr/src and /lib/modules.
deb:
	@$(TOP)/scripts/deb

dkms-check:
	@$(TOP)/scripts/dkms-check

DKMS_SRC := /usr/src/pwring-$(PWRING_VERSION)
dkms-install:
	-dkms remove pwring/$(PWRING_VERSION) --all 2>/dev/null
	rm -rf $(DKMS_SRC) && mkdir -p $(DKMS_SRC)/module
	cp -r $(TOP)/Kbuild $(TOP)/dkms.conf $(TOP)/uapi $(DKMS_SRC)/
	cp -r $(TOP)/module/core $(TOP)/module/kernel $(DKMS_SRC)/module/
	dkms install pwring/$(PWRING_VERSION)

# The host-only packaging checks: man pages, DKMS, Debian packages, lint.
pkg-check:
	@$(TOP)/scripts/pkg-check

clean:
	rm -rf $(BUILD)
	rm -f *.o *.ko *.mod *.mod.c modules.order Module.symvers .*.cmd
	find module -name '*.o' -o -name '.*.cmd' | xargs -r rm -f
