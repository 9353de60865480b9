"""Export a Keras application as a lessdata backbone folder.

    python models/export_keras.py --arch mobilenet_v2 --weights imagenet --size 224 --out DIR [--force]

Builds the tf.keras.applications model with its ImageNet classifier head and saves a
SavedModel (tag "serve") whose "serving_default" signature takes ``images``, float32
[None, size, size, 3] already normalised as the spec file says, and returns

- ``features``: the global-average-pooled vector that feeds the classifier head, and
- ``logits``: the head's class scores before softmax (pooled @ kernel + bias of the
  "predictions" Dense layer, whose softmax Keras applies inside the layer).

Each architecture's Keras ``preprocess_input`` is written into the spec as color_order plus
per-channel mean/std on 0..255 values, so that normalising pixels by the spec gives exactly
what preprocess_input gives (models/tests/test_export_keras.py checks this numerically).

``--weights none`` builds randomly initialised weights and needs no network: good for tests.
``--weights imagenet`` downloads the Keras weights (cached in ~/.keras/models) and, when it can
get Keras' ImageNet class index, writes labels.txt.

The folder is written under a temporary name beside --out and renamed into place, so a reader
never sees a half-written backbone. An existing --out is refused unless --force is given.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402  (after TF_CPP_MIN_LOG_LEVEL)
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backbone_folder import content_digest, write_spec  # noqa: E402

TOOL = "models/export_keras.py"
NUM_CLASSES = 1000
MIN_SIZE = 32
# Keras' ImageNet class index (index -> [WordNet id, name]), as its decode_predictions uses it.
CLASS_INDEX_URL = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"


@dataclasses.dataclass(frozen=True)
class Arch:
    """A Keras application and how its preprocess_input reads as a lessdata spec."""

    keras_name: str
    build: Callable[..., keras.Model]
    preprocess_input: Callable[[Any], Any]
    color_order: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    features: int
    # Name of the with-top ImageNet weights file Keras caches for this model at a given size.
    weights_file: Callable[[int], str]


ARCHS: dict[str, Arch] = {
    # preprocess_input mode "tf": x / 127.5 - 1 == (x - 127.5) / 127.5, RGB.
    "mobilenet_v2": Arch(
        keras_name="MobileNetV2",
        build=keras.applications.MobileNetV2,
        preprocess_input=keras.applications.mobilenet_v2.preprocess_input,
        color_order="RGB",
        mean=(127.5, 127.5, 127.5),
        std=(127.5, 127.5, 127.5),
        features=1280,
        # Keras has weights for these sizes and loads the 224 ones for any other.
        weights_file=lambda size: "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_"
        f"{size if size in (96, 128, 160, 192, 224) else 224}.h5",
    ),
    # The model rescales and normalises inside itself; preprocess_input is the identity.
    "efficientnet_b0": Arch(
        keras_name="EfficientNetB0",
        build=keras.applications.EfficientNetB0,
        preprocess_input=keras.applications.efficientnet.preprocess_input,
        color_order="RGB",
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        features=1280,
        weights_file=lambda size: "efficientnetb0.h5",
    ),
    # preprocess_input mode "caffe": RGB -> BGR, then subtract the ImageNet mean per BGR channel.
    "resnet50": Arch(
        keras_name="ResNet50",
        build=keras.applications.ResNet50,
        preprocess_input=keras.applications.resnet50.preprocess_input,
        color_order="BGR",
        mean=(103.939, 116.779, 123.68),
        std=(1.0, 1.0, 1.0),
        features=2048,
        weights_file=lambda size: "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
    ),
}


def build_model(arch: str, weights: str, size: int) -> keras.Model:
    """Builds the Keras application with its 1000-class head at size x size.

    weights is "imagenet" or "none" (random initialisation, no download).
    """
    if size < MIN_SIZE:
        raise ValueError(f"size {size} is below {MIN_SIZE}, the smallest Keras applications accept")
    return ARCHS[arch].build(
        include_top=True,
        weights="imagenet" if weights == "imagenet" else None,
        input_shape=(size, size, 3),
        classes=NUM_CLASSES,
    )


def serving_archive(model: keras.Model, size: int) -> keras.export.ExportArchive:
    """Returns an export archive of model whose serving_default maps images to features and logits.

    Keras' ExportArchive (rather than tf.saved_model.save on a tf.Module) records the Keras
    variables so that TF1-style loaders (the C API's TF_LoadSessionFromSavedModel, which the Go
    side uses) restore them too.
    """
    head = model.get_layer("predictions")
    if head.activation is not keras.activations.softmax:
        raise ValueError(f"{model.name}: layer 'predictions' has activation {head.activation}, not softmax")
    pooled = keras.Model(model.input, head.input, name=f"{model.name}_pooled")

    def serve(images: tf.Tensor) -> dict[str, tf.Tensor]:
        features = pooled(images, training=False)
        logits = tf.matmul(features, head.kernel) + head.bias
        return {"features": features, "logits": logits}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default",
        fn=serve,
        input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name="images")],
    )
    return archive


def make_spec(arch: str, size: int, labels: bool, weights_sha256: str) -> dict[str, Any]:
    """Returns the backbone spec of an exported Keras application."""
    a = ARCHS[arch]
    spec: dict[str, Any] = {
        "format_version": 1,
        "name": arch,
        "signature": "serving_default",
        "input": {
            "key": "images",
            "height": size,
            "width": size,
            "channels": 3,
            "color_order": a.color_order,
            "resize": "bilinear",
            "mean": list(a.mean),
            "std": list(a.std),
        },
        "features": {"key": "features", "size": a.features},
        "logits": {"key": "logits", "size": NUM_CLASSES},
    }
    if labels:
        spec["labels"] = "labels.txt"
    spec["source"] = {"file": f"keras.applications.{a.keras_name}", "sha256": weights_sha256, "url": "", "tool": TOOL}
    return spec


def imagenet_labels() -> list[str] | None:
    """Returns the 1000 ImageNet class names in Keras' order, or None when the index is unavailable.

    Names are Keras' WordNet lemmas with underscores read as spaces ("Egyptian cat").
    """
    try:
        path = keras.utils.get_file("imagenet_class_index.json", CLASS_INDEX_URL, cache_subdir="models")
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except Exception as e:  # noqa: BLE001  (offline, or a broken cache: labels are optional)
        print(f"export_keras: no ImageNet class index ({e}); writing no labels.txt", file=sys.stderr)
        return None
    return [index[str(i)][1].replace("_", " ") for i in range(NUM_CLASSES)]


def cached_weights_sha256(arch: str, size: int) -> str:
    """Returns the sha256 of the ImageNet weights file Keras cached for arch, or "" if not found."""
    name = ARCHS[arch].weights_file(size)
    # Keras caches in $KERAS_HOME, else ~/.keras, else (read-only home) a .keras in the temp folder.
    homes = [os.environ.get("KERAS_HOME", ""), os.path.expanduser("~/.keras"),
             os.path.join(tempfile.gettempdir(), ".keras")]
    for home in filter(None, homes):
        path = os.path.join(home, "models", name)
        if os.path.isfile(path):
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            return h.hexdigest()
    return ""


def export_model(
    model: keras.Model,
    arch: str,
    size: int,
    out: str,
    force: bool = False,
    labels: list[str] | None = None,
    weights_sha256: str = "",
) -> dict[str, Any]:
    """Saves model as a backbone folder at out (atomically) and returns the spec written."""
    out = os.path.abspath(out)
    if os.path.lexists(out) and not force:
        raise FileExistsError(f"{out} already exists (use --force to replace it)")
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.", suffix=".tmp", dir=parent)
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700; give it the usual mode
        serving_archive(model, size).write_out(tmp, verbose=False)
        if labels is not None:
            with open(os.path.join(tmp, "labels.txt"), "w", encoding="utf-8") as f:
                f.write("\n".join(labels) + "\n")
        spec = make_spec(arch, size, labels is not None, weights_sha256)
        spec["digest"] = content_digest(tmp)
        write_spec(tmp, spec)
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return spec


def _umask() -> int:
    """Returns the process umask."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _replace(src: str, dst: str) -> None:
    """Renames folder src to dst, moving an existing dst aside first and deleting it after."""
    if not os.path.lexists(dst):
        os.rename(src, dst)
        return
    old = tempfile.mkdtemp(prefix=f".{os.path.basename(dst)}.", suffix=".old", dir=os.path.dirname(dst))
    os.rmdir(old)
    os.rename(dst, old)
    try:
        os.rename(src, dst)
    except OSError:
        os.rename(old, dst)
        raise
    if os.path.isdir(old) and not os.path.islink(old):
        shutil.rmtree(old)
    else:
        os.remove(old)


