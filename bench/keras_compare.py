"""lessdata's `compare` in plain Keras: the article's CNN from scratch against a head on a frozen
pretrained backbone, on the same data, epochs, batch size and augmentation; the Python side of
bench/compare.sh, which runs it beside `lessdata compare --data DIR --backbone DIR --epochs E`.

What it measures, for each half: wall-clock seconds from start to end (listing and loading the
images, fitting the featurewise statistics, loading the backbone, building the model and
training), the seconds of each epoch (validation included, see keras_scratch.EpochTimer), and
the validation accuracy after every epoch. The halves run one after the other.

- scratch: exactly bench/keras_scratch.py's experiment (its functions are imported).
- transfer: the backbone folder's SavedModel signature, frozen, wrapped as a Keras layer that
  normalises 0..255 pixels as lessdata_backbone.json says and returns the features; head:
  Dropout(0.2) + Dense(1, sigmoid, L2 1e-4) for two classes (Dense(n, softmax) for more), Adam(1e-3),
  cross-entropy. Training images get the scratch half's ImageDataGenerator augmentation without
  its rescale/featurewise standardisation, at the backbone's input size; validation images are
  plain. This is the plain Keras way: every epoch reads and augments every image afresh and runs
  the backbone on it. lessdata instead runs the backbone once on K=5 augmented views per training
  image (and once on each validation image), caches the features and trains the head on the
  cache, so part of the time difference measured here is that design difference, not only Go
  against Python.

Usage: .deps/venv/bin/python bench/keras_compare.py --data DIR --backbone DIR --epochs 50
           [--seed 1] [--json]
The last line on stdout is one JSON object; progress goes to stderr.
"""
import argparse
import contextlib
import json
import os
import statistics
import sys
import time

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tensorflow as tf  # noqa: E402

import keras_scratch  # noqa: E402

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="DIR with train/<class>/* and validation/<class>/*")
    p.add_argument("--backbone", required=True, help="backbone folder (lessdata backbones fetch prints it)")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print only the JSON line on stdout")
    return p.parse_args()


class FrozenBackbone(tf.keras.layers.Layer):
    """0..255 RGB pixels -> the SavedModel's features; no trainable weights."""

    def __init__(self, folder, spec):
        super().__init__(trainable=False)
        self._saved = tf.saved_model.load(folder)  # keeps the signature's variables alive
        self._fn = self._saved.signatures[spec["signature"]]
        self._in_key, self._out_key = spec["input"]["key"], spec["features"]["key"]
        self._mean = tf.constant(spec["input"]["mean"], tf.float32)
        self._std = tf.constant(spec["input"]["std"], tf.float32)

    def call(self, x):
        return self._fn(**{self._in_key: (x - self._mean) / self._std})[self._out_key]


def transfer_data(data, seed, spec):
    gen = tf.keras.preprocessing.image.ImageDataGenerator
    inp = spec["input"]
    n_classes = len([d for d in os.scandir(os.path.join(data, "train")) if d.is_dir()])
    flow = dict(target_size=(inp["height"], inp["width"]), interpolation=inp.get("resize", "bilinear"),
                batch_size=keras_scratch.BATCH, class_mode="binary" if n_classes == 2 else "categorical")
    with contextlib.redirect_stdout(sys.stderr):  # its "Found N images" lines
        train = gen(**keras_scratch.AUGMENT).flow_from_directory(os.path.join(data, "train"), seed=seed, **flow)
        val = gen().flow_from_directory(os.path.join(data, "validation"), shuffle=False, **flow)
    return train, val, n_classes


def transfer_model(folder, spec, n_classes):
    L = tf.keras.layers
    binary = n_classes == 2
    inp = spec["input"]
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(inp["height"], inp["width"], 3)),
        FrozenBackbone(folder, spec),
        L.Dropout(0.2),
        L.Dense(1 if binary else n_classes, activation="sigmoid" if binary else "softmax",
                kernel_regularizer=tf.keras.regularizers.l2(1e-4)),
    ])
    model.compile(optimizer=tf.keras.optimizers.Adam(1e-3), metrics=["accuracy"],
                  loss="binary_crossentropy" if binary else "categorical_crossentropy")
    return model


def run(name, epochs, seed, setup):
    """Times setup() -> (model, train, val) plus model.fit; returns the half's JSON."""
    print(f"== {name}", file=sys.stderr, flush=True)
    tf.keras.utils.set_random_seed(seed)
    t0 = time.perf_counter()
    model, train, val = setup()
    timer = keras_scratch.EpochTimer()
    hist = model.fit(train, epochs=epochs, validation_data=val, callbacks=[timer], verbose=0)
    curve = [round(float(v), 4) for v in hist.history["val_accuracy"]]
    return {
        "seconds": round(time.perf_counter() - t0, 3),
        "seconds_per_epoch_median": round(statistics.median(timer.seconds), 4),
        "seconds_per_epoch": [round(s, 4) for s in timer.seconds],
        "val_accuracy": curve[-1],
        "val_accuracy_curve": curve,
    }


def main():
    args = parse_args()
    with open(os.path.join(args.backbone, "lessdata_backbone.json")) as f:
        spec = json.load(f)

    def scratch():
        train, val, n_classes = keras_scratch.load_data(args.data, args.seed)
        return keras_scratch.build_model(n_classes), train, val

    def transfer():
        train, val, n_classes = transfer_data(args.data, args.seed, spec)
        return transfer_model(args.backbone, spec, n_classes), train, val

    t0 = time.perf_counter()
    out = {"framework": "keras", "tf_version": tf.__version__, "epochs": args.epochs,
           "scratch": run("scratch", args.epochs, args.seed, scratch),
           "transfer": run("transfer", args.epochs, args.seed, transfer)}
    out["total_seconds"] = round(time.perf_counter() - t0, 3)
    if not args.json:
        for name in ("scratch", "transfer"):
            r = out[name]
            print(f"{name}: {r['seconds']:.1f}s, median {r['seconds_per_epoch_median']:.2f}s/epoch, "
                  f"final val_accuracy {r['val_accuracy']:.4f}")
        print(f"total {out['total_seconds']:.1f}s (keras, TensorFlow {tf.__version__})")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
