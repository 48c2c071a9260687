#!/usr/bin/env bash
# MirrorKv pair against redis-server in one run, same value sizes, connections and pipeline depths.
# MirrorKv: `mirrorkv bench` (our C# client; a sync-replicated pair it starts as child processes).
# redis: `redis-benchmark` (the stock C client); SET rows with a replica attached, as MirrorKv's
# writes are replicated too (redis asynchronously, MirrorKv synchronously).
# Usage: bench/compare-redis.sh [duration-seconds]   (needs redis-server and redis-tools)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-5}
keys=50000
connections=4
command -v redis-server >/dev/null || { echo "redis-server not found: apt-get install redis-server redis-tools" >&2; exit 1; }
dotnet build src/MirrorKv.Cli -c Release -v quiet -nologo >/dev/null
mkv="dotnet src/MirrorKv.Cli/bin/Release/net10.0/mirrorkv.dll"
port=$((20000 + RANDOM % 20000)); replica=$((port + 1))
redis-server --port "$port" --save "" --appendonly no --daemonize yes >/dev/null
redis-server --port "$replica" --save "" --appendonly no --replicaof 127.0.0.1 "$port" --daemonize yes >/dev/null
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; redis-cli -p "$replica" shutdown nosave >/dev/null 2>&1 || true' EXIT
sleep 1
rps() { tr '\r' '\n' | grep -E "^(GET|SET):" | tail -1 | sed -E 's/.*: ([0-9.]+) requests per second.*/\1/'; }
mkvops() { tr '\r' '\n' | grep -E "ops/s" | tail -1 | sed -E 's/.*P=[0-9]+ +([0-9,]+) ops\/s.*/\1/' | tr -d ','; }
printf "%-4s %6s %3s %14s %14s %7s\n" op value P mirrorkv redis ratio
for value in 100 1024; do
  for p in 1 16; do
    for op in get set; do
      ours=$($mkv bench --op "$op" --keys $keys --value-size "$value" --connections $connections --pipeline "$p" --duration "$duration" --warmup 5 2>&1 | mkvops)
      theirs=$(redis-benchmark -p "$port" -t "$op" -n $((keys * 8)) -r $keys -d "$value" -c $connections -P "$p" -q 2>&1 | rps)
      printf "%-4s %6s %3s %14.0f %14.0f %7.2f\n" "$op" "$value" "$p" "$ours" "$theirs" "$(echo "$ours / $theirs" | bc -l)"
    done
  done
done
