"""Compile stages as values: stop at each stage, print it, continue, and get the artifact that
`fourier.compile` writes (`fourier.compiler`: import_model -> optimize -> lower -> compile ->
package)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fourier
from fourier.compiler import Compiled, Imported, Lowered, Optimized
from fourier.errors import CompileError
from fourier.testing.zoo import ZooModel

EXAMPLE = Path(fourier.__file__).parent / "examples" / "mlp.pb"
SIGNATURE = "(features: float32[N,64]) -> (Identity: float32[N,1])"


def _artifact(root: Path) -> dict[str, Any]:
    """An artifact as what must match between two compiles: the manifest without timings, the
    IR and weights, and each StableHLO module without debug locations. JAX records the Python
    call stack of the trace (the caller's file:line too) in each module, and XLA's serialized
    CPU executables differ from run to run, so those bytes cannot match."""
    from jax import export

    manifest = json.loads((root / "manifest.json").read_text())
    for entry in manifest["executables"]:
        entry.pop("compile_seconds", None)
    manifest["files"] = {k: v for k, v in manifest["files"].items() if not k.endswith((".xla", ".stablehlo"))}
    modules = {}
    for path in sorted(root.glob("buckets/*.stablehlo")):
        text = export.deserialize(bytearray(path.read_bytes())).mlir_module()
        text = "\n".join(line for line in text.splitlines() if not line.startswith("#loc"))
        modules[path.name] = re.sub(r" loc\([^()]*(\([^()]*\))?[^()]*\)", "", text)
    return {
        "manifest": manifest,
        "graph.fir": (root / "graph.fir").read_bytes(),
        "weights": (root / "weights.safetensors").read_bytes(),
        "modules": modules,
        "files": sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()),
    }


def test_the_mlp_stage_by_stage_is_the_compiled_artifact(tmp_path: Path) -> None:
    """Before: the example MLP, stopped at every stage.
    Expected: each stage prints what it holds; continuing gives what `fourier.compile` gives."""
    imported = fourier.import_model(EXAMPLE)
    assert isinstance(imported, Imported)
    assert str(imported).splitlines() == [
        f"Imported {EXAMPLE}: 16 ops",
        f"  signature: {SIGNATURE}",
        "  ops: Identity x7, Const x6, BiasAdd x3, MatMul x3, Relu x2, Placeholder, Sigmoid",
        "  padding N: safe",
    ]
    assert imported.as_text().startswith("graph @mlp(%features: float32[N,64]) -> (float32[N,1]) {")

    optimized = imported.optimize(opt_level=2)
    assert isinstance(optimized, Optimized)
    lines = str(optimized).splitlines()
    assert lines[0].startswith(f"Optimized {EXAMPLE}: 16 ops imported -> 3 after passes (")
    assert lines[1].startswith("  passes: strip-identity,prune,fold-constants,")
    assert lines[2:] == [
        f"  signature: {SIGNATURE}",
        "  ops: Const x6, FusedDense x3, Placeholder",
        "  padding N: safe",
    ]
    assert "FusedDense" in optimized.as_text()
    with pytest.raises(CompileError, match="optimized in place"):
        imported.as_text()  # the graph is the optimized one now
    with pytest.raises(CompileError, match="already optimized in place"):
        imported.optimize()

    lowered = optimized.lower([8, 32])
    assert isinstance(lowered, Lowered)
    assert str(lowered).splitlines() == [
        f"Lowered {EXAMPLE}: 5 weights (330752 bytes), inputs one argument per input, for cpu",
        f"  signature: {SIGNATURE}",
        "  b8: (float32[8,64])",
        "  b32: (float32[32,64])",
    ]
    assert [s.label for s in lowered.shapes] == ["bucket 8", "bucket 32"]
    text = lowered.as_text("b32")
    assert "func.func public @main" in text and "tensor<32x64xf32>" in text and "tensor<32x1xf32>" in text
    with pytest.raises(CompileError, match=r"no shape 'b64' \(shapes: b8, b32\)"):
        lowered.as_text("b64")

    started: list[str] = []
    compiled = lowered.compile(on_start=started.append)
    assert isinstance(compiled, Compiled)
    assert started == ["bucket 8", "bucket 32"]
    lines = str(compiled).splitlines()
    assert lines[0].startswith(f"Compiled {EXAMPLE} for cpu (cpu): 2 executables, ")
    assert [ln.split(":")[0] for ln in lines[1:3]] == ["  b8", "  b32"]
    assert lines[3] == "  polymorphic: buckets/any.stablehlo"
    assert "tensor<8x64xf32>" in compiled.as_text("b8")
    assert sorted(compiled.seconds) == ["b32", "b8"]

    report = compiled.package(tmp_path / "staged.fourier")
    expected = fourier.compile(EXAMPLE, tmp_path / "direct.fourier", [8, 32])
    assert _artifact(report.out) == _artifact(expected.out)
    assert (report.buckets, report.num_ops, report.imported_ops, report.op_counts, report.notes) == (
        expected.buckets,
        expected.num_ops,
        expected.imported_ops,
        expected.op_counts,
        expected.notes,
    )
    assert (report.weight_bytes, report.signature, report.passes.pipeline) == (
        expected.weight_bytes,
        expected.signature,
        expected.passes.pipeline,
    )
    x = np.random.default_rng(0).normal(size=(5, 64)).astype(np.float32)
    staged = fourier.load(report.out, warmup=False, cache_dir=None)({"features": x})
    direct = fourier.load(expected.out, warmup=False, cache_dir=None)({"features": x})
    np.testing.assert_array_equal(staged["Identity"], direct["Identity"])


def test_a_sequence_model_stage_by_stage_is_the_compiled_artifact(
    zoo: dict[str, ZooModel], tmp_path: Path
) -> None:
    """Before: the zoo's BST (history of length S), buckets 8 and 32, S in 16 and 32, its inputs
    packed. Expected: one shape per bucket and length, printed with the packed arguments; the
    padding verdict for S; the same artifact as `fourier.compile`."""
    bst = zoo["bst"]
    imported = fourier.import_model(bst.pb)
    assert str(imported).splitlines()[-2:] == [
        "  padding N: safe",
        "  padding S: not safe (outputs Identity)",
    ]
    lowered = imported.optimize().lower([8, 32], {"S": [16, 32]})
    assert str(lowered).splitlines()[2:] == [
        "  b8-S16: (uint32[14,8], int32[8,16], int32[8,16])",
        "  b8-S32: (uint32[14,8], int32[8,32], int32[8,32])",
        "  b32-S16: (uint32[14,32], int32[32,16], int32[32,16])",
        "  b32-S32: (uint32[14,32], int32[32,32], int32[32,32])",
    ]
    assert "inputs packed by dtype" in str(lowered).splitlines()[0]
    assert lowered.buckets == [8, 32]
    report = lowered.compile().package(tmp_path / "staged.fourier")
    expected = fourier.compile(bst.pb, tmp_path / "direct.fourier", [8, 32], dims={"S": [16, 32]})
    assert _artifact(report.out) == _artifact(expected.out)
    assert sorted(report.bucket_seconds) == sorted(expected.bucket_seconds)


# Before: a dims argument. Expected: the start of the error, in API terms (with the CLI's flag).
DIMS = [
    (None, "input 'hist_(items|gaps)' has the unknown dimension 'S': give the sizes to compile for it, "
     r"e.g. dims=\{'S': \[16, 32, 64\]\} \(--dim S=16,32,64 on the command line\)"),
    ({"S": [4], "T": [2]}, r"dims=\{'T': ...\} \(--dim T=... on the command line\): the graph has no "
     r"symbolic dimension 'T' \(it has S\)"),
    ({"S": [0, 4]}, r"dims\['S'\] \(--dim S=... on the command line\): sizes must be positive, got 0"),
]  # fmt: skip


@pytest.mark.parametrize("dims, error", DIMS)
def test_lowering_refuses_dims_in_api_terms(zoo: dict[str, ZooModel], dims: Any, error: str) -> None:
    optimized = fourier.import_model(zoo["bst"].pb).optimize(opt_level=0)
    with pytest.raises(CompileError, match=f"^{error}"):
        optimized.lower([8], dims)
