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

selftests: $(ST_BINS) $(ST_OUT)/run-selftests.sh

$(ST_OUT)/%_test: $(ST_DIR)/%.c $(UL_LIB_A) | $(UL_DEPS_STAMP)
	@mkdir -p $(@D) $(ST_DEPDIR)
	$(CC) $(ST_CFLAGS) -MF $(ST_DEPDIR)/$*.d -static -o $@ $< $(UL_LIB_A) -pthread $(LDFLAGS)

$(ST_OUT)/run-selftests.sh: $(ST_DIR)/run-selftests.sh
	@mkdir -p $(@D)
	install -m 755 $< $@

-include $(patsubst $(ST_DIR)/%.c,$(ST_DEPDIR)/%.d,$(ST_SRCS))
