#!/usr/bin/env bash
# A flame graph of one `carbonstat run` (Linux; needs perf).
#   bench/flamegraph.sh DATA_DIR [OUT.svg]
# DATA_DIR holds a pipeline.yaml, e.g. one written by `carbonstat sample` or
# by `make bench` under /tmp/carbonstat-bench. Uses the `profiling` cargo
# profile (release optimisation, line tables) and inferno (installed once
# under ~/.cache/carbonstat-tools). Unwinding the stacks takes a while: about
# 8 minutes for a 10-second run on 2 cores.
set -euo pipefail
data=${1:?usage: bench/flamegraph.sh DATA_DIR [OUT.svg]}
out=$(realpath -m "${2:-docs/flamegraph.svg}")
target=${CARGO_TARGET_DIR:-$HOME/.cache/carbonstat-target}
tools=$HOME/.cache/carbonstat-tools
command -v perf >/dev/null || { echo "perf is needed (package linux-perf or linux-tools)" >&2; exit 2; }
[ -x "$tools/bin/inferno-flamegraph" ] || cargo install inferno --locked --quiet --root "$tools"
CARGO_TARGET_DIR=$target cargo build --quiet --profile profiling -p carbonstat-jobs
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$data" && perf record --quiet -F 199 --call-graph dwarf,16384 -o "$work/perf.data" \
    "$target/profiling/carbonstat" --quiet run -c pipeline.yaml --no-summary --force >/dev/null)
perf script -i "$work/perf.data" 2>/dev/null | "$tools/bin/inferno-collapse-perf" > "$work/folded"
"$tools/bin/inferno-flamegraph" --width 1800 --minwidth 2 \
    --title "carbonstat run: $data, profiling build, perf -F 199" \
    < "$work/folded" > "$out"
echo "wrote $out"
