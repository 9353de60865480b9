"""models/export_keras.py writes backbone folders whose spec preprocessing and outputs match Keras.

Models are built with random weights (--weights none, no download) at small sizes to keep the
whole file fast on two cores. Freshly initialised MobileNetV2 and EfficientNetB0 shrink their
activations layer by layer (pooled features around 1e-11), which would make any absolute
tolerance vacuous, so the fixture first sets every BatchNormalization's moving statistics from
one batch: the features then have unit scale and the comparisons mean something.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import export_keras
from backbone_folder import content_digest, normalise, read_labels, read_spec

CASES = [("mobilenet_v2", 96), ("efficientnet_b0", 96), ("resnet50", 64)]
TOL = 1e-4


def random_rgb(size: int, n: int = 2, seed: int = 0) -> np.ndarray:
    """n random uint8 RGB images of size x size."""
    return np.random.default_rng(seed).integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


def run_v1_session(folder: Path, images: np.ndarray) -> dict[str, np.ndarray]:
    """Runs serving_default through the TF1 loader, as the Go side's C API loader does."""
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(folder))
        sig = meta.signature_def["serving_default"]
        fetches = {k: v.name for k, v in sig.outputs.items()}
        return sess.run(fetches, {sig.inputs["images"].name: images})


def calibrate_batchnorm(model: keras.Model, x: np.ndarray) -> None:
    """Sets each BatchNormalization's moving mean and variance to its input statistics on x."""
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [bn.momentum for bn in bns]
    for bn in bns:
        bn.momentum = 0.0  # the moving statistics become this batch's statistics
    model(x, training=True)
    for bn, m in zip(bns, momenta):
        bn.momentum = m


@pytest.fixture(scope="module", params=CASES, ids=[a for a, _ in CASES])
def exported(request, tmp_path_factory):
    """(arch, size, keras model, backbone folder, spec) of a model exported with random weights."""
    arch, size = request.param
    keras.utils.set_random_seed(0)
    model = export_keras.build_model(arch, "none", size)
    calibration = random_rgb(size, n=8, seed=1).astype(np.float32)
    calibrate_batchnorm(model, export_keras.ARCHS[arch].preprocess_input(calibration))
    out = tmp_path_factory.mktemp(arch) / "backbone"
    spec = export_keras.export_model(model, arch, size, str(out))
    return arch, size, model, out, spec


@pytest.fixture(scope="module")
def serving(exported):
    """The exported folder's serving_default signature, loaded the TF2 way."""
    return tf.saved_model.load(str(exported[3])).signatures["serving_default"]


def test_spec(exported) -> None:
    arch, size, _, out, spec = exported
    assert read_spec(str(out)) == spec
    a = export_keras.ARCHS[arch]
    assert spec["format_version"] == 1 and spec["name"] == arch and spec["signature"] == "serving_default"
    assert spec["input"] == {
        "key": "images", "height": size, "width": size, "channels": 3, "color_order": a.color_order,
        "resize": "bilinear", "mean": list(a.mean), "std": list(a.std),
    }
    assert spec["features"] == {"key": "features", "size": a.features}
    assert spec["logits"] == {"key": "logits", "size": 1000}
    assert "labels" not in spec and not (out / "labels.txt").exists()
    assert spec["source"] == {"file": f"keras.applications.{a.keras_name}", "sha256": "", "url": "",
                              "tool": "models/export_keras.py"}
    # The Go side checks the same digest (test_labels_and_go_side); here: it is recorded, and
    # changes with the variables, not only with saved_model.pb.
    assert spec["digest"] == content_digest(str(out))
    index = out / "variables" / "variables.index"
    original = index.read_bytes()
    index.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    try:
        assert content_digest(str(out)) != spec["digest"]
    finally:
        index.write_bytes(original)


def test_signature(exported, serving) -> None:
    arch, size, _, _, _ = exported
    fn = serving
    _, inputs = fn.structured_input_signature
    assert list(inputs) == ["images"]
    assert inputs["images"].dtype == tf.float32 and inputs["images"].shape.as_list() == [None, size, size, 3]
    outputs = fn.structured_outputs
    assert set(outputs) == {"features", "logits"}
    assert outputs["features"].shape.as_list() == [None, export_keras.ARCHS[arch].features]
    assert outputs["logits"].shape.as_list() == [None, 1000]


def test_spec_normalisation_equals_preprocess_input(exported) -> None:
    arch, size, _, _, spec = exported
    rgb = random_rgb(size)
    want = export_keras.ARCHS[arch].preprocess_input(rgb.astype(np.float32))
    np.testing.assert_allclose(normalise(rgb, spec["input"]), np.asarray(want), rtol=0, atol=TOL)


