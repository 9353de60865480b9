"""Read and write lessdata backbone folders from Python.

A backbone folder holds a TensorFlow SavedModel plus the spec file ``lessdata_backbone.json``
(see models/spec.go, which defines the format). The spec says how an image becomes the model's
input: resize it whole to height x width (bilinear), put its channels in ``color_order``, and
map each 0..255 value x of channel c to (x - mean[c]) / std[c].

This module holds the pieces the Python tools and tests share: reading and writing the spec,
the digest of the model files a spec records, normalising pixels the way the spec says, loading
an image the way the tools feed it, and reading the labels file.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np
from PIL import Image

SPEC_FILE = "lessdata_backbone.json"
SPEC_VERSION = 1


def read_spec(folder: str) -> dict[str, Any]:
    """Returns the parsed spec of the backbone folder, checking the fields the tools rely on."""
    path = os.path.join(folder, SPEC_FILE)
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    if spec.get("format_version", 0) > SPEC_VERSION:
        raise ValueError(f"{path}: format_version {spec['format_version']} is newer than {SPEC_VERSION}")
    inp = spec["input"]
    if inp["color_order"] not in ("RGB", "BGR"):
        raise ValueError(f"{path}: color_order {inp['color_order']!r} is not RGB or BGR")
    if any(s == 0 for s in inp["std"]):
        raise ValueError(f"{path}: input std has a 0")
    return spec


def content_digest(folder: str) -> str:
    """The digest a spec records of its folder's model files (models/digest.go ContentDigest):
    sha256 over saved_model.pb and every file under variables/, each as its slash-separated
    relative path, a zero byte, its size in decimal, a zero byte and its bytes, in path order."""
    paths = ["saved_model.pb"]
    for root, _, names in os.walk(os.path.join(folder, "variables")):
        for name in names:
            full = os.path.join(root, name)
            if os.path.isfile(full) and not os.path.islink(full):
                paths.append(os.path.relpath(full, folder).replace(os.sep, "/"))
    h = hashlib.sha256()
    for rel in sorted(paths):
        with open(os.path.join(folder, rel), "rb") as f:
            data = f.read()
        h.update(f"{rel}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def write_spec(folder: str, spec: dict[str, Any]) -> None:
    """Writes spec as the folder's spec file, indented like the Go side writes it."""
    with open(os.path.join(folder, SPEC_FILE), "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=2)
        f.write("\n")


def normalise(rgb: np.ndarray, input_spec: dict[str, Any]) -> np.ndarray:
    """Turns RGB pixel values 0..255 (shape [..., 3]) into the model input the spec describes.

    Channels are first put in the spec's color_order, then each channel c becomes
    (x - mean[c]) / std[c]. Returns float32.
    """
    x = np.asarray(rgb, dtype=np.float32)
    if input_spec["color_order"] == "BGR":
        x = x[..., ::-1]
    mean = np.asarray(input_spec["mean"], dtype=np.float32)
    std = np.asarray(input_spec["std"], dtype=np.float32)
    return ((x - mean) / std).astype(np.float32)


def load_image(path: str, width: int, height: int) -> np.ndarray:
    """Loads an image as uint8 RGB [height, width, 3], resized whole with PIL's bilinear filter."""
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB").resize((width, height), Image.BILINEAR), dtype=np.uint8)


def read_labels(folder: str, spec: dict[str, Any]) -> list[str] | None:
    """Returns the class names of the spec's labels file, or None when the spec names none."""
    name = spec.get("labels")
    if not name:
        return None
    with open(os.path.join(folder, name), encoding="utf-8") as f:
        return f.read().splitlines()
