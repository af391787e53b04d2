"""deepctr's DIEN (interest evolution: a GRU over the behaviour history, then an attention-gated
AUGRU), frozen with its loops, as the control-flow test a ranking team would bring.

deepctr builds DIEN's recurrent layers from TensorFlow 1 internals (``rnn_v2.dynamic_rnn`` over a
v1 ``while_loop``), which TensorFlow 2.21 no longer exports under the old names, and which only
trace in graph mode. The builder therefore runs in its own process (graph mode is global to a
process) and puts back, under their old names, the four public functions deepctr reaches for:
``array_ops.stack`` (``tf.stack``), ``control_flow_ops.Assert`` (``tf.debugging.Assert``),
``control_flow_ops.while_loop`` (``tf.compat.v1.while_loop``) and ``nest.is_sequence``
(``nest.is_nested``). The model is DIEN as deepctr defines it, with seeded random weights; it is
frozen with ``convert_variables_to_constants`` from a session, so its loops are in the v1 frame form
(``Enter``/``Merge``/``Switch``/``NextIteration``/``Exit``/``LoopCond``) and read and write
``TensorArray`` s.

Inputs (batch unknown): ``user``, ``item``, ``cate`` int32 ``[N, 1]``, ``score`` float32
``[N, 1]``, the histories ``hist_item`` / ``hist_cate`` int32 ``[N, HIST_LEN]`` (zero-padded),
``seq_length`` int32 ``[N, 1]`` (the number of real history entries: the GRUs stop there).

Cached under ``$FOURIER_DIEN_DIR`` or ``~/.cache/fourier/dien/<key>``::

    python -m fourier.testing.dien [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fourier.testing.cache import atomic_write, cache_dir, tf_env

__all__ = ["HIST_LEN", "DienGraph", "dien_dir", "ensure_dien", "random_inputs"]

USERS, ITEMS, CATES, EMB_DIM, HIST_LEN = 1000, 5000, 100, 8, 20
SEED = 1234


@dataclass(frozen=True)
class DienGraph:
    """The frozen DIEN on disk: its inputs (name, dtype, shape without batch) and output names."""

    pb: Path
    inputs: tuple[tuple[str, str, tuple[int, ...]], ...]
    outputs: tuple[str, ...]


def dien_dir() -> Path:
    """Where the frozen DIEN is cached: ``$FOURIER_DIEN_DIR`` or ``~/.cache/fourier/dien/<key>``."""
    return cache_dir("dien", "FOURIER_DIEN_DIR", __file__)


def _old_names() -> None:
    """Put back the TensorFlow 1 names deepctr's recurrent layers call (see the module doc)."""
    import tensorflow as tf
    from tensorflow.python.ops import array_ops, control_flow_ops
    from tensorflow.python.util import nest

    restore = [
        (array_ops, "stack", tf.stack),
        (control_flow_ops, "Assert", tf.debugging.Assert),
        (control_flow_ops, "while_loop", tf.compat.v1.while_loop),
        (nest, "is_sequence", nest.is_nested),
    ]
    for module, name, value in restore:
        if not hasattr(module, name):
            setattr(module, name, value)


