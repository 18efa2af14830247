# tests/fuzz/build.mk: the fuzzer (a static program run in the test guests)
# and `make fuzz SECONDS=n SEED=s KERNEL=6.1|6.12|debug`.

FZ_DIR := $(TOP)/tests/fuzz
FZ_OUT := $(BUILD)/fuzz
FZ_BIN := $(FZ_OUT)/pwring-fuzz

SECONDS ?= 60
KERNEL  ?= debug
SEED    ?=

fuzz-bin: $(FZ_BIN)

$(FZ_BIN): $(FZ_DIR)/fuzz.c $(UL_ABI_HDR) | $(UL_DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -D_GNU_SOURCE -O2 -g $(UL_WARN) -I$(BUILD)/userlib/include -static \
		-o $@ $< -pthread $(LDFLAGS)

fuzz: all
	@$(TOP)/scripts/fuzz --kernel $(KERNEL) --seconds $(SECONDS) $(if $(SEED),--seed $(SEED))

.PHONY: fuzz fuzz-bin
