"""Every registered op: numpy reference vs JAX lowering on random inputs, and inferred types.

Before: a one-op graph (Placeholders for data, Consts for shape-like operands).
Expected: the JAX lowering equals the reference (float32 rtol 1e-5; integers and bools exactly),
and every output's shape and dtype equal what the op's inference said.
A last test fails if a registry entry has no case here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np
import pytest

from fourier.backends.jax_lowering import lower_graph
from fourier.interpreter import run_reference
from fourier.ir.core import Graph
from fourier.ir.verifier import verify
from fourier.ops.registry import all_ops

rng = np.random.default_rng(0)


@dataclass
class C:
    """An operand given as a constant (shape-like operands must be known at compile time)."""

    value: Any

    def __post_init__(self) -> None:
        self.value = np.asarray(self.value)


@dataclass
class Case:
    op: str
    inputs: list[Any]
    attrs: dict[str, Any] = field(default_factory=dict)
    id: str = ""


def f32(*shape: int, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return rng.uniform(lo, hi, shape).astype(np.float32)


def i32(*shape: int, lo: int = 0, hi: int = 10) -> np.ndarray:
    return rng.integers(lo, hi, shape).astype(np.int32)


def boolean(*shape: int) -> np.ndarray:
    return rng.integers(0, 2, shape).astype(bool)


POSITIVE = {"Log", "Sqrt", "Rsqrt", "Log1p", "Reciprocal", "Inv"}


def _auto_cases() -> list[Case]:
    cases = []
    for name, opdef in all_ops().items():
        if "elementwise" not in opdef.traits or any(
            a.default is not None and a.kind == "type" for a in opdef.attrs
        ):
            continue
        if name in ("Cast", "BiasAdd", "SelectV2", "AddN", "FusedElementwise"):
            continue
        if opdef.min_inputs == 1:
            if name == "LogicalNot":
                x = boolean(3, 4)
            elif name in POSITIVE:
                x = f32(3, 4, lo=0.5, hi=2.0)
            else:
                x = f32(3, 4)
            cases.append(Case(name, [x], id=name))
        elif opdef.min_inputs == 2:
            if name in ("LogicalAnd", "LogicalOr"):
                a, b = boolean(4, 1, 3), boolean(5, 3)
            elif name in ("Pow", "FloorDiv", "FloorMod", "RealDiv"):
                a, b = f32(4, 1, 3, lo=0.5, hi=3), f32(5, 3, lo=0.5, hi=3)
            else:
                a, b = f32(4, 1, 3), f32(5, 3)
            cases.append(Case(name, [a, b], id=name))
    return cases


STRIDED = {"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0, "shrink_axis_mask": 0}
CONV = {
    "strides": [1, 1, 1, 1],
    "padding": "SAME",
    "explicit_paddings": [],
    "data_format": "NHWC",
    "dilations": [1, 1, 1, 1],
}
POOL = {
    "ksize": [1, 3, 3, 1],
    "strides": [1, 2, 2, 1],
    "padding": "SAME",
    "explicit_paddings": [],
    "data_format": "NHWC",
}
BN = {"epsilon": 1e-3, "data_format": "NHWC", "is_training": False, "exponential_avg_factor": 1.0}

MANUAL = [
    Case("Const", [], {"value": np.arange(6, dtype=np.float32).reshape(2, 3)}),
    Case("Identity", [f32(2, 3)]),
    Case("StopGradient", [f32(2, 3)]),
    Case("PreventGradient", [f32(2, 3)]),
    Case("Snapshot", [f32(2, 3)]),
    Case("Cast", [f32(3, 4, lo=-5, hi=5)], {"DstT": "int32", "Truncate": False}, "f32->i32"),
    Case("Cast", [i32(3, 4)], {"DstT": "float32", "Truncate": False}, "i32->f32"),
    Case("Cast", [boolean(3, 4)], {"DstT": "float32", "Truncate": False}, "bool->f32"),
    Case("AddN", [f32(2, 3), f32(2, 3), f32(2, 3)]),
    Case("SelectV2", [boolean(4, 1), f32(4, 3), f32(1, 3)]),
    Case("Select", [boolean(4), f32(4, 3), f32(4, 3)], id="vector-cond"),
    Case("BiasAdd", [f32(2, 5, 3), f32(3)], {"data_format": "NHWC"}),
    Case("LeakyRelu", [f32(3, 4)], {"alpha": 0.3}),
    Case("Shape", [f32(2, 5, 3)], {"out_type": "int32"}),
    Case("Size", [f32(2, 5, 3)], {"out_type": "int32"}),
    Case("Rank", [f32(2, 5, 3)]),
    Case("Reshape", [f32(2, 6), C([3, -1])]),
    Case("Transpose", [f32(2, 3, 4), C([2, 0, 1])]),
    Case("ExpandDims", [f32(2, 3), C(-1)]),
    Case("Squeeze", [f32(2, 1, 3, 1)], {"squeeze_dims": [1]}, "one-axis"),
    Case("Squeeze", [f32(2, 1, 3, 1)], {"squeeze_dims": []}, "all"),
    Case("ConcatV2", [f32(2, 3), f32(2, 5), C(1)]),
    Case("Pack", [f32(2, 3), f32(2, 3)], {"axis": 1}),
    Case("Unpack", [f32(2, 3, 4)], {"num": 3, "axis": 1}),
    Case("Split", [C(1), f32(2, 6)], {"num_split": 3}),
    Case("SplitV", [f32(2, 7), C([2, -1, 1]), C(1)], {"num_split": 3}),
    Case("StridedSlice", [f32(4, 5, 6), C([1, 0, 2]), C([3, 5, -1]), C([1, 2, 1])], dict(STRIDED), "basic"),
    Case(
        "StridedSlice",
        [f32(4, 5), C([0, 2]), C([0, 3]), C([1, 1])],
        dict(STRIDED, begin_mask=1, end_mask=1, shrink_axis_mask=2),
        "masks",
    ),
    Case(
        "StridedSlice",
        [f32(4, 5, 6), C([0, 1]), C([0, 2]), C([1, 1])],
        dict(STRIDED, ellipsis_mask=1, new_axis_mask=0),
        "ellipsis",
    ),
    Case(
        "StridedSlice",
        [f32(4, 5), C([0, 0]), C([0, 0]), C([1, 1])],
        dict(STRIDED, begin_mask=1, end_mask=1, new_axis_mask=2),
        "new-axis",
    ),
    Case("Slice", [f32(4, 5), C([1, 2]), C([2, -1])]),
    Case("GatherV2", [f32(10, 4), i32(3, 2, hi=10), C(0)], {"batch_dims": 0}, "rows"),
    Case("GatherV2", [f32(3, 10), i32(5, hi=10), C(1)], {"batch_dims": 0}, "axis1"),
    Case(
        "GatherV2", [f32(10, 4), np.array([0, 9, 10, -1], np.int32), C(0)], {"batch_dims": 0}, "out-of-range"
    ),
    Case("Fill", [C([2, 3]), C(np.float32(1.5))]),
    Case("ZerosLike", [f32(2, 3)]),
    Case("OnesLike", [f32(2, 3)]),
    Case("Tile", [f32(2, 3), C([2, 1])]),
    Case("BroadcastTo", [f32(1, 3), C([4, 3])]),
    Case("Pad", [f32(2, 3), C([[1, 0], [2, 1]])]),
    Case("PadV2", [f32(2, 3), C([[1, 0], [2, 1]]), C(np.float32(-1.0))]),
    Case("MirrorPad", [f32(3, 4), C([[1, 1], [2, 0]])], {"mode": "REFLECT"}),
    Case("Range", [C(1), C(10), C(3)], {"Tidx": "int32"}),
    Case("OneHot", [i32(4, hi=5), C(5), C(np.float32(1)), C(np.float32(0))], {"axis": -1}),
    Case("Sum", [f32(2, 3, 4), C([1])], {"keep_dims": False}),
    Case("Sum", [i32(2, 3), C([0, 1])], {"keep_dims": True}, "int-keep"),
    Case("Mean", [f32(2, 3, 4), C([1, 2])], {"keep_dims": True}),
    Case("Mean", [i32(2, 3, lo=-9, hi=9), C([1])], {"keep_dims": False}, "int"),
    Case("Prod", [f32(2, 3), C([1])], {"keep_dims": False}),
    Case("Max", [f32(2, 3), C([0])], {"keep_dims": False}),
    Case("Min", [f32(2, 3), C([-1])], {"keep_dims": False}),
    Case("All", [boolean(3, 4), C([1])], {"keep_dims": False}),
    Case("Any", [boolean(3, 4), C([1])], {"keep_dims": False}),
    Case("ArgMax", [f32(3, 4), C(1)], {"output_type": "int64"}),
    Case("ArgMin", [f32(3, 4), C(0)], {"output_type": "int32"}),
    Case("Cumsum", [f32(3, 4), C(1)], {"exclusive": False, "reverse": False}),
    Case("TopKV2", [f32(3, 5), C(3)], {"sorted": True, "index_type": "int32"}),
    Case("TopKV2", [np.array([[1, 3, 3, 0, 3]], np.float32), C(5)], {}, "ties-lower-index-first"),
    Case("Cumsum", [f32(3, 4), C(1)], {"exclusive": True, "reverse": True}, "exclusive-reverse"),
    Case("MatMul", [f32(3, 4), f32(4, 5)], {"transpose_a": False, "transpose_b": False}),
    Case("MatMul", [f32(4, 3), f32(5, 4)], {"transpose_a": True, "transpose_b": True}, "transposed"),
    Case("BatchMatMul", [f32(2, 3, 4), f32(2, 4, 5)], {"adj_x": False, "adj_y": False}),
    Case("BatchMatMulV2", [f32(2, 1, 3, 4), f32(3, 5, 4)], {"adj_x": False, "adj_y": True}),
    Case("BatchMatMulV3", [f32(2, 4, 3), f32(2, 4, 5)], {"adj_x": True, "adj_y": False}),
    Case("Einsum", [f32(2, 3, 4), f32(4, 5)], {"equation": "abc,cd->abd"}),
    Case("Einsum", [f32(2, 3, 4, 6), f32(2, 5, 4, 6)], {"equation": "...qhd,...khd->...hqk"}, "ellipsis"),
    Case("Conv2D", [f32(2, 7, 7, 3), f32(3, 3, 3, 4)], dict(CONV), "same"),
    Case(
        "Conv2D",
        [f32(2, 8, 8, 3), f32(3, 3, 3, 4)],
        dict(CONV, strides=[1, 2, 2, 1], padding="VALID"),
        "valid-s2",
    ),
    Case("Conv2D", [f32(2, 5, 5, 6), f32(1, 1, 6, 4)], dict(CONV), "1x1"),
    Case(
        "Conv2D",
        [f32(1, 6, 6, 2), f32(3, 3, 2, 2)],
        dict(CONV, padding="EXPLICIT", explicit_paddings=[0, 0, 1, 2, 2, 1, 0, 0]),
        "explicit",
    ),
    Case("Conv2D", [f32(1, 9, 9, 2), f32(3, 3, 2, 2)], dict(CONV, dilations=[1, 2, 2, 1]), "dilated"),
    Case("DepthwiseConv2dNative", [f32(2, 7, 7, 3), f32(3, 3, 3, 1)], dict(CONV), "same"),
    Case(
        "DepthwiseConv2dNative",
        [f32(2, 8, 8, 3), f32(3, 3, 3, 2)],
        dict(CONV, strides=[1, 2, 2, 1], padding="VALID"),
        "multiplier",
    ),
    Case("MaxPool", [f32(2, 7, 7, 3)], dict(POOL)),
    Case("AvgPool", [f32(2, 7, 7, 3)], dict(POOL)),
    Case("FusedBatchNorm", [f32(2, 3, 3, 4), f32(4), f32(4), f32(4), f32(4, lo=0.5, hi=2)], dict(BN)),
    Case("FusedBatchNormV2", [f32(2, 3, 3, 4), f32(4), f32(4), f32(4), f32(4, lo=0.5, hi=2)], dict(BN)),
    Case("FusedBatchNormV3", [f32(2, 3, 3, 4), f32(4), f32(4), f32(4), f32(4, lo=0.5, hi=2)], dict(BN)),
    Case("Softmax", [f32(3, 5)]),
    Case("LogSoftmax", [f32(3, 5)]),
    # Fourier's own ops, made by passes.
    Case("FusedDense", [f32(3, 4), f32(4, 5), f32(5)], {"activation": "Relu"}, "relu"),
    Case("FusedDense", [f32(2, 3, 4), f32(4, 5)], {"activation": "Gelu"}, "rank3-gelu-nobias"),
    Case("FusedDense", [f32(3, 4), f32(4, 5), f32(5)], {"activation": "Swish"}, "swish"),
    Case("FusedDense", [f32(3, 4), f32(4, 5), f32(5)], {"activation": "Relu6"}, "relu6"),
    Case("FusedDense", [f32(3, 4), f32(4, 5), f32(5)], {"activation": "Sigmoid"}, "sigmoid"),
    Case("FusedDense", [f32(3, 4), f32(4, 5), f32(5)], {"activation": "Tanh"}, "tanh"),
    Case("FusedConv2D", [f32(2, 7, 7, 3), f32(3, 3, 3, 4), f32(4)], dict(CONV, activation="Relu6"), "xla"),
    Case(
        "FusedConv2D",
        [f32(2, 5, 5, 6), f32(1, 1, 6, 4), f32(4)],
        dict(CONV, algorithm="matmul"),
        "1x1-matmul",
    ),
    Case(
        "FusedConv2D",
        [f32(2, 8, 8, 3), f32(3, 3, 3, 2), f32(6)],
        dict(CONV, strides=[1, 2, 2, 1], depthwise=True, algorithm="taps", activation="Relu"),
        "depthwise-taps",
    ),
    Case(
        "FusedConv2D",
        [f32(2, 8, 8, 3), f32(3, 3, 3, 1)],
        dict(CONV, depthwise=True, algorithm="xla"),
        "depthwise-xla",
    ),
    Case("LayerNorm", [f32(2, 3, 8), f32(8), f32(8)], {"epsilon": 1e-6}),
    Case("EmbeddingBag", [f32(10, 4), i32(3, 5, lo=-2, hi=12)], {"combiner": "sum"}, "sum-oob"),
    Case("EmbeddingBag", [f32(10, 4), i32(3, 5)], {"combiner": "mean", "keep_dims": True}, "mean-keep"),
    Case("BatchBroadcast", [f32(1, 4), i32(5, 2)], {"axis": 0, "inner": 1}, "rows"),
    Case("BatchBroadcast", [f32(2, 3, 4), i32(5, 1)], {"axis": 1, "inner": 3}, "folded"),
    # dilated 3-D windows: TensorFlow's CPU kernels refuse dilations, so taps vs XLA's convolution here
    Case(
        "Conv3D",
        [f32(2, 6, 7, 8, 3), f32(2, 3, 2, 3, 2)],
        {"strides": [1, 1, 2, 1, 1], "padding": "SAME", "dilations": [1, 2, 1, 3, 1]},
        "dilated",
    ),
    Case(
        "Conv3DBackpropInputV2",
        [C(np.array([1, 6, 7, 8, 3], np.int32)), f32(2, 3, 2, 3, 2), f32(1, 5, 3, 6, 2)],
        {"strides": [1] * 5, "padding": "VALID", "dilations": [1, 1, 2, 2, 1]},
        "dilated",
    ),
    Case(
        "FusedElementwise",
        [f32(3, 4), f32(4)],
        {"body": '[["Mul", [0, 1], {}], ["Relu", [2], {}], ["AddV2", [3, 0], {}]]'},
    ),
]

# the long tail's later additions, quantization simulation, random numbers
_KEY, _CTR = C(np.array([12345], np.uint64)), C(np.array([3, 2**33], np.uint64))
MANUAL += [
    Case("ReverseSequence", [f32(3, 5, 2), C(np.array([2, 5, 0], np.int64))], {"seq_dim": 1, "batch_dim": 0}),
    Case("MatrixDiag", [f32(2, 3)]),
    Case("MatrixDiagV2", [f32(2, 3, 3), C([-1, 1]), C(-1), C(-1), C(np.float32(7))]),
    Case("MatrixDiagPart", [f32(2, 3, 4)]),
    Case("MatrixDiagPartV2", [f32(2, 4, 3), C([-2, 0]), C(np.float32(0))]),
    Case("MatrixSetDiag", [f32(2, 3, 4), f32(2, 3)]),
    Case("MatrixSetDiagV2", [f32(3, 4), f32(2, 3), C([-1, 0])]),
    Case("PopulationCount", [rng.integers(-(2**31), 2**31 - 1, (3, 4)).astype(np.int32)]),
    *[
        Case(f"Segment{k}", [f32(5, 3), C(np.array([0, 0, 2, 2, 3], np.int32))])
        for k in ("Mean", "Max", "Min", "Prod")
    ],
    *[
        Case(f"TensorScatter{k}", [f32(4, 3), C(np.array([[1], [3], [1]], np.int32)), f32(3, 3)])
        for k in ("Add", "Sub", "Max", "Min")
    ],
    Case("TensorScatterUpdate", [f32(4, 3), C(np.array([[1, 2], [3, 0]], np.int64)), f32(2)]),
    Case("Bincount", [i32(9, hi=7), C(np.int32(5)), f32(9)]),
    Case(
        "DenseBincount", [i32(2, 6, hi=7), C(np.int32(5)), np.zeros(0, np.float32)], {"binary_output": True}
    ),
    Case("FakeQuantWithMinMaxVars", [f32(3, 4, lo=-8, hi=8), np.float32(-6), np.float32(6)]),
    Case(
        "FakeQuantWithMinMaxVarsPerChannel",
        [f32(3, 4), np.array([-1, -2, 0.1, -3], np.float32), np.array([1, 2, 3, 0.5], np.float32)],
    ),
    Case(
        "QuantizeAndDequantizeV2", [f32(3, 4), C(np.float32(-1)), C(np.float32(1))], {"round_mode": "HALF_UP"}
    ),
    Case(
        "QuantizeAndDequantizeV3",
        [f32(3, 4), C(np.float32(-1)), C(np.float32(1)), C(np.int32(5))],
        {"range_given": True},
    ),
    Case(
        "QuantizeAndDequantizeV4",
        [f32(3, 4), C(np.zeros(4, np.float32)), C(np.zeros(4, np.float32))],
        {"axis": 1},
    ),
    *[
        Case(op, [C(np.array([3, 5], np.int32)), _KEY, _CTR, C(np.int32(1))], {"dtype": "float32"})
        for op in ("StatelessRandomUniformV2", "StatelessRandomNormalV2", "StatelessTruncatedNormalV2")
    ],
    Case(
        "StatelessRandomUniformIntV2",
        [C(np.array([4, 3], np.int64)), _KEY, _CTR, C(np.int32(3)), C(np.int64(-3)), C(np.int64(40))],
    ),
    *[
        Case(op, [C(np.array([3, 5], np.int32))], {"dtype": "float64", "seed": 4, "seed2": 1})
        for op in ("RandomUniform", "RandomStandardNormal", "TruncatedNormal")
    ],
    Case(
        "RandomUniformInt",
        [C(np.array([6], np.int32)), C(np.int32(0)), C(np.int32(9))],
        {"seed": 1, "seed2": 0},
    ),
    Case("StatelessRandomGetKeyCounter", [np.array([3, -4], np.int64)]),
    *[
        Case(op, [C(np.array([2, 5], np.int32)), np.array([7, 8], np.int32)], {"dtype": "float64"})
        for op in ("StatelessRandomUniform", "StatelessRandomNormal", "StatelessTruncatedNormal")
    ],
    Case(
        "StatelessRandomUniformInt",
        [C(np.array([9], np.int32)), np.array([1, 2], np.int64), C(np.int32(-4)), C(np.int32(4))],
    ),
]

CASES = _auto_cases() + MANUAL


def _graph(case: Case) -> tuple[Graph, dict[str, np.ndarray]]:
    g = Graph("case")
    feeds: dict[str, np.ndarray] = {}
    values = []
    for i, x in enumerate(case.inputs):
        if isinstance(x, C):
            node = g.add_node("Const", [], {"value": x.value}, name=f"c{i}")
        else:
            node = g.add_node("Placeholder", [], {"dtype": x.dtype.name, "shape": x.shape}, name=f"x{i}")
            feeds[node.name] = x
        values.append(node.output)
    node = g.add_node(case.op, values, case.attrs)
    g.set_outputs([(f"out{i}", v) for i, v in enumerate(node.outputs)])
    return g, feeds


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c.op}-{c.id}" if c.id and c.id != c.op else c.op for c in CASES]
)
def test_reference_matches_lowering(case: Case) -> None:
    graph, feeds = _graph(case)
    verify(graph)
    want = run_reference(graph, feeds)
    lowered = lower_graph(graph, param_min_bytes=1 << 40)
    with jax.enable_x64(True):
        got = jax.jit(lowered.fn)([], [feeds[n] for n in lowered.input_names])
    for (name, value), out in zip(graph.outputs, got):
        out = np.asarray(out)
        ref = want[name]
        assert out.dtype.name == value.type.dtype == ref.dtype.name, name
        assert value.type.is_static and tuple(out.shape) == value.type.shape == ref.shape, (
            f"{name}: lowered {out.shape}, reference {ref.shape}, inferred {value.type}"
        )
        if np.issubdtype(ref.dtype, np.floating):
            np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(out, ref)


def test_every_registered_op_has_a_case() -> None:
    from tests.test_control_flow import COVERED as CONTROL  # regions and lists run both forms there
    from tests.test_host import COVERED as HOST  # host-only ops: reference vs TensorFlow there
    from tests.test_host_ops_nms import COVERED as NMS  # host-only: reference vs TensorFlow there
    from tests.test_ops_longtail import COVERED as LONGTAIL  # the long tail runs both forms there

    covered = {c.op for c in CASES} | {"Placeholder"} | LONGTAIL | CONTROL | HOST | NMS
    missing = sorted(set(all_ops()) - covered)
    assert not missing, f"ops without a reference-vs-lowering case: {missing}"


def test_every_op_has_every_facet() -> None:
    for name, opdef in all_ops().items():
        assert callable(opdef.infer) and callable(opdef.reference) and callable(opdef.lower), name
        assert opdef.doc, f"{name} has no doc line"


def test_docs_ops_md_is_generated_from_the_registry() -> None:
    from pathlib import Path

    from fourier.ops.doc import COVERAGE_HEADING, render

    text = (Path(__file__).parent.parent / "docs" / "ops.md").read_text()
    head = text.partition("\n" + COVERAGE_HEADING)[0]  # the coverage section: tests/test_conformance.py
    assert head == render(), "docs/ops.md is stale: run python -m fourier.ops.doc docs/ops.md"
