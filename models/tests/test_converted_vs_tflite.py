"""The Go converter's float SavedModels agree with the quantised TFLite models they come from.

lessdata fetches the MobileNets (uint8 weights, and the TF2 one with int8 per-channel weights)
from the shared mirror and converts them; models/check_tflite.py
runs both the original TFLite model and the converted backbone on ImageNet check images.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import check_tflite
from check_tflite import Comparison, compare, format_comparison

MIN_CORRELATION = 0.95

# MobileNetV2 1.0 224 gets all four check images right.
V2_EXPECTED = {
    "cat.bmp": "Egyptian cat",
    "grace_hopper.bmp": "military uniform",
    "bird.bmp": "chickadee",
    "parrot.jpg": "macaw",
}
# The TF2 MobileNetV2 (int8 per-channel weights) gets all four too.
TF2_EXPECTED = V2_EXPECTED
# MobileNetV1 0.25 128 is small: it gets these two right (and misses grace_hopper.bmp).
V1_025_EXPECTED = {
    "cat.bmp": "Egyptian cat",
    "bird.bmp": "chickadee",
}


def _compare(shared_dir: Path, folder: Path, tflite: str, images: list[str]) -> dict[str, Comparison]:
    """Compares the TFLite file under shared/backbones with its converted folder on the images."""
    paths = [str(shared_dir / "images" / "coral" / name) for name in images]
    return {Path(c.image).name: c for c in compare(str(shared_dir / "backbones" / tflite), str(folder), paths)}


@pytest.fixture(scope="module")
def v2_results(shared_dir: Path, fetch_backbone) -> dict[str, Comparison]:
    return _compare(shared_dir, fetch_backbone("mobilenet_v2"),
                    "coral_mobilenet_v2_1.0_224_quant/mobilenet_v2_1.0_224_quant.tflite", list(V2_EXPECTED))


@pytest.fixture(scope="module")
def tf2_results(shared_dir: Path, fetch_backbone) -> dict[str, Comparison]:
    return _compare(shared_dir, fetch_backbone("mobilenet_v2_tf2"),
                    "coral_tf2_mobilenet_v2_1.0_224_ptq/tf2_mobilenet_v2_1.0_224_ptq.tflite", list(TF2_EXPECTED))


@pytest.fixture(scope="module")
def v1_025_results(shared_dir: Path, fetch_backbone) -> dict[str, Comparison]:
    return _compare(shared_dir, fetch_backbone("mobilenet_v1_025"),
                    "coral_mobilenet_v1_0.25_128_quant/mobilenet_v1_0.25_128_quant.tflite", list(V1_025_EXPECTED))


@pytest.mark.parametrize("image", list(V2_EXPECTED))
def test_mobilenet_v2_matches_tflite(image: str, v2_results: dict[str, Comparison], report) -> None:
    c = v2_results[image]
    report(f"mobilenet_v2 {format_comparison(c)}")
    assert c.agree, format_comparison(c)
    assert c.converted_label == V2_EXPECTED[image], format_comparison(c)
    assert c.correlation > MIN_CORRELATION, format_comparison(c)


@pytest.mark.parametrize("image", list(TF2_EXPECTED))
def test_mobilenet_v2_tf2_matches_tflite(image: str, tf2_results: dict[str, Comparison], report) -> None:
    """Per-channel int8 weights dequantised per output channel: a wrong axis would scramble them."""
    c = tf2_results[image]
    report(f"mobilenet_v2_tf2 {format_comparison(c)}")
    assert c.agree, format_comparison(c)
    assert c.converted_label == TF2_EXPECTED[image], format_comparison(c)
    assert c.correlation > MIN_CORRELATION, format_comparison(c)


@pytest.mark.parametrize("image", list(V1_025_EXPECTED))
def test_mobilenet_v1_025_matches_tflite(image: str, v1_025_results: dict[str, Comparison], report) -> None:
    c = v1_025_results[image]
    report(f"mobilenet_v1_025 {format_comparison(c)}")
    assert c.agree, format_comparison(c)
    assert c.converted_label == V1_025_EXPECTED[image], format_comparison(c)


def test_main_exits_1_when_top1_differs(monkeypatch, capsys) -> None:
    differ = Comparison("a.bmp", 1, "one", 0.9, 2, "two", 0.8, 0.5)
    same = dataclasses.replace(differ, converted_class=1, converted_label="one")
    monkeypatch.setattr(check_tflite, "compare", lambda *_: [same, differ])
    assert check_tflite.main(["--tflite", "x.tflite", "--converted", "dir", "a.bmp", "b.bmp"]) == 1
    out, err = capsys.readouterr()
    assert "top-1 same" in out and "top-1 DIFFERENT" in out
    assert "differs on 1 of 2" in err
    monkeypatch.setattr(check_tflite, "compare", lambda *_: [same])
    assert check_tflite.main(["--tflite", "x.tflite", "--converted", "dir", "a.bmp"]) == 0
