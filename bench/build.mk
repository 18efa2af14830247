# bench/build.mk: the benchmark. Included by the top Makefile (TOP, BUILD,
# and the userlib variables UL_*).
#
#   make bench-bin   $(BUILD)/bench/pwring-bench: one static program that runs
#                    every workload through pwring, io_uring and plain syscalls;
#                    and timer-lateness (an unrelated hrtimer's lateness while
#                    rings complete long chains from their timers)
#   make bench       scripts/bench: builds what it needs, runs the benchmark in
#                    the 6.12 and 6.1 guests, writes $(BUILD)/bench/summary.{csv,png}
#   make bench-storage  scripts/bench --storage: the storage and server rows
#                    (null_blk, NVMe, ext4, TCP) with fio as referee, merged into
#                    the same summary; BENCH_ARGS passes more (e.g. --quick)

BENCH_DIR        := $(TOP)/bench
BENCH_OUT        := $(BUILD)/bench
BENCH_BIN        := $(BENCH_OUT)/pwring-bench
LATENCY_BIN      := $(BENCH_OUT)/timer-lateness
BENCH_CFLAGS     := -std=gnu11 -O2 -g -Wall -Wextra -Werror -MMD -MP \
		    $(UL_INCLUDES) $(CFLAGS)
# liburing-dev and gnuplot-nox install themselves once (scripts/deps is quiet when present).
BENCH_DEPS_STAMP := $(BENCH_OUT)/.deps-bench

.PHONY: bench-bin bench bench-storage
bench-bin: $(BENCH_BIN) $(LATENCY_BIN)

bench:
	@$(TOP)/scripts/bench

bench-storage:
	@$(TOP)/scripts/bench --storage $(BENCH_ARGS)

$(BENCH_DEPS_STAMP):
	@mkdir -p $(@D)
	$(TOP)/scripts/deps bench
	@touch $@

$(BENCH_BIN): $(BENCH_DIR)/pwring-bench.c $(UL_LIB_A) $(UL_ABI_HDR) | $(BENCH_DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -MF $(BENCH_OUT)/pwring-bench.d -static -o $@ $< \
		$(UL_LIB_A) -luring -laio -lpthread -lm $(LDFLAGS)

# An unrelated hrtimer's lateness while rings complete long chains
# (docs/performance.md, "Interrupt context").
$(LATENCY_BIN): $(BENCH_DIR)/timer-lateness.c $(UL_LIB_A) $(UL_ABI_HDR) | $(BENCH_DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -MF $(BENCH_OUT)/timer-lateness.d -static -o $@ $< \
		$(UL_LIB_A) -lpthread $(LDFLAGS)

-include $(BENCH_OUT)/pwring-bench.d $(BENCH_OUT)/timer-lateness.d