def test_outputs_match_keras(exported, serving, report) -> None:
    arch, size, model, _, spec = exported
    rgb = random_rgb(size)
    got = {k: v.numpy() for k, v in serving(images=tf.constant(normalise(rgb, spec["input"]))).items()}

    x = np.asarray(export_keras.ARCHS[arch].preprocess_input(rgb.astype(np.float32)))
    pooled = keras.Model(model.input, model.get_layer("predictions").input)
    want_features = np.asarray(pooled(x, training=False))
    want_probs = np.asarray(model(x, training=False))

    scale = np.abs(want_features).max()
    diff = np.abs(got["features"] - want_features).max()
    report(f"export_keras {arch} {size}px: features max |exported - keras| = {diff:.2e}, "
           f"{diff / scale:.1e} of the largest feature ({scale:.3g})")
    assert scale > 0.1, f"features too small ({scale:.3g}) for the comparison to mean anything"
    np.testing.assert_allclose(got["features"], want_features, rtol=TOL, atol=TOL * scale)
    # Keras' head ends in softmax: the logits must be its log-probabilities up to a constant.
    assert np.ptp(got["logits"]) > 0.1, "logits too flat for the comparison to mean anything"
    log_probs = tf.nn.log_softmax(got["logits"]).numpy()
    np.testing.assert_allclose(log_probs, np.log(want_probs), rtol=TOL, atol=TOL)


def test_tf1_loader_restores_variables(exported, serving) -> None:
    """The C API loader the Go side uses restores variables the TF1 way; this is that path."""
    _, size, _, out, spec = exported
    x = normalise(random_rgb(size), spec["input"])
    v1 = run_v1_session(out, x)
    v2 = serving(images=tf.constant(x))
    for key in ("features", "logits"):
        want = v2[key].numpy()
        np.testing.assert_allclose(v1[key], want, rtol=TOL, atol=TOL * np.abs(want).max())


def test_cli_refuses_existing_out_and_replaces_with_force(tmp_path: Path, capsys) -> None:
    out = tmp_path / "mnv2"
    out.mkdir()
    (out / "keep").write_text("x")
    args = ["--arch", "mobilenet_v2", "--weights", "none", "--size", "32", "--out", str(out)]
    assert export_keras.main(args) == 1
    assert "already exists" in capsys.readouterr().err
    assert (out / "keep").exists()

    assert export_keras.main([*args, "--force"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert not (out / "keep").exists()
    assert read_spec(str(out))["input"]["height"] == 32
    assert sorted(os.listdir(tmp_path)) == ["mnv2"], "temporary folders left behind"
    assert out.stat().st_mode & 0o055, "the folder kept mkdtemp's private 0700 mode"


def test_cached_weights_sha256(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    assert export_keras.cached_weights_sha256("resnet50", 224) == ""
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "resnet50_weights_tf_dim_ordering_tf_kernels.h5").write_bytes(b"weights")
    assert export_keras.cached_weights_sha256("resnet50", 224) == hashlib.sha256(b"weights").hexdigest()


def test_labels_and_go_side(tmp_path: Path, request) -> None:
    """A folder with labels: Python writes them, and lessdata itself opens the folder, checks it
    against the spec and classifies with it (which restores the variables through the C API)."""
    out = tmp_path / "mnv2"
    labels = [f"class {i}" for i in range(1000)]
    model = export_keras.build_model("mobilenet_v2", "none", 32)
    spec = export_keras.export_model(model, "mobilenet_v2", 32, str(out), labels=labels, weights_sha256="ab" * 32)
    assert spec["labels"] == "labels.txt" and spec["source"]["sha256"] == "ab" * 32
    assert read_labels(str(out), read_spec(str(out))) == labels

    lessdata_bin = request.getfixturevalue("lessdata_bin")
    image = tmp_path / "image.png"
    Image.fromarray(random_rgb(48, n=1)[0]).save(image)
    inspect = subprocess.run([str(lessdata_bin), "backbones", "inspect", str(out)], capture_output=True, text=True)
    assert inspect.returncode == 0, inspect.stderr
    assert "check: the spec matches the SavedModel" in inspect.stdout
    classify = subprocess.run([str(lessdata_bin), "backbones", "classify", str(out), str(image)],
                              capture_output=True, text=True)
    assert classify.returncode == 0, classify.stderr
    assert "class " in classify.stdout

    # The Go side checks the digest Python recorded: damage to the variables, same size, is refused.
    data = next(p for p in (out / "variables").iterdir() if p.name.startswith("variables.data"))
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    damaged = subprocess.run([str(lessdata_bin), "backbones", "classify", str(out), str(image)],
                             capture_output=True, text=True)
    assert damaged.returncode != 0
    assert "is damaged" in damaged.stderr and "convert or export it again" in damaged.stderr, damaged.stderr
