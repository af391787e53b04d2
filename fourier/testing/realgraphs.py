"""Real graphs: Keras applications frozen the way users freeze them, for the importer's hard cases.

Unlike the zoo (`fourier.testing.zoo`), these graphs keep what `convert_variables_to_constants_v2`
leaves in a modern Keras model: calls into the GraphDef's function library (``PartitionedCall`` /
``StatefulPartitionedCall``, e.g. a grouped convolution Keras compiles with ``jit_compile=True``)
and ``IdentityN`` (every custom-gradient activation freezes to one). Built with TensorFlow and
Keras 2 (``tf-keras``), seeded random weights, a small input size and an unknown batch:

- ``efficientnetb0``  ``EfficientNetB0(weights=None)`` at 64x64 (swish activations)
- ``convnexttiny``    ``ConvNeXtTiny(weights=None)`` at 64x64 (grouped depthwise convolutions
  inside jit-compiled functions, LayerNormalization, GELU)

Cached under ``$FOURIER_REALGRAPHS_DIR`` or ``~/.cache/fourier/realgraphs/<key>``, the key hashing
this file and the TensorFlow version::

    python -m fourier.testing.realgraphs [--out DIR] [names...]
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

__all__ = ["REAL_NAMES", "RealGraph", "realgraphs_dir", "ensure_realgraphs", "random_inputs"]

IMAGE_SIZE = 64
REAL_NAMES = ("efficientnetb0", "convnexttiny")


@dataclass(frozen=True)
class RealGraph:
    """A frozen real graph on disk: its input (name, shape without batch) and output names."""

    name: str
    pb: Path
    input_name: str
    input_shape: tuple[int, ...]
    outputs: tuple[str, ...]


def realgraphs_dir() -> Path:
    """Where real graphs are cached: ``$FOURIER_REALGRAPHS_DIR`` or ``~/.cache/fourier/realgraphs/<key>``."""
    return cache_dir("realgraphs", "FOURIER_REALGRAPHS_DIR", __file__)


def _randomize(model: Any, seed: int) -> None:
    """Seeded weights of a sensible scale (normalisation statistics and scales near 1)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        name, shape = w.name.lower(), tuple(int(d) for d in w.shape)
        if w.dtype.is_integer:  # counters (a Normalization layer's count)
            continue
        if "normalization/" in name and name.rsplit("/", 1)[-1].startswith(("mean", "variance")):
            # the input Normalization layer (pixels / 255): ImageNet-like statistics
            value = np.full(shape, 0.45 if "mean" in name.rsplit("/", 1)[-1] else 0.05)
        elif "moving_variance" in name or "gamma" in name:
            value = rng.uniform(0.5, 1.5, shape)
        elif "moving_mean" in name or "beta" in name:
            value = rng.normal(0.0, 0.1, shape)
        elif len(shape) <= 1:
            value = rng.normal(0.0, 0.05, shape)
        else:
            # a depthwise [kh, kw, C, 1] or grouped [kh, kw, 1, C] kernel sums kh * kw terms
            depthwise = "depthwise" in name or shape[-2] == 1
            fan_in = int(np.prod(shape[:-2])) if depthwise else int(np.prod(shape[:-1]))
            value = rng.normal(0.0, 1.0 / np.sqrt(max(fan_in, 1)), shape)
        w.assign(value.astype(w.dtype.as_numpy_dtype))


def _calibrate(model: Any, seed: int) -> None:
    """Set every BatchNormalization's moving statistics to the ones its input really has on
    sample images (momentum 0, one call in training mode), as training would: with random
    statistics a deep network's activations drift until its output no longer depends on the
    input, and a comparison with TensorFlow would prove little."""
    import tensorflow as tf

    bns = [layer for layer in _layers(model) if isinstance(layer, tf.keras.layers.BatchNormalization)]
    for layer in bns:
        layer.momentum = 0.0
    sample = _images(np.random.default_rng(seed), 16, (IMAGE_SIZE, IMAGE_SIZE, 3))
    model(sample, training=True)
    for layer in bns:
        layer.momentum = 0.99


def _layers(model: Any) -> list[Any]:
    out = []
    for layer in model.layers:
        out.extend(_layers(layer) if hasattr(layer, "layers") else [layer])
    return out


