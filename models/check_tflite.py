"""Check a converted backbone against the quantised TFLite model it came from.

    python models/check_tflite.py --tflite FILE --converted DIR IMAGE...

Each image is loaded as RGB and resized to the model's input size with PIL's bilinear filter.
The same uint8 pixels go to the original TFLite model (tf.lite.Interpreter, raw uint8 input)
and, normalised as the backbone spec says, to the converted SavedModel. For each image it
prints the top-1 label and probability of both, and the Pearson correlation of their logits.
TFLite's logits are the dequantised input of its final SOFTMAX op.

Exits 1 when any image's top-1 class differs between the two.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backbone_folder import load_image, normalise, read_labels, read_spec  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The TFLite and converted models' answers for one image."""

    image: str
    tflite_class: int
    tflite_label: str
    tflite_prob: float
    converted_class: int
    converted_label: str
    converted_prob: float
    correlation: float

    @property
    def agree(self) -> bool:
        """Whether both models pick the same top-1 class."""
        return self.tflite_class == self.converted_class


class TFLiteClassifier:
    """A quantised TFLite classifier that also exposes the logits before its final softmax."""

    def __init__(self, path: str):
        with warnings.catch_warnings():  # tf.lite.Interpreter warns that LiteRT replaces it
            warnings.simplefilter("ignore")
            self.interpreter = tf.lite.Interpreter(model_path=path, experimental_preserve_all_tensors=True)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        if self.input["dtype"] != np.uint8:
            raise ValueError(f"{path}: input is {self.input['dtype']}, not uint8")
        softmax = [op for op in self.interpreter._get_ops_details() if op["op_name"] == "SOFTMAX"]
        if not softmax:
            raise ValueError(f"{path} has no SOFTMAX op")
        logits_index = int(softmax[-1]["inputs"][0])
        self.logits = next(t for t in self.interpreter.get_tensor_details() if t["index"] == logits_index)

    @property
    def size(self) -> tuple[int, int]:
        """The input (height, width)."""
        _, h, w, _ = self.input["shape"]
        return int(h), int(w)

    def run(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Classifies one uint8 RGB image [h, w, 3]; returns (probabilities, logits) as float32."""
        self.interpreter.set_tensor(self.input["index"], rgb[np.newaxis])
        self.interpreter.invoke()
        return (
            _dequantise(self.interpreter.get_tensor(self.output["index"]), self.output)[0],
            _dequantise(self.interpreter.get_tensor(self.logits["index"]), self.logits)[0],
        )


def _dequantise(q: np.ndarray, details: dict) -> np.ndarray:
    """Returns scale * (q - zero_point) for a quantised tensor, or q as float32 if it is float."""
    scale, zero_point = details["quantization"]
    if scale == 0:
        return q.astype(np.float32)
    return (scale * (q.astype(np.float32) - zero_point)).astype(np.float32)


class ConvertedBackbone:
    """A backbone folder's SavedModel, called through its serving signature."""

    def __init__(self, folder: str):
        self.spec = read_spec(folder)
        if "logits" not in self.spec:
            raise ValueError(f"{folder}: the spec has no logits to compare")
        self.labels = read_labels(folder, self.spec)
        self.fn = tf.saved_model.load(folder).signatures[self.spec["signature"]]

    def logits(self, rgb: np.ndarray) -> np.ndarray:
        """Returns the logits [n, classes] of uint8 RGB images [n, h, w, 3] of the spec's size."""
        x = normalise(rgb, self.spec["input"])
        out = self.fn(**{self.spec["input"]["key"]: tf.constant(x)})
        return out[self.spec["logits"]["key"]].numpy()


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, computed in float64 for stability."""
    z = np.asarray(logits, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """The Pearson correlation of two equally long vectors."""
    return float(np.corrcoef(np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64))[0, 1])


def compare(tflite_path: str, converted_dir: str, images: list[str]) -> list[Comparison]:
    """Runs both models on each image and returns what each says."""
    lite = TFLiteClassifier(tflite_path)
    conv = ConvertedBackbone(converted_dir)
    inp = conv.spec["input"]
    if (inp["height"], inp["width"]) != lite.size:
        raise ValueError(f"input sizes differ: TFLite {lite.size}, converted {(inp['height'], inp['width'])}")
    labels = conv.labels
    results = []
    for path in images:
        rgb = load_image(path, inp["width"], inp["height"])
        lite_probs, lite_logits = lite.run(rgb)
        conv_logits = conv.logits(rgb[np.newaxis])[0]
        if lite_logits.shape != conv_logits.shape:
            raise ValueError(f"class counts differ: TFLite {lite_logits.shape}, converted {conv_logits.shape}")
        conv_probs = softmax(conv_logits)
        lc, cc = int(np.argmax(lite_logits)), int(np.argmax(conv_logits))
        results.append(
            Comparison(
                image=path,
                tflite_class=lc,
                tflite_label=labels[lc] if labels else str(lc),
                tflite_prob=float(lite_probs[lc]),
                converted_class=cc,
                converted_label=labels[cc] if labels else str(cc),
                converted_prob=float(conv_probs[cc]),
                correlation=pearson(lite_logits, conv_logits),
            )
        )
    return results


def format_comparison(c: Comparison) -> str:
    """One line describing a comparison."""
    mark = "same" if c.agree else "DIFFERENT"
    return (
        f"{os.path.basename(c.image)}: tflite {c.tflite_label!r} {c.tflite_prob:.3f} | "
        f"converted {c.converted_label!r} {c.converted_prob:.3f} | logits r={c.correlation:.4f} | top-1 {mark}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Compare a converted backbone with its quantised TFLite original.")
    p.add_argument("--tflite", required=True, help="the quantised .tflite classifier")
    p.add_argument("--converted", required=True, help="the backbone folder converted from it")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    args = p.parse_args(argv)
    results = compare(args.tflite, args.converted, args.images)
    for c in results:
        print(format_comparison(c))
    differ = [c for c in results if not c.agree]
    if differ:
        print(f"check_tflite: top-1 differs on {len(differ)} of {len(results)} images", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
