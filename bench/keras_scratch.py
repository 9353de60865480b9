"""The article's small CNN trained from scratch in Keras, timed per epoch: the Python side of
bench/scratch.sh.

What it measures: wall-clock seconds of each training epoch, from Keras' on_epoch_begin to
on_epoch_end, so each epoch includes reading and decoding every training image with PIL
(flow_from_directory does that each epoch, as in the article), the random augmentation, the
training steps and the validation pass over the whole validation set. It also reports the
validation accuracy and loss of each epoch, and load_seconds: listing the folders and loading
the training images once to fit the featurewise mean/std.

The recipe is the article's: 64x64 inputs, batch 32, Conv2D(32,3x3,relu) MaxPool(2) twice,
Flatten, Dense(128,relu), Dense(1,sigmoid) with binary cross-entropy (Dense(n,softmax) with
categorical cross-entropy for more than 2 classes), Adam, and its ImageDataGenerator
augmentation. The featurewise statistics, which the article forgot to fit, are fitted once on
the rescaled (x/255) training images and shared by the training and validation generators,
as lessdata does.

lessdata's side is `lessdata train scratch --data DIR --out RUN --epochs E` (the same recipe in
Go on the TensorFlow C API); bench/scratch.sh runs both on the same DIR and compares their
per-epoch times.

Usage: .deps/venv/bin/python bench/keras_scratch.py --data DIR --epochs 10
           [--steps-per-epoch 0] [--seed 1] [--json]
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

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

SIZE = (64, 64)
BATCH = 32


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="DIR with train/<class>/* and validation/<class>/*")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps-per-epoch", type=int, default=0, help="0: ceil(train images / 32)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print only the JSON line on stdout")
    return p.parse_args()


# The article's random transforms (ImageDataGenerator arguments), training images only.
AUGMENT = dict(shear_range=0.2, zoom_range=0.2, horizontal_flip=True, vertical_flip=True,
               width_shift_range=0.2, height_shift_range=0.2, rotation_range=15,
               fill_mode="reflect", brightness_range=[0.5, 1.5])


def load_data(data, seed):
    """The article's generators and flows, with featurewise stats fitted on x/255."""
    gen = tf.keras.preprocessing.image.ImageDataGenerator
    norm = dict(rescale=1.0 / 255, featurewise_center=True, featurewise_std_normalization=True)
    train_gen = gen(**AUGMENT, **norm)
    val_gen = gen(**norm)
    n_classes = len([d for d in os.scandir(os.path.join(data, "train")) if d.is_dir()])
    mode = "binary" if n_classes == 2 else "categorical"
    with contextlib.redirect_stdout(sys.stderr):  # its "Found N images" lines
        train = train_gen.flow_from_directory(os.path.join(data, "train"), target_size=SIZE,
                                              batch_size=BATCH, class_mode=mode, seed=seed)
        val = val_gen.flow_from_directory(os.path.join(data, "validation"), target_size=SIZE,
                                          batch_size=BATCH, class_mode=mode, shuffle=False)
    # All training images, loaded as flow_from_directory loads them (64x64, nearest), rescaled.
    img = tf.keras.preprocessing.image
    x = np.stack([img.img_to_array(img.load_img(f, target_size=SIZE, interpolation="nearest"))
                  for f in train.filepaths]) / 255.0
    stats = gen(featurewise_center=True, featurewise_std_normalization=True)
    stats.fit(x)
    for g in (train_gen, val_gen):
        g.mean, g.std = stats.mean, stats.std
    return train, val, n_classes


def endless(flow):
    while True:
        yield next(flow)


def build_model(n_classes):
    L = tf.keras.layers
    binary = n_classes == 2
    model = tf.keras.Sequential([
        tf.keras.Input(shape=SIZE + (3,)),
        L.Conv2D(32, (3, 3), activation="relu"),
        L.MaxPooling2D((2, 2)),
        L.Conv2D(32, (3, 3), activation="relu"),
        L.MaxPooling2D((2, 2)),
        L.Flatten(),
        L.Dense(128, activation="relu"),
        L.Dense(1, activation="sigmoid") if binary else L.Dense(n_classes, activation="softmax"),
    ])
    model.compile(optimizer="adam", metrics=["accuracy"],
                  loss="binary_crossentropy" if binary else "categorical_crossentropy")
    return model


class EpochTimer(tf.keras.callbacks.Callback):
    """Wall-clock seconds of each epoch, validation included (Keras validates before on_epoch_end)."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)
        logs = logs or {}
        print(f"epoch {epoch + 1}: {self.seconds[-1]:.2f}s loss {logs.get('loss', 0):.4f} "
              f"acc {logs.get('accuracy', 0):.4f} val_loss {logs.get('val_loss', 0):.4f} "
              f"val_acc {logs.get('val_accuracy', 0):.4f}", file=sys.stderr, flush=True)


def main():
    args = parse_args()
    tf.keras.utils.set_random_seed(args.seed)
    t0 = time.perf_counter()
    train, val, n_classes = load_data(args.data, args.seed)
    load_seconds = time.perf_counter() - t0
    model = build_model(n_classes)
    timer = EpochTimer()
    # With --steps-per-epoch, feed the flow's endless stream as Keras 2 did (each epoch takes the
    # next S batches, reshuffling after every pass): Keras 3 treats the flow as a finite
    # PyDataset and, given fewer steps than batches, runs out of data every other epoch.
    stream = args.steps_per_epoch > 0
    hist = model.fit(endless(train) if stream else train, shuffle=not stream,
                     epochs=args.epochs, steps_per_epoch=args.steps_per_epoch or None,
                     validation_data=val, callbacks=[timer], verbose=0)
    out = {
        "framework": "keras",
        "tf_version": tf.__version__,
        "epochs": len(timer.seconds),
        "seconds_per_epoch_median": round(statistics.median(timer.seconds), 4),
        "seconds_per_epoch": [round(s, 4) for s in timer.seconds],
        "first_epoch_seconds": round(timer.seconds[0], 4),
        "val_accuracy": [round(float(v), 4) for v in hist.history["val_accuracy"]],
        "val_loss": [round(float(v), 4) for v in hist.history["val_loss"]],
        "train_images": train.samples,
        "val_images": val.samples,
        "load_seconds": round(load_seconds, 4),
    }
    if not args.json:
        print(f"keras (TensorFlow {tf.__version__}): {out['epochs']} epochs, median "
              f"{out['seconds_per_epoch_median']:.2f}s/epoch (first {out['first_epoch_seconds']:.2f}s), "
              f"final val_accuracy {out['val_accuracy'][-1]:.4f}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
