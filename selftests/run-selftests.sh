#!/bin/sh
# SPDX-License-Identifier: MIT
# run-selftests.sh [NAME...] - run the pwring selftests, kselftest style.
#
# Runs every executable *_test next to this script (or the NAMEs given, with or
# without the _test suffix), each under a time limit, and prints TAP 13: a plan,
# then per program "# selftest: NAME", its own TAP output indented with "# ",
# and "ok N selftests: NAME" or "not ok N selftests: NAME". A program fails
# when it exits non-zero (4 is a skip), times out, or the kernel log gains a
# splat (BUG, WARNING, Oops, KASAN, lockdep...) while it runs.
# Exit status: 0 when nothing failed, 1 otherwise.
#
# Written for busybox sh (the test guests); works with any POSIX sh.
# Environment:
#   PWRING_TEST_TIMEOUT    seconds per program (default 300; stress_test 900)
#   PWRING_SLACK_MS        timing slack the programs allow (default 500)

dir=$(cd "$(dirname "$0")" && pwd)
tmp=${TMPDIR:-/tmp}
rcfile=$tmp/pwring-selftest.$$.rc
splats='BUG:|kernel BUG|WARNING:|Oops|general protection fault|KASAN|KFENCE|UBSAN'
splats="$splats|possible circular locking|inconsistent lock state|possible recursive locking"
splats="$splats|suspicious RCU usage|INFO: |scheduling while atomic"
splats="$splats|sleeping function called from invalid context|refcount_t:|Call Trace"
splats="$splats|list_(add|del) corruption|Kernel panic"

# The programs to run.
tests=
if [ $# -gt 0 ]; then
	for name in "$@"; do
		name=${name%_test}
		tests="$tests $dir/${name}_test"
	done
else
	for f in "$dir"/*_test; do
		[ -f "$f" ] && [ -x "$f" ] && tests="$tests $f"
	done
fi
count=0
for t in $tests; do count=$((count + 1)); done

# busybox >= 1.30 and coreutils: timeout [-s SIG] SECS PROG; older busybox: -t SECS.
if timeout -s KILL 5 true >/dev/null 2>&1; then
	run_limited() { timeout -s KILL "$1" "$2"; }
elif timeout -s KILL -t 5 true >/dev/null 2>&1; then
	run_limited() { timeout -s KILL -t "$1" "$2"; }
else
	echo "# warning: no usable timeout command; running without time limits"
	run_limited() { "$2"; }
fi

# Kernel log lines so far (0 if the log cannot be read).
klog_lines() {
	dmesg 2>/dev/null | wc -l
}

echo "TAP version 13"
echo "1..$count"
n=0
failed=0
for t in $tests; do
	n=$((n + 1))
	name=${t##*/}
	limit=${PWRING_TEST_TIMEOUT:-300}
	[ "$name" = stress_test ] && limit=${PWRING_TEST_TIMEOUT:-900}
	echo "# selftest: $name"
	if [ ! -x "$t" ]; then
		echo "not ok $n selftests: $name # not found"
		failed=$((failed + 1))
		continue
	fi

	before=$(klog_lines)
	{
		(cd "$dir" && run_limited "$limit" "$t") 2>&1
		echo $? >"$rcfile"
	} | sed 's/^/# /'
	rc=$(cat "$rcfile" 2>/dev/null || echo 255)
	rm -f "$rcfile"

	splat=$(dmesg 2>/dev/null | tail -n +$((before + 1)) | grep -E "$splats" | head -n 5)
	if [ -n "$splat" ]; then
		echo "# kernel splat while $name ran:"
		echo "$splat" | sed 's/^/#   /'
	fi

	if [ -n "$splat" ]; then
		echo "not ok $n selftests: $name # kernel splat (exit $rc)"
		failed=$((failed + 1))
	elif [ "$rc" -eq 0 ]; then
		echo "ok $n selftests: $name"
	elif [ "$rc" -eq 4 ]; then
		echo "ok $n selftests: $name # SKIP"
	elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "not ok $n selftests: $name # TIMEOUT ${limit}s (or killed, exit $rc)"
		failed=$((failed + 1))
	elif [ "$rc" -gt 128 ]; then
		echo "not ok $n selftests: $name # killed by signal $((rc - 128))"
		failed=$((failed + 1))
	else
		echo "not ok $n selftests: $name # exit=$rc"
		failed=$((failed + 1))
	fi
done

echo "# $((n - failed)) passed (or skipped), $failed failed, of $count"
[ "$failed" -eq 0 ]
