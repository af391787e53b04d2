"""The long tail of ops (fourier/ops/longtail.py, image.py, and older entries real graphs need)
against TensorFlow's own kernels.

Before: a TensorFlow graph of one ``tf.raw_ops`` op (data fed through Placeholders, shape-like
operands as constants), as a GraphDef.
Expected: Fourier imports it, and both its numpy reference and its JAX lowering give TensorFlow's
answer: same dtype and shape, integers and bools exactly, float32 to rtol 1e-5 / atol 1e-6 (1e-4
for the transposed convolution, whose sums TensorFlow orders differently), float16 to rtol 2e-3 /
atol 1e-3, float64 to rtol 1e-9 (`fourier.testing.conformance.check`; tests/test_conformance.py
holds the other families). Cases cover each op's dtypes and edge cases: empty tensors,
broadcasting, negative axes, int64 operands, infinities, NaNs and signed zeros.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from fourier.importer.graphdef import import_graphdef
from fourier.testing.conformance import Case, case_id, check

tf = pytest.importorskip("tensorflow")
raw = tf.raw_ops
rng = np.random.default_rng(7)


def f32(*shape: int, lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return rng.uniform(lo, hi, shape).astype(np.float32)


def ints(*shape: int, lo: int = -9, hi: int = 10, dtype: Any = np.int32) -> np.ndarray:
    return rng.integers(lo, hi, shape).astype(dtype)


def _c(v: Any, dtype: Any = np.int32) -> Any:
    return tf.constant(np.asarray(v, dtype=dtype))


X = f32(3, 4)
IMG = f32(2, 5, 6, 3)
CASES: list[Case] = [
    Case("IdentityN", lambda x, y: raw.IdentityN(input=[x, y]), {"x": X, "y": ints(2)}),
    # existing entries real graphs need, checked against TensorFlow here
    Case("BroadcastTo", lambda x: raw.BroadcastTo(input=x, shape=_c([2, 3, 4])), {"x": f32(3, 1)}),
    Case(
        "BroadcastTo", lambda x: raw.BroadcastTo(input=x, shape=_c([0, 4], np.int64)), {"x": f32(4)}, "empty"
    ),
    Case("Fill", lambda v: raw.Fill(dims=_c([2, 3], np.int64), value=v), {"v": np.array(2.5, np.float32)}),
    Case("Fill", lambda v: raw.Fill(dims=_c([0, 3]), value=v), {"v": np.array(7, np.int64)}, "empty-int64"),
    Case("ZerosLike", lambda x: raw.ZerosLike(x=x), {"x": ints(2, 3, dtype=np.int64)}),
    Case("OnesLike", lambda x: raw.OnesLike(x=x), {"x": f32(0, 3)}, "empty"),
    Case(
        "MirrorPad",
        lambda x: raw.MirrorPad(input=x, paddings=_c([[1, 2], [0, 3]]), mode="SYMMETRIC"),
        {"x": X},
        "symmetric",
    ),
    Case(
        "MirrorPad",
        lambda x: raw.MirrorPad(input=x, paddings=_c([[2, 1], [3, 0]], np.int64), mode="REFLECT"),
        {"x": ints(3, 4)},
        "reflect-int",
    ),
    # reversing, rolling
    Case("ReverseV2", lambda x: raw.ReverseV2(tensor=x, axis=_c([0, -1])), {"x": f32(2, 3, 4)}),
    Case("ReverseV2", lambda x: raw.ReverseV2(tensor=x, axis=_c([], np.int64)), {"x": ints(3)}, "no-axes"),
    Case("ReverseV2", lambda x: raw.ReverseV2(tensor=x, axis=_c([1])), {"x": f32(2, 0)}, "empty"),
    Case("Roll", lambda x: raw.Roll(input=x, shift=_c([1, -5]), axis=_c([0, -1])), {"x": f32(3, 4)}),
    Case(
        "Roll",
        lambda x: raw.Roll(input=x, shift=_c(2, np.int64), axis=_c(1, np.int64)),
        {"x": ints(2, 5)},
        "int64",
    ),
    Case(
        "Roll",
        lambda x: raw.Roll(input=x, shift=_c([1, 2]), axis=_c([1, 1])),
        {"x": f32(2, 5)},
        "repeated-axis",
    ),
    Case("Roll", lambda x: raw.Roll(input=x, shift=_c([3]), axis=_c([0])), {"x": f32(0, 2)}, "empty"),
]

for _name, _fn, _lo, _hi in [
    ("Tan", raw.Tan, -1.2, 1.2),
    ("Sinh", raw.Sinh, -3, 3),
    ("Cosh", raw.Cosh, -3, 3),
    ("Asin", raw.Asin, -1, 1),
    ("Acos", raw.Acos, -1, 1),
    ("Atan", raw.Atan, -5, 5),
    ("Asinh", raw.Asinh, -5, 5),
    ("Acosh", raw.Acosh, 1, 5),
    ("Atanh", raw.Atanh, -0.99, 0.99),
    ("Sin", raw.Sin, -5, 5),
    ("Cos", raw.Cos, -5, 5),
]:
    CASES.append(Case(_name, lambda x, fn=_fn: fn(x=x), {"x": f32(3, 5, lo=_lo, hi=_hi)}))
    CASES.append(
        Case(_name, lambda x, fn=_fn: fn(x=x), {"x": f32(4, lo=_lo, hi=_hi).astype(np.float64)}, "f64")
    )
    CASES.append(
        Case(_name, lambda x, fn=_fn: fn(x=x), {"x": f32(20, lo=_lo, hi=_hi).astype(np.float16)}, "f16")
    )
    CASES.append(
        Case(
            _name,
            lambda x, fn=_fn: fn(x=x),
            {"x": np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 2.0, -2.0, 1.0, -1.0], np.float32)},
            "special",
        )
    )
CASES += [
    Case(
        "Rint", lambda x: raw.Rint(x=x), {"x": np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.7], np.float32)}
    ),
    Case(
        "Rint",
        lambda x: raw.Rint(x=x),
        {"x": np.array([-2.5, 0.5, 2.5000001, 1e300, np.nan], np.float64)},
        "f64",
    ),
    Case(
        "Atan2",
        lambda y, x: raw.Atan2(y=y, x=x),
        {"y": f32(5).astype(np.float16), "x": f32(5).astype(np.float16)},
        "f16",
    ),
    Case(
        "Atan2",
        lambda y, x: raw.Atan2(y=y, x=x),
        {
            "y": np.array([0.0, -0.0, 0.0, -0.0, np.inf, 1.0, np.nan], np.float32),
            "x": np.array([0.0, 0.0, -0.0, -0.0, np.inf, -np.inf, 1.0], np.float32),
        },
        "signed-zeros-special",
    ),
    Case("Atan2", lambda y, x: raw.Atan2(y=y, x=x), {"y": f32(3, 1), "x": f32(4)}, "broadcast"),
    Case(
        "Atan2",
        lambda y, x: raw.Atan2(y=y, x=x),
        {"y": np.zeros(4, np.float32), "x": np.array([1, -1, 0, 2], np.float32)},
        "zeros",
    ),
]
for _dt in (np.int8, np.int32, np.int64, np.uint8, np.uint16, np.float32, np.float64):
    _lo = 0 if np.dtype(_dt).kind == "u" else -9
    a = rng.integers(_lo, 10, (3, 4)).astype(_dt)
    b = rng.integers(1, 5, (4,)).astype(_dt) * np.where(rng.random(4) < 0.5, 1, 1 if _lo == 0 else -1).astype(
        _dt
    )
    if np.dtype(_dt).kind == "f":
        a = a + np.asarray(rng.uniform(-1, 1, (3, 4)), _dt)
    n = np.dtype(_dt).name
    CASES.append(Case("FloorDiv", lambda x, y: raw.FloorDiv(x=x, y=y), {"x": a, "y": b}, n))
    CASES.append(Case("FloorMod", lambda x, y: raw.FloorMod(x=x, y=y), {"x": a, "y": b}, n))
for _dt in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64):
    info = np.iinfo(_dt)
    a = rng.integers(max(info.min, -1000), min(info.max, 1000), (3, 4)).astype(_dt)
    b = rng.integers(max(info.min, -1000), min(info.max, 1000), (4,)).astype(_dt)
    bits = np.dtype(_dt).itemsize * 8
    s = np.array([0, 1, bits - 1, 3], dtype=_dt)
    n = np.dtype(_dt).name
    CASES += [
        Case("BitwiseAnd", lambda x, y: raw.BitwiseAnd(x=x, y=y), {"x": a, "y": b}, n),
        Case("BitwiseOr", lambda x, y: raw.BitwiseOr(x=x, y=y), {"x": a, "y": b}, n),
        Case("BitwiseXor", lambda x, y: raw.BitwiseXor(x=x, y=y), {"x": a, "y": b}, n),
        Case("Invert", lambda x: raw.Invert(x=x), {"x": a}, n),
        Case("LeftShift", lambda x, y: raw.LeftShift(x=x, y=y), {"x": a, "y": s}, n),
        Case("RightShift", lambda x, y: raw.RightShift(x=x, y=y), {"x": a, "y": s}, n),
    ]

P = f32(4, 3, 2)
CASES += [
    Case(
        "GatherNd",
        lambda p, i: raw.GatherNd(params=p, indices=i),
        {"p": P, "i": ints(5, 2, lo=0, hi=3)},
        "slices",
    ),
    Case(
        "GatherNd",
        lambda p, i: raw.GatherNd(params=p, indices=i),
        {"p": P, "i": ints(2, 2, 3, lo=0, hi=2, dtype=np.int64)},
        "elements-int64",
    ),
    Case(
        "GatherNd",
        lambda p, i: raw.GatherNd(params=p, indices=i),
        {"p": P, "i": ints(0, 1, lo=0, hi=3)},
        "empty",
    ),
    Case(
        "ScatterNd",
        lambda i, u: raw.ScatterNd(indices=i, updates=u, shape=_c([5, 3])),
        {"i": np.array([[0], [2], [0], [4]], np.int32), "u": f32(4, 3)},
        "duplicates",
    ),
    Case(
        "ScatterNd",
        lambda i, u: raw.ScatterNd(indices=i, updates=u, shape=_c([3, 4], np.int64)),
        {"i": np.array([[0, 1], [2, 3]], np.int64), "u": ints(2, dtype=np.int64)},
        "elements-int64",
    ),
    Case(
        "MatrixBandPart",
        lambda x: raw.MatrixBandPart(input=x, num_lower=_c(1), num_upper=_c(-1)),
        {"x": f32(2, 4, 5)},
    ),
    Case(
        "MatrixBandPart",
        lambda x: raw.MatrixBandPart(input=x, num_lower=_c(0, np.int64), num_upper=_c(0, np.int64)),
        {"x": ints(5, 3)},
        "diag-int64",
    ),
]
for _k, _align in [
    ([0], "RIGHT_LEFT"),
    ([-1, 2], "RIGHT_LEFT"),
    ([-2, 1], "LEFT_RIGHT"),
    ([1, 3], "LEFT_LEFT"),
    ([-3, -1], "RIGHT_RIGHT"),
]:
    tag = f"k{_k}-{_align}"
    CASES.append(
        Case(
            "MatrixDiagPartV3",
            lambda x, k=_k, al=_align: raw.MatrixDiagPartV3(
                input=x, k=_c(k), padding_value=_c(9, np.float32), align=al
            ),
            {"x": f32(2, 4, 5)},
            tag,
        )
    )
    part = tf.raw_ops.MatrixDiagPartV3(
        input=f32(2, 4, 5), k=_c(_k), padding_value=_c(0, np.float32), align=_align
    )
    CASES.append(
        Case(
            "MatrixSetDiagV3",
            lambda x, d, k=_k, al=_align: raw.MatrixSetDiagV3(input=x, diagonal=d, k=_c(k), align=al),
            {"x": f32(2, 4, 5), "d": f32(*part.shape)},
            tag,
        )
    )
for _k, _rows, _cols, _shape in [
    ([0], -1, -1, (2, 3)),
    ([-1, 1], -1, -1, (3, 4)),
    ([1, 2], 3, -1, (2, 3)),
    ([0], 4, 5, (2, 4)),
]:
    CASES.append(
        Case(
            "MatrixDiagV3",
            lambda d, k=_k, r=_rows, c=_cols: raw.MatrixDiagV3(
                diagonal=d,
                k=_c(k),
                num_rows=_c(r),
                num_cols=_c(c),
                padding_value=_c(-1, np.float32),
                align="RIGHT_LEFT",
            ),
            {"d": f32(*_shape)},
            f"k{_k}-{_rows}x{_cols}",
        )
    )

CASES += [
    Case("DepthToSpace", lambda x: raw.DepthToSpace(input=x, block_size=2), {"x": f32(2, 3, 4, 8)}),
    Case("SpaceToDepth", lambda x: raw.SpaceToDepth(input=x, block_size=2), {"x": ints(2, 4, 6, 3)}),
    Case(
        "SpaceToBatchND",
        lambda x: raw.SpaceToBatchND(input=x, block_shape=_c([2, 3]), paddings=_c([[1, 1], [0, 2]])),
        {"x": f32(2, 4, 4, 3)},
    ),
    Case(
        "BatchToSpaceND",
        lambda x: raw.BatchToSpaceND(
            input=x, block_shape=_c([2, 3], np.int64), crops=_c([[1, 1], [0, 2]], np.int64)
        ),
        {"x": f32(12, 3, 2, 3)},
    ),
    Case(
        "SpaceToBatchND",
        lambda x: raw.SpaceToBatchND(input=x, block_shape=_c([2]), paddings=_c([[0, 1]])),
        {"x": f32(3, 5, 2)},
        "1d",
    ),
]
for _ac, _hp in [(False, False), (True, False), (False, True)]:
    for _size in ([7, 9], [3, 2], [1, 1]):
        tag = f"{'align' if _ac else 'half' if _hp else 'legacy'}-{_size[0]}x{_size[1]}"
        CASES.append(
            Case(
                "ResizeBilinear",
                lambda x, s=_size, a=_ac, h=_hp: raw.ResizeBilinear(
                    images=x, size=_c(s), align_corners=a, half_pixel_centers=h
                ),
                {"x": IMG},
                tag,
            )
        )
        CASES.append(
            Case(
                "ResizeNearestNeighbor",
                lambda x, s=_size, a=_ac, h=_hp: raw.ResizeNearestNeighbor(
                    images=x, size=_c(s), align_corners=a, half_pixel_centers=h
                ),
                {"x": IMG},
                tag,
            )
        )
CASES.append(
    Case(
        "ResizeBilinear",
        lambda x: raw.ResizeBilinear(images=x, size=_c([4, 4]), half_pixel_centers=True),
        {"x": ints(1, 3, 3, 2, lo=0, hi=255, dtype=np.uint8)},
        "uint8",
    )
)
CASES += [
    Case("Cumprod", lambda x: raw.Cumprod(x=x, axis=_c(1)), {"x": f32(3, 4, lo=0.5, hi=1.5)}),
    Case(
        "Cumprod",
        lambda x: raw.Cumprod(x=x, axis=_c(-1, np.int64), exclusive=True, reverse=True),
        {"x": ints(2, 5, lo=-3, hi=4, dtype=np.int64)},
        "exclusive-reverse-int64",
    ),
    Case("Cumprod", lambda x: raw.Cumprod(x=x, axis=_c(0), exclusive=True), {"x": f32(4, 2)}, "exclusive"),
    Case("Cumprod", lambda x: raw.Cumprod(x=x, axis=_c(0)), {"x": f32(0, 2)}, "empty"),
]
CASES += [
    Case(
        "Cumprod",
        lambda x: raw.Cumprod(x=x, axis=_c(0)),
        {"x": f32(6, lo=0.5, hi=1.5).astype(np.float16)},
        "f16",
    ),
    Case(
        "Cumprod",
        lambda x: raw.Cumprod(x=x, axis=_c(0), exclusive=True),
        {"x": np.array([2, np.inf, 0, 3], np.float32)},
        "exclusive-special",
    ),
    Case(
        "MirrorPad",
        lambda x: raw.MirrorPad(input=x, paddings=_c([[1, 1]]), mode="REFLECT"),
        {"x": f32(4).astype(np.float16)},
        "f16",
    ),
    Case(
        "MirrorPad",
        lambda x: raw.MirrorPad(input=x, paddings=_c([[0, 0], [2, 2]], np.int64), mode="SYMMETRIC"),
        {"x": np.array([[True, False]])},
        "bool",
    ),
    Case(
        "ResizeBilinear",
        lambda x: raw.ResizeBilinear(images=x, size=_c([5, 3]), half_pixel_centers=True),
        {"x": f32(1, 3, 4, 2).astype(np.float16)},
        "f16",
    ),
    Case(
        "ResizeBilinear",
        lambda x: raw.ResizeBilinear(images=x, size=_c([5, 3]), half_pixel_centers=True),
        {"x": f32(1, 3, 4, 2).astype(np.float64)},
        "f64",
    ),
    Case(
        "ResizeBilinear",
        lambda x: raw.ResizeBilinear(images=x, size=_c([5, 7]), align_corners=True),
        {"x": ints(1, 3, 4, 2, lo=-50, hi=50)},
        "int32",
    ),
    Case(
        "ResizeBilinear",
        lambda x: raw.ResizeBilinear(images=x, size=_c([6, 8])),
        {"x": f32(0, 3, 4, 2)},
        "empty-batch",
    ),
    Case(
        "ResizeNearestNeighbor",
        lambda x: raw.ResizeNearestNeighbor(images=x, size=_c([5, 7]), half_pixel_centers=True),
        {"x": ints(1, 3, 4, 2, lo=-50, hi=50, dtype=np.int64)},
        "int64",
    ),
    Case(
        "SegmentSum",
        lambda d: raw.SegmentSum(data=d, segment_ids=_c([0, 0, 1])),
        {"d": f32(3, 2).astype(np.float16)},
        "f16",
    ),
    Case(
        "ScatterNd",
        lambda i, u: raw.ScatterNd(indices=i, updates=u, shape=_c([4])),
        {"i": np.array([[1], [1], [3]], np.int32), "u": f32(3).astype(np.float16)},
        "f16-duplicates",
    ),
    Case(
        "ScatterNd",
        lambda i, u: raw.ScatterNd(indices=i, updates=u, shape=_c([2, 3])),
        {"i": np.zeros((0, 2), np.int32), "u": f32(0)},
        "empty",
    ),
    Case(
        "GatherNd",
        lambda p, i: raw.GatherNd(params=p, indices=i),
        {"p": np.array([[True, False], [False, True]]), "i": np.array([[1, 1], [0, 1]], np.int32)},
        "bool",
    ),
    Case(
        "GatherNd",
        lambda p, i: raw.GatherNd(params=p, indices=i),
        {"p": f32(3, 4), "i": np.zeros((2, 0), np.int32)},
        "zero-index-depth",
    ),
    Case(
        "Roll",
        lambda x: raw.Roll(input=x, shift=_c([-7]), axis=_c([0])),
        {"x": np.array([True, False, False])},
        "bool-big-negative",
    ),
    Case(
        "ReverseV2",
        lambda x: raw.ReverseV2(tensor=x, axis=_c([-1], np.int64)),
        {"x": f32(2, 3).astype(np.float16)},
        "f16",
    ),
    Case(
        "MatrixBandPart",
        lambda x: raw.MatrixBandPart(input=x, num_lower=_c(-1, np.int64), num_upper=_c(1, np.int64)),
        {"x": np.ones((3, 4), bool)},
        "bool",
    ),
    Case(
        "DepthToSpace",
        lambda x: raw.DepthToSpace(input=x, block_size=3),
        {"x": f32(1, 2, 2, 9).astype(np.float16)},
        "f16-block3",
    ),
    Case(
        "SpaceToDepth",
        lambda x: raw.SpaceToDepth(input=x, block_size=2),
        {"x": np.ones((1, 4, 4, 1), bool)},
        "bool",
    ),
    Case(
        "BatchToSpaceND",
        lambda x: raw.BatchToSpaceND(input=x, block_shape=_c([2]), crops=_c([[1, 0]])),
        {"x": ints(4, 3, 2, dtype=np.int64)},
        "1d-int64",
    ),
    Case("Invert", lambda x: raw.Invert(x=x), {"x": np.array([0, 255, 7], np.uint8)}, "uint8-edges"),
    Case(
        "LeftShift",
        lambda x, y: raw.LeftShift(x=x, y=y),
        {"x": np.array([1, 1, 1, -1], np.int32), "y": np.array([31, 32, 40, -1], np.int32)},
        "shift-out-of-range",
    ),
    Case(
        "RightShift",
        lambda x, y: raw.RightShift(x=x, y=y),
        {"x": np.array([-8, -8, 8, 8], np.int32), "y": np.array([1, 33, 40, -1], np.int32)},
        "shift-out-of-range",
    ),
    Case(
        "IdentityN",
        lambda x, y: raw.IdentityN(input=[x, y]),
        {"x": np.array([True]), "y": f32(0, 2)},
        "bool-empty",
    ),
    Case(
        "Conv2DBackpropInput",
        lambda dy: raw.Conv2DBackpropInput(
            input_sizes=_c([1, 5, 5, 2]),
            filter=tf.constant(f32(2, 2, 2, 3).astype(np.float64)),
            out_backprop=dy,
            strides=[1, 2, 2, 1],
            padding="SAME",
        ),
        {"dy": f32(1, 3, 3, 3).astype(np.float64)},
        "f64-even-kernel",
    ),
]
_IDS = np.array([[0, 3, -1], [3, 1, 0]], np.int32)
for _kind in ("Sum", "Max", "Min", "Prod"):
    fn = getattr(raw, f"UnsortedSegment{_kind}")
    CASES += [
        Case(
            f"UnsortedSegment{_kind}",
            lambda d, i, fn=fn: fn(data=d, segment_ids=i, num_segments=_c(5)),
            {"d": f32(2, 3, 2), "i": _IDS},
            "rank2-ids-empty-segments",
        ),
        Case(
            f"UnsortedSegment{_kind}",
            lambda d, i, fn=fn: fn(data=d, segment_ids=i, num_segments=_c(3, np.int64)),
            {"d": ints(4, dtype=np.int64), "i": np.array([2, 0, 2, 2], np.int64)},
            "int64",
        ),
    ]
CASES += [
    Case(
        "UnsortedSegmentSum",
        lambda d, i: raw.UnsortedSegmentSum(data=d, segment_ids=i, num_segments=_c(3)),
        {"d": np.array([np.nan, 1, np.inf, -np.inf], np.float32), "i": np.array([0, 0, 1, 1], np.int32)},
        "special",
    ),
    Case(
        "UnsortedSegmentMax",
        lambda d, i: raw.UnsortedSegmentMax(data=d, segment_ids=i, num_segments=_c(4)),
        {"d": f32(4, 2).astype(np.float16), "i": np.array([0, 2, 0, 1], np.int32)},
        "f16-empty-segment",
    ),
    Case(
        "UnsortedSegmentMin",
        lambda d, i: raw.UnsortedSegmentMin(data=d, segment_ids=i, num_segments=_c(4)),
        {"d": ints(4), "i": np.array([0, 2, 0, 1], np.int32)},
        "int32-empty-segment",
    ),
    Case(
        "UnsortedSegmentProd",
        lambda d, i: raw.UnsortedSegmentProd(data=d, segment_ids=i, num_segments=_c(3)),
        {"d": f32(0, 2), "i": np.zeros((0,), np.int32)},
        "empty",
    ),
    Case("SegmentSum", lambda d: raw.SegmentSum(data=d, segment_ids=_c([0, 0, 2, 3, 3])), {"d": f32(5, 3)}),
    Case(
        "SegmentSum",
        lambda d: raw.SegmentSum(data=d, segment_ids=_c([1, 1], np.int64)),
        {"d": ints(2, dtype=np.int64)},
        "int64-gap",
    ),
]
for _pad, _stride, _in in [
    ("SAME", 2, [2, 7, 8, 3]),
    ("VALID", 2, [2, 9, 8, 3]),
    ("SAME", 1, [1, 5, 5, 2]),
    ("VALID", 3, [1, 10, 11, 2]),
]:
    w = f32(3, 3, _in[3], 4)
    out = tf.nn.conv2d(np.zeros(_in, np.float32), w, _stride, _pad).shape
    CASES.append(
        Case(
            "Conv2DBackpropInput",
            lambda dy, w=w, s=_stride, p=_pad, i=_in: raw.Conv2DBackpropInput(
                input_sizes=_c(i), filter=tf.constant(w), out_backprop=dy, strides=[1, s, s, 1], padding=p
            ),
            {"dy": f32(*out)},
            f"{_pad}-s{_stride}-{_in[1]}x{_in[2]}",
            {"rtol": 1e-4, "atol": 1e-5},
        )
    )
CASES.append(
    Case(
        "Conv2DBackpropInput",
        lambda dy: raw.Conv2DBackpropInput(
            input_sizes=_c([1, 6, 6, 2]),
            filter=tf.constant(f32(3, 3, 2, 2)),
            out_backprop=dy,
            strides=[1, 1, 1, 1],
            padding="EXPLICIT",
            explicit_paddings=[0, 0, 1, 2, 2, 1, 0, 0],
            dilations=[1, 1, 1, 1],
        ),
        {"dy": f32(1, 7, 7, 2)},
        "explicit",
        {"rtol": 1e-4, "atol": 1e-5},
    )
)


# -- 3-D windows, LRN, ResizeBicubic/ResizeArea, CropAndResize (fourier/ops/image.py) ---------------
# Contractions over a 3-D window sum up to a few hundred products in TensorFlow's order: float32 to
# rtol 1e-4 / atol 1e-5, float16 to 1e-2 (TensorFlow rounds partial sums to half, Fourier does not).
_SUMS3 = {"rtol": 1e-4, "atol": 1e-5}
_idt: Any
_vk: Any
_vst: Any
_HALF_SUMS = {"rtol": 1e-2, "atol": 1e-2}
_VOL = f32(2, 5, 6, 7, 3)
for _pad, _vst, _vk, _idt in [
    ("SAME", (1, 1, 1), (3, 3, 3), np.float32),
    ("VALID", (2, 2, 2), (3, 2, 3), np.float32),
    ("SAME", (1, 2, 3), (2, 3, 2), np.float32),
    ("VALID", (1, 1, 1), (1, 1, 1), np.float32),
    ("SAME", (2, 1, 2), (3, 3, 3), np.float64),
    ("SAME", (1, 1, 1), (2, 2, 2), np.float16),
]:
    _w = rng.uniform(-1, 1, (*_vk, 3, 4)).astype(_idt)
    _tol = _HALF_SUMS if _idt == np.float16 else _SUMS3 if _idt == np.float32 else None
    CASES.append(
        Case(
            "Conv3D",
            lambda x, w=_w, p=_pad, s=_vst: raw.Conv3D(
                input=x, filter=tf.constant(w), strides=[1, *s, 1], padding=p
            ),
            {"x": _VOL.astype(_idt)},
            f"{_pad}-s{''.join(map(str, _vst))}-k{''.join(map(str, _vk))}-{np.dtype(_idt).name}",
            _tol,
        )
    )
    _vin = [2, 5, 6, 7, 3]
    _out = tf.nn.conv3d(np.zeros(_vin, _idt), _w, [1, *_vst, 1], _pad).shape
    CASES.append(
        Case(
            "Conv3DBackpropInputV2",
            lambda dy, w=_w, p=_pad, s=_vst, i=_vin: raw.Conv3DBackpropInputV2(
                input_sizes=_c(i), filter=tf.constant(w), out_backprop=dy, strides=[1, *s, 1], padding=p
            ),
            {"dy": rng.uniform(-1, 1, _out).astype(_idt)},
            f"{_pad}-s{''.join(map(str, _vst))}-k{''.join(map(str, _vk))}-{np.dtype(_idt).name}",
            _tol,
        )
    )
CASES += [
    Case(
        "Conv3D",
        lambda x: raw.Conv3D(
            input=x, filter=tf.constant(f32(2, 2, 2, 3, 2)), strides=[1] * 5, padding="SAME"
        ),
        {"x": f32(0, 3, 3, 3, 3)},
        "empty-batch",
    ),
    Case(
        "Conv3DBackpropInputV2",
        lambda dy: raw.Conv3DBackpropInputV2(
            input_sizes=_c([1, 4, 5, 3, 2], np.int64),
            filter=tf.constant(f32(3, 3, 3, 2, 3)),
            out_backprop=dy,
            strides=[1, 2, 2, 2, 1],
            padding="SAME",
        ),
        {"dy": f32(1, 2, 3, 2, 3)},
        "int64-sizes-even-odd",
        _SUMS3,
    ),
]
for _op, _fn in (("MaxPool3D", raw.MaxPool3D), ("AvgPool3D", raw.AvgPool3D)):
    for _pad, _vst, _vk, _idt in [
        ("SAME", (2, 2, 2), (3, 3, 3), np.float32),
        ("VALID", (1, 2, 1), (2, 3, 2), np.float32),
        ("SAME", (1, 1, 1), (2, 2, 2), np.float32),  # CPU kernels: float32 and bfloat16 only
        ("SAME", (3, 2, 1), (3, 2, 4), np.float32),
    ]:
        CASES.append(
            Case(
                _op,
                lambda x, fn=_fn, p=_pad, s=_vst, k=_vk: fn(
                    input=x, ksize=[1, *k, 1], strides=[1, *s, 1], padding=p
                ),
                {"x": _VOL.astype(_idt)},
                f"{_pad}-s{''.join(map(str, _vst))}-k{''.join(map(str, _vk))}-{np.dtype(_idt).name}",
            )
        )
    CASES.append(
        Case(
            _op,
            lambda x, fn=_fn: fn(input=x, ksize=[1, 2, 2, 2, 1], strides=[1, 2, 2, 2, 1], padding="SAME"),
            {"x": f32(0, 3, 3, 3, 2)},
            "empty-batch",
        )
    )
CASES.append(
    Case(
        "AvgPool3D",
        lambda x: raw.AvgPool3D(input=x, ksize=[1, 5, 4, 4, 1], strides=[1, 3, 3, 2, 1], padding="SAME"),
        {"x": _VOL},
        "window-past-the-edges",
    )
)
# bfloat16: TensorFlow's CPU has 3-D window and bicubic kernels for it (not LRN's, not CropAndResize's)
_BF16 = tf.bfloat16.as_numpy_dtype
CASES += [
    Case(
        "MaxPool3D",
        lambda x: raw.MaxPool3D(input=x, ksize=[1, 2, 2, 2, 1], strides=[1, 2, 1, 2, 1], padding="SAME"),
        {"x": _VOL.astype(_BF16)},
        "bfloat16",
    ),
    Case(
        "AvgPool3D",
        lambda x: raw.AvgPool3D(input=x, ksize=[1, 2, 2, 2, 1], strides=[1, 2, 1, 2, 1], padding="SAME"),
        {"x": _VOL.astype(_BF16)},
        "bfloat16",
    ),
    Case(
        "Conv3D",
        lambda x: raw.Conv3D(
            input=x,
            filter=tf.constant(f32(2, 2, 2, 3, 2, lo=-0.5, hi=0.5).astype(_BF16)),
            strides=[1] * 5,
            padding="SAME",
        ),
        {"x": _VOL.astype(_BF16)},
        "bfloat16",
        {
            "rtol": 2e-2,
            "atol": 6e-2,
        },  # 24 products; bfloat16 keeps 8 bits, rounded at other steps by each side
    ),
    Case(
        "ResizeBicubic",
        lambda x: raw.ResizeBicubic(images=x, size=_c([7, 9]), half_pixel_centers=True),
        {"x": IMG.astype(_BF16)},
        "bfloat16",
    ),
]
_LRN_X = f32(2, 3, 4, 7)
for _attrs, _idt, _id in [
    ({}, np.float32, "defaults"),
    ({"depth_radius": 2, "bias": 2.0, "alpha": 1e-2, "beta": 0.75}, np.float32, "r2-beta0.75"),
    ({"depth_radius": 1, "bias": 1.0, "alpha": 0.5, "beta": 1.0}, np.float32, "beta1"),
    ({"depth_radius": 0}, np.float32, "r0"),
    ({"depth_radius": 10, "alpha": 0.1}, np.float32, "radius-over-depth"),
    ({"depth_radius": 2, "alpha": 0.1}, np.float16, "float16"),
]:
    CASES.append(Case("LRN", lambda x, a=_attrs: raw.LRN(input=x, **a), {"x": _LRN_X.astype(_idt)}, _id))
CASES.append(Case("LRN", lambda x: raw.LRN(input=x), {"x": f32(0, 2, 2, 3)}, "empty"))
_PIC = f32(2, 5, 6, 3, lo=0, hi=255)
for _size in ([9, 11], [3, 4], [5, 6], [1, 1], [7, 2]):
    for _ac, _hp in ((False, False), (True, False), (False, True)):
        CASES.append(
            Case(
                "ResizeBicubic",
                lambda x, s=_size, a=_ac, h=_hp: raw.ResizeBicubic(
                    images=x, size=_c(s), align_corners=a, half_pixel_centers=h
                ),
                {"x": _PIC},
                f"{_size[0]}x{_size[1]}-ac{int(_ac)}-hp{int(_hp)}",
                {"rtol": 1e-5, "atol": 1e-4},  # values up to 255: float32 rounding of the sums
            )
        )
    for _ac in (False, True):
        CASES.append(
            Case(
                "ResizeArea",
                lambda x, s=_size, a=_ac: raw.ResizeArea(images=x, size=_c(s), align_corners=a),
                {"x": _PIC},
                f"{_size[0]}x{_size[1]}-ac{int(_ac)}",
                {"rtol": 1e-5, "atol": 1e-4},
            )
        )
for _idt in (np.uint8, np.int32, np.float16, np.float64):
    _img = _PIC.astype(_idt)
    CASES += [
        Case(
            "ResizeBicubic",
            lambda x: raw.ResizeBicubic(images=x, size=_c([7, 4]), half_pixel_centers=True),
            {"x": _img},
            np.dtype(_idt).name,
            {"rtol": 1e-5, "atol": 1e-4},
        ),
        Case(
            "ResizeArea",
            lambda x: raw.ResizeArea(images=x, size=_c([3, 8])),
            {"x": _img},
            np.dtype(_idt).name,
            {"rtol": 1e-5, "atol": 1e-4},
        ),
    ]
CASES += [
    Case(
        "ResizeBicubic",
        lambda x: raw.ResizeBicubic(images=x, size=_c([3, 3])),
        {"x": f32(0, 2, 2, 1)},
        "empty",
    ),
    Case(
        "ResizeArea", lambda x: raw.ResizeArea(images=x, size=_c([3, 3])), {"x": f32(1, 1, 1, 2)}, "one-pixel"
    ),
    Case(
        "ResizeBicubic",
        lambda x: raw.ResizeBicubic(images=x, size=_c([4, 3]), half_pixel_centers=True),
        {"x": f32(1, 1, 1, 2)},
        "one-pixel",
    ),
]
# boxes [y1, x1, y2, x2]: inside, flipped (y1 > y2), reaching past the image, wholly outside, a point
_BOXES = np.array(
    [
        [0.1, 0.2, 0.8, 0.9],
        [0.9, 0.7, 0.2, 0.1],
        [-0.3, -0.2, 0.6, 1.4],
        [1.2, 1.1, 1.5, 1.6],
        [0.5, 0.5, 0.5, 0.5],
        [0.0, 0.0, 1.0, 1.0],
    ],
    np.float32,
)
_BOX_IND = np.array([0, 1, 1, 0, 1, 0], np.int32)
for _method in ("bilinear", "nearest"):
    for _crop, _extra in (([4, 5], 0.0), ([1, 1], -1.0), ([7, 3], 2.5), ([1, 6], 0.0)):
        CASES.append(
            Case(
                "CropAndResize",
                lambda x, b, i, c=_crop, m=_method, e=_extra: raw.CropAndResize(
                    image=x, boxes=b, box_ind=i, crop_size=_c(c), method=m, extrapolation_value=e
                ),
                {"x": IMG, "b": _BOXES, "i": _BOX_IND},
                f"{_method}-{_crop[0]}x{_crop[1]}-extra{_extra}",
            )
        )
    for _idt in (np.uint8, np.float16, np.float64, np.int32):
        CASES.append(
            Case(
                "CropAndResize",
                lambda x, b, i, m=_method: raw.CropAndResize(
                    image=x, boxes=b, box_ind=i, crop_size=_c([3, 4]), method=m
                ),
                {"x": (IMG * 50 + 100).astype(_idt), "b": _BOXES, "i": _BOX_IND},
                f"{_method}-{np.dtype(_idt).name}",
                {"rtol": 1e-5, "atol": 1e-4},
            )
        )
CASES += [
    Case(
        "CropAndResize",
        lambda x, b, i: raw.CropAndResize(image=x, boxes=b, box_ind=i, crop_size=_c([2, 3])),
        {"x": IMG, "b": np.zeros((0, 4), np.float32), "i": np.zeros(0, np.int32)},
        "no-boxes",
    ),
    Case(
        "CropAndResize",
        lambda x, b, i: raw.CropAndResize(image=x, boxes=b, box_ind=i, crop_size=_c([3, 3])),
        {"x": f32(1, 1, 1, 2), "b": _BOXES, "i": np.zeros(6, np.int32)},
        "one-pixel-image",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_op_matches_tensorflow(case: Case) -> None:
    check(case)


COVERED = {c.op for c in CASES}
LONGTAIL_FAMILIES = ("longtail", "image")


def test_every_long_tail_op_has_a_tensorflow_case() -> None:
    from fourier.ops.registry import all_ops
    from tests.test_conformance import CASES as CONFORMANCE  # later long-tail additions are there

    ops = {n for n, op in all_ops().items() if op.family in LONGTAIL_FAMILIES}
    missing = ops - COVERED - {c.op for c in CONFORMANCE}
    assert not missing, sorted(missing)


def test_segment_sum_with_computed_ids_is_refused_naming_the_node() -> None:
    from fourier.errors import FourierError

    g = tf.Graph()
    with g.as_default():
        d = tf.compat.v1.placeholder(tf.float32, [None, 3], name="d")
        ids = tf.compat.v1.placeholder(tf.int32, [None], name="ids")
        tf.identity(raw.SegmentSum(data=d, segment_ids=ids, name="seg"), name="out")
    with pytest.raises(FourierError, match="seg.*known at compile time"):
        import_graphdef(g.as_graph_def(), "<case>", ["out"])


# -- padding rules, end to end: graphs over an unknown batch compiled to buckets -----------------

W3 = f32(3, 3, 3, 2)
TABLE = f32(5, 4)
ROW_LOCAL: list[tuple[str, Callable[[Any], Any]]] = [
    ("resize-bilinear", lambda x: tf.compat.v1.image.resize_bilinear(x, [6, 5], half_pixel_centers=True)),
    ("resize-nearest", lambda x: tf.compat.v1.image.resize_nearest_neighbor(x, [7, 3])),
    ("depth-to-space", lambda x: tf.nn.depth_to_space(tf.tile(x, [1, 1, 1, 4]), 2)),
    ("space-to-depth", lambda x: tf.nn.space_to_depth(x, 2)),
    (
        "space-to-batch-and-back",
        lambda x: raw.BatchToSpaceND(
            input=tf.nn.relu(raw.SpaceToBatchND(input=x, block_shape=[2, 2], paddings=[[0, 0], [0, 0]])),
            block_shape=[2, 2],
            crops=[[0, 0], [0, 0]],
        ),
    ),
    ("roll-reverse", lambda x: tf.roll(tf.reverse(x, [2]), 1, 1)),
    (
        "transposed-conv",
        lambda x: tf.nn.conv2d_transpose(x[..., :2], W3, tf.stack([tf.shape(x)[0], 8, 8, 3]), 2),
    ),
    (
        "gather-nd-by-row-values",
        lambda x: tf.gather_nd(TABLE, tf.cast(tf.abs(tf.reshape(x, [-1, 48])[:, :2]) * 2.4, tf.int32)),
    ),
    (
        "segments-of-features",
        lambda x: tf.transpose(
            tf.math.unsorted_segment_max(tf.transpose(tf.reshape(x, [-1, 48])), np.arange(48) % 5, 5)
        ),
    ),
    ("cumprod-features", lambda x: tf.math.cumprod(tf.reshape(x, [-1, 48]), axis=1, exclusive=True)),
    ("band-part", lambda x: tf.linalg.band_part(x, 1, 0)),
    ("identity-n", lambda x: raw.IdentityN(input=[x * 2.0, x])[0]),
]


def _freeze(build: Callable[[Any], Any], path: Any) -> Any:
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 4, 4, 3], name="x")
        tf.identity(build(x), name="y")
    path.write_bytes(g.as_graph_def().SerializeToString())
    return path


@pytest.mark.parametrize("case", ROW_LOCAL, ids=[c[0] for c in ROW_LOCAL])
def test_row_local_graph_pads_to_buckets_and_matches_tensorflow(
    case: tuple[str, Callable[[Any], Any]], tmp_path: Any
) -> None:
    import fourier
    from fourier.testing.oracle import TFGraph

    name, build = case
    pb = _freeze(build, tmp_path / f"{name}.pb")
    fourier.compile(pb, tmp_path / "out", [4, 8])
    model, oracle = fourier.load(tmp_path / "out"), TFGraph(pb, ["y"])
    for batch in (1, 3, 9):
        feeds = {"x": np.random.default_rng(batch).uniform(-1, 1, (batch, 4, 4, 3)).astype(np.float32)}
        np.testing.assert_allclose(model(feeds)["y"], oracle(feeds)["y"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "build",
    [
        lambda x: tf.roll(x, 1, 0),
        lambda x: tf.reverse(x, [0]),
        lambda x: tf.gather_nd(x, [[0, 1]]),
        lambda x: tf.math.unsorted_segment_sum(x, tf.zeros([tf.shape(x)[0]], tf.int32), 2),
        lambda x: tf.math.cumprod(x, axis=0),
    ],
    ids=["roll-batch", "reverse-batch", "gather-nd-rows", "segment-rows", "cumprod-batch"],
)
def test_row_mixing_long_tail_graph_is_refused(build: Callable[[Any], Any], tmp_path: Any) -> None:
    import fourier
    from fourier.errors import CompileError

    pb = _freeze(build, tmp_path / "mix.pb")
    with pytest.raises(CompileError, match="padding a request to a bucket would change"):
        fourier.compile(pb, tmp_path / "out", [4, 8], require_padding_proof=True)


# -- padding rules of the 3-D windows, LRN, the resizes and CropAndResize ------------------------
_CROP_IMAGE = f32(2, 6, 7, 3)


def _boxes_of(x: Any) -> tuple[Any, Any]:
    rows = tf.reshape(x, [-1, 48])
    boxes = tf.sigmoid(rows[:, :4]) * 1.4 - 0.2  # some reach past the image
    return boxes, tf.cast(tf.abs(rows[:, 4]) > 0.5, tf.int32)


IMAGE_ROW_LOCAL: list[tuple[str, Callable[[Any], Any]]] = [
    (
        "conv3d",
        lambda x: raw.Conv3D(
            input=tf.reshape(x, [-1, 4, 2, 2, 3]),
            filter=tf.constant(f32(2, 2, 2, 3, 2)),
            strides=[1, 1, 2, 1, 1],
            padding="SAME",
        ),
    ),
    (
        "conv3d-transpose",
        lambda x: tf.nn.conv3d_transpose(
            tf.reshape(x, [-1, 4, 2, 2, 3]),
            tf.constant(f32(3, 3, 3, 2, 3)),
            tf.stack([tf.shape(x)[0], 8, 4, 3, 2]),
            [1, 2, 2, 2, 1],
            "SAME",
        ),
    ),
    (
        "pools3d",
        lambda x: (
            raw.MaxPool3D(
                input=tf.reshape(x, [-1, 4, 2, 2, 3]),
                ksize=[1, 3, 2, 2, 1],
                strides=[1, 2, 1, 1, 1],
                padding="SAME",
            )
            + raw.AvgPool3D(
                input=tf.reshape(x, [-1, 4, 2, 2, 3]),
                ksize=[1, 3, 2, 2, 1],
                strides=[1, 2, 1, 1, 1],
                padding="SAME",
            )
        ),
    ),
    ("lrn", lambda x: raw.LRN(input=x, depth_radius=1, alpha=0.3)),
    (
        "resizes",
        lambda x: (
            raw.ResizeBicubic(images=x, size=_c([5, 3]), half_pixel_centers=True)
            + raw.ResizeArea(images=x, size=_c([5, 3]))
        ),
    ),
    (
        "crop-and-resize-of-a-constant-image",
        lambda x: raw.CropAndResize(
            image=tf.constant(_CROP_IMAGE),
            boxes=_boxes_of(x)[0],
            box_ind=_boxes_of(x)[1],
            crop_size=_c([3, 4]),
        ),
    ),
]


@pytest.mark.parametrize("case", IMAGE_ROW_LOCAL, ids=[c[0] for c in IMAGE_ROW_LOCAL])
def test_image_ops_prove_padding_and_match_tensorflow(
    case: tuple[str, Callable[[Any], Any]], tmp_path: Any
) -> None:
    """Before: x [N, 4, 4, 3] fed through one of the ops (a 3-D window over a reshape of it, LRN,
    a resize; CropAndResize of a constant image with boxes and box indices computed from x's rows).
    Expected: padding is proven (require_padding_proof), and the model equals TensorFlow."""
    import fourier
    from fourier.testing.oracle import TFGraph

    name, build = case
    pb = _freeze(build, tmp_path / f"{name}.pb")
    fourier.compile(pb, tmp_path / "out", [4, 8], require_padding_proof=True)
    model, oracle = fourier.load(tmp_path / "out"), TFGraph(pb, ["y"])
    for batch in (1, 3, 9):
        feeds = {"x": np.random.default_rng(batch).uniform(-1, 1, (batch, 4, 4, 3)).astype(np.float32)}
        np.testing.assert_allclose(model(feeds)["y"], oracle(feeds)["y"], rtol=1e-4, atol=1e-4)


def test_crop_and_resize_of_the_batch_is_refused_naming_the_node(tmp_path: Any) -> None:
    """box_ind picks image rows by value: with the fed batch as the image, rows mix."""
    import fourier
    from fourier.errors import CompileError

    def build(x: Any) -> Any:
        boxes, ind = _boxes_of(x)
        return raw.CropAndResize(image=x, boxes=boxes, box_ind=ind, crop_size=_c([2, 2]), name="crop")

    pb = _freeze(build, tmp_path / "crop.pb")
    with pytest.raises(CompileError, match="crop.*box_ind picks the image's N rows by value"):
        fourier.compile(pb, tmp_path / "out", [4, 8], require_padding_proof=True)


def test_crop_and_resize_box_index_outside_the_batch_is_an_error_as_in_tensorflow() -> None:
    """TensorFlow refuses a box index outside [0, batch); so does the reference (the lowering,
    which cannot raise, clamps it)."""
    from fourier.ops.registry import get_op

    boxes, crop = np.array([[0, 0, 1, 1], [0.2, 0.1, 0.7, 0.9]], np.float32), np.array([2, 2], np.int32)
    for bad in (2, -1):
        ind = np.array([0, bad], np.int32)
        with pytest.raises(tf.errors.OutOfRangeError, match="box_index has values outside"):
            raw.CropAndResize(image=IMG, boxes=boxes, box_ind=ind, crop_size=crop)
        with pytest.raises(ValueError, match=rf"box_ind\[1\] = {bad} is not in \[0, 2\)"):
            get_op("CropAndResize").reference(
                {"method": "bilinear", "extrapolation_value": 0.0}, IMG, boxes, ind, crop
            )
