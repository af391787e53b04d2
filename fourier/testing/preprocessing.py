"""A ranking model with Keras preprocessing inside, exported as a SavedModel, for `fourier.host`.

The model (Keras 2, ``tf-keras``, seeded weights, an unknown batch) reads raw request fields:

- ``user``     string  -> ``StringLookup`` (a vocabulary with non-ASCII words) -> embedding
- ``item``     string  -> ``Hashing(num_bins=HASH_BINS)`` (FarmHash)              -> embedding
- ``tag``      string  -> ``Hashing(num_bins, salt=...)`` (SipHash)                -> embedding
- ``category`` int64   -> ``IntegerLookup``                                        -> embedding
- ``age``      float32 -> ``Discretization(bin_boundaries=...)``                   -> embedding
- ``price``    float32 -> straight into the DNN

then the embeddings and ``price`` concatenated into a small DNN with a sigmoid output. Every input
is ``[batch, 1]``.

A second model, ``variants``, holds the lookup layers' other forms (several OOV buckets, mask
tokens, ``Hashing`` with a mask and on integers, an inverted ``StringLookup`` that outputs
strings), each an output of its own, all from inputs ``s`` (string) and ``i`` (int64),
``[batch, 2]``: what those layers freeze into (string ``Equal``, ``SelectV2``, ``AsString``, string
tables' values) with nothing for the device.

Built with TensorFlow once and cached under ``$FOURIER_PREPROCESSING_DIR`` or
``~/.cache/fourier/preprocessing/<key>``, the key hashing this file and the TensorFlow version::

    python -m fourier.testing.preprocessing [--out DIR] [names...]

`random_requests` makes request dicts with out-of-vocabulary, empty and non-ASCII strings;
`random_strings` makes strings for the hash tests (every length 0..64, multibyte UTF-8, long ones).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fourier.testing.cache import cache_dir, tf_env

__all__ = [
    "NAMES",
    "PreprocessingModel",
    "USER_VOCAB",
    "CATEGORY_VOCAB",
    "AGE_BOUNDARIES",
    "HASH_BINS",
    "TAG_SALT",
    "preprocessing_dir",
    "ensure_preprocessing",
    "build",
    "random_requests",
    "random_strings",
]

USER_VOCAB = ("alice", "bob", "carol", "dave", "zoë", "josé", "東京", "москва", "🙂user", "x" * 40)
CATEGORY_VOCAB = (3, 7, 11, 42, 1000, 123456789012)
AGE_BOUNDARIES = (18.0, 25.0, 35.0, 50.0, 65.0)
HASH_BINS = 64
TAG_SALT = (7, 1234567)
EMBED = 8
NAMES = ("ranking", "variants")


@dataclass(frozen=True)
class PreprocessingModel:
    """A SavedModel on disk, its input names and its output names."""

    path: Path
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def preprocessing_dir() -> Path:
    """Where the model is cached: ``$FOURIER_PREPROCESSING_DIR`` or ``~/.cache/fourier/preprocessing/<key>``."""
    return cache_dir("preprocessing", "FOURIER_PREPROCESSING_DIR", __file__)


def _model(seed: int) -> Any:
    import tensorflow as tf

    layers = tf.keras.layers
    user = tf.keras.Input((1,), dtype=tf.string, name="user")
    item = tf.keras.Input((1,), dtype=tf.string, name="item")
    tag = tf.keras.Input((1,), dtype=tf.string, name="tag")
    category = tf.keras.Input((1,), dtype=tf.int64, name="category")
    age = tf.keras.Input((1,), dtype=tf.float32, name="age")
    price = tf.keras.Input((1,), dtype=tf.float32, name="price")
    ids = [
        (layers.StringLookup(vocabulary=list(USER_VOCAB), name="user_lookup")(user), len(USER_VOCAB) + 1),
        (layers.Hashing(num_bins=HASH_BINS, name="item_hash")(item), HASH_BINS),
        (layers.Hashing(num_bins=HASH_BINS, salt=list(TAG_SALT), name="tag_hash")(tag), HASH_BINS),
        (layers.IntegerLookup(vocabulary=list(CATEGORY_VOCAB), name="category_lookup")(category), len(CATEGORY_VOCAB) + 1),
        (layers.Discretization(bin_boundaries=list(AGE_BOUNDARIES), name="age_bucket")(age), len(AGE_BOUNDARIES) + 1),
    ]  # fmt: skip
    embedded = [
        layers.Flatten()(layers.Embedding(rows, EMBED, name=f"embed_{i}")(x))
        for i, (x, rows) in enumerate(ids)
    ]
    x = layers.Concatenate()([*embedded, price])
    x = layers.Dense(32, activation="relu", name="dense_0")(x)
    x = layers.Dense(16, activation="relu", name="dense_1")(x)
    out = layers.Dense(1, activation="sigmoid", name="score")(x)
    model = tf.keras.Model([user, item, tag, category, age, price], {"score": out})
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if w.dtype.is_floating:
            shape = tuple(int(d) for d in w.shape)
            scale = 0.5 if "embed" in w.name else 1.0 / np.sqrt(max(shape[0], 1))
            w.assign(rng.normal(0.0, scale, shape).astype(np.float32))
    return model


def _variants() -> Any:
    import tensorflow as tf

    layers = tf.keras.layers
    s = tf.keras.Input((2,), dtype=tf.string, name="s")
    i = tf.keras.Input((2,), dtype=tf.int64, name="i")
    outputs = {
        "oov_buckets": layers.StringLookup(vocabulary=list(USER_VOCAB[:4]), num_oov_indices=3)(s),
        "masked": layers.StringLookup(vocabulary=list(USER_VOCAB[4:]), mask_token="")(s),
        "int_masked": layers.IntegerLookup(vocabulary=list(CATEGORY_VOCAB), mask_token=0)(i),
        "int_oov_buckets": layers.IntegerLookup(vocabulary=list(CATEGORY_VOCAB), num_oov_indices=3)(i),
        "hash_masked": layers.Hashing(num_bins=HASH_BINS, mask_value="alice")(s),
        "hash_ints": layers.Hashing(num_bins=HASH_BINS)(i),
        "inverted": layers.StringLookup(vocabulary=list(USER_VOCAB), invert=True)(
            layers.IntegerLookup(vocabulary=list(CATEGORY_VOCAB))(i)
        ),
    }
    return tf.keras.Model([s, i], outputs)


def build(out_dir: Path, name: str = "ranking", seed: int = 1234) -> PreprocessingModel:
    """Build one model with TensorFlow and write it as a SavedModel ``out_dir/name``."""
    tf_env()
    import tensorflow as tf

    tf.keras.backend.clear_session()
    tf.random.set_seed(seed)
    model = _model(seed) if name == "ranking" else _variants()

    def save(path: Path) -> dict[str, Any]:
        model.save(str(path), include_optimizer=False)
        return {"inputs": [i.name.split(":")[0] for i in model.inputs], "outputs": sorted(model.output_names)}

    return write_saved_model(out_dir, name, save)


def write_saved_model(out_dir: Path, name: str, save: Callable[[Path], dict[str, Any]]) -> PreprocessingModel:
    """Write the SavedModel ``out_dir/name`` whole or not at all (a cache another test process
    may read): ``save(path)`` writes it and returns its ``inputs`` and ``outputs``, kept beside it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out_dir, prefix=f".{name}."))
    try:
        meta = save(tmp / name)
        (tmp / name / "fourier.json").write_text(json.dumps(meta))
        target = out_dir / name
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp / name, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return read_saved_model(out_dir, name)


