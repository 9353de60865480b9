"""Reference throughput of a lessdata backbone folder in Python TensorFlow.

    python bench/tf_features.py --model DIR [--batches 1,32] [--seconds 10] [--repeats 3]

Runs the folder's SavedModel two ways:

- ``python_tf2``: the idiomatic TF2 way, tf.saved_model.load(DIR).signatures[signature];
- ``python_v1_session``: a tf.compat.v1 Session with the SavedModel loader, which is what the
  TensorFlow C API (and so lessdata's Go binding) does.

Both are fed the same random input of the spec's size, made of random 0..255 pixels normalised
as the spec says, as a NumPy array, and return all the signature's outputs as NumPy arrays, so
each call does the same work: copy in, run the graph, copy out. After a warm-up, each batch size
is run for --seconds, --repeats times; the best images/s is kept.

Prints one JSON line:
{"python_tf2": {"1": ips, "32": ips}, "python_v1_session": {...}, "tf_version": "..."}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel("ERROR")  # the v1 loader's deprecation notice is expected here

SPEC_FILE = "lessdata_backbone.json"
WARMUP_CALLS = 3

Runner = Callable[[np.ndarray], object]


def random_input(spec: dict, batch: int, seed: int = 0) -> np.ndarray:
    """A float32 batch of random pixels normalised as the spec's input says."""
    inp = spec["input"]
    pixels = np.random.default_rng(seed).integers(0, 256, size=(batch, inp["height"], inp["width"], 3))
    mean = np.asarray(inp["mean"], dtype=np.float32)
    std = np.asarray(inp["std"], dtype=np.float32)
    return ((pixels.astype(np.float32) - mean) / std).astype(np.float32)


def tf2_runner(model_dir: str, spec: dict) -> Runner:
    """Calls the serving signature of tf.saved_model.load; returns the outputs as NumPy arrays."""
    fn = tf.saved_model.load(model_dir).signatures[spec["signature"]]
    key = spec["input"]["key"]

    def run(x: np.ndarray) -> dict[str, np.ndarray]:
        return {k: v.numpy() for k, v in fn(**{key: tf.constant(x)}).items()}

    return run


def v1_session_runner(model_dir: str, spec: dict) -> tuple[Runner, Callable[[], None]]:
    """Runs the serving signature in a tf.compat.v1 Session; returns (run, close)."""
    graph = tf.Graph()
    sess = tf.compat.v1.Session(graph=graph)
    with graph.as_default():
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], model_dir)
    sig = meta.signature_def[spec["signature"]]
    feed = sig.inputs[spec["input"]["key"]].name
    fetches = {k: v.name for k, v in sig.outputs.items()}

    def run(x: np.ndarray) -> dict[str, np.ndarray]:
        return sess.run(fetches, {feed: x})

    return run, sess.close


def images_per_second(run: Runner, x: np.ndarray, seconds: float, repeats: int) -> float:
    """The best images/s over repeats runs of at least `seconds` each (after a warm-up)."""
    for _ in range(WARMUP_CALLS):
        run(x)
    best = 0.0
    for _ in range(repeats):
        calls = 0
        start = time.perf_counter()
        while True:
            run(x)
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = max(best, calls * len(x) / elapsed)
    return best


def measure(run: Runner, spec: dict, batches: list[int], seconds: float, repeats: int) -> dict[str, float]:
    """images/s of run for each batch size, keyed by the batch size as a string."""
    return {str(b): round(images_per_second(run, random_input(spec, b), seconds, repeats), 2) for b in batches}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Measure a backbone folder's images/s in Python TensorFlow.")
    p.add_argument("--model", required=True, help="lessdata backbone folder (SavedModel + spec)")
    p.add_argument("--batches", default="1,32", help="comma-separated batch sizes (default 1,32)")
    p.add_argument("--seconds", type=float, default=10.0, help="seconds per measurement (default 10)")
    p.add_argument("--repeats", type=int, default=3, help="measurements per batch size; the best is kept (default 3)")
    args = p.parse_args(argv)
    try:
        batches = [int(b) for b in args.batches.split(",")]
    except ValueError:
        p.error(f"--batches {args.batches!r} is not a comma-separated list of integers")
    if any(b <= 0 for b in batches) or args.seconds <= 0 or args.repeats <= 0:
        p.error("batch sizes, --seconds and --repeats must be positive")

    with open(os.path.join(args.model, SPEC_FILE), encoding="utf-8") as f:
        spec = json.load(f)
    spec["signature"] = spec.get("signature") or "serving_default"  # as the Go side reads it

    result = {"python_tf2": measure(tf2_runner(args.model, spec), spec, batches, args.seconds, args.repeats)}
    run, close = v1_session_runner(args.model, spec)
    try:
        result["python_v1_session"] = measure(run, spec, batches, args.seconds, args.repeats)
    finally:
        close()
    result["tf_version"] = tf.__version__
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
