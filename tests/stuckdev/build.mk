# tests/stuckdev/build.mk: the test-only module stuckdev.ko (/dev/pwring-stuck),
# built for every kernel pwring.ko is built for, each in
# $(BUILD)/stuckdev/<kernel release>/, and installed next to the selftests as
# stuckdev-<kernel release>.ko (the guests get that directory; the selftests
# that need it insmod the one matching `uname -r` and rmmod it at the end).

SD_DIR := $(TOP)/tests/stuckdev

.PHONY: stuckdev stuckdev-one stuckdev-debug
stuckdev: deps
	@set -e; for kdir in $(KDIRS); do \
		kver=$${kdir#/usr/src/linux-headers-}; \
		$(MAKE) --no-print-directory stuckdev-one KDIR=$$kdir KVER=$$kver; \
	done

# $(KDIR): kernel build tree, $(KVER): its release.
stuckdev-one:
	@rm -rf $(BUILD)/stuckdev/$(KVER) && mkdir -p $(BUILD)/stuckdev/$(KVER)
	@ln -s $(SD_DIR)/stuckdev.c $(SD_DIR)/Kbuild $(BUILD)/stuckdev/$(KVER)/
	+set -o pipefail; $(MAKE) -C $(KDIR) M=$(BUILD)/stuckdev/$(KVER) modules 2>&1 | \
		tee $(BUILD)/stuckdev/$(KVER)/build.log
	@if grep -E 'warning:|error:' $(BUILD)/stuckdev/$(KVER)/build.log; then \
		echo "stuckdev build for $(KDIR) is not clean" >&2; exit 1; fi
	@mkdir -p $(BUILD)/selftests
	install -m 644 $(BUILD)/stuckdev/$(KVER)/stuckdev.ko $(BUILD)/selftests/stuckdev-$(KVER).ko

# For the debug kernel of scripts/debug-kernel (scripts/check builds it).
stuckdev-debug: deps
	@tree=$$($(TOP)/scripts/debug-kernel --path | tail -n1); \
	kver=$$($(MAKE) -s --no-print-directory -C $$tree kernelrelease); \
	$(MAKE) --no-print-directory stuckdev-one KDIR=$$tree KVER=$$kver
