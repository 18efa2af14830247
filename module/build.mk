# Building pwring.ko for each installed kernel, out of tree, each in its own
# directory under $(BUILD)/module/<kernel release>/ so they never collide.
# The source tree is mirrored there as symlinks (Kbuild writes next to them).

MODULE_SRCS := Kbuild $(shell find $(TOP)/module $(TOP)/uapi -name '*.[ch]' -o -name '*.cpp' | sed 's|^$(TOP)/||')

# $(call module-build,<kernel build dir>,<output dir>[,<extra Kbuild variables>])
define module-build
	@rm -rf $(2) && mkdir -p $(2)
	@cd $(TOP) && for f in $(MODULE_SRCS); do mkdir -p $(2)/$$(dirname $$f); ln -s $(TOP)/$$f $(2)/$$f; done
	+set -o pipefail; $(MAKE) -C $(1) M=$(2) $(3) modules 2>&1 | tee $(2)/build.log
	@if grep -E 'warning:|error:' $(2)/build.log; then echo "module build for $(1) is not clean" >&2; exit 1; fi
	@test -f $(2)/pwring.ko
endef

module: deps
	@set -e; for kdir in $(KDIRS); do \
		kver=$${kdir#/usr/src/linux-headers-}; \
		$(MAKE) --no-print-directory module-one KDIR=$$kdir MOUT=$(BUILD)/module/$$kver; \
	done

module-one:
	$(call module-build,$(KDIR),$(MOUT),$(MVARS))

# The debug kernel (scripts/debug-kernel builds and caches it).
module-debug: deps
	@tree=$$($(TOP)/scripts/debug-kernel --path | tail -n1); \
	kver=$$($(MAKE) -s --no-print-directory -C $$tree kernelrelease); \
	$(MAKE) --no-print-directory module-one KDIR=$$tree MOUT=$(BUILD)/module/$$kver

# The debug kernel's module with gcov counters, for `make coverage`.
module-cov: deps
	@tree=$$($(TOP)/scripts/debug-kernel --path | tail -n1); \
	kver=$$($(MAKE) -s --no-print-directory -C $$tree kernelrelease); \
	$(MAKE) --no-print-directory module-one KDIR=$$tree MOUT=$(BUILD)/module-cov/$$kver MVARS=PWRING_GCOV=1

.PHONY: module-one module-debug module-cov
