#!/bin/sh
# SPDX-License-Identifier: MIT
# run-fuzz.sh SECONDS SEED - in the guest: pwring-fuzz, then a kmemleak check
# (after unloading the module). Exit 0 only if both are clean.
dir=$(cd "$(dirname "$0")" && pwd)
sh "$dir/kmemleak.sh" start
"$dir/pwring-fuzz" -t "${1:-60}" -s "${2:-1}"
rc=$?
sh "$dir/kmemleak.sh" check pwring || rc=1
exit $rc
