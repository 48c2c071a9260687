#!/usr/bin/env bash
# GET and SET by value size, 100 B to 16 MiB, MirrorKv (a sync pair) against redis-server (with a replica) in
# one run: `mirrorkv bench --compare redis` per row, the two sides in turns (--rounds), the median round.
# Keys per size keep each row's data at 5-128 MB, so that a row loads in seconds and fits the default limits
# (the bench gives the pair a --max-memory for its keys).
# Usage: bench/value-sizes.sh [connections, 4] [rounds, 3] [duration-seconds per round, 3]
# Prints one line per row and the machine's load average before it (the figures move with it).
set -euo pipefail
cd "$(dirname "$0")/.."
connections=${1:-4}
rounds=${2:-3}
duration=${3:-3}
command -v redis-server >/dev/null || { echo "redis-server not found: apt-get install redis-server redis-tools" >&2; exit 1; }
mkv="dotnet src/MirrorKv.Cli/bin/Release/net10.0/mirrorkv.dll"
printf "%-4s %9s %6s %3s %12s %12s %6s %10s %16s  %-20s %s\n" op value keys c mirrorkv redis ratio "vs +WAIT" redis-benchmark "ratio per round" "load average"
for row in 100:50000 1024:50000 16384:4000 262144:256 1048576:64 4194304:16 16777216:8; do
  value=${row%%:*}
  keys=${row##*:}
  for op in get set; do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    out=$($mkv bench --op "$op" --keys "$keys" --value-size "$value" --connections "$connections" --pipeline 1 --duration "$duration" --warmup 1 --rounds "$rounds" --compare redis 2>&1) || { echo "$op $value: failed"; echo "$out" | tail -5; continue; }
    ours=$(sed -nE 's/^mirrorkv .* ([0-9,]+) ops\/s.*/\1/p' <<<"$out" | tr -d ,)
    theirs=$(sed -nE 's/^redis +(get|set) .* ([0-9,]+) ops\/s.*/\2/p' <<<"$out" | tr -d ,)
    # Two ratio lines for a SET: against redis, then (redis+WAIT) against redis acknowledging after its replica.
    ratio=$(sed -nE '/WAIT/!s/^ratio .* = ([0-9.]+)$/\1/p' <<<"$out")
    wait=$(sed -nE 's/^ratio .*WAIT.* = ([0-9.]+)$/\1/p' <<<"$out")
    reference=$(sed -nE 's/.*(GET|SET): ([0-9.]+) requests per second.*/\2/p' <<<"$out")
    perround=$(sed -nE 's/^round .* ratio ([0-9.]+)$/\1/p' <<<"$out" | tr '\n' ' ')
    printf "%-4s %9s %6s %3s %12s %12s %6s %10s %16s  %-20s %s\n" "$op" "$value" "$keys" "$connections" "$ours" "$theirs" "$ratio" "${wait:--}" "${reference%.*}" "$perround" "$load"
  done
done
