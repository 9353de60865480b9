#!/usr/bin/env bash
# Learning-curve wall time of the transfer head, before and after issue 11 in one script: the MLP
# head trained with Adam for 50 epochs (--head mlp, the old default) against the linear head
# solved to convergence with inner cross-validation (the default). Features are extracted once,
# before either run is timed; the ratio is mlp / linear.
# Usage: bash bench/curve.sh [DATA, default ../shared/datasets/hymenoptera]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
data=${1:-../shared/datasets/hymenoptera}
shared=${SHARED:-../shared}
mirror=()
[[ -z "${LESSDATA_MIRROR:-}" && -d "$shared/backbones" ]] && mirror=(--mirror "$shared/backbones")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
args=(curve --methods transfer --data "$data" --sizes 5,10,20,40,all --repeats 5 --no-audit --jobs 2 "${mirror[@]}")
# Warm the feature cache for both heads (the linear head's candidate augmentations include the
# MLP head's article views).
./bin/lessdata "${args[@]}" --out "$out/warm" >/dev/null 2>&1
./bin/lessdata "${args[@]}" --head mlp --out "$out/warm-mlp" >/dev/null 2>&1
time_of() { local s=$(date +%s.%N); ./bin/lessdata "${args[@]}" "$@" >"$out/last.log" 2>&1; echo "$(date +%s.%N) - $s" | bc; }
mlp=$(time_of --head mlp --out "$out/mlp")
linear=$(time_of --out "$out/linear")
printf 'curve --sizes 5,10,20,40,all --repeats 5 on %s, transfer only, features cached\n' "$data"
printf '%-34s %8.1f s\n' "before: --head mlp (Adam, 50 epochs)" "$mlp" "after: linear head, inner CV" "$linear"
printf 'ratio before/after: %.1fx\n' "$(echo "$mlp / $linear" | bc -l)"
tail -7 "$out/last.log"
