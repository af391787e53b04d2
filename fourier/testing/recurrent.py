"""Recurrent graphs: Keras GRU and LSTM models frozen with their loops, for control flow.

Keras recurrent layers freeze to loops over the time axis whose bodies read and write TensorLists;
``tf.cond`` freezes to a conditional.
`convert_variables_to_constants_v2` leaves them in one of two forms, and each model is built in
both:

- ``lower_control_flow=False``: functional ``While`` / ``StatelessWhile`` nodes whose ``cond`` and
  ``body`` are functions of the GraphDef's library (suffix ``_functional``);
- ``lower_control_flow=True`` (the default): the v1 frame form, ``Enter`` / ``Merge`` / ``Switch``
  / ``NextIteration`` / ``Exit`` / ``LoopCond`` (suffix ``_frames``).

The models, built with TensorFlow and Keras 2 (``tf-keras``) and seeded random weights, with an
unknown batch and an unknown sequence length (the importer names it ``S``):

- ``gru_text``  ``Embedding(VOCAB, 16)`` -> ``GRU(32)`` -> ``Dense(1)`` over int32 token ids ``[N, S]``
- ``lstm_seq``  ``LSTM(16, return_sequences=True)`` -> ``LSTM(8)`` -> ``Dense(1)`` over float32
  features ``[N, S, FEATURES]``
- ``cond_len``  ``Dense(4)`` over features ``[N, S, FEATURES]``, then a ``tf.cond`` on the sequence
  length (the maximum over time when it is longer than ``COND_LENGTH``, else the mean), ``Dense(1)``
  (frozen with ``lower_control_flow=False``: ``StatelessIf``; with ``True``: ``Switch``/``Merge``
  outside any loop frame)

Cached under ``$FOURIER_RECURRENT_DIR`` or ``~/.cache/fourier/recurrent/<key>``, the key hashing
this file and the TensorFlow version::

    python -m fourier.testing.recurrent [--out DIR] [names...]
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

__all__ = [
    "MODELS",
    "FORMS",
    "RECURRENT_NAMES",
    "RecurrentGraph",
    "recurrent_dir",
    "ensure_recurrent",
    "random_inputs",
]

VOCAB = 50
FEATURES = 8
COND_LENGTH = 6
MODELS = ("gru_text", "lstm_seq", "cond_len")
FORMS = ("functional", "frames")  # lower_control_flow=False, =True
RECURRENT_NAMES = tuple(f"{m}_{f}" for m in MODELS for f in FORMS)


@dataclass(frozen=True)
class RecurrentGraph:
    """A frozen recurrent graph on disk: its input (name, dtype, shape without batch, ``-1`` for
    the unknown sequence length) and output names."""

    name: str
    pb: Path
    input_name: str
    input_dtype: str
    input_shape: tuple[int, ...]
    outputs: tuple[str, ...]


def recurrent_dir() -> Path:
    """Where recurrent graphs are cached: ``$FOURIER_RECURRENT_DIR`` or
    ``~/.cache/fourier/recurrent/<key>``."""
    return cache_dir("recurrent", "FOURIER_RECURRENT_DIR", __file__)


def _randomize(model: Any, seed: int) -> None:
    """Seeded weights: scaled so that the gates neither saturate nor vanish."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        shape = tuple(int(d) for d in w.shape)
        if len(shape) <= 1:
            value = rng.normal(0.0, 0.1, shape)
        else:
            value = rng.normal(0.0, 1.0 / np.sqrt(max(shape[0], 1)), shape)
        w.assign(value.astype(w.dtype.as_numpy_dtype))


def _gru_text() -> Any:
    import tensorflow as tf

    ids = tf.keras.Input(shape=(None,), dtype="int32", name="tokens")
    x = tf.keras.layers.Embedding(VOCAB, 16)(ids)
    x = tf.keras.layers.GRU(32)(x)
    return tf.keras.Model(ids, tf.keras.layers.Dense(1)(x))


def _lstm_seq() -> Any:
    import tensorflow as tf

    feats = tf.keras.Input(shape=(None, FEATURES), dtype="float32", name="features")
    x = tf.keras.layers.LSTM(16, return_sequences=True)(feats)
    x = tf.keras.layers.LSTM(8)(x)
    return tf.keras.Model(feats, tf.keras.layers.Dense(1)(x))


