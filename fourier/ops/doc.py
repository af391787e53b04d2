"""Write docs/ops.md from the registry: ``python -m fourier.ops.doc docs/ops.md``."""

from __future__ import annotations

import sys
from pathlib import Path

from fourier.ops.padding import rule_of
from fourier.ops.registry import OpDef, all_ops

__all__ = ["COVERAGE_HEADING", "render", "write"]

# docs/ops.md ends with this section, written by `python -m fourier.testing.conformance --coverage
# --write docs/ops.md` (it needs TensorFlow's op list); regenerating the rest keeps it.
COVERAGE_HEADING = "## Coverage against TensorFlow"

_FAMILIES = (
    "basic",
    "math",
    "array",
    "reduce",
    "nn",
    "longtail",
    "image",
    "quant",
    "random",
    "control",
    "host",
    "sparse",
    "fused",
)

_HEAD = """# Ops

Every op the IR can hold, by registry family (`fourier/ops/<family>.py`). Names, inputs and
attributes are TensorFlow's; each entry also holds shape inference with a symbolic batch dim, a
numpy reference and a JAX lowering, and `tests/test_ops.py` runs every one of them through both.
TF ops not listed here are reported at import, all at once, with the nodes that use them. The
`fused` family holds Fourier's own ops, which only passes create (see docs/passes.md). The `host`
family's ops with strings or tables run on the host only (`fourier.host`: a graph holding them is
partitioned, and their lowering refuses them); so do the `sparse` family's (host ops too), whose
output size depends on the values (a `tf.feature_column` model's sparse path): inference writes
that size as `?`, and the partitioner keeps what reads it on the host until a value is per-row
again (`[N, D]`, found by probing), which crosses to the device (docs/serving.md). Every op outside
`fused` and `host` is also checked
against TensorFlow's own kernel over its dtypes, attributes and edge cases
(`tests/test_conformance.py`, `tests/test_ops_longtail.py`); the last section states Fourier's
coverage of TensorFlow's whole op list.
"""

_SEMANTICS = """## Semantics worth knowing

- `GatherV2`: an id outside `[0, rows)` gives a row of zeros (TensorFlow's GPU behaviour;
  TensorFlow's CPU kernel raises instead). The first `batch_dims` dimensions are shared.
- `FusedBatchNorm*` must be in inference mode (`is_training = false`): training-mode batch norm
  uses batch statistics, which mix rows, and is refused at import.
- Convolutions and pooling take NHWC only (TensorFlow's CPU layout); batch norm takes NHWC or
  NCHW (the fusion rules and the ONNX export fold or convert only NHWC).
- `MatMul`, `BatchMatMul*`, `Einsum`, `Conv2D` and the fused dense/conv ops lower with
  `Precision.HIGHEST`, so a GPU does not silently use TF32.
- `Conv2D` and `DepthwiseConv2dNative` lower to XLA's convolution. XLA:CPU runs a depthwise
  convolution 20-30x slower than TensorFlow and a 1x1 convolution ~14x slower than a matmul, so
  the `conv-algorithm` pass gives `FusedConv2D` the faster form (`taps`, `matmul`); with `-O0`
  the plain XLA convolution is what runs.
- Loops (`While`, `StatelessWhile`, and TensorFlow's v1 frames, rebuilt as loops at import) lower
  to `jax.lax.while_loop`, or to a fixed-length loop (`jax.lax.fori_loop`, a scan) when the IR
  proves the trip count (the condition reads only counters updated from counters, each starting
  from a compile-time value). A value a loop carries that nothing reads (TensorFlow 2's gradient
  accumulators: an `EmptyTensorList` pushed to every iteration) is dropped at import
  (`fourier/importer/loops.py`). A TensorList is a fixed-length array; a list reserved with an
  unknown element shape, or an unknown element rank, takes it from the items the body sets. A
  slice whose bounds move with the loop's step but whose size does not (`x[:, t:t + 1]`, an RNN
  reading step `t`) imports as a `GatherV2` of those indices. Passes do not rewrite inside loop
  bodies yet.
- Random ops (`fourier/ops/random.py`): the stateless ones (`StatelessRandom*V2`, alg Philox or
  auto-select; the V1 forms and `StatelessRandomGetKeyCounter` that take a seed pair) compute TensorFlow's Philox4x32-10 values, bit for bit for uniforms and integers,
  normals within 4 ulps (float32 `log`/`sin`/`cos` round differently in glibc, numpy and XLA). The
  stateful ones (`RandomUniform`, `RandomStandardNormal`, `TruncatedNormal`, `RandomUniformInt`)
  change value on every TensorFlow call by design; Fourier computes each as the stateless op keyed
  by its (`seed`, `seed2`) pair, which equals TensorFlow's *first* call in a fresh session, and
  gives the same values on every call. A stateful op with both seeds 0 (TensorFlow seeds it
  nondeterministically) is refused at import, naming the node. `Multinomial` and
  `StatelessMultinomial` are not supported: TensorFlow's CPU kernel draws each work shard's rows
  from one stream skipped ahead by the shard's first row, so a row's samples depend on how its
  thread pool splits the batch (64 rows x 300 samples: 8 of 64 rows match one unsplit stream).
- Quantization simulation (`fourier/ops/quant.py`): `FakeQuant*` and `QuantizeAndDequantizeV2-V4`
  are bit-exact with TensorFlow's kernels; `V2`/`V4` with `range_given` and an `axis` are refused
  (TensorFlow's kernel runs that combination in no form).
- Value-sized outputs decided by an input (`SegmentSum/Mean/Max/Min/Prod`'s ids, `Bincount`'s
  size, `UniqueV2`'s axis) need that input known at compile time; the import error names the node
  and the input otherwise.
"""


