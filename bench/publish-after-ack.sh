#!/usr/bin/env bash
# Alternates the build before (main) and after (linearizable), same machine, same minute; ROUNDS rounds (default 3).
BASE=${BASE:?path to mirrorkv.dll of the build before}
NEW=${NEW:?path to mirrorkv.dll of the build after}
cd /tmp
for round in $(seq 1 "${ROUNDS:-3}"); do
  for side in base new; do
    dll=$BASE; [[ $side == new ]] && dll=$NEW
    echo "== round $round $side set"
    timeout 120 dotnet $dll bench --op set --keys 50000 --value-size 100 --connections 1 --pipeline 1 --duration 5 --warmup 2 2>&1 | grep -E "^mirrorkv (set|get)"
    echo "== round $round $side hot"
    # One key, 4 connections each 50 % GET and 50 % SET of it: GET latency on a key under concurrent writes.
    timeout 120 dotnet $dll bench --workload a --keys 1 --distribution uniform --value-size 100 --connections 4 --pipeline 1 --duration 5 --warmup 2 2>&1 | grep -E "^mirrorkv|fail|error" | grep -v loaded
  done
done