def _cond_len() -> Any:
    import tensorflow as tf

    def pool(x: Any) -> Any:
        longer = tf.shape(x)[1] > COND_LENGTH
        return tf.cond(longer, lambda: tf.reduce_max(x, axis=1), lambda: tf.reduce_mean(x, axis=1))

    feats = tf.keras.Input(shape=(None, FEATURES), dtype="float32", name="features")
    x = tf.keras.layers.Dense(4)(feats)
    x = tf.keras.layers.Lambda(pool)(x)
    return tf.keras.Model(feats, tf.keras.layers.Dense(1)(x))


_BUILDERS: dict[str, Callable[[], Any]] = {
    "gru_text": _gru_text,
    "lstm_seq": _lstm_seq,
    "cond_len": _cond_len,
}


def _freeze(model: Any, lower_control_flow: bool) -> tuple[Any, str, list[str]]:
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    inp = model.inputs[0]
    name = inp.name.split(":")[0]
    spec = tf.TensorSpec([None, *inp.shape[1:]], inp.dtype, name=name)

    @tf.function
    def serve(x: Any) -> Any:
        return model(x, training=False)

    frozen = convert_variables_to_constants_v2(
        serve.get_concrete_function(spec), lower_control_flow=lower_control_flow
    )
    graph_def = frozen.graph.as_graph_def()
    outputs = [t.name.split(":")[0] for t in frozen.outputs]
    inputs = [t.name.split(":")[0] for t in frozen.inputs]
    return graph_def, inputs[0], outputs


def build(name: str, out_dir: Path, seed: int = 1234) -> RecurrentGraph:
    """Build one recurrent graph (``MODEL_FORM``) with TensorFlow; write ``NAME.pb`` and ``NAME.json``."""
    tf_env()
    import tensorflow as tf

    if name not in RECURRENT_NAMES:
        raise KeyError(f"unknown recurrent graph {name!r}; known: {', '.join(RECURRENT_NAMES)}")
    model_name, _, form = name.rpartition("_")
    tf.keras.backend.clear_session()
    tf.random.set_seed(seed)
    np.random.seed(seed)
    model = _BUILDERS[model_name]()
    _randomize(model, seed)
    graph_def, input_name, outputs = _freeze(model, lower_control_flow=form == "frames")
    inp = model.inputs[0]
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / f"{name}.pb", graph_def.SerializeToString())
    meta = {
        "name": name,
        "input": input_name,
        "dtype": inp.dtype.name,
        "shape": [-1 if d is None else int(d) for d in inp.shape[1:]],
        "outputs": outputs,
    }
    atomic_write(out_dir / f"{name}.json", json.dumps(meta, indent=1).encode())
    return _read(out_dir, name)


def _read(out_dir: Path, name: str) -> RecurrentGraph:
    meta = json.loads((out_dir / f"{name}.json").read_text())
    return RecurrentGraph(
        name,
        out_dir / f"{name}.pb",
        meta["input"],
        meta["dtype"],
        tuple(meta["shape"]),
        tuple(meta["outputs"]),
    )


def ensure_recurrent(
    names: Iterable[str] = RECURRENT_NAMES, out_dir: Path | None = None
) -> dict[str, RecurrentGraph]:
    """The named recurrent graphs, building (with TensorFlow) the ones not cached yet."""
    out = out_dir or recurrent_dir()
    result = {}
    for name in names:
        if name not in RECURRENT_NAMES:
            raise KeyError(f"unknown recurrent graph {name!r}; known: {', '.join(RECURRENT_NAMES)}")
        have = (out / f"{name}.pb").exists() and (out / f"{name}.json").exists()
        result[name] = _read(out, name) if have else build(name, out)
    return result


def random_inputs(graph: RecurrentGraph, batch: int, length: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs for ``batch`` sequences of ``length`` steps: token ids in ``[0, VOCAB)`` or
    standard-normal features."""
    rng = np.random.default_rng(seed)
    shape = (batch, *(length if d == -1 else d for d in graph.input_shape))
    if graph.input_dtype.startswith("int"):
        return {graph.input_name: rng.integers(0, VOCAB, shape).astype(graph.input_dtype)}
    return {graph.input_name: rng.standard_normal(shape).astype(graph.input_dtype)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(RECURRENT_NAMES))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    for name, g in ensure_recurrent(args.names, args.out).items():
        print(f"{name}: {g.pb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