def _build(out_dir: Path, seed: int) -> None:
    """Build and freeze DIEN in this process (which it leaves in graph mode)."""
    tf_env()
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    _old_names()
    from deepctr.feature_column import DenseFeat, SparseFeat, VarLenSparseFeat
    from deepctr.models import DIEN

    # inference, fixed at build time: batch normalization (in DIN's Dice) then holds no
    # training-phase conditional that reads its moving averages inside a function
    tf.compat.v1.keras.backend.set_learning_phase(0)
    tf.compat.v1.set_random_seed(seed)
    np.random.seed(seed)
    init = tf.keras.initializers.RandomNormal
    feats = [
        SparseFeat("user", USERS, EMB_DIM, embeddings_initializer=init(0.0, 0.05, seed=seed)),
        SparseFeat("item", ITEMS, EMB_DIM, embeddings_initializer=init(0.0, 0.05, seed=seed + 1)),
        SparseFeat("cate", CATES, EMB_DIM, embeddings_initializer=init(0.0, 0.05, seed=seed + 2)),
        DenseFeat("score", 1),
    ]
    for name, vocab in (("item", ITEMS), ("cate", CATES)):
        feats.append(
            VarLenSparseFeat(
                SparseFeat(f"hist_{name}", vocab, EMB_DIM, embedding_name=name),
                maxlen=HIST_LEN,
                length_name="seq_length",
            )
        )
    model = DIEN(feats, ["item", "cate"], gru_type="AUGRU", use_negsampling=False, seed=seed)
    session = tf.compat.v1.keras.backend.get_session()
    rng = np.random.default_rng(seed)
    for w in model.weights:  # gates neither saturated nor vanishing
        shape = tuple(int(d) for d in w.shape)
        if "moving_variance" in w.name:  # a variance: positive
            value = rng.uniform(0.5, 1.5, shape)
        elif "embedding" in w.name:  # rows that make a difference downstream
            value = rng.normal(0.0, 0.5, shape)
        else:
            scale = 0.1 if len(shape) <= 1 else 1.0 / np.sqrt(max(shape[0], 1))
            value = rng.normal(0.0, scale, shape)
        w.load(value.astype(w.dtype.as_numpy_dtype), session)
    outputs = [t.op.name for t in model.outputs]
    frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
        session, session.graph.as_graph_def(), outputs
    )
    frozen = tf.compat.v1.graph_util.extract_sub_graph(frozen, outputs)
    inputs = []
    for t in model.inputs:
        # deepctr names the second use of the shared length input ``seq_length_1``; the graph has
        # one placeholder per Input layer, both fed the same lengths
        shape = tuple(int(d) for d in t.shape[1:])
        inputs.append((t.op.name, t.dtype.name, shape))
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / "dien.pb", frozen.SerializeToString())
    meta = {"inputs": [[n, d, list(s)] for n, d, s in inputs], "outputs": outputs}
    atomic_write(out_dir / "dien.json", json.dumps(meta, indent=1).encode())


def _read(out_dir: Path) -> DienGraph:
    meta = json.loads((out_dir / "dien.json").read_text())
    inputs = tuple((n, d, tuple(s)) for n, d, s in meta["inputs"])
    return DienGraph(out_dir / "dien.pb", inputs, tuple(meta["outputs"]))


def ensure_dien(out_dir: Path | None = None) -> DienGraph:
    """The frozen DIEN, built (with TensorFlow and deepctr, in a child process) if not cached."""
    out = out_dir or dien_dir()
    if not ((out / "dien.pb").exists() and (out / "dien.json").exists()):
        env = dict(os.environ)
        cmd = [sys.executable, "-m", "fourier.testing.dien", "--out", str(out)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"building DIEN failed ({' '.join(cmd)}):\n{done.stderr[-4000:]}")
    return _read(out)


def random_inputs(graph: DienGraph, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A request of ``batch`` rows: ids in range, histories zero-padded after a random length in
    ``[1, HIST_LEN]`` (every length-input placeholder fed the same lengths)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, HIST_LEN + 1, (batch, 1)).astype(np.int32)
    vocab = {"user": USERS, "item": ITEMS, "cate": CATES, "hist_item": ITEMS, "hist_cate": CATES}
    feeds: dict[str, np.ndarray] = {}
    for name, dtype, shape in graph.inputs:
        if name.startswith("seq_length"):
            feeds[name] = lengths
        elif name.startswith("hist_"):
            ids = rng.integers(1, vocab[name], (batch, *shape))
            ids[np.arange(shape[0])[None, :] >= lengths] = 0
            feeds[name] = ids.astype(dtype)
        elif dtype.startswith("int"):
            feeds[name] = rng.integers(1, vocab[name], (batch, *shape)).astype(dtype)
        else:
            feeds[name] = rng.uniform(0.0, 1.0, (batch, *shape)).astype(dtype)
    return feeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    out: Any = args.out or dien_dir()
    _build(Path(out), args.seed)
    print(out / "dien.pb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
