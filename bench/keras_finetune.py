"""Keras' fine-tuning of MobileNetV2's top blocks, timed per epoch: the Python side of
bench/finetune.sh.

The model is keras.applications.MobileNetV2 at 224x224 (weights=None: this machine has no
network, and the timing does not depend on the weight values), global average pooling and one
sigmoid unit, with every layer frozen except the top --unfreeze inverted-residual blocks
(block_16, block_15, ...) and the final 1x1 convolution, as lessdata's `--unfreeze N` does on its
converted MobileNetV2 (whose batch norms are folded into the convolutions; Keras keeps them as
layers, frozen in inference mode as the Keras transfer-learning guide recommends). Adam at
1e-4, batch 32, binary cross-entropy; each training step draws the light augmentation
(horizontal flip, shifts of 5%, zoom of 10%) on in-memory images, as lessdata does. It prints
the seconds of every epoch (on_epoch_begin to on_epoch_end, no validation pass).

Usage: .deps/venv/bin/python bench/keras_finetune.py --data DIR --epochs 3 --unfreeze 2 [--json]
The last line on stdout is one JSON object; progress goes to stderr.
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from PIL import Image
import tensorflow as tf
import keras


def load(data, size):
    xs, ys = [], []
    train = os.path.join(data, "train")
    classes = sorted(c for c in os.listdir(train) if os.path.isdir(os.path.join(train, c)))
    for k, c in enumerate(classes):
        for name in sorted(os.listdir(os.path.join(train, c))):
            try:
                img = Image.open(os.path.join(train, c, name)).convert("RGB").resize((size, size), Image.BILINEAR)
            except OSError:
                continue
            xs.append(np.asarray(img, dtype=np.float32))
            ys.append(k)
    return np.stack(xs), np.array(ys, dtype=np.float32), classes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--unfreeze", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    x, y, classes = load(a.data, 224)
    x = (x - 127.5) / 127.5
    base = keras.applications.MobileNetV2(input_shape=(224, 224, 3), include_top=False, weights=None, pooling="avg")
    top = {f"block_{16 - i}_" for i in range(max(a.unfreeze - 1, 0))} | {"Conv_1"}
    for layer in base.layers:
        layer.trainable = any(layer.name.startswith(p) for p in top) and not isinstance(layer, keras.layers.BatchNormalization)
    aug = keras.Sequential([keras.layers.RandomFlip("horizontal"), keras.layers.RandomTranslation(0.05, 0.05),
                            keras.layers.RandomZoom(0.1)])
    inp = keras.Input((224, 224, 3))
    out = keras.layers.Dense(1, activation="sigmoid")(base(aug(inp), training=False))
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="binary_crossentropy", metrics=["accuracy"])
    times = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)
            print(f"epoch {epoch + 1}: {times[-1]:.2f} s", file=sys.stderr)

    model.fit(x, y, batch_size=32, epochs=a.epochs, shuffle=True, callbacks=[Timer()], verbose=0)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    print(json.dumps({"seconds_per_epoch": times, "train_images": int(len(y)), "trainable_parameters": trainable}))


if __name__ == "__main__":
    main()
