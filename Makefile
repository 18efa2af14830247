# pwring: top-level build. `make` builds the module for every installed Debian
# cloud kernel (6.1 and 6.12), the user library, the selftests and examples.
# `make check` runs host unit tests and the selftests in QEMU on three kernels;
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

# Kernels the module is built for: every installed cloud-amd64 headers tree.
KDIRS    ?= $(sort $(wildcard /usr/src/linux-headers-*-cloud-amd64))
KVERS     = $(patsubst /usr/src/linux-headers-%,%,$(KDIRS))

.PHONY: all deps module lib selftests examples host-tests check demo vm-run \
	install clean debug-kernel bench
all: module lib selftests examples fuzz-bin

# Missing Debian packages install themselves the first time they are needed.
deps:
	@$(TOP)/scripts/deps build

include $(TOP)/module/build.mk
include $(TOP)/userlib/build.mk
include $(TOP)/selftests/build.mk
include $(TOP)/tests/host/build.mk
include $(TOP)/bench/build.mk
include $(TOP)/tests/fuzz/build.mk

debug-kernel: deps
	@$(TOP)/scripts/debug-kernel

check: all
	@$(TOP)/scripts/check

demo: all bench-bin
	@$(TOP)/scripts/demo

clean:
	rm -rf $(BUILD)
	rm -f *.o *.ko *.mod *.mod.c modules.order Module.symvers .*.cmd
	find module -name '*.o' -o -name '.*.cmd' | xargs -r rm -f
