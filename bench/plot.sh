#!/usr/bin/env bash
# bench/plot.sh SUMMARY.csv OUT.png
#
# Bar chart of pwring's advantage over io_uring (the `ratio` column of the
# summary CSV) per workload, one bar per kernel. The y axis is logarithmic and
# every bar starts at 1.0 (the thick line): up means pwring is better, down
# means io_uring is. Needs gnuplot (scripts/deps bench installs gnuplot-nox).
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 SUMMARY.csv OUT.png" >&2; exit 2; }
csv=$1 png=$2
command -v gnuplot >/dev/null || { echo "plot: gnuplot not found (scripts/deps bench)" >&2; exit 1; }

dat=$(mktemp)
trap 'rm -f "$dat" "$dat.kernels"' EXIT

# Tab-separated, one line per workload in CSV order: index, workload, then the
# ratio on each kernel ('?' where missing, which gnuplot skips). The kernels,
# in CSV order, go to $dat.kernels.
awk -F, -v kfile="$dat.kernels" '
NR == 1 { next }
{
	if (!($2 in kseen)) { kseen[$2] = 1; kern[++nk] = $2 }
	if (!($1 in wseen)) { wseen[$1] = 1; work[++nw] = $1 }
	r[$1 "," $2] = $7
}
END {
	for (k = 1; k <= nk; k++) print kern[k] > kfile
	for (w = 1; w <= nw; w++) {
		printf "%d\t%s", w - 1, work[w]
		for (k = 1; k <= nk; k++) {
			v = r[work[w] "," kern[k]]
			printf "\t%s", (v == "" ? "?" : v)
		}
		print ""
	}
}' "$csv" >"$dat"

[[ -s $dat && -s $dat.kernels ]] || { echo "plot: no data in $csv" >&2; exit 1; }
mapfile -t kernels <"$dat.kernels"
nk=${#kernels[@]}
nw=$(wc -l <"$dat")

# y range: powers of two around the data with room for the labels, at least 1/2..2.
read -r ylo yhi < <(awk -F'\t' '{ for (i = 3; i <= NF; i++) if ($i != "?" && $i > 0) {
	v = log($i) / log(2); if (lo == "" || v - 0.3 < lo) lo = v - 0.3; if (hi == "" || v + 0.3 > hi) hi = v + 0.3 } }
	END { if (lo == "" || lo > -1) lo = -1; if (hi == "" || hi < 1) hi = 1
	      l = int(lo); if (l > lo) l--; h = int(hi); if (h < hi) h++
	      printf "%g %g\n", 2 ^ l, 2 ^ h }' "$dat")

# Tick labels 1/4, 1/2, 1, 2, 4... across the range.
ytics=$(awk -v lo="$ylo" -v hi="$yhi" 'BEGIN {
	for (v = lo; v <= hi * 1.001; v *= 2) {
		# v is a power of two read back from %g: print the exact integer.
		l = v >= 1 ? sprintf("%d", int(v + 0.5)) : sprintf("1/%d", int(1 / v + 0.5))
		printf "%s\"%s\" %g", (n++ ? ", " : ""), l, v
	} }')

# Room under the axis for the longest workload name, drawn at -40 degrees.
bmargin=$(awk -F'\t' '{ if (length($2) > m) m = length($2) } END { m = int(m * 0.55) + 2; print m < 8 ? 8 : m }' "$dat")

# Bars of kernel k (column k+2) sit at x = index + offset(k), from 1 to the ratio.
w=$(awk -v n="$nk" 'BEGIN { printf "%g", 0.8 / n }')
plots=
for ((k = 1; k <= nk; k++)); do
	off=$(awk -v k="$k" -v n="$nk" -v w="$w" 'BEGIN { printf "%g", (k - (n + 1) / 2) * w }')
	c=$((k + 2))
	x="(\$1+($off))"
	plots+="${plots:+, }'$dat' using $x:$c:($x-$w/2):($x+$w/2):(1):$c"
	[[ $k -eq 1 ]] && plots+=":xtic(2)"
	plots+=" with boxxyerror lc $k title 'Linux ${kernels[k-1]}'"
	plots+=", '' using $x:(\$$c >= 1 ? \$$c * 1.08 : \$$c / 1.08):(sprintf(\$$c >= 0.1 ? '%.2f' : '%.3f', \$$c))"
	plots+=" with labels font ',8' notitle"
done

gnuplot <<GP
set terminal pngcairo size 1280,640 font 'sans,10'
set output '$png'
set datafile separator '\t'
set datafile missing '?'
set title "pwring vs io_uring: pwring's advantage per workload (throughput pwring/io_uring, latency io_uring/pwring; above 1 = pwring better)" noenhanced
set style fill solid 0.85 border -1
set logscale y 2
set yrange [$ylo:$yhi]
set ytics ($ytics)
set ylabel 'ratio (log scale)'
set grid ytics
set xrange [-0.6:$nw - 0.4]
set xtics rotate by -40 scale 0 noenhanced
set key top left noenhanced
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb 'black' front
set bmargin $bmargin
plot $plots
GP
