#!/usr/bin/env bash
# Seconds per fine-tuning epoch of MobileNetV2 with its top blocks unfrozen (224x224, batch 32,
# light augmentation drawn every step, Adam 1e-4): lessdata's phase 2 (Go, TensorFlow C API, the
# converted backbone made trainable) against Keras fine-tuning MobileNetV2 with the same blocks
# trainable (bench/keras_finetune.py), on this machine, one after the other. lessdata's epochs
# train on 80% of the training images (the rest validates phase 2) and validate; Keras' train on
# all of them and do not validate, so the ratio is per training image. Ratio = Keras / lessdata.
# Usage: bash bench/finetune.sh [epochs, default 3] [unfreeze, default 2] [data, default hymenoptera]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
epochs=${1:-3}
unfreeze=${2:-2}
data=${3:-${SHARED:-../shared}/datasets/hymenoptera}
shared=${SHARED:-../shared}
mirror=()
[[ -z "${LESSDATA_MIRROR:-}" && -d "$shared/backbones" ]] && mirror=(--mirror "$shared/backbones")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "lessdata: train finetune --unfreeze $unfreeze --finetune-epochs $epochs" >&2
./bin/lessdata train finetune --data "$data" --out "$out/run" --unfreeze "$unfreeze" --finetune-epochs "$epochs" \
  --finetune-patience 0 --augment light --no-audit "${mirror[@]}" >/dev/null
echo "keras: bench/keras_finetune.py --unfreeze $unfreeze --epochs $epochs" >&2
keras=$(.deps/venv/bin/python bench/keras_finetune.py --data "$data" --epochs "$epochs" --unfreeze "$unfreeze" | tail -1)

.deps/venv/bin/python - "$out/run/history.json" "$out/run/bundle.json" "$keras" <<'PY'
import json, statistics, sys
hist = json.load(open(sys.argv[1]))["epochs"]
info = json.load(open(sys.argv[2]))["training"]
keras = json.loads(sys.argv[3])
n_ld = round(info["train_images"] * 0.8)
ld = statistics.median(e["seconds"] for e in hist) / n_ld
kd = statistics.median(keras["seconds_per_epoch"][1:] or keras["seconds_per_epoch"]) / keras["train_images"]
print(f"MobileNetV2 fine-tuning, top blocks unfrozen: lessdata {info['trainable_parameters']} / Keras {keras['trainable_parameters']} trainable parameters")
print(f"{'':28}{'lessdata':>10}{'keras':>10}{'keras/lessdata':>16}")
print(f"{'ms per training image':28}{1000*ld:10.2f}{1000*kd:10.2f}{kd/ld:16.2f}")
PY