def _images(rng: np.random.Generator, batch: int, shape: tuple[int, ...]) -> np.ndarray:
    """Image-like pixels in 0..255: a colour per image, a smooth pattern and some noise (pure noise
    averages out in a few strided layers, leaving outputs that barely differ per image)."""
    h, w, c = shape
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    colour = rng.uniform(40, 215, (batch, 1, 1, c))
    fy, fx, phase = (rng.uniform(0.5, 4, (batch, 1, 1, c)) for _ in range(3))
    pattern = 40 * np.sin(2 * np.pi * (fy * yy[None, :, :, None] + fx * xx[None, :, :, None]) + phase)
    noise = rng.normal(0, 10, (batch, h, w, c))
    return np.clip(colour + pattern + noise, 0, 255).astype(np.float32)


def _freeze(model: Any) -> tuple[Any, str, list[str]]:
    """Freeze with `convert_variables_to_constants_v2`, keeping the function library as it is."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    inp = model.inputs[0]
    name = inp.name.split(":")[0]
    spec = tf.TensorSpec([None, *inp.shape[1:]], inp.dtype, name=name)

    @tf.function
    def serve(x: Any) -> Any:
        return model(x, training=False)

    frozen = convert_variables_to_constants_v2(serve.get_concrete_function(spec))
    graph_def = frozen.graph.as_graph_def()
    outputs = [t.name.split(":")[0] for t in frozen.outputs]
    inputs = [t.name.split(":")[0] for t in frozen.inputs]
    return graph_def, inputs[0], outputs


def _efficientnetb0() -> Any:
    import tensorflow as tf

    return tf.keras.applications.EfficientNetB0(
        weights=None, input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), classifier_activation=None
    )


def _convnexttiny() -> Any:
    import tensorflow as tf

    return tf.keras.applications.ConvNeXtTiny(
        weights=None, input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), classifier_activation=None
    )


_BUILDERS: dict[str, Callable[[], Any]] = {"efficientnetb0": _efficientnetb0, "convnexttiny": _convnexttiny}


def build(name: str, out_dir: Path, seed: int = 1234) -> RealGraph:
    """Build one real graph with TensorFlow and write ``NAME.pb`` and ``NAME.json``."""
    tf_env()
    import tensorflow as tf

    tf.keras.backend.clear_session()
    tf.random.set_seed(seed)
    np.random.seed(seed)
    model = _BUILDERS[name]()
    _randomize(model, seed)
    _calibrate(model, seed)
    graph_def, input_name, outputs = _freeze(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(out_dir / f"{name}.pb", graph_def.SerializeToString())
    meta = {
        "name": name,
        "input": input_name,
        "shape": [IMAGE_SIZE, IMAGE_SIZE, 3],
        "outputs": outputs,
    }
    atomic_write(out_dir / f"{name}.json", json.dumps(meta, indent=1).encode())
    return _read(out_dir, name)


def _read(out_dir: Path, name: str) -> RealGraph:
    meta = json.loads((out_dir / f"{name}.json").read_text())
    return RealGraph(
        name, out_dir / f"{name}.pb", meta["input"], tuple(meta["shape"]), tuple(meta["outputs"])
    )


def ensure_realgraphs(names: Iterable[str] = REAL_NAMES, out_dir: Path | None = None) -> dict[str, RealGraph]:
    """The named real graphs, building (with TensorFlow) the ones not cached yet."""
    out = out_dir or realgraphs_dir()
    result = {}
    for name in names:
        if name not in _BUILDERS:
            raise KeyError(f"unknown real graph {name!r}; known: {', '.join(REAL_NAMES)}")
        have = (out / f"{name}.pb").exists() and (out / f"{name}.json").exists()
        result[name] = _read(out, name) if have else build(name, out)
    return result


def random_inputs(graph: RealGraph, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Image-like inputs (0..255, as Keras' rescaling layers expect) for ``batch`` images."""
    shape = graph.input_shape
    return {graph.input_name: _images(np.random.default_rng(seed), batch, (shape[0], shape[1], shape[2]))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(REAL_NAMES))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    for name, g in ensure_realgraphs(args.names, args.out).items():
        print(f"{name}: {g.pb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
