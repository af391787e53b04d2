"""A ``tf.feature_column`` ranking model, exported as a SavedModel, for `fourier.host`.

The columns (``tf.feature_column``, seeded weights, an unknown batch) read raw request fields:

- ``items``    string  [batch, 4] -> ``categorical_column_with_hash_bucket`` -> ``embedding_column``
  (combiner ``mean``)
- ``tags``     string  [batch, 3] -> ``categorical_column_with_hash_bucket`` -> ``embedding_column``
  (combiner ``sqrtn``)
- ``country``  string  [batch, 2] -> ``categorical_column_with_vocabulary_list`` (non-ASCII words,
  two out-of-vocabulary hash buckets) -> ``embedding_column`` (combiner ``sum``) and
  ``indicator_column``
- ``age``      float32 [batch, 1] -> ``bucketized_column`` (one-hot of its bucket)
- ``price``, ``clicks`` float32 [batch, 1] -> ``numeric_column``
- ``slots``    int64   [batch, 2] -> ``categorical_column_with_identity`` (-1: missing) ->
  ``embedding_column`` (combiner ``mean``)
- ``country`` x ``tags`` -> ``crossed_column`` (``SparseCross``, hashed) -> ``embedding_column``

then the columns concatenated into a small DNN with a sigmoid output ``score``, in two exports of
the same columns:

- ``input_layer``: ``tf.compat.v1.feature_column.input_layer`` in a ``tf.compat.v1`` graph, the
  layers ``tf.compat.v1.layers.dense``, saved by ``tf.compat.v1.saved_model.Builder`` (a TF1
  SavedModel: its table is an op of the graph, initialized by the main op);
- ``dense_features``: the Keras form, ``DenseFeatures`` in a functional model, ``model.save`` (a TF2
  SavedModel: its table is a resource the signature captures).

A feature column treats an empty string as a missing value: a row whose strings are all empty has
no ids, and its embedding is zeros (``safe_embedding_lookup_sparse``). That part of the graph is
sparse (``Where``, ``GatherNd``, ``SparseFillEmptyRows``, ``Unique``, ``SparseSegmentMean``...): it
runs on the host.

Built with TensorFlow once and cached under ``$FOURIER_FEATURE_COLUMNS_DIR`` or
``~/.cache/fourier/feature_columns/<key>``, the key hashing this file and the TensorFlow version::

    python -m fourier.testing.feature_columns [--out DIR] [names...]

`random_requests` makes request dicts with out-of-vocabulary, empty, non-ASCII strings and rows
whose strings are all empty.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from fourier.testing.cache import cache_dir, tf_env
from fourier.testing.preprocessing import PreprocessingModel, read_saved_model, write_saved_model

__all__ = [
    "NAMES",
    "COUNTRY_VOCAB",
    "AGE_BOUNDARIES",
    "ITEM_BUCKETS",
    "TAG_BUCKETS",
    "WIDTHS",
    "SLOTS",
    "CROSS_BUCKETS",
    "feature_columns_dir",
    "ensure_feature_columns",
    "build",
    "random_requests",
]

COUNTRY_VOCAB = ("us", "de", "fr", "jp", "ru", "españa", "日本", "россия", "🙂")
AGE_BOUNDARIES = (18.0, 25.0, 35.0, 50.0, 65.0)
ITEM_BUCKETS = 1000
TAG_BUCKETS = 50
WIDTHS = {"items": 4, "tags": 3, "country": 2}  # values per row of each string feature
CROSS_BUCKETS = 64
SLOTS, SLOT_WIDTH = 10, 2  # ``slots``: int64 [batch, 2] ids in [0, SLOTS), -1 where missing
EMBED = 8
NAMES = ("input_layer", "dense_features")


def feature_columns_dir() -> Path:
    """Where the model is cached: ``$FOURIER_FEATURE_COLUMNS_DIR`` or ``~/.cache/fourier/feature_columns/<key>``."""
    return cache_dir("feature_columns", "FOURIER_FEATURE_COLUMNS_DIR", __file__)


def _columns(fc: Any) -> list[Any]:
    items = fc.categorical_column_with_hash_bucket("items", ITEM_BUCKETS)
    tags = fc.categorical_column_with_hash_bucket("tags", TAG_BUCKETS)
    country = fc.categorical_column_with_vocabulary_list("country", list(COUNTRY_VOCAB), num_oov_buckets=2)
    age = fc.numeric_column("age")
    return [
        fc.embedding_column(items, EMBED, combiner="mean"),
        fc.embedding_column(tags, EMBED, combiner="sqrtn"),
        fc.embedding_column(country, 4, combiner="sum"),
        fc.indicator_column(country),
        fc.bucketized_column(age, list(AGE_BOUNDARIES)),
        fc.numeric_column("price"),
        fc.numeric_column("clicks"),
        fc.embedding_column(fc.categorical_column_with_identity("slots", SLOTS), 4, combiner="mean"),
        fc.embedding_column(fc.crossed_column(["country", "tags"], CROSS_BUCKETS), 4),
    ]


def _init(weights: list[Any], seed: int, assign: Any) -> None:
    rng = np.random.default_rng(seed)
    for w in sorted(weights, key=lambda w: w.name):
        shape = tuple(int(d) for d in w.shape)
        scale = 0.5 if "embedding" in w.name else 1.0 / np.sqrt(max(shape[0], 1))
        assign(w, rng.normal(0.0, scale, shape).astype(np.float32))


def _save_input_layer(target: Path, seed: int) -> list[str]:
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(seed)
        features = {k: v1.placeholder(tf.string, [None, w], name=k) for k, w in WIDTHS.items()}
        features["slots"] = v1.placeholder(tf.int64, [None, SLOT_WIDTH], name="slots")
        for k in ("age", "price", "clicks"):
            features[k] = v1.placeholder(tf.float32, [None, 1], name=k)
        x = v1.feature_column.input_layer(features, _columns(v1.feature_column))
        for i, width in enumerate((32, 16)):
            x = v1.layers.dense(x, width, activation=tf.nn.relu, name=f"dense_{i}")
        score = v1.layers.dense(x, 1, activation=tf.sigmoid, name="score")
        with v1.Session(graph=graph) as sess:
            sess.run([v1.global_variables_initializer(), v1.tables_initializer()])
            _init(v1.global_variables(), seed, lambda w, value: w.load(value, sess))
            builder = v1.saved_model.Builder(str(target))
            builder.add_meta_graph_and_variables(
                sess,
                [v1.saved_model.tag_constants.SERVING],
                signature_def_map={
                    "serving_default": v1.saved_model.predict_signature_def(features, {"score": score})
                },
                main_op=v1.tables_initializer(),
            )
            builder.save()
    return sorted(features)


def _save_dense_features(target: Path, seed: int) -> list[str]:
    import tensorflow as tf

    tf.keras.backend.clear_session()
    tf.random.set_seed(seed)
    inputs = {k: tf.keras.Input((w,), dtype=tf.string, name=k) for k, w in WIDTHS.items()}
    inputs["slots"] = tf.keras.Input((SLOT_WIDTH,), dtype=tf.int64, name="slots")
    for k in ("age", "price", "clicks"):
        inputs[k] = tf.keras.Input((1,), dtype=tf.float32, name=k)
    x = tf.keras.layers.DenseFeatures(_columns(tf.feature_column), name="features")(inputs)
    for i, width in enumerate((32, 16)):
        x = tf.keras.layers.Dense(width, activation="relu", name=f"dense_{i}")(x)
    out = tf.keras.layers.Dense(1, activation="sigmoid", name="score")(x)
    model = tf.keras.Model(inputs, {"score": out})
    _init(model.weights, seed, lambda w, value: w.assign(value))
    model.save(str(target), include_optimizer=False)
    return sorted(inputs)


def build(out_dir: Path, name: str = "input_layer", seed: int = 1234) -> PreprocessingModel:
    """Build one export (``input_layer`` or ``dense_features``) with TensorFlow and write it as a
    SavedModel ``out_dir/name``."""
    tf_env()
    save = {"input_layer": _save_input_layer, "dense_features": _save_dense_features}[name]
    return write_saved_model(out_dir, name, lambda path: {"inputs": save(path, seed), "outputs": ["score"]})


def ensure_feature_columns(name: str = "input_layer", out_dir: Path | None = None) -> PreprocessingModel:
    """The named export (``input_layer`` or ``dense_features``), built with TensorFlow if not cached."""
    if name not in NAMES:
        raise KeyError(f"unknown feature-column model {name!r}; known: {', '.join(NAMES)}")
    out = out_dir or feature_columns_dir()
    if (out / name / "fourier.json").exists():
        return read_saved_model(out, name)
    return build(out, name)


_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 _-"
_MULTIBYTE = "éüßñçøåœ東京大阪日本語москваπλ🙂🚀👍🏽\u0301\u200d"


def random_requests(batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A request for ``batch`` rows: strings in and out of the vocabulary, empty (a third of them)
    and non-ASCII, ``str`` and ``bytes`` mixed; about one row in five has only empty strings in
    a feature, and row 0 has only empty strings in every feature (and no slot: -1); ages on and
    around the boundaries."""
    rng = np.random.default_rng(seed)

    def word(i: int) -> str | bytes:
        kind = rng.integers(0, 6)
        if kind <= 1:
            s = ""
        elif kind == 2:
            s = COUNTRY_VOCAB[int(rng.integers(len(COUNTRY_VOCAB)))]
        elif kind == 3:
            s = "".join(rng.choice(list(_MULTIBYTE), int(rng.integers(1, 6))))
        else:
            s = "".join(rng.choice(list(_ALPHABET), int(rng.integers(1, 20))))
        return s.encode("utf-8") if i % 2 else s

    out: dict[str, np.ndarray] = {}
    for k, w in WIDTHS.items():
        arr = np.empty(batch * w, dtype=object)
        arr[:] = [word(i) for i in range(batch * w)]
        arr = arr.reshape(batch, w)
        arr[rng.random(batch) < 0.2] = ""
        arr[0] = ""
        out[k] = arr
    ages = np.concatenate([np.array(AGE_BOUNDARIES, np.float32), rng.uniform(0, 90, 16).astype(np.float32)])
    out["age"] = ages[rng.integers(0, len(ages), batch)].reshape(batch, 1)
    out["price"] = rng.uniform(0, 3, (batch, 1)).astype(np.float32)
    out["clicks"] = rng.poisson(3.0, (batch, 1)).astype(np.float32)
    slots = rng.integers(-1, SLOTS, (batch, SLOT_WIDTH))
    slots[rng.random(batch) < 0.2] = -1
    slots[0] = -1
    out["slots"] = slots.astype(np.int64)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(NAMES))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    for name in args.names:
        print(ensure_feature_columns(name, args.out).path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