def export(arch: str, weights: str, size: int, out: str, force: bool = False) -> dict[str, Any]:
    """Builds the Keras application and exports it to out; returns the spec written."""
    if os.path.lexists(out) and not force:  # fail before the slow build and any download
        raise FileExistsError(f"{os.path.abspath(out)} already exists (use --force to replace it)")
    try:
        model = build_model(arch, weights, size)
    except Exception as e:
        if weights != "imagenet" or "fetch failure" not in str(e):
            raise
        raise RuntimeError(f"cannot download the Keras ImageNet weights of {arch} (offline? --weights none "
                           f"needs no download): {e}") from e
    labels, sha = None, ""
    if weights == "imagenet":
        labels = imagenet_labels()
        sha = cached_weights_sha256(arch, size)
    return export_model(model, arch, size, out, force=force, labels=labels, weights_sha256=sha)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Export a Keras application as a lessdata backbone folder.")
    p.add_argument("--arch", required=True, choices=sorted(ARCHS))
    p.add_argument("--weights", required=True, choices=["imagenet", "none"])
    p.add_argument("--size", type=int, default=224, help=f"input height and width (>= {MIN_SIZE}; default 224)")
    p.add_argument("--out", required=True, help="backbone folder to write")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    args = p.parse_args(argv)
    if args.size < MIN_SIZE:
        p.error(f"--size must be at least {MIN_SIZE}")
    try:
        spec = export(args.arch, args.weights, args.size, args.out, force=args.force)
    except (FileExistsError, RuntimeError, ValueError) as e:
        print(f"export_keras: {e}", file=sys.stderr)
        return 1
    labels = "labels.txt" if "labels" in spec else "no labels"
    print(f"export_keras: {args.arch} {args.size}x{args.size}, features {spec['features']['size']}, "
          f"logits {spec['logits']['size']}, {labels}", file=sys.stderr)
    print(os.path.abspath(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
