#!/bin/sh
# SPDX-License-Identifier: MIT
# kmemleak.sh start | check [MODULE] - kmemleak around a test run, in a guest.
#
#   start   mount debugfs, scan once and clear what boot left, so that only
#           objects leaked from now on are reported
#   check   unload MODULE if given (so that what it leaked at unload counts
#           too), scan twice with a pause (an object must be 5 s old to be
#           reported), print the report, load MODULE again from
#           /pwring/MODULE.ko (the guest's init unloads it at the end)
#
# check prints "ok 1000 kmemleak: ..." or "not ok 1000 kmemleak: ..." (TAP;
# the report indented with "# ") and exits 1 on a leak, a kmemleak that
# disabled itself, or a failed rmmod. Without CONFIG_DEBUG_KMEMLEAK both are
# no-ops. Written for busybox sh.
km=/sys/kernel/debug/kmemleak

available() {
	[ -e /sys/kernel/debug/kmemleak ] ||
		mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	[ -e $km ]
}

scan() {
	if ! echo scan >$km 2>/dev/null; then
		echo "not ok 1000 kmemleak: scan refused (kmemleak disabled itself?)"
		dmesg | grep -i kmemleak | tail -n 5 | sed 's/^/# /'
		exit 1
	fi
}

case "$1" in
start)
	available || { echo "# kmemleak: not in this kernel"; exit 0; }
	scan
	echo clear >$km
	;;
check)
	available || exit 0
	mod=$2 reload=
	if [ -n "$mod" ] && grep -q "^$mod " /proc/modules; then
		if ! rmmod "$mod"; then
			echo "not ok 1000 kmemleak: rmmod $mod failed (module still in use)"
			exit 1
		fi
		reload=1
	fi
	scan
	sleep 6
	scan
	report=$(cat $km)
	[ -n "$reload" ] && insmod "/pwring/$mod.ko"
	if [ -n "$report" ]; then
		echo "$report" | sed 's/^/# /'
		echo "not ok 1000 kmemleak: $(echo "$report" | grep -c '^unreferenced object') unreferenced objects"
		exit 1
	fi
	echo "ok 1000 kmemleak: no unreferenced objects"
	;;
*)
	echo "usage: kmemleak.sh start | check [MODULE]" >&2
	exit 2
	;;
esac
