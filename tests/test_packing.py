"""One packed buffer for every batched input: the host writes contiguous segments, the executable
slices and bitcasts them back.

Before: a signature mixing every dtype width a graph input can have (bool, int8, float16, int32,
float32, int64, float64) with odd row widths, plus a sequence-length input and a scalar.
Expected: unpacking the packed buffer inside a jitted function returns the caller's arrays exactly
(padded rows repeat the last real row), at a fixed bucket and through a batch-polymorphic
``jax.export`` module compiled later for a concrete batch (what long-tail compiles do).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from jax import export

from fourier.backends.xla import ArgSpec, _specs
from fourier.errors import ArtifactError
from fourier.packing import PackLayout, plan_packing
from fourier.signature import Signature, TensorSpec

SIGNATURE = Signature(
    inputs=(
        TensorSpec("flag", "bool", ("N", 3)),
        TensorSpec("small", "int8", ("N", 5)),
        TensorSpec("half", "float16", ("N", 3)),
        TensorSpec("ids", "int32", ("N", 1)),
        TensorSpec("dense", "float32", ("N", 2, 3)),
        TensorSpec("big", "int64", ("N", 2)),
        TensorSpec("wide", "float64", ("N", 1)),
        TensorSpec("history", "int32", ("N", "S")),
        TensorSpec("scale", "float32", ()),
    ),
    outputs=(),
)


def arrays(batch: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for spec in SIGNATURE.inputs:
        shape = spec.concrete(batch, {"S": 4})
        if spec.dtype == "bool":
            out.append(rng.integers(0, 2, shape).astype(bool))
        elif spec.dtype.startswith("int"):
            info = np.iinfo(spec.dtype)
            out.append(rng.integers(info.min, info.max, shape, dtype=spec.dtype, endpoint=True))
        else:
            out.append(rng.standard_normal(shape).astype(spec.dtype))
    return out


def test_the_plan_packs_static_batched_inputs_aligned() -> None:
    layout = plan_packing(SIGNATURE)
    assert layout is not None and layout.check(SIGNATURE) is None
    # Wider dtypes first, then by dtype name: alike inputs sit side by side.
    assert [s.index for s in layout.segments] == [6, 5, 4, 3, 2, 0, 1]
    assert layout.loose == (7, 8)  # a sequence length and a scalar stay separate
    assert all(s.row_offset % max(4, s.itemsize) == 0 for s in layout.segments)
    assert layout.row_bytes % 8 == 0


def test_alike_inputs_form_one_run() -> None:
    ids = tuple(TensorSpec(f"C{i}", "int32", ("N", 1)) for i in range(26))
    dense = tuple(TensorSpec(f"I{i}", "float32", ("N", 1)) for i in range(13))
    signature = Signature(inputs=(*dense[:5], *ids, *dense[5:]), outputs=())
    layout = plan_packing(signature)
    assert layout is not None
    assert [(r.dtype, len(r.members)) for r in layout.runs] == [("float32", 13), ("int32", 26)]
    assert layout.row_bytes == 39 * 4 + 4  # rounded up to 8 bytes
    assert PackLayout.from_json(layout.to_json()) == layout


def test_a_layout_that_does_not_fit_the_signature_says_why() -> None:
    layout = plan_packing(SIGNATURE)
    assert layout is not None
    data = layout.to_json()
    data["segments"][3][1] = "float32"
    assert "segment of 'ids' is float32" in str(PackLayout.from_json(data).check(SIGNATURE))
    with pytest.raises(ArtifactError, match="older Fourier"):
        PackLayout.from_json({"groups": [], "loose": []})


@pytest.mark.parametrize(("rows", "bucket"), [(8, 8), (5, 8), (1, 4)])
def test_unpacking_inside_the_executable_gives_the_callers_arrays(rows: int, bucket: int) -> None:
    layout = plan_packing(SIGNATURE)
    assert layout is not None
    xs = arrays(rows)
    args = layout.pack(SIGNATURE, xs, 0, rows, bucket)
    with jax.enable_x64(True):
        got = jax.jit(lambda *a: layout.unpack(SIGNATURE, a))(*args)
    for spec, x, g in zip(SIGNATURE.inputs, xs, got):
        g = np.asarray(g)
        assert g.dtype == x.dtype, spec.name
        if spec.batched:
            want = np.concatenate([x, np.repeat(x[-1:], bucket - rows, axis=0)])
            np.testing.assert_array_equal(g, want, err_msg=spec.name)


def test_a_batch_polymorphic_module_unpacks_at_any_batch() -> None:
    layout = plan_packing(SIGNATURE)
    assert layout is not None
    shapes = [ArgSpec(s, d) for s, d in layout.arg_shapes(SIGNATURE, None)]
    with jax.enable_x64(True):
        module = export.export(jax.jit(lambda *a: layout.unpack(SIGNATURE, a)), platforms=["cpu"])(
            *_specs(shapes)
        )
        call = jax.jit(export.deserialize(module.serialize()).call)
        xs = arrays(13, seed=1)
        got = call(*layout.pack(SIGNATURE, xs, 0, 13, 13))
    for spec, x, g in zip(SIGNATURE.inputs, xs, got):
        np.testing.assert_array_equal(np.asarray(g), x, err_msg=spec.name)


SHARED_SIGNATURE = Signature(
    inputs=(
        TensorSpec("hist", "int32", (1, 50)),  # request-level: one row
        TensorSpec("cand", "int32", ("N", 1)),
        TensorSpec("age", "int8", (1, 1)),
        TensorSpec("profile", "float64", (1, 3)),
        TensorSpec("price", "float32", ("N", 2)),
    ),
    outputs=(),
)


def test_one_row_inputs_share_a_fixed_block() -> None:
    """Before: three request-level ``[1, ...]`` inputs beside two batched ones. Expected: the
    batched ones in the row buffer, the one-row ones in a second ``uint32[F/4, 1]`` block; both
    unpack to the caller's arrays at any bucket, and the layout survives JSON."""
    layout = plan_packing(SHARED_SIGNATURE)
    assert layout is not None and layout.check(SHARED_SIGNATURE) is None
    assert sorted(s.index for s in layout.segments) == [1, 4]
    assert sorted(s.index for s in layout.fixed) == [0, 2, 3]
    assert layout.loose == ()
    assert PackLayout.from_json(layout.to_json()) == layout
    rng = np.random.default_rng(0)
    xs = [
        rng.integers(0, 100, (1, 50)).astype(np.int32),
        rng.integers(0, 100, (5, 1)).astype(np.int32),
        np.array([[-7]], np.int8),
        rng.standard_normal((1, 3)),
        rng.standard_normal((5, 2)).astype(np.float32),
    ]
    args = layout.pack(SHARED_SIGNATURE, xs, 0, 5, 8)
    assert [a.shape for a in args] == [(layout.row_bytes // 4, 8), (layout.fixed_bytes // 4, 1)]
    with jax.enable_x64(True):
        got = jax.jit(lambda *a: layout.unpack(SHARED_SIGNATURE, a))(*args)
    for spec, x, g in zip(SHARED_SIGNATURE.inputs, xs, got):
        g = np.asarray(g)
        want = np.concatenate([x, np.repeat(x[-1:], 3, axis=0)]) if spec.batched else x
        np.testing.assert_array_equal(g, want, err_msg=spec.name)
