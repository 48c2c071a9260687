#!/usr/bin/env bash
# The stock redis-benchmark against a MirrorKv pair's RESP port and against redis-server with a replica
# attached (as MirrorKv has its secondary), in the same run, the two sides taking turns so that a drift of
# the shared machine falls on both. MirrorKv's SETs are replicated synchronously (acknowledged after the
# secondary applied them), redis's asynchronously. Prints one line per run and, per row, each side's median
# over the rounds and the median of the per-round ratios MirrorKv / redis.
# Usage: bench/resp-vs-redis.sh [rounds, 3] [requests per run, 200000] [value bytes, 100] [clients, 50]
# MIRRORKV_SERVE_ARGS adds options to both nodes' serve, e.g. "--spin-microseconds 0".
# (needs redis-server and redis-tools)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
requests=${2:-200000}
value=${3:-100}
clients=${4:-50}
command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null \
  || { echo "redis-server or redis-benchmark not found: apt-get install redis-server redis-tools" >&2; exit 1; }
dotnet build src/MirrorKv.Cli -c Release -v quiet -nologo >/dev/null
mkv=(dotnet src/MirrorKv.Cli/bin/Release/net10.0/mirrorkv.dll)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
primary=$(port); secondary=$(port); resp=$(port); resp2=$(port); redis=$(port); replica=$(port)
logs=$(mktemp -d /tmp/resp-bench.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$logs"; }
trap cleanup EXIT
ready() { for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return; sleep 0.1; done; echo "not ready: $1" >&2; cat "$1" >&2; exit 1; }

serve_args=(${MIRRORKV_SERVE_ARGS:-})
"${mkv[@]}" serve --listen "127.0.0.1:$primary" --resp-listen "127.0.0.1:$resp" "${serve_args[@]}" >"$logs/primary.log" 2>&1 & pids+=($!)
ready "$logs/primary.log" "^ready"
"${mkv[@]}" serve --role secondary --listen "127.0.0.1:$secondary" --primary "127.0.0.1:$primary" --resp-listen "127.0.0.1:$resp2" "${serve_args[@]}" >"$logs/secondary.log" 2>&1 & pids+=($!)
ready "$logs/primary.log" "the pair is protected"
redis-server --port "$redis" --bind 127.0.0.1 --dir "$logs" --save '' --appendonly no --protected-mode no >"$logs/redis.log" 2>&1 & pids+=($!)
redis-server --port "$replica" --bind 127.0.0.1 --dir "$logs" --save '' --appendonly no --protected-mode no --replicaof 127.0.0.1 "$redis" >"$logs/replica.log" 2>&1 & pids+=($!)
ready "$logs/replica.log" "MASTER <-> REPLICA sync: \(Finished\|Master accepted\)"

echo "serve ${MIRRORKV_SERVE_ARGS:-(defaults)}; redis-benchmark -t set,get -n $requests -r 100000 -d $value -c $clients -P 1|16, $rounds rounds, sides in turns"
declare -A runs
for round in $(seq "$rounds"); do
  for p in 1 16; do
    for side in mirrorkv redis; do
      target=$([[ $side == mirrorkv ]] && echo "$resp" || echo "$redis")
      out=$(redis-benchmark -h 127.0.0.1 -p "$target" -t set,get -n "$requests" -r 100000 -d "$value" -c "$clients" -P "$p" --csv)
      for op in SET GET; do
        line=$(grep "^\"$op\"" <<<"$out")
        rps=$(cut -d, -f2 <<<"$line" | tr -d '"'); p50=$(cut -d, -f5 <<<"$line" | tr -d '"'); p99=$(cut -d, -f7 <<<"$line" | tr -d '"')
        printf "round %s %-8s %s P=%-2s %12.0f ops/s  p50 %s ms  p99 %s ms\n" "$round" "$side" "$op" "$p" "$rps" "$p50" "$p99"
        runs[$op,$p,$side]+="$rps "
      done
    done
  done
done

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Per row: each side's median over the rounds, and the median of the per-round ratios (each round's two
# runs are back to back, so its ratio is the least touched by the machine's drift), with every round's.
printf "\n%-4s %3s %12s %12s %14s  %s\n" op P mirrorkv redis "median ratio" "ratio per round"
for op in GET SET; do
  for p in 1 16; do
    read -ra ours <<<"${runs[$op,$p,mirrorkv]}"; read -ra theirs <<<"${runs[$op,$p,redis]}"
    ratios=""
    for i in "${!ours[@]}"; do ratios+="$(awk -v a="${ours[$i]}" -v b="${theirs[$i]}" 'BEGIN {printf "%.2f", a / b}') "; done
    printf "%-4s %3s %12.0f %12.0f %14s  %s\n" "$op" "$p" "$(median "${runs[$op,$p,mirrorkv]}")" "$(median "${runs[$op,$p,redis]}")" "$(median "$ratios")" "$ratios"
  done
done
