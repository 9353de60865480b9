#!/usr/bin/env bash
# Feature-extraction throughput of every backbone of the zoo (batch 1 and 32): lessdata (Go,
# TensorFlow C API) against the same SavedModel run by TensorFlow in Python, on this machine, in
# this script. The two sides run in alternating rounds (so that a busy spell on this shared
# machine hits both) and each reports its best round; the ratio is lessdata / Python.
# Usage: bash bench/features.sh [seconds per run, default 5]   (BACKBONES="a b" to choose)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
secs=${1:-5}
shared=${SHARED:-../shared}
mirror=()
[[ -z "${LESSDATA_MIRROR:-}" && -d "$shared/backbones" ]] && mirror=(--mirror "$shared/backbones")
backbones=${BACKBONES:-$(./bin/lessdata backbones list | awk 'NR > 1 { print $1 }')}
rounds=3
go test -c -o "${TMPDIR:-/tmp}/lessdata-backbone.test" ./backbone/
for name in $backbones; do
model=$(./bin/lessdata backbones fetch "$name" "${mirror[@]}")
go_out=""
py_all=()
for r in $(seq $rounds); do
  echo "round $r/$rounds: lessdata (Go benchmark), then TensorFlow in Python" >&2
  go_out+=$(LESSDATA_BENCH_BACKBONE="$model" "${TMPDIR:-/tmp}/lessdata-backbone.test" -test.run '^$' \
    -test.bench BenchmarkFeatures -test.benchtime "${secs}s")$'\n'
  py_all+=("$(.deps/venv/bin/python bench/tf_features.py --model "$model" --batches 1,32 --seconds "$secs" --repeats 1 | tail -1)")
done
go_ips() { awk -v b="batch$1" '$1 ~ b"-" { for (i = 1; i <= NF; i++) if ($(i+1) == "images/s" && $i > best) best = $i } END { print best }' <<<"$go_out"; }
py_out=$(.deps/venv/bin/python -c '
import json, sys
runs = [json.loads(a) for a in sys.argv[1:]]
best = {k: {b: max(r[k][b] for r in runs) for b in runs[0][k]} for k in ("python_tf2", "python_v1_session")}
best["tf_version"] = runs[0]["tf_version"]
print(json.dumps(best))' "${py_all[@]}")

.deps/venv/bin/python - "$py_out" "$(go_ips 1)" "$(go_ips 32)" "$name" <<'PY'
import json, sys
py = json.loads(sys.argv[1])
go = {"1": float(sys.argv[2]), "32": float(sys.argv[3])}
print(f"{sys.argv[4]} features, images/s (TensorFlow {py.get('tf_version', '?')}, {__import__('os').cpu_count()} cores)")
print(f"{'batch':>5}  {'lessdata':>9}  {'python tf2':>10}  {'ratio':>6}  {'python v1 session':>17}  {'ratio':>6}")
for b in ("1", "32"):
    t2, v1 = py["python_tf2"][b], py["python_v1_session"][b]
    print(f"{b:>5}  {go[b]:9.1f}  {t2:10.1f}  {go[b]/t2:6.2f}  {v1:17.1f}  {go[b]/v1:6.2f}")
PY
done
