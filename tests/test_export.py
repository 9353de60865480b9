"""The exported SavedModel and TFLite files give the probabilities `lessdata predict` gives.

The Go program internal/pycheck/export exports each bundle (package export) and predicts the
images with package predict; here TensorFlow loads the exports (tf.saved_model.load,
tf.lite.Interpreter) and the two are compared.

Tolerances:
- images already resized by lessdata (the SavedModel's "pixels" signature, the TFLite input):
  1e-4, float32 rounding only (the same operations in another order; TFLite's own kernels);
- encoded PNG/BMP files through the SavedModel's serving_default: 1e-3. The graph decodes and
  resizes as dataset.LoadImage does, but TensorFlow's resize kernel accumulates in float32 where
  golang.org/x/image/draw uses float64: about one 8-bit value in ten thousand lands one step
  apart (export's Go tests count them);
- encoded JPEG files: 0.05. TensorFlow decodes JPEG with libjpeg-turbo, Go with image/jpeg
  (different IDCT and colour conversion rounding): about one resized value in eight is one step
  apart. The class must agree unless predict's probabilities are within that of its decision
  boundary (the threshold of a two-class bundle that has one, else a tie).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
Image = pytest.importorskip("PIL.Image")

FLOAT_TOL = 1e-4
BYTES_TOL = 1e-3
JPEG_TOL = 0.05


def _images(folder: Path) -> list[str]:
    """PNGs of assorted sizes and modes, a BMP, a JPEG and a file that is not an image."""
    rng = np.random.default_rng(5)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []

    def save(name, arr, mode=None, **kw):
        p = folder / name
        Image.fromarray(arr, mode).save(p, **kw)
        paths.append(str(p))

    save("big.png", rng.integers(0, 256, (97, 131, 3), dtype=np.uint8))
    save("small.png", rng.integers(0, 256, (7, 9, 3), dtype=np.uint8))
    save("alpha.png", rng.integers(0, 256, (40, 30, 4), dtype=np.uint8))
    save("grey.png", rng.integers(0, 256, (33, 21), dtype=np.uint8))
    gx, gy = np.meshgrid(np.linspace(0, 255, 120), np.linspace(0, 255, 80))
    smooth = np.stack([gx, gy, np.full((80, 120), 90.0)], -1)
    save("smooth.bmp", smooth.astype(np.uint8))
    save("photo.jpg", smooth.astype(np.uint8), quality=90)
    junk = folder / "notes.txt"
    junk.write_text("not an image")
    paths.append(str(junk))
    return paths


def _decide(p: np.ndarray, model: dict) -> np.ndarray:
    """predict's decision: the positive class at or above the threshold, else the most probable."""
    t, pos = model["threshold"], model["positive"]
    if t > 0 and p.shape[1] == 2:
        return np.where(p[:, pos].astype(np.float64) >= t, pos, 1 - pos)
    return p.argmax(1)


def _margin(p: np.ndarray, model: dict) -> np.ndarray:
    """How far each row is from changing its decision."""
    t, pos = model["threshold"], model["positive"]
    if t > 0 and p.shape[1] == 2:
        return np.abs(p[:, pos] - t)
    top2 = np.sort(p, 1)[:, -2:]
    return (top2[:, 1] - top2[:, 0]) / 2