def read_saved_model(out_dir: Path, name: str) -> PreprocessingModel:
    """The SavedModel `write_saved_model` wrote as ``out_dir/name``."""
    meta = json.loads((out_dir / name / "fourier.json").read_text())
    return PreprocessingModel(out_dir / name, tuple(meta["inputs"]), tuple(meta["outputs"]))


def ensure_preprocessing(name: str = "ranking", out_dir: Path | None = None) -> PreprocessingModel:
    """The named SavedModel (``ranking`` or ``variants``), built with TensorFlow if not cached."""
    if name not in NAMES:
        raise KeyError(f"unknown preprocessing model {name!r}; known: {', '.join(NAMES)}")
    out = out_dir or preprocessing_dir()
    if (out / name / "fourier.json").exists():
        return read_saved_model(out, name)
    return build(out, name)


_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 _-"
_MULTIBYTE = "éüßñçøåœ東京大阪日本語москваπλ🙂🚀👍🏽\u0301\u200d"


def _object(items: list[Any]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def random_requests(batch: int, seed: int = 0, model: str = "ranking") -> dict[str, np.ndarray]:
    """A request for ``batch`` rows of ``model``: strings in and out of the vocabulary, empty and
    non-ASCII ones, ``str`` and ``bytes`` mixed; categories in and out of the vocabulary (0, the
    mask, included); ages around and on the boundaries."""
    rng = np.random.default_rng(seed)

    def word(i: int) -> str | bytes:
        kind = rng.integers(0, 6)
        if kind == 0:
            s = USER_VOCAB[int(rng.integers(len(USER_VOCAB)))]
        elif kind == 1:
            s = ""
        elif kind == 2:
            s = "".join(rng.choice(list(_MULTIBYTE), int(rng.integers(1, 6))))
        else:
            s = "".join(rng.choice(list(_ALPHABET), int(rng.integers(1, 20))))
        return s.encode("utf-8") if i % 2 else s

    cats = np.array(CATEGORY_VOCAB + (0, -5, 99), dtype=np.int64)
    if model == "variants":
        return {
            "s": _object([word(i) for i in range(2 * batch)]).reshape(batch, 2),
            "i": cats[rng.integers(0, len(cats), (batch, 2))],
        }
    strings = {k: _object([word(i) for i in range(batch)]).reshape(batch, 1) for k in ("user", "item", "tag")}
    ages = np.concatenate([np.array(AGE_BOUNDARIES, np.float32), rng.uniform(0, 90, 16).astype(np.float32)])
    return {
        **strings,
        "category": cats[rng.integers(0, len(cats), batch)].reshape(batch, 1),
        "age": ages[rng.integers(0, len(ages), batch)].reshape(batch, 1),
        "price": rng.uniform(0, 3, (batch, 1)).astype(np.float32),
    }


def random_strings(count: int, seed: int = 0) -> np.ndarray:
    """``count`` strings (an object array of ``bytes``) for the hash tests: every length 0..64
    several times (the hashes branch on 0-3, 4-7, 8-16, 17-32, 33-64 and loop over 64-byte blocks),
    random bytes, multibyte UTF-8, and long ones (1-5 KB)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 65, count)
    lengths[: min(count, 65 * 8)] = np.arange(min(count, 65 * 8)) % 65
    longs = rng.random(count) < 0.002
    lengths[longs] = rng.integers(1025, 5000, int(longs.sum()))
    mid = (rng.random(count) < 0.05) & ~longs
    lengths[mid] = rng.integers(65, 1025, int(mid.sum()))
    pool = rng.integers(0, 256, int(lengths.sum()) + 1, dtype=np.uint8).tobytes()
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    items: list[bytes] = [pool[a:b] for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist())]
    chars = list(_MULTIBYTE + _ALPHABET)
    for i in np.flatnonzero(rng.random(count) < 0.2).tolist():  # text, multibyte UTF-8 included
        items[i] = "".join(rng.choice(chars, int(lengths[i]) // 2 + 1)).encode("utf-8")
    return _object(items)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(NAMES))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    for name in args.names:
        print(ensure_preprocessing(name, args.out).path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
