#!/usr/bin/env bash
# Fuzzes the MirrorKv frame decoder (target `frames`) or the RESP parser (target `resp`) with afl++ through SharpFuzz.
# Usage: fuzz/run-afl.sh [seconds] [output-dir] [frames|resp]      (default: 600 s, /tmp/mirrorkv-afl, frames)
# Needs afl++ (apt-get install afl++) and the SharpFuzz instrumenter (dotnet tool install -g SharpFuzz.CommandLine).
# AFL_SKIP_BIN_CHECK: the dotnet host is not instrumented, the managed decoder is (SharpFuzz), and it reports
# coverage through the same shared memory.
# Crashes land in <output-dir>/default/crashes; copy them to fuzz/regressions (fuzz/regressions-resp) so that CI replays them.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
out=${2:-/tmp/mirrorkv-afl}
target=${3:-frames}
case "$target" in
  frames) assembly=MirrorKv.Protocol.dll; corpus=fuzz/corpus; mode=() ;;
  resp) assembly=MirrorKv.Adapter.dll; corpus=fuzz/corpus-resp; mode=(resp) ;;
  *) echo "unknown target '$target': frames or resp" >&2; exit 2 ;;
esac
command -v afl-fuzz >/dev/null || { echo "afl-fuzz not found: apt-get install afl++" >&2; exit 1; }
sharpfuzz=$(command -v sharpfuzz || echo "$HOME/.dotnet/tools/sharpfuzz")
[ -x "$sharpfuzz" ] || { echo "sharpfuzz not found: dotnet tool install -g SharpFuzz.CommandLine" >&2; exit 1; }

build=$(mktemp -d)
dotnet publish fuzz/MirrorKv.Fuzz -c Release -o "$build" -v quiet -nologo
# Instrument the assembly under test (not the harness) so that afl sees the decoder's or parser's branches.
"$sharpfuzz" "$build/$assembly"

rm -rf "$out"
AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 AFL_NO_UI=1 \
  timeout --preserve-status "$seconds" \
  afl-fuzz -i "$corpus" -o "$out" -t 5000 -m none -- dotnet "$build/MirrorKv.Fuzz.dll" "${mode[@]}" || true

stats="$out/default/fuzzer_stats"
[ -f "$stats" ] && grep -E "^(run_time|execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|afl_version)" "$stats"
echo "crashes: $(find "$out/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l), hangs: $(find "$out/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)"
