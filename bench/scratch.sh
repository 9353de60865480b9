#!/usr/bin/env bash
# Seconds per epoch of the article's CNN trained from scratch with its augmentation (64x64, batch
# 32, one pass over the training set per epoch, validation every epoch): lessdata (Go, TensorFlow
# C API) against the same model and augmentation in Keras (bench/keras_scratch.py), on this
# machine, one after the other. Ratio = Keras / lessdata (above 1: lessdata is faster).
# Usage: bash bench/scratch.sh [epochs, default 20] [data folder, default ../shared/datasets/car_vs_bus]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
epochs=${1:-20}
data=${2:-${SHARED:-../shared}/datasets/car_vs_bus}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "lessdata: train scratch --epochs $epochs" >&2
t0=$(date +%s.%N)
./bin/lessdata train scratch --data "$data" --epochs "$epochs" --out "$out/run" >/dev/null
t1=$(date +%s.%N)
echo "keras: bench/keras_scratch.py --epochs $epochs" >&2
keras=$(.deps/venv/bin/python bench/keras_scratch.py --data "$data" --epochs "$epochs" --json | tail -1)
t2=$(date +%s.%N)

.deps/venv/bin/python - "$out/run/history.json" "$keras" "$t0" "$t1" "$t2" <<'PY'
import json, statistics, sys
hist = json.load(open(sys.argv[1]))["epochs"]
keras = json.loads(sys.argv[2])
t0, t1, t2 = map(float, sys.argv[3:6])
ld = [e["seconds"] for e in hist]
kd = keras["seconds_per_epoch"]
lm, km = statistics.median(ld), statistics.median(kd)
print(f"article CNN from scratch, {len(ld)} epochs, {keras['train_images']} training / {keras['val_images']} validation images")
print(f"{'':22}{'lessdata':>10}{'keras':>10}{'keras/lessdata':>16}")
print(f"{'seconds/epoch median':22}{lm:10.3f}{km:10.3f}{km/lm:16.1f}")
print(f"{'first epoch':22}{ld[0]:10.3f}{kd[0]:10.3f}{kd[0]/ld[0]:16.1f}")
print(f"{'whole command':22}{t1-t0:10.1f}{t2-t1:10.1f}{(t2-t1)/(t1-t0):16.1f}")
print(f"{'final val accuracy':22}{hist[-1]['val_accuracy']:10.3f}{keras['val_accuracy'][-1]:10.3f}")
PY
