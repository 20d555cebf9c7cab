#!/usr/bin/env bash
# A libFuzzer campaign over every fuzz target: builds them with clang (-fsanitize=fuzzer, ASan,
# UBSan) into build-fuzz/, runs each for SECONDS from its checked-in seed corpus (copied, so the
# repository's corpus does not grow), and prints one row per target: executions, coverage (edges),
# features, corpus size, crashes. Crash inputs are kept under the work folder; exits 1 if any.
#
# usage: tests/fuzz/campaign.sh [--seconds N] [--only REGEX] [--work DIR]   (default 600 s each)
# The targets and their seed folders are read from the add_test() lines of tests/fuzz/*/CMakeLists.txt
# (the corpus replays ctest runs), so a new target is in the campaign as soon as it is replayed.
set -euo pipefail
top="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds=600 only=. work=/var/tmp/vessel-fuzz-campaign
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    -h|--help) sed -n 2,9p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "campaign.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

# target<TAB>seed folder, from the replay tests.
targets() {
  for list in "$top"/tests/fuzz/*/CMakeLists.txt; do
    local dir; dir="$(dirname "$list")"
    grep -oE 'COMMAND [A-Za-z0-9_]+ \$\{CMAKE_CURRENT_SOURCE_DIR\}[^ )]*' "$list" |
      sed -E "s|COMMAND ([A-Za-z0-9_]+) \\$\\{CMAKE_CURRENT_SOURCE_DIR\\}(.*)|\1\t$dir\2|"
  done | grep -E "^[^	]*(${only})" || true
}

mapfile -t rows < <(targets)
[[ ${#rows[@]} -gt 0 ]] || { echo "campaign.sh: no fuzz target matches '$only'" >&2; exit 2; }
build="$top/build-fuzz"
export CCACHE_BASEDIR="$top" CCACHE_NOHASHDIR=true
if [[ ! -f "$build/build.ninja" ]]; then
  CC=clang CXX=clang++ cmake -S "$top" -B "$build" -G Ninja -DVESSEL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
names=(); for r in "${rows[@]}"; do names+=("${r%%	*}"); done
echo "building ${#names[@]} fuzz targets with clang in $build ..." >&2
ninja -C "$build" "${names[@]}" >&2

mkdir -p "$work"
printf '| target | seconds | executions | exec/s | coverage (edges) | features | corpus | crashes |\n|---|---|---|---|---|---|---|---|\n'
crashed=0
for r in "${rows[@]}"; do
  name="${r%%	*}" seeds="${r#*	}"
  bin="$(find "$build/tests/fuzz" -type f -name "$name" -perm -u+x | head -1)"
  [[ -n "$bin" && -d "$seeds" ]] || { echo "campaign.sh: $name: binary or seeds ($seeds) missing" >&2; exit 1; }
  out="$work/$name"; rm -rf "$out"; mkdir -p "$out/corpus" "$out/crashes"
  echo "fuzzing $name for ${seconds}s ..." >&2
  set +e
  "$bin" -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=4096 -timeout=25 \
    -artifact_prefix="$out/crashes/" "$out/corpus" "$seeds" >"$out/log" 2>&1
  status=$?
  set -e
  execs="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$out/log" | grep -oE '[0-9]+$' || echo 0)"
  rate="$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$out/log" | grep -oE '[0-9]+$' || echo 0)"
  last="$(grep -E '^#[0-9]+' "$out/log" | tail -1)"
  cov="$(grep -oE 'cov: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || echo ?)"
  ft="$(grep -oE 'ft: [0-9]+' <<<"$last" | grep -oE '[0-9]+' || echo ?)"
  corpus="$(find "$out/corpus" -type f | wc -l)"
  crashes="$(find "$out/crashes" -type f | wc -l)"
  if [[ $status -ne 0 || $crashes -gt 0 ]]; then crashed=1; crashes="$crashes (exit $status, see $out/log)"; fi
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$seconds" "$execs" "$rate" "$cov" "$ft" "$corpus" "$crashes"
done
exit $crashed
