"""The model zoo: real models frozen into GraphDefs with seeded random weights.

Builds, with TensorFlow and public packages (`deepctr`, Keras applications, Keras layers):

- ``mlp``          a 3-layer MLP (64 -> 256 -> 256 -> 1), also shipped as the quickstart example
- ``deepfm``, ``dcn``, ``wdl``, ``xdeepfm``  deepctr models on a Criteo-like layout
  (26 sparse features, vocab 10 000, embedding dim 16; 13 dense features)
- ``din``          deepctr DIN with two behaviour histories of length 50
- ``mobilenetv2``  Keras MobileNetV2, ``weights=None``, logits out
- ``transformer``  a 2-layer encoder (MultiHeadAttention + LayerNormalization), sequence 128
- ``bst``          a behaviour-sequence transformer (after Alibaba's BST): a user's item history of
  *unknown* length (time-gap buckets as positions, padding ids masked) goes through a
  self-attention block, then target attention pools it for an MLP with the dense features
- ``fgcnn``        deepctr FGCNN (convolutions generate features; pairwise inner products of 95
  fields, which took XLA 16 s per bucket before ``concat-of-unpack-pieces``)
- ``deepctr_bst``  deepctr's own BST: its Transformer splits the heads with ``tf.split`` along the
  features and stacks them along the batch (``[h*N, T, d]``), then splits them back; a fixed
  history of 50 items with a length input that masks the attention and the pooling
- ``fibinet``      deepctr FiBiNET (SENET field weights; bilinear interactions of all 325 field
  pairs, twice: 650 ``[N, 16] x [16, 16]`` products)
- ``fwfm``, ``onn``  deepctr FwFM (field-pair weights: slices along the field axis) and ONN
  (field-aware embeddings: 26 x 26 tables of vocab 1000, dim 4) on the same Criteo-like layout
- ``twotower``     a two-tower ranking model: a user tower (user id, the mean of the user's item
  history of length 50, dense profile; MLP 256-128-64) and an item tower (item id, category,
  dense item features; MLP 128-64) scored by their dot product; one row per (user, candidate)
- ``ranker``       a candidate ranker: one user and a list of candidate items of *unknown* length
  per request; a user tower and an item tower meet per candidate, which an MLP scores on its own
  (scores ``[N, S]``: padding the candidate list is provably safe, unlike ``bst``'s history)

Every graph is frozen with its batch dimension unknown (``bst`` and ``ranker`` also a length). Output goes to a cache directory keyed by
this file's contents and the TensorFlow version, so test runs reuse it::

    python -m fourier.testing.zoo [--out DIR] [names...]

Each model is written as ``NAME.pb`` plus ``NAME.json``, which describes how to draw valid random
inputs (id ranges, history padding) for tests and benchmarks.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fourier.testing.cache import atomic_write, cache_dir, tf_env

__all__ = ["ZOO_NAMES", "ZooModel", "zoo_dir", "ensure_zoo", "random_inputs"]

ZOO_NAMES = (
    "mlp",
    "deepfm",
    "dcn",
    "wdl",
    "xdeepfm",
    "din",
    "mobilenetv2",
    "transformer",
    "bst",
    "ranker",
    "twotower",
    "fwfm",
    "onn",
    "fgcnn",
    "deepctr_bst",
    "fibinet",
)

N_SPARSE, N_DENSE, VOCAB, EMB_DIM, HIST_LEN = 26, 13, 10_000, 16, 50
SEQ_LEN, TOKEN_VOCAB, D_MODEL = 128, 1000, 64
BST_ITEMS, BST_GAPS, BST_DIM, BST_SEQ = 5000, 64, 32, 20  # BST_SEQ: history length random_inputs draws
RANKER_USERS, RANKER_ITEMS = 1000, 5000
ONN_VOCAB, ONN_DIM = 1000, 4  # ONN keeps one table per field pair: 26 x 26 of them
TOWER_USERS, TOWER_ITEMS, TOWER_CATEGORIES = 5000, 5000, 100
COMPILE_DIMS = {
    "bst": {"S": [16, 32, 64]},
    "ranker": {"S": [16, 64]},
}  # history lengths compiled ahead of time
IMAGE_SIZE = 224


@dataclass(frozen=True)
class ZooModel:
    """A frozen zoo graph on disk and the recipe for valid random inputs."""

    name: str
    pb: Path
    inputs: tuple[dict[str, Any], ...]
    outputs: tuple[str, ...]
    dims: dict[str, list[int]]  # sizes to compile for each unknown non-batch dimension (--dim)


def zoo_dir() -> Path:
    """Where the zoo is cached: ``$FOURIER_ZOO_DIR`` or ``~/.cache/fourier/zoo/<key>``."""
    return cache_dir("zoo", "FOURIER_ZOO_DIR", __file__)


# ---------------------------------------------------------------------------------------------
# weights


def _randomize(model: Any, seed: int) -> None:
    """Give every weight a seeded random value of a sensible scale (BatchNorm statistics too)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        name, shape = w.name.lower(), tuple(int(d) for d in w.shape)
        if "moving_variance" in name or "gamma" in name:
            value = rng.uniform(0.5, 1.5, shape)
        elif "moving_mean" in name or "beta" in name:
            value = rng.normal(0.0, 0.1, shape)
        elif "embedding" in name and len(shape) == 2:
            value = rng.normal(0.0, 0.05, shape)
        elif len(shape) <= 1:
            value = rng.normal(0.0, 0.05, shape)
        else:
            fan_in = int(np.prod(shape[:2])) if "depthwise" in name else int(np.prod(shape[:-1]))
            value = rng.normal(0.0, 1.0 / np.sqrt(max(fan_in, 1)), shape)
        w.assign(value.astype(w.dtype.as_numpy_dtype))


