#!/usr/bin/env bash
# What one SET of the stock redis-benchmark (P = 1, 50 clients, 100 B) costs each process, MirrorKv's pair (sync
# replication) against redis with a replica, in turns: CPU per operation of the primary, of the secondary and of
# redis-benchmark itself (from /proc/<pid>/stat over 3 s in the middle of the run), and the primary's system calls per
# operation (perf stat). Steadier than ops/s on a shared machine: it says where a gap in the redis-benchmark rows
# comes from (on two cores the three processes' sum decides the row).
# Usage: bench/resp-cost.sh [rounds, 2] [extra serve options for MirrorKv's nodes, e.g. "--spin-microseconds 0"]
# MIRRORKV_DLL runs another build of mirrorkv.dll (for A/B runs in turns). (needs redis-server, redis-tools and perf)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
serve_args=(${2:-})
for tool in redis-server redis-benchmark perf; do command -v $tool >/dev/null || { echo "$tool not found" >&2; exit 1; }; done
[[ -n "${MIRRORKV_DLL:-}" ]] || dotnet build src/MirrorKv.Cli -c Release -v quiet -nologo >/dev/null
mkv=(dotnet "${MIRRORKV_DLL:-src/MirrorKv.Cli/bin/Release/net10.0/mirrorkv.dll}")
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
primary=$(port); secondary=$(port); resp=$(port); resp2=$(port); redis=$(port); replica=$(port)
logs=$(mktemp -d /tmp/resp-cost.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$logs"; }
trap cleanup EXIT
ready() { for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return; sleep 0.1; done; echo "not ready: $1" >&2; cat "$1" >&2; exit 1; }
"${mkv[@]}" serve --listen "127.0.0.1:$primary" --resp-listen "127.0.0.1:$resp" "${serve_args[@]}" >"$logs/primary.log" 2>&1 & pids+=($!); p_pid=$!
ready "$logs/primary.log" "^ready"
"${mkv[@]}" serve --role secondary --listen "127.0.0.1:$secondary" --primary "127.0.0.1:$primary" --resp-listen "127.0.0.1:$resp2" "${serve_args[@]}" >"$logs/secondary.log" 2>&1 & pids+=($!); s_pid=$!
ready "$logs/primary.log" "the pair is protected"
redis-server --port "$redis" --bind 127.0.0.1 --dir "$logs" --save '' --appendonly no --protected-mode no >"$logs/redis.log" 2>&1 & pids+=($!); r_pid=$!
redis-server --port "$replica" --bind 127.0.0.1 --dir "$logs" --save '' --appendonly no --protected-mode no --replicaof 127.0.0.1 "$redis" >"$logs/replica.log" 2>&1 & pids+=($!); rr_pid=$!
ready "$logs/replica.log" "MASTER <-> REPLICA sync: \(Finished\|Master accepted\)"

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# measure LABEL PORT PRIMARY_PID SECONDARY_PID
measure() {
  redis-benchmark -h 127.0.0.1 -p "$2" -t set -n 500000 -r 100000 -d 100 -c 50 -P 1 --csv >"$logs/rb.csv" 2>&1 &
  local rb=$!
  sleep 2
  local p0 s0 p1 s1 b0 b1 t0 t1 calls
  p0=$(ticks "$3"); s0=$(ticks "$4"); b0=$(ticks "$rb"); t0=$(date +%s.%N)
  calls=$(perf stat -x, -e 'syscalls:sys_enter_recvfrom,syscalls:sys_enter_read,syscalls:sys_enter_sendto,syscalls:sys_enter_write,syscalls:sys_enter_epoll_wait,context-switches' -p "$3" -- sleep 3 2>&1)
  p1=$(ticks "$3"); s1=$(ticks "$4"); b1=$(ticks "$rb"); t1=$(date +%s.%N)
  wait "$rb"
  local rps; rps=$(grep '^"SET"' "$logs/rb.csv" | cut -d, -f2 | tr -d '"')
  awk -F, -v label="$1" -v rps="$rps" -v p=$((p1 - p0)) -v s=$((s1 - s0)) -v b=$((b1 - b0)) -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" '
    { n = $3; sub(/^syscalls:sys_enter_/, "", n); count[n] = $1 }
    END {
      ops = rps * (t1 - t0)
      printf "%-9s %8.0f SET/s  primary %5.2f us/op  secondary %5.2f  redis-benchmark %5.2f us/op  per op: recv %.2f send %.2f epoll_wait %.2f cswitch %.2f\n",
        label, rps, p / hz * 1e6 / ops, s / hz * 1e6 / ops, b / hz * 1e6 / ops, (count["recvfrom"] + count["read"]) / ops, (count["sendto"] + count["write"]) / ops, count["epoll_wait"] / ops, count["context-switches"] / ops
    }' <<<"$calls"
}

echo "redis-benchmark -t set -P 1 -c 50 -d 100; MirrorKv serve ${serve_args[*]:-(defaults)}; $rounds rounds, sides in turns"
for _ in $(seq "$rounds"); do
  measure mirrorkv "$resp" "$p_pid" "$s_pid"
  measure redis "$redis" "$r_pid" "$rr_pid"
done
