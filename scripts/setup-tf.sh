#!/usr/bin/env bash
# Installs the TensorFlow C library that lessdata's cgo binding (tf/) loads, into .deps/.
#
# The library comes from the official tensorflow-cpu wheel on PyPI, pinned below: its
# libtensorflow_cc.so.2 exports the TensorFlow C API and tensorflow/include holds the headers.
# The wheel goes into a private virtualenv (.deps/venv), which also serves the Python tools in
# models/ and bench/. The script then links .deps/tensorflow/{include,lib} to it: tf/ compiles
# against those headers and finds the library there at run time.
#
# Already have a libtensorflow C install (include/ and lib/ with libtensorflow.so.2)? Run
#   LESSDATA_TF_DIR=/usr/local bash scripts/setup-tf.sh
# to link that instead of installing the wheel.
#
# Idempotent: a second run only checks what is there and takes seconds.
set -euo pipefail

TF_VERSION=2.18.1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deps="$root/.deps"
venv="$deps/venv"
link="$deps/tensorflow"
mkdir -p "$deps"

say() { printf 'setup: %s\n' "$*" >&2; }

if [[ -n "${LESSDATA_TF_DIR:-}" ]]; then
  [[ -f "$LESSDATA_TF_DIR/include/tensorflow/c/c_api.h" ]] ||
    { say "LESSDATA_TF_DIR=$LESSDATA_TF_DIR has no include/tensorflow/c/c_api.h"; exit 1; }
  ls "$LESSDATA_TF_DIR"/lib/libtensorflow*.so.2 >/dev/null 2>&1 ||
    { say "LESSDATA_TF_DIR=$LESSDATA_TF_DIR has no lib/libtensorflow*.so.2"; exit 1; }
  rm -rf "$link"; mkdir -p "$link"
  ln -s "$LESSDATA_TF_DIR/include" "$link/include"
  ln -s "$LESSDATA_TF_DIR/lib" "$link/lib"
  say "linked $LESSDATA_TF_DIR"
  exit 0
fi

py=${PYTHON:-python3}
if [[ ! -x "$venv/bin/python" ]]; then
  say "creating $venv"
  "$py" -m venv "$venv"
fi
want="tensorflow-cpu==$TF_VERSION keras==3.15.1 scipy==1.15.3 pytest==8.3.4 pillow==11.1.0 scikit-learn==1.6.1"
stamp="$venv/.lessdata-installed"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  say "installing $want (a few hundred MB, once)"
  "$venv/bin/pip" install --disable-pip-version-check -q $want
  echo "$want" >"$stamp"
fi

site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
tfdir="$site/tensorflow"
[[ -f "$tfdir/libtensorflow_cc.so.2" && -f "$tfdir/include/tensorflow/c/c_api.h" ]] ||
  { say "the wheel in $tfdir lacks libtensorflow_cc.so.2 or its C headers"; exit 1; }
mkdir -p "$link"
ln -sfn "$tfdir/include" "$link/include"
ln -sfn "$tfdir" "$link/lib"
say "TensorFlow $TF_VERSION C library ready in $link"
