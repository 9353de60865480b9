#!/usr/bin/env bash
# The default example: fetch the pinned ImageNet MobileNetV2, convert it into a SavedModel, and
# classify the check images; then, where the car_vs_bus dataset is at hand (../shared), compare
# the article's CNN from scratch with transfer learning on it and write the report to
# runs/car_vs_bus/report.html. Beside ../shared the model and images come from there; elsewhere
# they are downloaded from their pinned public sources.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
shared=${SHARED:-../shared}
bin=./bin/lessdata
args=()
if [[ -z "${LESSDATA_MIRROR:-}" && -d "$shared/backbones" ]]; then
  args+=(--mirror "$shared/backbones")
fi

images=()
if [[ -d "$shared/images/coral" ]]; then
  dir="$shared/images/coral"
else
  dir=.deps/check-images
  mkdir -p "$dir"
  base=https://raw.githubusercontent.com/google-coral/test_data/104342d2d3480b3e66203073dac24f4e2dbb4c41
  while read -r sum name; do
    if [[ ! -f "$dir/$name" ]] || ! echo "$sum  $dir/$name" | sha256sum -c --status; then
      curl -fsSL -o "$dir/$name" "$base/$name"
      echo "$sum  $dir/$name" | sha256sum -c --quiet
    fi
  done <<'SUMS'
34f235786382686111728287fd26d4c24dd8c25de8233469d6eeb301888ce0a9 cat.bmp
c43444bf3b1b1e3080551ca194bd231da4b67f20fc91454502915a6b806b614f grace_hopper.bmp
3fd22d6ed352b8e721d9982e38ed655f8429e168bb53ad205c6f3cdfa848e994 bird.bmp
a8fba9e7e29439fa414c13129aad661f2289ff891231920a7c33641b076f1833 parrot.jpg
SUMS
fi
for f in cat.bmp grace_hopper.bmp bird.bmp parrot.jpg; do images+=("$dir/$f"); done

echo "== lessdata backbones fetch mobilenet_v2" >&2
"$bin" backbones fetch mobilenet_v2 "${args[@]}"
echo "== lessdata backbones classify mobilenet_v2 (check images)" >&2
"$bin" backbones classify mobilenet_v2 "${images[@]}" "${args[@]}"

data="$shared/datasets/car_vs_bus"
if [[ -d "$data" ]]; then
  echo "== lessdata compare --data $data --backbone mobilenet_v2 --out runs/car_vs_bus" >&2
  "$bin" compare --data "$data" --backbone mobilenet_v2 --out runs/car_vs_bus --force "${args[@]}"
else
  echo "(no $data here: for the compare example, point lessdata compare --data at a folder of images)" >&2
fi
