#!/usr/bin/env bash
# The machine's floor under the pipeline-1 rows: how many operations a second the hops of a write (or a read) allow
# on this machine when nothing but fixed-size messages goes along them (bench/floor/floor.c: C, one epoll loop per
# process, one send per round, no store), measured in turns with MirrorKv and redis on the same row, so that a
# goal can be set against what the machine gives any store with the same path.
#
#   bench/floor.sh write   [rounds 5] [seconds 3]   client -> primary -> secondary -> primary -> client (4 hops),
#                                                   the chain path (3 hops), then `mirrorkv bench --op set ...
#                                                   --compare redis` (MirrorKv's sync SET, redis SET + WAIT 1 0)
#   bench/floor.sh cluster [rounds 5] [seconds 3]   the write and read paths over 1 pair and over 3 (six processes)
#
# Every floor row is the better of the primary sleeping at once and spinning 50 us after its work (as MirrorKv's
# primary does); four requests in flight (four connections, pipeline 1), as in the rows they bound.
# Needs a C compiler (cc), and for `write` redis-server (apt-get install build-essential redis-server redis-tools).
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-write}
rounds=${2:-5}
seconds=${3:-3}
command -v cc >/dev/null || { echo "cc not found: apt-get install build-essential" >&2; exit 1; }
work=$(mktemp -d)
trap 'pkill -f "$work/floor" 2>/dev/null || true; rm -rf "$work"' EXIT
cc -O2 -o "$work/floor" bench/floor/floor.c
base=$((20000 + RANDOM % 20000))

# floor MODE PAIRS SPIN: one measurement; prints ops/s.
floor() {
  local mode=$1 pairs=$2 spin=$3 ports="" p
  for p in $(seq 1 "$pairs"); do
    local primary=$((base + p * 4)) secondary=$((base + p * 4 + 1))
    if [[ $mode == read ]]; then secondary=0; else "$work/floor" secondary "$secondary" "$mode" & fi
    sleep 0.1
    "$work/floor" primary "$primary" "$secondary" "$spin" &
    ports="$ports,$primary"
  done
  sleep 0.3
  "$work/floor" client "${ports#,}" 4 "$seconds" "$mode" | sed -nE 's/^floor ops\/s ([0-9]+).*/\1/p'
  pkill -f "$work/floor" 2>/dev/null || true
  wait 2>/dev/null || true
  base=$((base + 64))
}

best() { local a b; a=$(floor "$1" "$2" 0); b=$(floor "$1" "$2" 50); echo $((a > b ? a : b)); }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

case $what in
  write)
    command -v redis-server >/dev/null || { echo "redis-server not found: apt-get install redis-server redis-tools" >&2; exit 1; }
    dotnet build src/MirrorKv.Cli -c Release -v quiet -nologo >/dev/null
    mkv="dotnet src/MirrorKv.Cli/bin/Release/net10.0/mirrorkv.dll"
    printf "%-6s %12s %12s %12s %12s %14s %14s\n" round floor-4hop floor-chain mirrorkv redis+WAIT "floor/r+WAIT" "mirrorkv/r+WAIT"
    all_f="" all_c="" all_m="" all_w="" all_fr="" all_mr=""
    for r in $(seq 1 "$rounds"); do
      f=$(best write 1); c=$(best chain 1)
      out=$($mkv bench --op set --keys 50000 --value-size 100 --connections 4 --pipeline 1 --duration "$seconds" --warmup 1 --rounds 1 --compare redis 2>&1)
      m=$(sed -nE 's/^mirrorkv +set .* ([0-9,]+) ops\/s.*/\1/p' <<<"$out" | tr -d ,)
      w=$(sed -nE 's/^redis\+WAIT +set .* ([0-9,]+) ops\/s.*/\1/p' <<<"$out" | tr -d ,)
      printf "%-6s %12s %12s %12s %12s %14s %14s\n" "$r" "$f" "$c" "$m" "$w" "$(ratio "$f" "$w")" "$(ratio "$m" "$w")"
      all_f="$all_f $f"; all_c="$all_c $c"; all_m="$all_m $m"; all_w="$all_w $w"
      all_fr="$all_fr $(ratio "$(( f > c ? f : c ))" "$w")"; all_mr="$all_mr $(ratio "$m" "$w")"
    done
    printf "%-6s %12s %12s %12s %12s %14s %14s\n" median "$(median <<<"$all_f")" "$(median <<<"$all_c")" "$(median <<<"$all_m")" "$(median <<<"$all_w")" "" ""
    echo "best floor (4 hops or chain) / redis+WAIT per round: $all_fr (median $(median <<<"$all_fr"))"
    echo "mirrorkv sync SET / redis+WAIT per round:            $all_mr (median $(median <<<"$all_mr"))"
    ;;
  cluster)
    printf "%-6s %12s %12s %12s %12s %12s %12s\n" round write-1pair write-3pairs "cost write" read-1pair read-3pairs "cost read"
    all_w="" all_r=""
    for r in $(seq 1 "$rounds"); do
      w1=$(best write 1); w3=$(best write 3); r1=$(best read 1); r3=$(best read 3)
      printf "%-6s %12s %12s %12s %12s %12s %12s\n" "$r" "$w1" "$w3" "$(ratio "$w1" "$w3")" "$r1" "$r3" "$(ratio "$r1" "$r3")"
      all_w="$all_w $(ratio "$w1" "$w3")"; all_r="$all_r $(ratio "$r1" "$r3")"
    done
    echo "floor cost of 3 pairs over 1, write: $all_w (median $(median <<<"$all_w"))"
    echo "floor cost of 3 pairs over 1, read:  $all_r (median $(median <<<"$all_r"))"
    ;;
  *) echo "usage: bench/floor.sh write|cluster [rounds] [seconds]" >&2; exit 2 ;;
esac
