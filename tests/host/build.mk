# tests/host/build.mk: host unit tests of the C++ core (module/core/) against
# a user-space kapi (tests/host/fake_kapi.cpp). Included by the top Makefile.
#
#   make host-tests   build and run three variants, outputs in $(BUILD)/host/:
#                       asan   ASan + UBSan (-fno-sanitize-recover=all)
#                       tsan   ThreadSanitizer (real timer and worker threads in the race tests)
#                       plain  core at -O2, no sanitizer
#                     prints the GoogleTest output of each, then one line
#                     "HOST: N passed, N failed" (test cases, summed over the
#                     variants); fails if any case failed or a binary crashed.
#   make host-build   only build them.
#
# The core's .cpp files are compiled unchanged and freestanding, as in the
# module (-nostdinc++ keeps standard headers out of them). Three test-only
# opcodes are linked in with -Wl,--wrap on pw::op_lookup_beyond() (probe_op.cpp).
# The test_*.cpp files are built as one translation unit per variant
# (generated all_tests.cpp): GoogleTest code compiles slowly, once is enough.
# One variant by hand: $(BUILD)/host/<variant>/pwring-host-tests [--gtest_filter=...]

HOST_DIR        := $(TOP)/tests/host
HOST_OUT        := $(BUILD)/host
HOST_VARIANTS   := asan tsan plain
HOST_CXX        ?= $(CXX)

HOST_CORE_SRCS  := $(wildcard $(TOP)/module/core/*.cpp $(TOP)/module/core/ops/*.cpp)
HOST_TEST_SRCS  := $(sort $(wildcard $(HOST_DIR)/test_*.cpp))
HOST_UNITY      := $(HOST_OUT)/all_tests.cpp

HOST_WARN       := -Wall -Wextra -Wno-missing-field-initializers
# Freestanding like the module: the core files and probe_op.cpp (which uses core headers).
HOST_CORE_FLAGS := -std=gnu++20 -ffreestanding -fno-exceptions -fno-rtti \
		   -fno-threadsafe-statics -nostdinc++ $(HOST_WARN) -g
HOST_TEST_FLAGS := -std=gnu++20 -pthread $(HOST_WARN) -g -I$(HOST_DIR)
HOST_SAN_asan   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
HOST_SAN_tsan   := -fsanitize=thread -DPWRING_HOST_TSAN
HOST_SAN_plain  :=
HOST_OPT_asan   := -O1
HOST_OPT_tsan   := -O1
HOST_OPT_plain  := -O2
HOST_LDWRAP     := -Wl,--wrap=_ZN2pw16op_lookup_beyondEj
# Build in parallel unless the caller already runs a jobserver.
HOST_JOBS       := $(if $(findstring jobserver,$(MAKEFLAGS)),,-j$(shell nproc 2>/dev/null || echo 2))

.PHONY: host-tests host-build host-deps host-unity

host-tests: host-deps
	@$(MAKE) --no-print-directory $(HOST_JOBS) host-build
	@$(HOST_DIR)/run-host-tests $(HOST_OUT) $(HOST_VARIANTS)

# scripts/deps installs missing packages; a checkout without it builds with what is there.
host-deps:
	@if [ -x $(TOP)/scripts/deps ]; then $(TOP)/scripts/deps host-tests; fi

host-build: $(foreach v,$(HOST_VARIANTS),$(HOST_OUT)/$(v)/pwring-host-tests)

# Rewritten only when the list of test files changes.
$(HOST_UNITY): host-unity
	@:
host-unity:
	@mkdir -p $(HOST_OUT)
	@printf '#include "%s"\n' $(HOST_TEST_SRCS) >$(HOST_UNITY).tmp
	@cmp -s $(HOST_UNITY).tmp $(HOST_UNITY) && rm -f $(HOST_UNITY).tmp || mv $(HOST_UNITY).tmp $(HOST_UNITY)

# $(call host-variant,<name>)
define host-variant
HOST_OBJS_$(1) := $(patsubst $(TOP)/module/core/%.cpp,$(HOST_OUT)/$(1)/core/%.o,$(HOST_CORE_SRCS)) \
		  $(HOST_OUT)/$(1)/probe_op.o $(HOST_OUT)/$(1)/fake_kapi.o \
		  $(HOST_OUT)/$(1)/main.o $(HOST_OUT)/$(1)/all_tests.o

$(HOST_OUT)/$(1)/core/%.o: $(TOP)/module/core/%.cpp
	@mkdir -p $$(@D)
	$$(HOST_CXX) $$(HOST_CORE_FLAGS) $$(HOST_OPT_$(1)) $$(HOST_SAN_$(1)) -MMD -MP -c -o $$@ $$<

$(HOST_OUT)/$(1)/probe_op.o: $(HOST_DIR)/probe_op.cpp
	@mkdir -p $$(@D)
	$$(HOST_CXX) $$(HOST_CORE_FLAGS) $$(HOST_OPT_$(1)) $$(HOST_SAN_$(1)) -MMD -MP -c -o $$@ $$<

$(HOST_OUT)/$(1)/fake_kapi.o: $(HOST_DIR)/fake_kapi.cpp
	@mkdir -p $$(@D)
	$$(HOST_CXX) $$(HOST_TEST_FLAGS) -O1 $$(HOST_SAN_$(1)) -MMD -MP -c -o $$@ $$<

# Test code at -O0: it compiles three times faster and runs fast enough.
$(HOST_OUT)/$(1)/main.o: $(HOST_DIR)/main.cpp
	@mkdir -p $$(@D)
	$$(HOST_CXX) $$(HOST_TEST_FLAGS) -O0 $$(HOST_SAN_$(1)) -MMD -MP -c -o $$@ $$<

$(HOST_OUT)/$(1)/all_tests.o: $(HOST_UNITY)
	@mkdir -p $$(@D)
	$$(HOST_CXX) $$(HOST_TEST_FLAGS) -O0 $$(HOST_SAN_$(1)) -MMD -MP -c -o $$@ $$<

$(HOST_OUT)/$(1)/pwring-host-tests: $$(HOST_OBJS_$(1))
	$$(HOST_CXX) $$(HOST_SAN_$(1)) -pthread -o $$@ $$^ $$(HOST_LDWRAP) -lgtest

-include $$(HOST_OBJS_$(1):.o=.d)
endef

$(foreach v,$(HOST_VARIANTS),$(eval $(call host-variant,$(v))))
