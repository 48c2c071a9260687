#!/usr/bin/env bash
# MirrorKv against redis-server in one run: `mirrorkv bench --compare redis` per row drives both servers
# with the same harness (our C# client for MirrorKv, our pipelined RESP client for redis, a replica
# attached to redis as MirrorKv has its secondary), and runs the stock redis-benchmark as a reference.
# Each row measures the two sides in turns (--rounds) and reports the median round, so that a drift of the
# shared machine during the row falls on both sides alike.
# Usage: bench/compare-redis.sh [duration-seconds per round, 3] [rounds, 3] [extra bench options, e.g. --completions thread-pool]
# (needs redis-server and redis-tools)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-3}
shift || true
rounds=${1:-3}
shift || true
extra=("$@")
command -v redis-server >/dev/null || { echo "redis-server not found: apt-get install redis-server redis-tools" >&2; exit 1; }
dotnet build src/MirrorKv.Cli -c Release -v quiet -nologo >/dev/null
mkv="dotnet src/MirrorKv.Cli/bin/Release/net10.0/mirrorkv.dll"
printf "%-4s %6s %3s %12s %12s %6s %16s  %s\n" op value P mirrorkv redis ratio redis-benchmark "ratio per round"
for value in 100 1024; do
  for p in 1 16; do
    for op in get set; do
      out=$($mkv bench --op "$op" --keys 50000 --value-size "$value" --connections 4 --pipeline "$p" --duration "$duration" --warmup 3 --rounds "$rounds" --compare redis "${extra[@]}" 2>&1)
      ours=$(sed -nE 's/^mirrorkv .* ([0-9,]+) ops\/s.*/\1/p' <<<"$out" | tr -d ,)
      theirs=$(sed -nE 's/^redis +(get|set) .* ([0-9,]+) ops\/s.*/\2/p' <<<"$out" | tr -d ,)
      ratio=$(sed -nE 's/^ratio .* = ([0-9.]+)$/\1/p' <<<"$out")
      reference=$(sed -nE 's/.*(GET|SET): ([0-9.]+) requests per second.*/\2/p' <<<"$out")
      perround=$(sed -nE 's/^round .* ratio ([0-9.]+)$/\1/p' <<<"$out" | tr '\n' ' ')
      printf "%-4s %6s %3s %12s %12s %6s %16s  %s\n" "$op" "$value" "$p" "$ours" "$theirs" "$ratio" "${reference%.*}" "$perround"
    done
  done
done