_PADDING = """## Padding rules

How each op treats a padded (symbolic) dimension: the facet the independence analysis reads to
prove that padding a request to a bucket leaves the real rows unchanged (docs/passes.md). An op
registers its rule beside itself (`register(..., padding_rule=...)`), or gets the one its traits
imply (`identity`, `elementwise`, `reduction`, `constant`); the building blocks are in
`fourier/ops/padding.py`. Every op has one (`tests/test_independence.py` walks the registry).

| rule | set in | ops |
|---|---|---|"""


def _padding(ops: dict[str, OpDef]) -> list[str]:
    rows: dict[tuple[str, str], list[str]] = {}
    for family in _FAMILIES:
        for name, d in ops.items():
            rule = rule_of(d)
            if d.family != family or rule is None:
                continue
            what = " ".join((rule.__doc__ or "").split())
            source = f"`{family}.py`" if d.padding_rule is not None else "its traits"
            rows.setdefault((what, source), []).append(name)
    lines = [_PADDING]
    for (what, source), names in rows.items():
        lines.append(f"| {what} | {source} | {' '.join(f'`{n}`' for n in names)} |")
    return [*lines, ""]


def render() -> str:
    """The full text of docs/ops.md."""
    ops = all_ops()
    parts = [_HEAD]
    for family in _FAMILIES:
        parts.append(f"## {family}\n\n| op | inputs | attributes | what |\n|---|---|---|---|")
        for name, d in ops.items():
            if d.family != family:
                continue
            n = str(d.min_inputs) if d.max_inputs == d.min_inputs else f"{d.min_inputs}+"
            if d.max_inputs is not None and d.max_inputs != d.min_inputs:
                n = f"{d.min_inputs}-{d.max_inputs}"
            attrs = ", ".join(a.name for a in d.attrs)
            parts.append(f"| `{name}` | {n} | {attrs} | {d.doc.splitlines()[0] if d.doc else ''} |")
        parts.append("")
    parts.extend(_padding(ops))
    parts.append(_SEMANTICS)
    return "\n".join(parts)


def write(path: Path) -> None:
    """Write the registry part of docs/ops.md, keeping the coverage section it ends with."""
    old = path.read_text() if path.exists() else ""
    _, heading, tail = old.partition("\n" + COVERAGE_HEADING)
    path.write_text(render() + (heading + tail if heading else ""))


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/ops.md"))
