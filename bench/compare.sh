#!/usr/bin/env bash
# End-to-end wall time of `lessdata compare` on car_vs_bus (scratch CNN + frozen MobileNetV2 with a
# Dense head, same augmentation and epochs) against the same experiment in Keras
# (bench/keras_compare.py, using the same converted SavedModel as a frozen layer), one after the
# other on this machine. Ratio = Keras / lessdata (above 1: lessdata is faster). lessdata runs with
# an empty feature cache, so its time includes extracting every feature.
# Usage: bash bench/compare.sh [epochs, default 50] [data folder, default ../shared/datasets/car_vs_bus]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
epochs=${1:-50}
shared=${SHARED:-../shared}
data=${2:-$shared/datasets/car_vs_bus}
mirror=()
[[ -z "${LESSDATA_MIRROR:-}" && -d "$shared/backbones" ]] && mirror=(--mirror "$shared/backbones")
model=$(./bin/lessdata backbones fetch mobilenet_v2 "${mirror[@]}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/cache/backbones"
cp -r "$model" "$work/cache/backbones/mobilenet_v2" # a fresh cache: no features from earlier runs

echo "lessdata compare --epochs $epochs (empty feature cache)" >&2
t0=$(date +%s.%N)
./bin/lessdata compare --data "$data" --epochs "$epochs" --backbone mobilenet_v2 --cache-dir "$work/cache" \
  --out "$work/run" "${mirror[@]}" >/dev/null
t1=$(date +%s.%N)
echo "keras: bench/keras_compare.py --epochs $epochs" >&2
keras=$(.deps/venv/bin/python bench/keras_compare.py --data "$data" --backbone "$model" --epochs "$epochs" --json | tail -1)

.deps/venv/bin/python - "$work/run/compare.json" "$keras" "$t0" "$t1" <<'PY'
import json, sys
ld = json.load(open(sys.argv[1]))["methods"]
k = json.loads(sys.argv[2])
t0, t1 = float(sys.argv[3]), float(sys.argv[4])
print(f"compare on {json.load(open(sys.argv[1]))['data']}, {k['epochs']} epochs")
print(f"{'':28}{'lessdata':>10}{'keras':>10}{'keras/lessdata':>16}")
for m in ("scratch", "transfer"):
    print(f"{m + ' seconds':28}{ld[m]['seconds']:10.1f}{k[m]['seconds']:10.1f}{k[m]['seconds']/ld[m]['seconds']:16.1f}")
print(f"{'whole command seconds':28}{t1-t0:10.1f}{k['total_seconds']:10.1f}{k['total_seconds']/(t1-t0):16.1f}")
for m in ("scratch", "transfer"):
    print(f"{m + ' val accuracy':28}{ld[m]['metrics']['accuracy']:10.3f}{k[m]['val_accuracy']:10.3f}")
PY