def _freeze(model: Any) -> tuple[Any, list[str]]:
    """Freeze a Keras model to a GraphDef whose inputs keep their names and an unknown batch."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    specs = [
        tf.TensorSpec([None, *inp.shape[1:]], inp.dtype, name=inp.name.split(":")[0]) for inp in model.inputs
    ]

    @tf.function
    def serve(*args: Any) -> Any:
        return model(list(args) if len(args) > 1 else args[0], training=False)

    frozen = convert_variables_to_constants_v2(serve.get_concrete_function(*specs))
    graph_def = frozen.graph.as_graph_def()
    outputs = [t.name.split(":")[0] for t in frozen.outputs]
    return graph_def, outputs


# ---------------------------------------------------------------------------------------------
# models


def _criteo_columns(seed: int) -> tuple[list[Any], list[Any]]:
    import tensorflow as tf
    from deepctr.feature_column import DenseFeat, SparseFeat

    init = tf.keras.initializers.RandomNormal
    sparse = [
        SparseFeat(f"C{i}", VOCAB, EMB_DIM, embeddings_initializer=init(0.0, 0.05, seed=seed + i))
        for i in range(1, N_SPARSE + 1)
    ]
    dense = [DenseFeat(f"I{i}", 1) for i in range(1, N_DENSE + 1)]
    return sparse, dense


def _criteo_spec() -> list[dict[str, Any]]:
    spec: list[dict[str, Any]] = [
        {"name": f"C{i}", "dtype": "int32", "shape": [1], "low": 0, "high": VOCAB}
        for i in range(1, N_SPARSE + 1)
    ]
    spec += [
        {"name": f"I{i}", "dtype": "float32", "shape": [1], "low": 0.0, "high": 1.0}
        for i in range(1, N_DENSE + 1)
    ]
    return spec


def _build_mlp(seed: int) -> tuple[Any, list[dict[str, Any]]]:
    import tensorflow as tf

    x = tf.keras.Input((64,), name="features")
    h = tf.keras.layers.Dense(256, activation="relu")(x)
    h = tf.keras.layers.Dense(256, activation="relu")(h)
    y = tf.keras.layers.Dense(1, activation="sigmoid")(h)
    spec = [{"name": "features", "dtype": "float32", "shape": [64], "low": -1.0, "high": 1.0}]
    return tf.keras.Model(x, y), spec


def _deepctr(kind: str) -> Callable[[int], tuple[Any, list[dict[str, Any]]]]:
    def build(seed: int) -> tuple[Any, list[dict[str, Any]]]:
        from deepctr import models

        sparse, dense = _criteo_columns(seed)
        cols = sparse + dense
        if kind == "deepfm":
            model = models.DeepFM(cols, cols, task="binary", seed=seed)
        elif kind == "dcn":
            model = models.DCN(cols, cols, cross_num=2, task="binary", seed=seed)
        elif kind == "wdl":
            model = models.WDL(cols, cols, task="binary", seed=seed)
        elif kind == "xdeepfm":
            model = models.xDeepFM(cols, cols, cin_layer_size=(64, 64), task="binary", seed=seed)
        elif kind == "fwfm":
            model = models.FwFM(cols, cols, task="binary", seed=seed)
        elif kind == "fgcnn":
            model = models.FGCNN(cols, cols, task="binary", seed=seed)
        elif kind == "fibinet":
            model = models.FiBiNET(cols, cols, task="binary", seed=seed)
        else:
            raise ValueError(kind)
        return model, _criteo_spec()

    return build


def _build_onn(seed: int) -> tuple[Any, list[dict[str, Any]]]:
    import tensorflow as tf
    from deepctr.feature_column import DenseFeat, SparseFeat
    from deepctr.models import ONN

    init = tf.keras.initializers.RandomNormal
    sparse = [
        SparseFeat(f"C{i}", ONN_VOCAB, ONN_DIM, embeddings_initializer=init(0.0, 0.05, seed=seed + i))
        for i in range(1, N_SPARSE + 1)
    ]
    dense = [DenseFeat(f"I{i}", 1) for i in range(1, N_DENSE + 1)]
    model = ONN(sparse + dense, sparse + dense, task="binary", seed=seed)
    spec = [dict(s, high=ONN_VOCAB) if s["name"].startswith("C") else s for s in _criteo_spec()]
    return model, spec


def _build_din(seed: int) -> tuple[Any, list[dict[str, Any]]]:
    import tensorflow as tf
    from deepctr.feature_column import SparseFeat, VarLenSparseFeat
    from deepctr.models import DIN

    sparse, dense = _criteo_columns(seed)
    init = tf.keras.initializers.RandomNormal
    history = [
        VarLenSparseFeat(
            SparseFeat(
                f"hist_C{i}",
                VOCAB,
                EMB_DIM,
                embedding_name=f"C{i}",
                embeddings_initializer=init(0.0, 0.05, seed=seed + i),
            ),
            maxlen=HIST_LEN,
            # As deepctr users export it: a length input the attention never reads (it masks the
            # zero padding instead); Fourier keeps it in the signature and ignores it.
            length_name="seq_length",
        )
        for i in (1, 2)
    ]
    model = DIN(sparse + dense + history, history_feature_list=["C1", "C2"], seed=seed)
    spec = _criteo_spec() + [
        {
            "name": f"hist_C{i}",
            "dtype": "int32",
            "shape": [HIST_LEN],
            "low": 1,
            "high": VOCAB,
            "history": True,
        }
        for i in (1, 2)
    ]
    spec.append({"name": "seq_length", "dtype": "int32", "shape": [1], "low": 0, "high": HIST_LEN + 1})
    return model, spec


def _build_deepctr_bst(seed: int) -> tuple[Any, list[dict[str, Any]]]:
    import tensorflow as tf
    from deepctr.feature_column import DenseFeat, SparseFeat, VarLenSparseFeat
    from deepctr.models import BST

    init = tf.keras.initializers.RandomNormal
    columns = [
        SparseFeat("user", TOWER_USERS, 8, embeddings_initializer=init(0.0, 0.05, seed=seed)),
        SparseFeat("item", BST_ITEMS, BST_DIM, embeddings_initializer=init(0.0, 0.05, seed=seed + 1)),
        DenseFeat("user_features", N_DENSE),
        VarLenSparseFeat(
            SparseFeat("hist_item", BST_ITEMS, BST_DIM, embedding_name="item"),
            maxlen=HIST_LEN,
            length_name="seq_length",  # masks the self-attention and the target attention
        ),
    ]
    model = BST(columns, ["item"], att_head_num=4, seed=seed)
    spec = [
        {"name": "user", "dtype": "int32", "shape": [1], "low": 0, "high": TOWER_USERS},
        {"name": "item", "dtype": "int32", "shape": [1], "low": 1, "high": BST_ITEMS},
        {"name": "user_features", "dtype": "float32", "shape": [N_DENSE], "low": 0.0, "high": 1.0},
        {
            "name": "hist_item",
            "dtype": "int32",
            "shape": [HIST_LEN],
            "low": 1,
            "high": BST_ITEMS,
            "history": True,
        },
        # random_inputs gives the history's length; "low"/"high" serve readers that draw freely
        {
            "name": "seq_length",
            "dtype": "int32",
            "shape": [1],
            "low": 0,
            "high": HIST_LEN + 1,
            "length_of": "hist_item",
        },
    ]
    return model, spec


def _build_mobilenetv2(seed: int) -> tuple[Any, list[dict[str, Any]]]:
    import tensorflow as tf

    model = tf.keras.applications.MobileNetV2(
        input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), weights=None, classifier_activation=None
    )
    name = model.inputs[0].name.split(":")[0]
    spec = [
        {"name": name, "dtype": "float32", "shape": [IMAGE_SIZE, IMAGE_SIZE, 3], "low": -1.0, "high": 1.0}
    ]
    return model, spec


def _build_transformer(seed: int) -> tuple[Any, list[dict[str, Any]]]:
    import tensorflow as tf

    layers = tf.keras.layers

    class PositionEmbedding(layers.Layer):  # type: ignore[misc, name-defined]
        """Adds a learned position embedding to the token embeddings."""

        def build(self, input_shape: Any) -> None:
            self.pos = self.add_weight(
                name="position_embedding", shape=(SEQ_LEN, D_MODEL), initializer="zeros"
            )

        def call(self, x: Any) -> Any:
            return x + self.pos

    tokens = tf.keras.Input((SEQ_LEN,), dtype="int32", name="tokens")
    x = layers.Embedding(TOKEN_VOCAB, D_MODEL, name="token_embedding")(tokens)
    x = PositionEmbedding()(x)
    for _ in range(2):
        attn = layers.MultiHeadAttention(num_heads=4, key_dim=D_MODEL // 4)(x, x)
        x = layers.LayerNormalization(epsilon=1e-6)(x + attn)
        ff = layers.Dense(4 * D_MODEL, activation="gelu")(x)
        ff = layers.Dense(D_MODEL)(ff)
        x = layers.LayerNormalization(epsilon=1e-6)(x + ff)
    x = layers.GlobalAveragePooling1D()(x)
    y = layers.Dense(1, activation="sigmoid")(x)
    spec = [{"name": "tokens", "dtype": "int32", "shape": [SEQ_LEN], "low": 0, "high": TOKEN_VOCAB}]
    return tf.keras.Model(tokens, y), spec


def _build_bst(seed: int) -> tuple[Any, list[dict[str, Any]]]:
    import tensorflow as tf

    layers = tf.keras.layers
    item = tf.keras.Input((1,), dtype="int32", name="item")
    history = tf.keras.Input((None,), dtype="int32", name="hist_items")
    gaps = tf.keras.Input((None,), dtype="int32", name="hist_gaps")
    dense = tf.keras.Input((N_DENSE,), name="user_features")
    items = layers.Embedding(BST_ITEMS, BST_DIM, name="item_embedding")
    target = items(item)  # [N, 1, d]
    seq = items(history) + layers.Embedding(BST_GAPS, BST_DIM, name="gap_embedding")(gaps)
    valid = layers.Lambda(lambda h: tf.cast(tf.not_equal(h, 0), "float32"))(history)  # [N, S]
    self_mask = layers.Lambda(lambda v: v[:, None, :] * v[:, :, None])(valid)  # [N, S, S]
    attn = layers.MultiHeadAttention(num_heads=4, key_dim=BST_DIM // 4)(seq, seq, attention_mask=self_mask)
    seq = layers.LayerNormalization(epsilon=1e-6)(seq + attn)
    ff = layers.Dense(2 * BST_DIM, activation="relu")(seq)
    seq = layers.LayerNormalization(epsilon=1e-6)(seq + layers.Dense(BST_DIM)(ff))
    pool_mask = layers.Lambda(lambda v: v[:, None, :])(valid)  # [N, 1, S]
    pooled = layers.MultiHeadAttention(num_heads=2, key_dim=BST_DIM // 2)(
        target, seq, attention_mask=pool_mask
    )
    x = layers.Concatenate()([layers.Flatten()(pooled), layers.Flatten()(target), dense])
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dense(64, activation="relu")(x)
    y = layers.Dense(1, activation="sigmoid")(x)
    spec = [
        {"name": "item", "dtype": "int32", "shape": [1], "low": 1, "high": BST_ITEMS},
        {
            "name": "hist_items",
            "dtype": "int32",
            "shape": ["S"],
            "low": 1,
            "high": BST_ITEMS,
            "history": True,
        },
        {"name": "hist_gaps", "dtype": "int32", "shape": ["S"], "low": 0, "high": BST_GAPS},
        {"name": "user_features", "dtype": "float32", "shape": [N_DENSE], "low": 0.0, "high": 1.0},
    ]
    return tf.keras.Model([item, history, gaps, dense], y), spec


def _build_ranker(seed: int) -> tuple[Any, list[dict[str, Any]]]:
    import tensorflow as tf

    layers = tf.keras.layers
    user_ids = tf.keras.Input((4,), dtype="int32", name="user_ids")  # user, age, region, device
    user_dense = tf.keras.Input((8,), name="user_dense")
    items = tf.keras.Input((None,), dtype="int32", name="cand_items")  # [N, S]
    item_dense = tf.keras.Input((None, 4), name="cand_dense")  # [N, S, 4]: price, stats
    user = layers.Flatten()(layers.Embedding(RANKER_USERS, 8, name="user_embedding")(user_ids))
    user = layers.Dense(64, activation="relu")(layers.Concatenate()([user, user_dense]))  # [N, 64]
    item = layers.Embedding(RANKER_ITEMS, 16, name="item_embedding")(items)  # [N, S, 16]
    item = layers.Dense(64, activation="relu")(layers.Concatenate()([item, item_dense]))  # [N, S, 64]
    both = layers.Lambda(lambda t: t[0] * tf.expand_dims(t[1], 1))([item, user])
    x = layers.Dense(32, activation="relu")(layers.Concatenate()([both, item]))
    score = layers.Lambda(lambda t: tf.squeeze(t, -1))(layers.Dense(1, activation="sigmoid")(x))
    spec = [
        {"name": "user_ids", "dtype": "int32", "shape": [4], "low": 0, "high": RANKER_USERS},
        {"name": "user_dense", "dtype": "float32", "shape": [8], "low": 0.0, "high": 1.0},
        {"name": "cand_items", "dtype": "int32", "shape": ["S"], "low": 1, "high": RANKER_ITEMS},
        {"name": "cand_dense", "dtype": "float32", "shape": ["S", 4], "low": 0.0, "high": 1.0},
    ]
    return tf.keras.Model([user_ids, user_dense, items, item_dense], score), spec


def _build_twotower(seed: int) -> tuple[Any, list[dict[str, Any]]]:
    import tensorflow as tf

    layers = tf.keras.layers
    user_id = tf.keras.Input((1,), dtype="int32", name="user_id")
    user_hist = tf.keras.Input((HIST_LEN,), dtype="int32", name="user_hist")  # item ids, 0 = padding
    user_dense = tf.keras.Input((8,), name="user_dense")
    item_id = tf.keras.Input((1,), dtype="int32", name="item_id")
    item_cat = tf.keras.Input((1,), dtype="int32", name="item_cat")
    item_dense = tf.keras.Input((4,), name="item_dense")
    items = layers.Embedding(TOWER_ITEMS, 32, name="item_embedding")  # shared by history and candidate
    user = layers.Concatenate()(
        [
            layers.Flatten()(layers.Embedding(TOWER_USERS, 32, name="user_embedding")(user_id)),
            layers.GlobalAveragePooling1D()(items(user_hist)),
            user_dense,
        ]
    )
    for width in (256, 128):
        user = layers.Dense(width, activation="relu")(user)
    user = layers.Dense(64, name="user_vector")(user)
    item = layers.Concatenate()(
        [
            layers.Flatten()(items(item_id)),
            layers.Flatten()(layers.Embedding(TOWER_CATEGORIES, 16, name="category_embedding")(item_cat)),
            item_dense,
        ]
    )
    item = layers.Dense(128, activation="relu")(item)
    item = layers.Dense(64, name="item_vector")(item)
    score = layers.Activation("sigmoid")(layers.Dot(axes=1)([user, item]))
    spec = [
        {"name": "user_id", "dtype": "int32", "shape": [1], "low": 0, "high": TOWER_USERS},
        {
            "name": "user_hist",
            "dtype": "int32",
            "shape": [HIST_LEN],
            "low": 1,
            "high": TOWER_ITEMS,
            "history": True,
        },
        {"name": "user_dense", "dtype": "float32", "shape": [8], "low": 0.0, "high": 1.0},
        {"name": "item_id", "dtype": "int32", "shape": [1], "low": 1, "high": TOWER_ITEMS},
        {"name": "item_cat", "dtype": "int32", "shape": [1], "low": 0, "high": TOWER_CATEGORIES},
        {"name": "item_dense", "dtype": "float32", "shape": [4], "low": 0.0, "high": 1.0},
    ]
    inputs = [user_id, user_hist, user_dense, item_id, item_cat, item_dense]
    return tf.keras.Model(inputs, score), spec


_BUILDERS: dict[str, Callable[[int], tuple[Any, list[dict[str, Any]]]]] = {
    "mlp": _build_mlp,
    "deepfm": _deepctr("deepfm"),
    "dcn": _deepctr("dcn"),
    "wdl": _deepctr("wdl"),
    "xdeepfm": _deepctr("xdeepfm"),
    "din": _build_din,
    "mobilenetv2": _build_mobilenetv2,
    "transformer": _build_transformer,
    "bst": _build_bst,
    "ranker": _build_ranker,
    "twotower": _build_twotower,
    "fwfm": _deepctr("fwfm"),
    "onn": _build_onn,
    "fgcnn": _deepctr("fgcnn"),
    "deepctr_bst": _build_deepctr_bst,
    "fibinet": _deepctr("fibinet"),
}


def build_model(name: str, out_dir: Path, seed: int = 1234) -> ZooModel:
    """Build one zoo model with TensorFlow and write ``NAME.pb`` and ``NAME.json``."""
    tf_env()
    import tensorflow as tf

    tf.keras.backend.clear_session()
    tf.random.set_seed(seed)
    np.random.seed(seed)
    model, spec = _BUILDERS[name](seed)
    _randomize(model, seed)
    graph_def, outputs = _freeze(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / f"{name}.pb", graph_def.SerializeToString())
    meta = {"name": name, "inputs": spec, "outputs": outputs, "dims": COMPILE_DIMS.get(name, {})}
    atomic_write(out_dir / f"{name}.json", json.dumps(meta, indent=1).encode())
    return _read(out_dir, name)


def _read(out_dir: Path, name: str) -> ZooModel:
    meta = json.loads((out_dir / f"{name}.json").read_text())
    return ZooModel(
        name,
        out_dir / f"{name}.pb",
        tuple(meta["inputs"]),
        tuple(meta["outputs"]),
        dict(meta.get("dims", {})),
    )


def ensure_zoo(names: Iterable[str] = ZOO_NAMES, out_dir: Path | None = None) -> dict[str, ZooModel]:
    """Return the named zoo models, building (with TensorFlow) the ones not cached yet."""
    out = out_dir or zoo_dir()
    result = {}
    for name in names:
        if name not in _BUILDERS:
            raise KeyError(f"unknown zoo model {name!r}; known: {', '.join(ZOO_NAMES)}")
        have = (out / f"{name}.pb").exists() and (out / f"{name}.json").exists()
        result[name] = _read(out, name) if have else build_model(name, out)
    return result


def random_inputs(model: ZooModel, batch: int, seed: int = 0, seq: int = BST_SEQ) -> dict[str, np.ndarray]:
    """Valid random inputs for a zoo model: ids inside each vocabulary, histories zero-padded,
    a ``length_of`` input the length of the history it names (its ids before the padding).
    A dimension the model leaves unknown (``"S"``) gets ``seq``."""
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for spec in model.inputs:
        shape = (batch, *(seq if isinstance(d, str) else d for d in spec["shape"]))
        if "length_of" in spec:
            counts = np.count_nonzero(feeds[spec["length_of"]], axis=-1).reshape(shape)
            feeds[spec["name"]] = counts.astype(spec["dtype"])
            continue
        if spec["dtype"].startswith("int"):
            value = rng.integers(spec["low"], spec["high"], shape).astype(spec["dtype"])
            if spec.get("history"):
                lengths = rng.integers(0, shape[-1] + 1, (batch, 1))
                value = np.where(np.arange(shape[-1]) < lengths, value, 0).astype(spec["dtype"])
        else:
            value = rng.uniform(spec["low"], spec["high"], shape).astype(spec["dtype"])
        feeds[spec["name"]] = value
    return feeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", default=list(ZOO_NAMES))
    parser.add_argument("--out", type=Path, default=None, help="output directory")
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    args = parser.parse_args(argv)
    out = args.out or zoo_dir()
    for name in args.names:
        if args.force or not (out / f"{name}.pb").exists():
            model = build_model(name, out)
        else:
            model = _read(out, name)
        print(f"{name:12s} {model.pb}  ({model.pb.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
