"""TensorFlow as the oracle: run a frozen GraphDef with TensorFlow itself.

oneDNN's graph rewrites are turned off (``TF_ENABLE_ONEDNN_OPTS=0``) before TensorFlow is
imported: its LayerNorm fusion uses the wrong epsilon and changes a transformer's outputs by 2.6 %
(measured with TF 2.21 on the zoo's transformer), which would make the oracle wrong, not Fourier.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["TFGraph"]


class TFGraph:
    """A frozen graph loaded into a TensorFlow session, run on dicts of numpy arrays."""

    def __init__(self, pb: str | Path, outputs: Sequence[str] | None = None) -> None:
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString(Path(pb).read_bytes())
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.compat.v1.import_graph_def(graph_def, name="")
        if outputs is None:
            from fourier.importer import load_graph

            outputs = [name for name, _ in load_graph(pb).outputs]
        self.outputs = list(outputs)
        config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=2, inter_op_parallelism_threads=1)
        self.session = tf.compat.v1.Session(graph=self.graph, config=config)
        self._fetches = [self.graph.get_tensor_by_name(o if ":" in o else o + ":0") for o in self.outputs]

    def __call__(self, feeds: Mapping[str, Any]) -> dict[str, np.ndarray]:
        feed = {self.graph.get_tensor_by_name(k + ":0"): v for k, v in feeds.items()}
        values = self.session.run(self._fetches, feed_dict=feed)
        return dict(zip(self.outputs, values))