def _check(model: dict, report: dict) -> None:
    """Compares the exports of one bundle with predict's rows, recording the largest gaps."""
    rows = model["rows"]
    ok = [r for r in rows if "error" not in r]
    assert ok, "predict read none of the images"
    want = np.array([r["probabilities"] for r in ok], dtype=np.float32)
    want_index = np.array([r["index"] for r in ok])
    np.testing.assert_array_equal(_decide(want, model), want_index)
    k, h, w = len(model["classes"]), model["height"], model["width"]
    assert want.shape == (len(ok), k)
    pixels = np.fromfile(model["pixels"], dtype=np.uint8).reshape(len(ok), h, w, 3)

    loaded = tf.saved_model.load(model["savedmodel"])
    assert set(loaded.signatures.keys()) == {"serving_default", "pixels"}

    out = loaded.signatures["pixels"](pixels=tf.constant(pixels))
    got = out["probabilities"].numpy()
    assert got.shape == (len(ok), k)
    report["savedmodel pixels"] = float(np.abs(got - want).max())
    assert report["savedmodel pixels"] <= FLOAT_TOL
    np.testing.assert_array_equal(out["class_index"].numpy(), want_index)

    files = [Path(r["path"]).read_bytes() for r in ok]
    out = loaded.signatures["serving_default"](images=tf.constant(files))
    got = out["probabilities"].numpy()
    np.testing.assert_array_equal(out["class_index"].numpy(), _decide(got, model))
    jpeg = np.array([r["path"].lower().endswith((".jpg", ".jpeg")) for r in ok])
    if (~jpeg).any():
        report["savedmodel bytes (png/bmp)"] = float(np.abs(got - want)[~jpeg].max())
        assert report["savedmodel bytes (png/bmp)"] <= BYTES_TOL
    if jpeg.any():
        report["savedmodel bytes (jpeg)"] = float(np.abs(got - want)[jpeg].max())
        assert report["savedmodel bytes (jpeg)"] <= JPEG_TOL
    same = out["class_index"].numpy() == want_index
    assert (same | (_margin(want, model) < JPEG_TOL)).all(), "the class differs away from the decision boundary"

    interp = tf.lite.Interpreter(model_path=os.path.join(model["tflite"], "model.tflite"))
    interp.allocate_tensors()
    inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
    assert inp["dtype"] == np.uint8 and list(inp["shape"]) == [1, h, w, 3]
    assert outp["dtype"] == np.float32 and list(outp["shape"]) == [1, k]
    got = []
    for px in pixels:
        interp.set_tensor(inp["index"], px[None])
        interp.invoke()
        got.append(interp.get_tensor(outp["index"])[0].copy())
    report["tflite"] = float(np.abs(np.array(got) - want).max())
    assert report["tflite"] <= FLOAT_TOL

    for name in ("labels.txt", "lessdata_export.json"):
        assert (Path(model["savedmodel"]) / name).is_file()
        assert (Path(model["tflite"]) / name).is_file()
    assert (Path(model["savedmodel"]) / "labels.txt").read_text().split() == model["classes"]


def test_tiny_bundles(go_run, tmp_path):
    """Tiny scratch (3 classes) and transfer (2 classes, sigmoid) bundles made in Go."""
    images = _images(tmp_path / "images")
    res = go_run("internal/pycheck/export", {"work": str(tmp_path), "images": images})
    assert [m["name"] for m in res["models"]] == ["scratch", "transfer"]
    for m in res["models"]:
        assert sum("error" in r for r in m["rows"]) == 1, "only notes.txt fails"
        report: dict = {}
        _check(m, report)
        print(f"\n{m['name']} max |exported - predict|: {report}")


@pytest.fixture(scope="module")
def real_runs(shared_dir, repo_root, tmp_path_factory):
    """A scratch and a transfer (MobileNetV2) bundle trained briefly on car_vs_bus by lessdata,
    and the backbone folder; or, when $LESSDATA_EXPORT_RUNS names a folder holding scratch/ and
    transfer/ bundles already trained, those (their backbone found in the cache, $LESSDATA_CACHE)."""
    runs = os.environ.get("LESSDATA_EXPORT_RUNS")
    if runs:
        return Path(runs), None
    go = shutil.which("go")
    if go is None:
        pytest.skip("no Go toolchain")
    work = tmp_path_factory.mktemp("real")
    exe = work / "lessdata"
    subprocess.run([go, "build", "-o", str(exe), "./cmd/lessdata"], cwd=repo_root, check=True)
    data = shared_dir / "datasets" / "car_vs_bus"
    common = [str(exe), "--cache-dir", str(work / "cache"), "--mirror", str(shared_dir / "backbones"), "train"]
    subprocess.run(common + ["transfer", "--data", str(data), "--backbone", "mobilenet_v2", "--augment", "none",
                             "--no-audit", "--out", str(work / "transfer")],
                   check=True, capture_output=True)
    subprocess.run(common + ["scratch", "--data", str(data), "--epochs", "2", "--samples-per-epoch", "64",
                             "--no-audit", "--out", str(work / "scratch")], check=True, capture_output=True)
    backbone = next((work / "cache").rglob("lessdata_backbone.json")).parent
    return work, backbone


def test_real_bundles(go_run, real_runs, shared_dir, tmp_path):
    """Bundles trained on car_vs_bus, on the shared check images and its validation folder."""
    work, backbone = real_runs
    coral = shared_dir / "images" / "coral"
    images = sorted(str(p) for p in coral.iterdir() if p.suffix.lower() in (".jpg", ".bmp"))
    val = shared_dir / "datasets" / "car_vs_bus" / "validation"
    images += sorted(str(p) for p in val.rglob("*") if p.is_file())
    bundles = [{"name": "scratch", "dir": str(work / "scratch")}, {"name": "transfer", "dir": str(work / "transfer")}]
    if backbone is not None:
        bundles[1]["backbone"] = str(backbone)
    out = tmp_path / "exports"
    out.mkdir()
    res = go_run("internal/pycheck/export", {"work": str(out), "images": images, "bundles": bundles})
    for m in res["models"]:
        report: dict = {}
        _check(m, report)
        print(f"\n{m['name']} ({len(images)} images) max |exported - predict|: {report}")
