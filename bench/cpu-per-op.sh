#!/usr/bin/env bash
# CPU per operation of the bench client, the primary and the secondary, from /proc/<pid>/stat over a 4 s window in the
# middle of a `mirrorkv bench` run against the pair it starts. Steadier than ops/s on a shared machine:
# a change that saves work shows here even when the run's throughput moves with its neighbours.
# Usage: bench/cpu-per-op.sh [bench options, e.g. --op get --pipeline 16]
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build src/MirrorKv.Cli -c Release -v quiet -nologo >/dev/null
log=$(mktemp)
dotnet src/MirrorKv.Cli/bin/Release/net10.0/mirrorkv.dll bench --duration 6 --warmup 2 "$@" >"$log" 2>&1 &
sleep 4.5
client=$(pgrep -f 'mirrorkv.dll bench' | head -1)
primary=$(pgrep -f 'mirrorkv.dll serve --role primary' | head -1)
secondary=$(pgrep -f 'mirrorkv.dll serve --role secondary' | head -1)
ticks() { awk '{print $14 + $15, $14}' "/proc/$1/stat"; }
read -r c0 cu0 < <(ticks "$client"); read -r p0 pu0 < <(ticks "$primary"); read -r s0 su0 < <(ticks "$secondary"); t0=$(date +%s.%N)
sleep 4
read -r c1 cu1 < <(ticks "$client"); read -r p1 pu1 < <(ticks "$primary"); read -r s1 su1 < <(ticks "$secondary"); t1=$(date +%s.%N)
wait
ops=$(sed -nE 's/^mirrorkv .* ([0-9,]+) ops\/s.*/\1/p' "$log" | head -1 | tr -d ,)
rm -f "$log"
hz=$(getconf CLK_TCK)
awk -v c=$((c1 - c0)) -v cu=$((cu1 - cu0)) -v p=$((p1 - p0)) -v pu=$((pu1 - pu0)) -v s=$((s1 - s0)) -v su=$((su1 - su0)) -v t0="$t0" -v t1="$t1" -v ops="$ops" -v hz="$hz" 'BEGIN {
  dt = t1 - t0; cc = c / hz / dt; pc = p / hz / dt; sc = s / hz / dt
  printf "ops/s %d\nclient    %.2f cores  %.3f us/op (%d%% user)\nprimary   %.2f cores  %.3f us/op (%d%% user)\nsecondary %.2f cores  %.3f us/op (%d%% user)\n",
    ops, cc, cc * 1e6 / ops, c ? 100 * cu / c : 0, pc, pc * 1e6 / ops, p ? 100 * pu / p : 0, sc, sc * 1e6 / ops, s ? 100 * su / s : 0 }'
