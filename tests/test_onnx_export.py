"""The ONNX backend: Fourier's IR exported to ONNX (`fourier.backends.onnx_export`) and run with
ONNX Runtime's CPU kernels (`fourier.backends.onnxruntime_exec`).

- Every zoo model, imported and optimized at -O2, exported once with a symbolic batch, matches
  TensorFlow at batches 1, 7, 33 and 128 within rtol 1e-4, atol 1e-5 (conftest's float32
  tolerance: a fusion may reorder sums; ONNX Runtime's kernels reorder them again, and no model
  needs looser). So do a static-batch export, opsets 13, 18 and 21, and hoisted graphs
  (``optimize(shared=...)``, shared inputs fed as one row).
- Each op the exporter converts on its own (Fourier's fused ops, and the TensorFlow semantics that
  ONNX lacks: out-of-range gather ids, floor division, StridedSlice masks, ...) is a Before / Expected
  pair: the IR text, the ONNX nodes it exports to where the form matters, and the outputs compared
  with the numpy reference (`run_reference`, the IR's oracle) at rtol 1e-5, atol 1e-6.
"""

from __future__ import annotations

import json
import os
import textwrap
import threading
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import onnx

from fourier.backends.onnx_export import ExportError, export_onnx
from fourier.backends.onnxruntime_exec import PACKED_INPUTS, OrtExecutable, OrtInputError, usable_cores
from fourier.interpreter import run_reference
from fourier.ir.core import Graph
from fourier.ir.parser import parse_graph
from fourier.ir.types import numpy_dtype
from fourier.testing.zoo import ZOO_NAMES, ZooModel, random_inputs
from tests.conftest import ATOL, RTOL

ZOO_BATCHES = (1, 7, 33, 128)


# -- helpers --------------------------------------------------------------------------------------


def ir(text: str) -> Graph:
    return parse_graph(textwrap.dedent(text).strip() + "\n")


def dense(a: np.ndarray) -> str:
    """A constant in the IR's text form."""
    a = np.asarray(a)
    shape = "x".join(str(d) for d in a.shape)
    values = ", ".join(repr(float(v)) if a.dtype.kind == "f" else str(int(v)) for v in a.reshape(-1))
    return f"dense<{a.dtype.name}[{shape}] [{values}]>"


def onnx_nodes(model: Any) -> str:
    """The exported graph's nodes, one ``outputs = Op(inputs) <attrs>`` line each (names simplified
    to what follows the node name, so the lines read as the op sequence)."""
    lines = []
    for n in model.graph.node:
        attrs = []
        for a in n.attribute:
            v = onnx.helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode()
            if isinstance(v, onnx.TensorProto):
                v = onnx.numpy_helper.to_array(v).tolist()
            attrs.append(f"{a.name}={v}")
        extra = f" <{', '.join(attrs)}>" if attrs else ""
        domain = f"{n.domain}." if n.domain else ""
        lines.append(f"{', '.join(n.output)} = {domain}{n.op_type}({', '.join(n.input)}){extra}")
    return "\n".join(lines)


def random_feeds(
    graph: Graph, batch: int, seq: int = 5, seed: int = 0, low: int = -3, high: int = 9
) -> dict[str, np.ndarray]:
    """Random inputs: N = batch, other symbols = seq; ints in [low, high) (out-of-range ids included)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for node in graph.inputs:
        t = node.output.type
        assert t.shape is not None
        shape = tuple(d if isinstance(d, int) else (batch if d == "N" else seq) for d in t.shape)
        dt = numpy_dtype(t.dtype)
        if t.dtype == "bool":
            feeds[node.name] = rng.integers(0, 2, shape).astype(bool)
        elif np.issubdtype(dt, np.integer):
            feeds[node.name] = rng.integers(low, high, shape).astype(dt)
        else:
            feeds[node.name] = rng.uniform(-2, 2, shape).astype(dt)
    return feeds


def run_ort(model: Any, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return OrtExecutable(model.SerializeToString(), intra_op_threads=1).run_named(dict(feeds))


def check_export(
    before: str,
    expected: str | None = None,
    batches: tuple[int, ...] = (1, 3),
    feeds: Callable[[Graph, int], dict[str, np.ndarray]] | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    **export_kwargs: Any,
) -> Any:
    """Export Before; its ONNX nodes must read as Expected (None: not checked), and ONNX Runtime
    must give run_reference's outputs (dtype, shape and values) at each batch."""
    graph = ir(before)
    model = export_onnx(graph, **export_kwargs)
    if expected is not None:
        want = textwrap.dedent(expected).strip()
        got = onnx_nodes(model)
        assert got == want, f"\n--- got ---\n{got}\n--- expected ---\n{want}"
    session = OrtExecutable(model.SerializeToString(), intra_op_threads=1)
    for b in batches:
        f = feeds(graph, b) if feeds is not None else random_feeds(graph, b, seed=b)
        want_out = run_reference(graph, f)
        got_out = session.run_named(f)
        assert list(got_out) == list(want_out)
        for name, w in want_out.items():
            g = got_out[name]
            assert g.dtype == w.dtype, f"{name}: dtype {g.dtype}, the reference gives {w.dtype}"
            assert g.shape == w.shape, f"{name}: shape {g.shape}, the reference gives {w.shape}"
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{name} at batch {b}")
    return model


# -- the zoo against TensorFlow -------------------------------------------------------------------


class _Exported:
    def __init__(self, model: ZooModel) -> None:
        from fourier.compiler import import_model
        from fourier.testing.oracle import TFGraph

        self.graph = import_model(model.pb).optimize(opt_level=2).graph
        self.onnx = export_onnx(self.graph)
        self.session = OrtExecutable(self.onnx.SerializeToString(), intra_op_threads=2)
        self.tf = TFGraph(model.pb)


@pytest.fixture(scope="module")
def exported(zoo: dict[str, ZooModel]) -> Callable[[str], _Exported]:
    cache: dict[str, _Exported] = {}

    def get(name: str) -> _Exported:
        if name not in cache:
            cache[name] = _Exported(zoo[name])
        return cache[name]

    return get


def _zoo_params() -> list[Any]:
    params = []
    for name in ZOO_NAMES:
        marks = [pytest.mark.slow] if name == "mobilenetv2" else []
        params += [pytest.param(name, b, marks=marks, id=f"{name}-{b}") for b in ZOO_BATCHES]
    return params


@pytest.mark.parametrize(("name", "batch"), _zoo_params())
def test_zoo_matches_tensorflow(
    name: str, batch: int, zoo: dict[str, ZooModel], exported: Callable[[str], _Exported]
) -> None:
    """-O2 graph -> ONNX (symbolic batch) -> ONNX Runtime equals TensorFlow on the frozen graph."""
    e = exported(name)
    feeds = random_inputs(zoo[name], batch, seed=batch)
    want = e.tf(feeds)
    got = e.session.run_named(feeds)
    for out in want:
        assert got[out].shape == want[out].shape, out
        np.testing.assert_allclose(
            got[out], want[out], rtol=RTOL, atol=ATOL, err_msg=f"{name} {out} @ {batch}"
        )


def test_zoo_signature_and_symbolic_dims(exported: Callable[[str], _Exported]) -> None:
    """Inputs and outputs keep the signature's names and order; N and S stay symbolic; each large
    constant is one initializer."""
    e = exported("bst")
    g = e.onnx.graph
    assert [i.name for i in g.input] == [n.name for n in e.graph.inputs]
    assert [o.name for o in g.output] == [name for name, _ in e.graph.outputs]
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in g.input}
    assert dims["hist_items"] == ["N", "S"] and dims["user_features"] == ["N", 13]
    sizes = [int(np.prod(t.dims)) for t in g.initializer]
    digests = {onnx.numpy_helper.to_array(t).tobytes() for t in g.initializer if int(np.prod(t.dims)) > 256}
    assert len(digests) == sum(1 for s in sizes if s > 256)


def test_zoo_static_batch(zoo: dict[str, ZooModel], exported: Callable[[str], _Exported]) -> None:
    """``batch=`` and ``dims=`` fix the sizes: every input and output dim is static."""
    e = exported("bst")
    model = export_onnx(e.graph, batch=7, dims={"S": 20})
    for vi in [*model.graph.input, *model.graph.output]:
        assert all(d.HasField("dim_value") for d in vi.type.tensor_type.shape.dim), vi.name
    feeds = random_inputs(zoo["bst"], 7, seed=3)
    got = run_ort(model, feeds)
    want = e.tf(feeds)
    for out in want:
        np.testing.assert_allclose(got[out], want[out], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    ("name", "shared"),
    [
        ("twotower", ["user_id", "user_hist", "user_dense"]),  # the whole user tower
        ("ranker", ["user_ids", "user_dense"]),
        ("deepfm", ["C1", "C2", "C3", "C4", "C5", "C6", "I1", "I2", "I3"]),
    ],
)
def test_zoo_hoisted_matches_tensorflow(name: str, shared: list[str], zoo: dict[str, ZooModel]) -> None:
    """Hoisted graphs (``optimize(shared=...)``, BatchBroadcast to the candidates' batch): shared
    inputs as one row through ONNX Runtime = TensorFlow on the rows repeated."""
    from fourier.compiler import import_model
    from fourier.testing.oracle import TFGraph

    graph = import_model(zoo[name].pb).optimize(shared=shared).graph
    assert "BatchBroadcast" in graph.op_counts()
    session = OrtExecutable(export_onnx(graph).SerializeToString(), intra_op_threads=1)
    tf = TFGraph(zoo[name].pb)
    for n in (1, 7, 33):
        feeds = random_inputs(zoo[name], n, seed=n, seq=16)
        one = {k: (v[:1] if k in shared else v) for k, v in feeds.items()}
        repeated = {k: (np.repeat(v[:1], n, 0) if k in shared else v) for k, v in feeds.items()}
        got = session.run_named({k: one[k] for k in session.input_names})
        want = tf(repeated)
        for out in want:
            np.testing.assert_allclose(
                got[out], want[out], rtol=RTOL, atol=ATOL, err_msg=f"{name} {out} @ {n}"
            )


@pytest.mark.parametrize("opset", [13, 18, 21])
def test_zoo_other_opsets(opset: int, zoo: dict[str, ZooModel], exported: Callable[[str], _Exported]) -> None:
    """Opset 13 (LayerNorm expanded, reduce axes as attributes) to 21 (Split's num_outputs)."""
    for name in ("xdeepfm", "bst"):
        e = exported(name)
        feeds = random_inputs(zoo[name], 7, seed=opset)
        got = run_ort(export_onnx(e.graph, opset=opset), feeds)
        want = e.tf(feeds)
        for out in want:
            np.testing.assert_allclose(got[out], want[out], rtol=RTOL, atol=ATOL, err_msg=f"{name} {out}")


# -- Fourier's fused ops --------------------------------------------------------------------------

RNG = np.random.default_rng(7)
W34 = RNG.normal(size=(3, 4)).astype(np.float32)
B4 = RNG.normal(size=(4,)).astype(np.float32)


def test_fused_dense_rank2_gemm() -> None:
    """FusedDense on a matrix -> Gemm (bias as its C) + the activation."""
    before = f"""
    graph @t(%x: float32[N,3]) -> (float32[N,4]) {{
      %w = Const() {{value = {dense(W34)}}} : float32[3,4]
      %b = Const() {{value = {dense(B4)}}} : float32[4]
      %y = FusedDense(%x, %w, %b) {{activation = "Relu"}} : float32[N,4]
      return "out" = %y
    }}
    """
    expected = """
    y/Gemm = Gemm(x, w, b)
    y/Relu = Relu(y/Gemm)
    out = Identity(y/Relu)
    """
    check_export(before, expected)


def test_fused_dense_rank3_gelu() -> None:
    """FusedDense on [N,S,3] (two symbols: no static reshape to a matrix) -> MatMul + Add, then
    exact GELU in the erf form ONNX Runtime fuses."""
    before = f"""
    graph @t(%x: float32[N,S,3]) -> (float32[N,S,4]) {{
      %w = Const() {{value = {dense(W34)}}} : float32[3,4]
      %b = Const() {{value = {dense(B4)}}} : float32[4]
      %y = FusedDense(%x, %w, %b) {{activation = "Gelu"}} : float32[N,S,4]
      return "out" = %y
    }}
    """
    expected = """
    y/MatMul = MatMul(x, w)
    y/Add = Add(y/MatMul, b)
    y/Div = Div(y/Add, y/scalar)
    y/Erf = Erf(y/Div)
    y/Add_1 = Add(y/Erf, y/scalar_1)
    y/Mul = Mul(y/Add, y/Add_1)
    y/Mul_1 = Mul(y/Mul, y/scalar_2)
    out = Identity(y/Mul_1)
    """
    check_export(before, expected)


def test_fused_dense_rank3_as_gemm() -> None:
    """FusedDense on [N,5,3] -> a [-1,3] view, Gemm (which ORT fuses with the activation), and the
    [-1,5,4] view back."""
    before = f"""
    graph @t(%x: float32[N,5,3]) -> (float32[N,5,4]) {{
      %w = Const() {{value = {dense(W34)}}} : float32[3,4]
      %b = Const() {{value = {dense(B4)}}} : float32[4]
      %y = FusedDense(%x, %w, %b) {{activation = "Relu"}} : float32[N,5,4]
      return "out" = %y
    }}
    """
    expected = """
    y/Reshape = Reshape(x, y/i64)
    y/Gemm = Gemm(y/Reshape, w, b)
    y/Relu = Relu(y/Gemm)
    y/Reshape_1 = Reshape(y/Relu, y/i64_1)
    out = Identity(y/Reshape_1)
    """
    model = check_export(before, expected)
    shapes = {t.name: onnx.numpy_helper.to_array(t).tolist() for t in model.graph.initializer}
    assert shapes["y/i64"] == [-1, 3] and shapes["y/i64_1"] == [-1, 5, 4]


@pytest.mark.parametrize("activation", ["", "Relu6", "Sigmoid", "Tanh", "Swish", "Gelu"])
def test_fused_dense_activations(activation: str) -> None:
    before = f"""
    graph @t(%x: float32[N,2,3]) -> (float32[N,2,4]) {{
      %w = Const() {{value = {dense(W34 * 3)}}} : float32[3,4]
      %y = FusedDense(%x, %w) {{activation = "{activation}"}} : float32[N,2,4]
      return "out" = %y
    }}
    """
    check_export(before)


def test_fused_dense_contrib_gelu() -> None:
    """contrib_ops=True: ONNX Runtime's com.microsoft.Gelu instead of the erf expansion."""
    before = f"""
    graph @t(%x: float32[N,3]) -> (float32[N,4]) {{
      %w = Const() {{value = {dense(W34)}}} : float32[3,4]
      %y = FusedDense(%x, %w) {{activation = "Gelu"}} : float32[N,4]
      return "out" = %y
    }}
    """
    expected = """
    y/Gemm = Gemm(x, w)
    y/Gelu = com.microsoft.Gelu(y/Gemm)
    out = Identity(y/Gelu)
    """
    check_export(before, expected, contrib_ops=True)


def _conv_graph(x: str, w: np.ndarray, out: str, attrs: str, bias: bool = True) -> str:
    channels = int(w.shape[2] * w.shape[3]) if "depthwise = true" in attrs else int(w.shape[3])
    b = RNG.normal(size=(channels,)).astype(np.float32)
    bias_line = f"%b = Const() {{value = {dense(b)}}} : float32[{channels}]" if bias else ""
    operands = "%x, %w, %b" if bias else "%x, %w"
    shape = ",".join(str(d) for d in w.shape)
    return f"""
    graph @t(%x: {x}) -> ({out}) {{
      %w = Const() {{value = {dense(w)}}} : float32[{shape}]
      {bias_line}
      %y = FusedConv2D({operands}) {{{attrs}}} : {out}
      return "out" = %y
    }}
    """


def _conv_attrs(
    strides: int, padding: str, depthwise: bool, activation: str, algorithm: str, explicit: str = "[]"
) -> str:
    return (
        f'activation = "{activation}", algorithm = "{algorithm}", data_format = "NHWC", '
        f"depthwise = {str(depthwise).lower()}, dilations = [1, 1, 1, 1], explicit_paddings = {explicit}, "
        f'padding = "{padding}", strides = [1, {strides}, {strides}, 1]'
    )


def test_fused_conv2d_same_stride2() -> None:
    """A 3x3 stride-2 SAME convolution: NHWC transposed around ONNX's Conv, TF's asymmetric pads."""
    w = RNG.normal(size=(3, 3, 3, 4)).astype(np.float32)
    before = _conv_graph(
        "float32[N,7,8,3]", w, "float32[N,4,4,4]", _conv_attrs(2, "SAME", False, "Relu6", "xla")
    )
    expected = """
    y/Transpose = Transpose(x) <perm=[0, 3, 1, 2]>
    y/Conv = Conv(y/Transpose, y/const, b) <dilations=[1, 1], group=1, kernel_shape=[3, 3], pads=[1, 0, 1, 1], strides=[2, 2]>
    y/Transpose_1 = Transpose(y/Conv) <perm=[0, 2, 3, 1]>
    y/Clip = Clip(y/Transpose_1, y/scalar, y/scalar_1)
    out = Identity(y/Clip)
    """
    check_export(before, expected)


def test_fused_conv2d_depthwise_valid() -> None:
    """Depthwise [kh,kw,C,M] -> grouped Conv with [C*M,1,kh,kw] weights."""
    w = RNG.normal(size=(3, 3, 4, 2)).astype(np.float32)
    before = _conv_graph(
        "float32[N,9,9,4]", w, "float32[N,4,4,8]", _conv_attrs(2, "VALID", True, "Relu", "taps")
    )
    check_export(before)


def test_fused_conv2d_depthwise_same_symbolic_spatial() -> None:
    """SAME padding over symbolic spatial dims: auto_pad SAME_UPPER (TF pads the odd one at the end)."""
    w = RNG.normal(size=(3, 3, 2, 1)).astype(np.float32)
    before = _conv_graph("float32[N,S,S,2]", w, "float32[N,?,?,2]", _conv_attrs(1, "SAME", True, "", "taps"))
    check_export(before)


def test_fused_conv2d_explicit_padding() -> None:
    w = RNG.normal(size=(2, 3, 2, 3)).astype(np.float32)
    attrs = _conv_attrs(1, "EXPLICIT", False, "", "xla", "[0, 0, 1, 0, 2, 1, 0, 0]")
    before = _conv_graph("float32[N,5,5,2]", w, "float32[N,5,6,3]", attrs, bias=False)
    check_export(before)


def test_fused_conv2d_pointwise_matmul() -> None:
    """algorithm = matmul (1x1, stride 1): a MatMul over the channel axis, no transposes."""
    w = RNG.normal(size=(1, 1, 3, 5)).astype(np.float32)
    before = _conv_graph(
        "float32[N,4,4,3]", w, "float32[N,4,4,5]", _conv_attrs(1, "SAME", False, "", "matmul")
    )
    expected = """
    y/MatMul = MatMul(x, y/const)
    y/Add = Add(y/MatMul, b)
    out = Identity(y/Add)
    """
    check_export(before, expected)


@pytest.mark.parametrize(
    ("reduction", "pool", "keep"), [("Mean", "GlobalAveragePool", False), ("Max", "GlobalMaxPool", True)]
)
def test_global_pool_after_convolutions_is_onnx_global_pool(reduction: str, pool: str, keep: bool) -> None:
    """A mean (max) over H, W of an NHWC convolution's output -> ONNX's global pool in NCHW, so
    ONNX Runtime cancels the transposes and keeps the convolution's layout (MobileNetV2's head)."""
    w = RNG.normal(size=(3, 3, 3, 4)).astype(np.float32)
    out = "float32[N,1,1,4]" if keep else "float32[N,4]"
    before = f"""
    graph @t(%x: float32[N,6,6,3]) -> ({out}) {{
      %w = Const() {{value = {dense(w)}}} : float32[3,3,3,4]
      %c = FusedConv2D(%x, %w) {{{_conv_attrs(1, "SAME", False, "Relu6", "taps")}}} : float32[N,6,6,4]
      %axes = Const() {{value = dense<int32[2] [1, 2]>}} : int32[2]
      %m = {reduction}(%c, %axes) {{keep_dims = {str(keep).lower()}}} : {out}
      return "out" = %m
    }}
    """
    model = check_export(before)
    ops = [n.op_type for n in model.graph.node]
    assert pool in ops and not any(o.startswith("Reduce") for o in ops)


def test_pointwise_conv_beside_spatial_convs_stays_conv() -> None:
    """In a graph with a depthwise (or any windowed) convolution, a 1x1 convolution marked
    ``matmul`` is an ONNX Conv too: one NCHW layout between them, so ONNX Runtime cancels the
    transposes (MobileNetV2 runs 2.3x faster than with MatMuls between transposes)."""
    dw = RNG.normal(size=(3, 3, 3, 1)).astype(np.float32)
    pw = RNG.normal(size=(1, 1, 3, 4)).astype(np.float32)
    before = f"""
    graph @t(%x: float32[N,6,6,3]) -> (float32[N,6,6,4]) {{
      %dw = Const() {{value = {dense(dw)}}} : float32[3,3,3,1]
      %d = FusedConv2D(%x, %dw) {{{_conv_attrs(1, "SAME", True, "Relu6", "taps")}}} : float32[N,6,6,3]
      %pw = Const() {{value = {dense(pw)}}} : float32[1,1,3,4]
      %p = FusedConv2D(%d, %pw) {{{_conv_attrs(1, "SAME", False, "", "matmul")}}} : float32[N,6,6,4]
      return "out" = %p
    }}
    """
    model = check_export(before)
    assert [n.op_type for n in model.graph.node].count("Conv") == 2


def test_fused_elementwise_safe_ids() -> None:
    """A FusedElementwise body (the fuse-tables range check) -> its steps, one ONNX node each."""
    body = (
        '[[\\"GreaterEqual\\",[0,1],{}],[\\"Less\\",[0,2],{}],[\\"LogicalAnd\\",[4,5],{}],'
        '[\\"AddV2\\",[0,3],{}],[\\"SelectV2\\",[6,7,1],{}]]'
    )
    before = f"""
    graph @t(%ids: int32[N,3]) -> (int32[N,3]) {{
      %zero = Const() {{value = dense<int32[3] [0, 0, 0]>}} : int32[3]
      %rows = Const() {{value = dense<int32[3] [3, 4, 4]>}} : int32[3]
      %offsets = Const() {{value = dense<int32[3] [0, 3, 7]>}} : int32[3]
      %safe = FusedElementwise(%ids, %zero, %rows, %offsets) {{body = "{body}"}} : int32[N,3]
      return "out" = %safe
    }}
    """
    expected = """
    safe/0:GreaterEqual/GreaterOrEqual = GreaterOrEqual(ids, zero)
    safe/1:Less/Less = Less(ids, rows)
    safe/2:LogicalAnd/And = And(safe/0:GreaterEqual/GreaterOrEqual, safe/1:Less/Less)
    safe/3:AddV2/Add = Add(ids, offsets)
    safe/4:SelectV2/Where = Where(safe/2:LogicalAnd/And, safe/3:AddV2/Add, zero)
    out = Identity(safe/4:SelectV2/Where)
    """
    check_export(before, expected)


def test_fused_elementwise_mixed_steps() -> None:
    """BiasAdd, Cast, FloorDiv (by zero too), Sigmoid and a step on constants only (Square of k,
    folded at export) inside one body."""
    body = (
        '[[\\"BiasAdd\\",[0,1],{\\"data_format\\":\\"NHWC\\"}],[\\"Square\\",[2],{}],'
        '[\\"Cast\\",[3],{\\"DstT\\":\\"int32\\",\\"Truncate\\":false}],[\\"FloorDiv\\",[4,5],{}],'
        '[\\"Cast\\",[6],{\\"DstT\\":\\"float32\\",\\"Truncate\\":false}],[\\"Sigmoid\\",[7],{}]]'
    )
    before = f"""
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {{
      %b = Const() {{value = {dense(B4 * 3)}}} : float32[4]
      %k = Const() {{value = dense<int32[] [-3]>}} : int32[]
      %y = FusedElementwise(%x, %b, %k) {{body = "{body}"}} : float32[N,4]
      return "out" = %y
    }}
    """
    with np.errstate(divide="ignore"):  # 9 // 0: the reference (numpy) gives 0, so must ONNX
        check_export(before, batches=(1, 3, 8))


TABLE = RNG.normal(size=(6, 4)).astype(np.float32)


@pytest.mark.parametrize(("combiner", "keep"), [("sum", False), ("mean", False), ("sum", True)])
def test_embedding_bag(combiner: str, keep: bool) -> None:
    """Rows at ids (ids outside [0, 6) give zero rows), summed or averaged over the bag."""
    out = "float32[N,2,1,4]" if keep else "float32[N,2,4]"
    before = f"""
    graph @t(%ids: int32[N,2,5]) -> ({out}) {{
      %table = Const() {{value = {dense(TABLE)}}} : float32[6,4]
      %bag = EmbeddingBag(%table, %ids) {{combiner = "{combiner}", keep_dims = {str(keep).lower()}}} : {out}
      return "out" = %bag
    }}
    """
    check_export(before)


def test_layer_norm() -> None:
    gamma = RNG.uniform(0.5, 1.5, size=(4,)).astype(np.float32)
    before = f"""
    graph @t(%x: float32[N,S,4]) -> (float32[N,S,4]) {{
      %g = Const() {{value = {dense(gamma)}}} : float32[4]
      %b = Const() {{value = {dense(B4)}}} : float32[4]
      %y = LayerNorm(%x, %g, %b) {{epsilon = 0.001}} : float32[N,S,4]
      return "out" = %y
    }}
    """
    expected = """
    y/LayerNormalization = LayerNormalization(x, g, b) <axis=-1, epsilon=0.0010000000474974513>
    out = Identity(y/LayerNormalization)
    """
    check_export(before, expected)
    check_export(before, opset=13)  # before LayerNormalization: expanded


@pytest.mark.parametrize("op", ["Gelu", "Swish"])
def test_activation_ops(op: str) -> None:
    before = f"""
    graph @t(%x: float32[N,6]) -> (float32[N,6]) {{
      %y = {op}(%x) : float32[N,6]
      return "out" = %y
    }}
    """
    check_export(before)
    if op == "Gelu":
        check_export(before, "y/Gelu = Gelu(x) <approximate=none>\nout = Identity(y/Gelu)", opset=20)


def test_batch_broadcast_inner1() -> None:
    """A request-level row [1,3] repeated for each of like's N rows: Expand to Shape(like)[0]."""
    before = """
    graph @t(%row: float32[1,3], %like: float32[N,2]) -> (float32[N,3]) {
      %y = BatchBroadcast(%row, %like) {axis = 0, inner = 1} : float32[N,3]
      return "out" = %y
    }
    """
    check_export(before, feeds=lambda g, b: {**random_feeds(g, b), "row": random_feeds(g, 1)["row"]})
    check_export(
        before,
        batch=4,
        batches=(4,),
        feeds=lambda g, b: {**random_feeds(g, b), "row": random_feeds(g, 1)["row"]},
    )


def test_batch_broadcast_inner_axis1() -> None:
    """One row of 2 positions along axis 1 ([5,2,3]) repeated N times -> [5,2*N,3]."""
    before = """
    graph @t(%row: float32[5,2,3], %like: float32[N]) -> (float32[5,2*N,3]) {
      %y = BatchBroadcast(%row, %like) {axis = 1, inner = 2} : float32[5,2*N,3]
      return "out" = %y
    }
    """

    def feeds(g: Graph, b: int) -> dict[str, np.ndarray]:
        return {"row": RNG.normal(size=(5, 2, 3)).astype(np.float32), "like": np.zeros((b,), np.float32)}

    check_export(before, feeds=feeds)


def test_pack_inputs_joins_inputs_only_concatenated_side_by_side() -> None:
    """Before: three int32 [N,1] ids and a float [N,2] feature, each read only by one concat
    along the last axis, beside an input read twice. Expected: ``a, b, c`` become one input
    ``packed:a`` of [N,3] (listed in the model's metadata); ``d`` (another dtype, its own concat)
    and ``e`` (also read by the Mul) stay; ONNX Runtime fed the packed input gives the reference."""
    before = """
    graph @t(%a: int32[N,1], %b: int32[N,1], %c: int32[N,1], %d: float32[N,2], %e: float32[N,2]) -> (int32[N,3], float32[N,4], float32[N,2]) {
      %axis = Const() {value = dense<int32[] [1]>} : int32[]
      %ids = ConcatV2(%a, %b, %c, %axis) : int32[N,3]
      %sq = Mul(%e, %e) : float32[N,2]
      %x = ConcatV2(%d, %e, %axis) : float32[N,4]
      %y = AddV2(%x, %x) : float32[N,4]
      return "ids" = %ids, "y" = %y, "sq" = %sq
    }
    """
    graph = ir(before)
    model = export_onnx(graph, pack_inputs=True)
    assert [i.name for i in model.graph.input] == ["packed:a", "d", "e"]
    groups = json.loads({p.key: p.value for p in model.metadata_props}[PACKED_INPUTS])
    assert groups == [{"name": "packed:a", "inputs": ["a", "b", "c"], "axis": -1}]
    session = OrtExecutable(model.SerializeToString(), intra_op_threads=1)
    names = [n.name for n in graph.inputs]
    assert session.bind(names) == [(0, 1, 2), 3, 4]
    for batch in (1, 7):
        feeds = random_feeds(graph, batch, seed=batch)
        want = run_reference(graph, feeds)
        got = session.run_trusted([feeds[n] for n in names])
        for w, g in zip(want.values(), got):
            np.testing.assert_array_equal(g, w)
    # Without pack_inputs (the standalone export) the inputs stay as the graph has them.
    assert [i.name for i in export_onnx(graph).graph.input] == names


def test_pack_inputs_leaves_an_input_read_twice() -> None:
    """An input the graph also reads outside the concat keeps its own binding."""
    before = """
    graph @t(%a: int32[N,1], %b: int32[N,1]) -> (int32[N,2], int32[N,1]) {
      %axis = Const() {value = dense<int32[] [-1]>} : int32[]
      %ids = ConcatV2(%a, %b, %axis) : int32[N,2]
      %twice = AddV2(%b, %b) : int32[N,1]
      return "ids" = %ids, "twice" = %twice
    }
    """
    model = export_onnx(ir(before), pack_inputs=True)
    assert [i.name for i in model.graph.input] == ["a", "b"]
    assert PACKED_INPUTS not in {p.key for p in model.metadata_props}


# -- TensorFlow semantics that ONNX lacks ---------------------------------------------------------


def test_gather_out_of_range_ids_give_zeros() -> None:
    """GatherV2 with ids in [-3, 9) over 6 rows: negative and too-large ids give zero rows (the
    reference's rule; ONNX's Gather would wrap -1 to the last row and fail on 6). A table only ever
    gathered from is stored with a zero row 6, where out-of-range ids are sent."""
    before = f"""
    graph @t(%ids: int32[N,5]) -> (float32[N,5,4]) {{
      %table = Const() {{value = {dense(TABLE)}}} : float32[6,4]
      %axis = Const() {{value = dense<int32[] [0]>}} : int32[]
      %g = GatherV2(%table, %ids, %axis) {{batch_dims = 0}} : float32[N,5,4]
      return "out" = %g
    }}
    """
    expected = """
    g/GreaterOrEqual = GreaterOrEqual(ids, g/scalar)
    g/Less = Less(ids, g/scalar_1)
    g/And = And(g/GreaterOrEqual, g/Less)
    g/Where = Where(g/And, ids, g/scalar_1)
    g/Gather = Gather(table, g/Where) <axis=0>
    out = Identity(g/Gather)
    """
    model = check_export(before, expected)
    (table,) = [t for t in model.graph.initializer if t.name == "table"]
    np.testing.assert_array_equal(
        onnx.numpy_helper.to_array(table), np.concatenate([TABLE, np.zeros((1, 4))])
    )


def test_gather_of_checked_fused_ids_reads_the_zero_row_without_a_second_check() -> None:
    """fuse-tables' safe ids (in-range ids shifted into one table of 11 rows, the rest -1) feeding
    the table's gather: the ids are checked once, and -1 reads the stored zero row 11 from the end
    (ONNX's Gather counts negative ids from the end). Ids in [-3, 9) cover both sides."""
    body = (
        '[[\\"GreaterEqual\\",[0,1],{}],[\\"Less\\",[0,2],{}],[\\"LogicalAnd\\",[5,6],{}],'
        '[\\"AddV2\\",[0,3],{}],[\\"SelectV2\\",[7,8,4],{}]]'
    )
    table = RNG.normal(size=(11, 4)).astype(np.float32)
    before = f"""
    graph @t(%ids: int32[N,3]) -> (float32[N,3,4]) {{
      %zero = Const() {{value = dense<int32[3] [0, 0, 0]>}} : int32[3]
      %rows = Const() {{value = dense<int32[3] [3, 4, 4]>}} : int32[3]
      %offsets = Const() {{value = dense<int32[3] [0, 3, 7]>}} : int32[3]
      %oob = Const() {{value = dense<int32[] [-1]>}} : int32[]
      %safe = FusedElementwise(%ids, %zero, %rows, %offsets, %oob) {{body = "{body}"}} : int32[N,3]
      %table = Const() {{value = {dense(table)}}} : float32[11,4]
      %axis = Const() {{value = dense<int32[] [0]>}} : int32[]
      %g = GatherV2(%table, %safe, %axis) {{batch_dims = 0}} : float32[N,3,4]
      return "out" = %g
    }}
    """
    expected = """
    safe/0:GreaterEqual/GreaterOrEqual = GreaterOrEqual(ids, zero)
    safe/1:Less/Less = Less(ids, rows)
    safe/2:LogicalAnd/And = And(safe/0:GreaterEqual/GreaterOrEqual, safe/1:Less/Less)
    safe/3:AddV2/Add = Add(ids, offsets)
    safe/4:SelectV2/Where = Where(safe/2:LogicalAnd/And, safe/3:AddV2/Add, oob)
    g/Gather = Gather(table, safe/4:SelectV2/Where) <axis=0>
    out = Identity(g/Gather)
    """
    check_export(before, expected, batches=(1, 7, 33))


def test_gather_of_ids_checked_against_other_rows_keeps_its_check() -> None:
    """The same check, but the largest id it lets through (7 + 4 - 1 = 10) is past a table of 10
    rows: the gather keeps its own check."""
    body = (
        '[[\\"GreaterEqual\\",[0,1],{}],[\\"Less\\",[0,2],{}],[\\"LogicalAnd\\",[5,6],{}],'
        '[\\"AddV2\\",[0,3],{}],[\\"SelectV2\\",[7,8,4],{}]]'
    )
    table = RNG.normal(size=(10, 4)).astype(np.float32)
    before = f"""
    graph @t(%ids: int32[N,3]) -> (float32[N,3,4]) {{
      %zero = Const() {{value = dense<int32[3] [0, 0, 0]>}} : int32[3]
      %rows = Const() {{value = dense<int32[3] [3, 4, 4]>}} : int32[3]
      %offsets = Const() {{value = dense<int32[3] [0, 3, 7]>}} : int32[3]
      %oob = Const() {{value = dense<int32[] [-1]>}} : int32[]
      %safe = FusedElementwise(%ids, %zero, %rows, %offsets, %oob) {{body = "{body}"}} : int32[N,3]
      %table = Const() {{value = {dense(table)}}} : float32[10,4]
      %axis = Const() {{value = dense<int32[] [0]>}} : int32[]
      %g = GatherV2(%table, %safe, %axis) {{batch_dims = 0}} : float32[N,3,4]
      return "out" = %g
    }}
    """
    model = check_export(before, batches=(1, 7, 33))
    assert [n.op_type for n in model.graph.node].count("Less") == 2


def test_gather_from_shared_table_masks_rows() -> None:
    """A table also used otherwise is stored as it is: the gathered rows are masked instead."""
    before = f"""
    graph @t(%ids: int32[N,5]) -> (float32[N,5,4], float32[6,4]) {{
      %table = Const() {{value = {dense(TABLE)}}} : float32[6,4]
      %axis = Const() {{value = dense<int32[] [0]>}} : int32[]
      %g = GatherV2(%table, %ids, %axis) {{batch_dims = 0}} : float32[N,5,4]
      %t2 = Identity(%table) : float32[6,4]
      return "out" = %g, "table2" = %t2
    }}
    """
    expected = """
    g/GreaterOrEqual = GreaterOrEqual(ids, g/scalar)
    g/Less = Less(ids, g/scalar_1)
    g/And = And(g/GreaterOrEqual, g/Less)
    g/Where = Where(g/And, ids, g/scalar)
    g/Gather = Gather(table, g/Where) <axis=0>
    g/Unsqueeze = Unsqueeze(g/And, g/i64)
    g/Where_1 = Where(g/Unsqueeze, g/Gather, g/scalar_2)
    out = Identity(g/Where_1)
    table2 = Identity(table)
    """
    check_export(before, expected)


def test_gather_runtime_params_inner_axis() -> None:
    """Gathering along axis 1 of a runtime tensor with constant (partly out-of-range) ids."""
    before = """
    graph @t(%x: float32[N,4,2]) -> (float32[N,3,2]) {
      %ids = Const() {value = dense<int64[3] [3, -1, 4]>} : int64[3]
      %axis = Const() {value = dense<int32[] [1]>} : int32[]
      %g = GatherV2(%x, %ids, %axis) {batch_dims = 0} : float32[N,3,2]
      return "out" = %g
    }
    """
    check_export(before)


def test_gather_along_a_symbolic_axis() -> None:
    """Gathering along S (its length read at run time): ids at or past S, and negative ones, give zeros."""
    before = """
    graph @t(%x: float32[N,S,2], %ids: int32[3]) -> (float32[N,3,2], float32[N,2,2]) {
      %axis = Const() {value = dense<int32[] [1]>} : int32[]
      %g = GatherV2(%x, %ids, %axis) {batch_dims = 0} : float32[N,3,2]
      %known = Const() {value = dense<int32[2] [4, 0]>} : int32[2]
      %k = GatherV2(%x, %known, %axis) {batch_dims = 0} : float32[N,2,2]
      return "g" = %g, "k" = %k
    }
    """

    def feeds(g: Graph, b: int) -> dict[str, np.ndarray]:
        f = random_feeds(g, b, seq=b + 2, seed=b)
        f["ids"] = np.array([-1, b + 1, b + 2], dtype=np.int32)  # negative, the last row, past S
        return f

    check_export(before, feeds=feeds, batches=(1, 3))


@pytest.mark.parametrize("dtype", ["int32", "int64", "float32"])
@pytest.mark.parametrize("op", ["FloorDiv", "FloorMod"])
def test_floor_div_mod(op: str, dtype: str) -> None:
    """Floor semantics with negative operands (ONNX's integer Div truncates); an integer divisor of
    zero gives 0 as numpy does."""
    before = f"""
    graph @t(%x: {dtype}[N,8], %y: {dtype}[N,8]) -> ({dtype}[N,8]) {{
      %z = {op}(%x, %y) : {dtype}[N,8]
      return "out" = %z
    }}
    """

    def feeds(g: Graph, b: int) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(b)
        x = rng.integers(-20, 20, (b, 8)).astype(dtype)
        y = rng.integers(-5, 6, (b, 8)).astype(dtype)
        if dtype == "float32":
            x = x + np.float32(0.5)
            y = np.where(y == 0, 3, y).astype(dtype)
        return {"x": x, "y": y}

    with np.errstate(divide="ignore", invalid="ignore"):
        check_export(before, batches=(1, 3, 16), feeds=feeds)


def test_integer_div_and_cast_truncate() -> None:
    """Float -> int Cast truncates toward zero; RealDiv on ints truncates (as the reference)."""
    before = """
    graph @t(%x: float32[N,6]) -> (int32[N,6], int32[N,6]) {
      %c = Cast(%x) {DstT = "int32", Truncate = false} : int32[N,6]
      %two = Const() {value = dense<int32[] [2]>} : int32[]
      %d = RealDiv(%c, %two) : int32[N,6]
      return "cast" = %c, "div" = %d
    }
    """

    def feeds(g: Graph, b: int) -> dict[str, np.ndarray]:
        return {"x": np.random.default_rng(b).uniform(-9, 9, (b, 6)).astype(np.float32)}

    check_export(before, feeds=feeds)


def test_select_broadcasting() -> None:
    """SelectV2 broadcasts all three operands; TF1 Select with a vector condition picks rows."""
    before = """
    graph @t(%c: bool[N,1], %a: float32[N,3], %b: float32[3], %v: bool[N]) -> (float32[N,3], float32[N,3]) {
      %s = SelectV2(%c, %a, %b) : float32[N,3]
      %z = ZerosLike(%a) : float32[N,3]
      %r = Select(%v, %a, %z) : float32[N,3]
      return "s" = %s, "r" = %r
    }
    """
    check_export(before)


def test_comparisons_and_logic() -> None:
    before = """
    graph @t(%x: int32[N,4], %y: int32[4]) -> (bool[N,4], bool[N,4], bool[N,4]) {
      %eq = Equal(%x, %y) : bool[N,4]
      %ne = NotEqual(%x, %y) : bool[N,4]
      %le = LessEqual(%x, %y) : bool[N,4]
      %gt = Greater(%x, %y) : bool[N,4]
      %or = LogicalOr(%eq, %gt) : bool[N,4]
      %not = LogicalNot(%le) : bool[N,4]
      return "ne" = %ne, "or" = %or, "not" = %not
    }
    """
    check_export(before)


def test_reductions_keep_dims() -> None:
    """Sum / Mean / Max over axes with and without keep_dims; an integer mean truncates; All / Any
    on bools; reducing over no axis is the identity."""
    before = """
    graph @t(%x: float32[N,3,4], %i: int32[N,3], %c: bool[N,3]) -> (float32[N,1,4], float32[N], float32[N,3], int32[N], bool[N], bool[N,1], float32[N,3,4]) {
      %a1 = Const() {value = dense<int32[] [1]>} : int32[]
      %a12 = Const() {value = dense<int32[2] [-1, 1]>} : int32[2]
      %none = Const() {value = dense<int32[0] []>} : int32[0]
      %s = Sum(%x, %a1) {keep_dims = true} : float32[N,1,4]
      %m = Mean(%x, %a12) {keep_dims = false} : float32[N]
      %mx = Max(%x, %a12) {keep_dims = false} : float32[N]
      %mn = Min(%x, %a1) {keep_dims = false} : float32[N,4]
      %p = Prod(%x, %none) {keep_dims = false} : float32[N,3,4]
      %e = Const() {value = dense<int32[] [-1]>} : int32[]
      %pm = Max(%x, %e) {keep_dims = false} : float32[N,3]
      %im = Mean(%i, %e) {keep_dims = false} : int32[N]
      %all = All(%c, %e) {keep_dims = false} : bool[N]
      %any = Any(%c, %e) {keep_dims = true} : bool[N,1]
      return "s" = %s, "m" = %m, "pm" = %pm, "im" = %im, "all" = %all, "any" = %any, "p" = %p
    }
    """
    check_export(before, batches=(1, 3, 9))


def test_concat_split_transpose() -> None:
    """ConcatV2's axis is its last input; SplitV with -1 over a symbolic axis (slices) and over a
    static one (Split); Split into equal parts; Transpose perms; Pack and Unpack."""
    before = """
    graph @t(%x: float32[N,S,4], %y: float32[N,S,2]) -> (float32[N,S,1], float32[N,S,3], float32[N,2,S], float32[N,2,S], float32[N,S,6], float32[S,N,2,3]) {
      %ax = Const() {value = dense<int32[] [-1]>} : int32[]
      %cat = ConcatV2(%x, %y, %ax) : float32[N,S,6]
      %sizes = Const() {value = dense<int32[2] [1, -1]>} : int32[2]
      %sv, %sv:1 = SplitV(%x, %sizes, %ax) {num_split = 2} : float32[N,S,1], float32[N,S,3]
      %one = Const() {value = dense<int32[] [1]>} : int32[]
      %ssizes = Const() {value = dense<int32[3] [2, -1, 1]>} : int32[3]
      %ss, %ss:1, %ss:2 = SplitV(%cat, %ssizes, %one) {num_split = 3} : float32[N,2,6], float32[N,?,6], float32[N,1,6]
      %two = Const() {value = dense<int32[] [2]>} : int32[]
      %sp, %sp:1 = Split(%two, %cat) {num_split = 2} : float32[N,S,3], float32[N,S,3]
      %perm = Const() {value = dense<int32[3] [0, 2, 1]>} : int32[3]
      %t = Transpose(%y, %perm) : float32[N,2,S]
      %pk = Pack(%sp, %sp:1) {axis = 2} : float32[N,S,2,3]
      %perm4 = Const() {value = dense<int32[4] [1, 0, 2, 3]>} : int32[4]
      %pt = Transpose(%pk, %perm4) : float32[S,N,2,3]
      %u, %u:1 = Unpack(%pt) {axis = 2, num = 2} : float32[S,N,3], float32[S,N,3]
      %x2 = AddV2(%u, %u:1) : float32[S,N,3]
      %perm3 = Const() {value = dense<int32[3] [1, 0, 2]>} : int32[3]
      %x3 = Transpose(%x2, %perm3) : float32[N,S,3]
      %z = AddV2(%sv:1, %x3) : float32[N,S,3]
      return "a" = %sv, "b" = %z, "c" = %t, "d" = %t, "e" = %cat, "f" = %pt
    }
    """
    check_export(before, batches=(1, 3))


def test_split_v_symbolic_remainder_outputs() -> None:
    """SplitV pieces before and after a -1 over a symbolic axis are sliced from the start and end."""
    before = """
    graph @t(%x: float32[N,S]) -> (float32[N,2], float32[N,?], float32[N,1]) {
      %one = Const() {value = dense<int32[] [1]>} : int32[]
      %sizes = Const() {value = dense<int32[3] [2, -1, 1]>} : int32[3]
      %a, %a:1, %a:2 = SplitV(%x, %sizes, %one) {num_split = 3} : float32[N,2], float32[N,?], float32[N,1]
      return "a" = %a, "b" = %a:1, "c" = %a:2
    }
    """
    check_export(before, feeds=lambda g, b: random_feeds(g, b, seq=6))


@pytest.mark.parametrize(
    ("begin", "end", "strides", "masks"),
    [
        ([0, 1], [0, 3], [1, 1], (1, 1, 0, 0, 0)),  # x[:, 1:3]
        ([0, -1], [0, 0], [1, 1], (1, 1, 0, 0, 2)),  # x[:, -1] (shrink)
        ([0, 0, 0, 1], [0, 0, 0, 2], [1, 1, 2, 1], (5, 5, 0, 2, 8)),  # x[:, None, ::2, 1]
        ([0, 0], [0, 0], [1, -1], (2, 2, 1, 0, 0)),  # x[..., ::-1]
        ([0, 3, 1], [0, 0, 4], [1, -2, 1], (1, 1, 0, 0, 0)),  # x[:, 3:0:-2, 1:4]
        ([0, 0], [0, 0], [1, 1], (0, 0, 1, 2, 0)),  # x[..., None]
        ([-3, 0], [-1, 0], [1, 1], (0, 2, 0, 0, 0)),  # x[-3:-1, :] (the batch axis sliced)
    ],
)
def test_strided_slice_masks(
    begin: list[int], end: list[int], strides: list[int], masks: tuple[int, ...]
) -> None:
    """begin/end masks, ellipsis, new axes, shrinking and negative strides, against the reference."""
    bm, em, ell, new, shrink = masks
    n = len(begin)
    out = _infer_strided(begin, end, strides, masks)
    g = ir(
        f"""
    graph @t(%x: float32[N,4,5]) -> ({out}) {{
      %b = Const() {{value = dense<int32[{n}] {begin}>}} : int32[{n}]
      %e = Const() {{value = dense<int32[{n}] {end}>}} : int32[{n}]
      %s = Const() {{value = dense<int32[{n}] {strides}>}} : int32[{n}]
      %y = StridedSlice(%x, %b, %e, %s) {{begin_mask = {bm}, ellipsis_mask = {ell}, end_mask = {em}, new_axis_mask = {new}, shrink_axis_mask = {shrink}}} : {out}
      return "out" = %y
    }}
    """
    )
    model = export_onnx(g)
    for b in (1, 3, 4):
        f = random_feeds(g, b, seed=b)
        np.testing.assert_array_equal(run_ort(model, f)["out"], run_reference(g, f)["out"])


def _infer_strided(begin: list[int], end: list[int], strides: list[int], masks: tuple[int, ...]) -> str:
    """The IR's own inferred type of the StridedSlice (so the test states only the slice)."""
    from fourier.ir.types import TensorType
    from fourier.ops.registry import InferContext, get_op

    bm, em, ell, new, shrink = masks
    attrs = {
        "begin_mask": bm,
        "end_mask": em,
        "ellipsis_mask": ell,
        "new_axis_mask": new,
        "shrink_axis_mask": shrink,
    }
    known = [None, *(np.asarray(v, dtype=np.int32) for v in (begin, end, strides))]
    types = [TensorType("float32", ("N", 4, 5))] + [TensorType("int32", (len(begin),))] * 3
    (t,) = get_op("StridedSlice").infer(InferContext("StridedSlice", "y", attrs, types, known))
    return str(t)


def test_reshape_with_runtime_shape_tensor() -> None:
    """Reshape by a shape computed from Shape(x) at run time: where the IR's output type has one
    symbolic dim it becomes a constant target with -1 ([N,S,2,2]: no shape arithmetic reaches
    ONNX); [N,4*S] has two symbols, so the shape computation is exported (Shape -> Slice -> Concat)."""
    before = """
    graph @t(%x: float32[N,S,4]) -> (float32[N,4*S], float32[N,S,2,2]) {
      %shape = Shape(%x) {out_type = "int32"} : int32[3]
      %b0 = Const() {value = dense<int32[1] [0]>} : int32[1]
      %b1 = Const() {value = dense<int32[1] [1]>} : int32[1]
      %b2 = Const() {value = dense<int32[1] [2]>} : int32[1]
      %st = Const() {value = dense<int32[1] [1]>} : int32[1]
      %n = StridedSlice(%shape, %b0, %b1, %st) {begin_mask = 0, ellipsis_mask = 0, end_mask = 0, new_axis_mask = 0, shrink_axis_mask = 1} : int32[]
      %s = StridedSlice(%shape, %b1, %b2, %st) {begin_mask = 0, ellipsis_mask = 0, end_mask = 0, new_axis_mask = 0, shrink_axis_mask = 1} : int32[]
      %m1 = Const() {value = dense<int32[] [-1]>} : int32[]
      %two = Const() {value = dense<int32[] [2]>} : int32[]
      %flat = Pack(%n, %m1) {axis = 0} : int32[2]
      %r1 = Reshape(%x, %flat) : float32[N,4*S]
      %split = Pack(%n, %s, %two, %two) {axis = 0} : int32[4]
      %r2 = Reshape(%x, %split) : float32[N,S,2,2]
      return "flat" = %r1, "split" = %r2
    }
    """
    model = check_export(before)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Reshape") == 2 and "Shape" in ops


def test_misc_array_ops() -> None:
    """ExpandDims, Squeeze (named and all-ones axes), Tile, Pad, Slice, OneHot with out-of-range
    ids, Cumsum, ArgMax, Fill and BroadcastTo with runtime shapes."""
    before = """
    graph @t(%x: float32[N,1,3], %ids: int32[N,2]) -> (float32[N,3], float32[N,1,1,3], float32[N,2,6], float32[N,4,4], float32[N,1,2], float32[N,2,4], float32[N,1,3], int64[N,1], float32[N,1,3], float32[N,1,3]) {
      %sq = Squeeze(%x) {squeeze_dims = [1]} : float32[N,3]
      %m2 = Const() {value = dense<int32[] [-2]>} : int32[]
      %ed = ExpandDims(%x, %m2) : float32[N,1,1,3]
      %mult = Const() {value = dense<int32[3] [1, 2, 2]>} : int32[3]
      %tile = Tile(%x, %mult) : float32[N,2,6]
      %pads = Const() {value = dense<int32[3x2] [0, 0, 1, 2, 0, 1]>} : int32[3,2]
      %pad = Pad(%x, %pads) : float32[N,4,4]
      %sb = Const() {value = dense<int32[3] [0, 0, 1]>} : int32[3]
      %ss = Const() {value = dense<int32[3] [-1, -1, 2]>} : int32[3]
      %sl = Slice(%x, %sb, %ss) : float32[N,1,2]
      %depth = Const() {value = dense<int32[] [4]>} : int32[]
      %on = Const() {value = dense<float32[] [2.0]>} : float32[]
      %off = Const() {value = dense<float32[] [-1.0]>} : float32[]
      %oh = OneHot(%ids, %depth, %on, %off) {axis = -1} : float32[N,2,4]
      %ax = Const() {value = dense<int32[] [2]>} : int32[]
      %cs = Cumsum(%x, %ax) {exclusive = true, reverse = true} : float32[N,1,3]
      %am = ArgMax(%x, %ax) {output_type = "int64"} : int64[N,1]
      %shape = Shape(%x) {out_type = "int32"} : int32[3]
      %v = Const() {value = dense<float32[] [1.5]>} : float32[]
      %fill = Fill(%shape, %v) : float32[N,1,3]
      %bt = BroadcastTo(%v, %shape) : float32[N,1,3]
      return "sq" = %sq, "ed" = %ed, "tile" = %tile, "pad" = %pad, "sl" = %sl, "oh" = %oh, "cs" = %cs, "am" = %am, "fill" = %fill, "bt" = %bt
    }
    """
    check_export(before)


def test_reverse_and_bitwise() -> None:
    """ReverseV2 is a Slice with step -1; bitwise ops need opset 18 (refused, named, before it)."""
    before = """
    graph @t(%x: float32[N,3,4], %i: int32[N,4], %j: int32[4]) -> (float32[N,3,4], int32[N,4]) {
      %axes = Const() {value = dense<int32[2] [-1, 1]>} : int32[2]
      %r = ReverseV2(%x, %axes) : float32[N,3,4]
      %a = BitwiseAnd(%i, %j) : int32[N,4]
      %o = BitwiseXor(%a, %j) : int32[N,4]
      %n = Invert(%o) : int32[N,4]
      return "r" = %r, "n" = %n
    }
    """
    check_export(before, opset=18)
    with pytest.raises(ExportError, match=r"node 'a' \(BitwiseAnd\): ONNX has BitwiseAnd from opset 18"):
        export_onnx(ir(before), opset=17)


def test_elementwise_math() -> None:
    """The unary and binary math ops whose ONNX forms differ from TensorFlow's names."""
    before = """
    graph @t(%x: float32[N,5], %y: float32[5]) -> (float32[N,5], float32[N,5], float32[N,5], float32[N,5], float32[N,5], float32[N,5]) {
      %sd = SquaredDifference(%x, %y) : float32[N,5]
      %ay = Abs(%y) : float32[5]
      %rs = Rsqrt(%ay) : float32[5]
      %m = Mul(%sd, %rs) : float32[N,5]
      %dn = DivNoNan(%x, %m) : float32[N,5]
      %e = Expm1(%x) : float32[N,5]
      %l = Log1p(%ay) : float32[5]
      %el = AddV2(%e, %l) : float32[N,5]
      %ec = Erfc(%x) : float32[N,5]
      %lr = LeakyRelu(%x) {alpha = 0.1} : float32[N,5]
      %an = AddN(%ec, %lr, %x) : float32[N,5]
      %r6 = Relu6(%an) : float32[N,5]
      %mx = Maximum(%x, %y) : float32[N,5]
      %sp = Softplus(%mx) : float32[N,5]
      %sm = Softmax(%sp) : float32[N,5]
      return "dn" = %dn, "el" = %el, "r6" = %r6, "sm" = %sm, "an" = %an, "sd" = %sd
    }
    """
    check_export(before)


def test_batch_mat_mul_adjoints_and_einsum() -> None:
    before = """
    graph @t(%a: float32[N,3,4], %b: float32[N,5,4], %w: float32[4,2]) -> (float32[N,3,5], float32[N,3,2]) {
      %mm = BatchMatMulV2(%a, %b) {adj_x = false, adj_y = true} : float32[N,3,5]
      %es = Einsum(%a, %w) {equation = "abc,cd->abd"} : float32[N,3,2]
      return "mm" = %mm, "es" = %es
    }
    """
    check_export(before)
    model = check_export(before, contrib_ops=True)
    assert model.graph.node[0].op_type == "FusedMatMul"


@pytest.mark.parametrize(
    ("equation", "a", "b", "out"),
    [
        ("abc,cde->abde", "N,S,4", "4,3,2", "N,S,3,2"),  # attention's projections
        ("abcd,cde->abe", "N,S,3,2", "3,2,4", "N,S,4"),
        ("aecd,abcd->acbe", "N,S,3,2", "N,S,3,2", "N,3,S,S"),  # attention scores
        ("acbe,aecd->abcd", "N,3,S,S", "N,S,3,2", "N,S,3,2"),  # scores @ values
        ("bij,bjk->bik", "N,2,3", "N,3,4", "N,2,4"),
        ("ij,kj->ik", "N,3", "4,3", "N,4"),
        ("bi,bi->b", "N,3", "N,3", "N"),
        ("bi,j->bij", "N,3", "2", "N,3,2"),  # outer product: nothing contracted
        ("bij,k->bik", "N,3,2", "4", "N,3,4"),  # j summed out of one operand first
        ("bij,bkj->bjik", "N,3,2", "N,4,2", "N,2,3,4"),  # j kept as a batch label
    ],
)
def test_einsum_as_matmul(equation: str, a: str, b: str, out: str) -> None:
    """Two-operand einsums become Transpose / Reshape around one MatMul (ONNX Runtime's Einsum is
    several times slower on attention), with the operands ordered to spare the output transpose."""
    before = f"""
    graph @t(%a: float32[{a}], %b: float32[{b}]) -> (float32[{out}]) {{
      %e = Einsum(%a, %b) {{equation = "{equation}"}} : float32[{out}]
      return "out" = %e
    }}
    """
    model = check_export(before, feeds=lambda g, n: random_feeds(g, n, seq=4, seed=n))
    assert "Einsum" not in [n.op_type for n in model.graph.node]


def test_einsum_attention_scores_form() -> None:
    """``aecd,abcd->acbe``: the operands are swapped so that MatMul leaves [N,heads,S,S] in order."""
    before = """
    graph @t(%k: float32[N,S,3,2], %q: float32[N,S,3,2]) -> (float32[N,3,S,S]) {
      %e = Einsum(%k, %q) {equation = "aecd,abcd->acbe"} : float32[N,3,S,S]
      return "out" = %e
    }
    """
    expected = """
    e/Transpose = Transpose(q) <perm=[0, 2, 1, 3]>
    e/Transpose_1 = Transpose(k) <perm=[0, 2, 3, 1]>
    e/MatMul = MatMul(e/Transpose, e/Transpose_1)
    out = Identity(e/MatMul)
    """
    check_export(before, expected)


def test_pooling_and_batch_norm() -> None:
    scale = RNG.uniform(0.5, 1.5, size=(2,)).astype(np.float32)
    var = RNG.uniform(0.5, 1.5, size=(2,)).astype(np.float32)
    before = f"""
    graph @t(%x: float32[N,5,5,2]) -> (float32[N,3,3,2], float32[N,2,2,2], float32[N,5,5,2]) {{
      %mp = MaxPool(%x) {{data_format = "NHWC", explicit_paddings = [], ksize = [1, 3, 3, 1], padding = "SAME", strides = [1, 2, 2, 1]}} : float32[N,3,3,2]
      %ap = AvgPool(%x) {{data_format = "NHWC", explicit_paddings = [], ksize = [1, 2, 2, 1], padding = "VALID", strides = [1, 2, 2, 1]}} : float32[N,2,2,2]
      %s = Const() {{value = {dense(scale)}}} : float32[2]
      %o = Const() {{value = dense<float32[2] [0.1, -0.2]>}} : float32[2]
      %mean = Const() {{value = dense<float32[2] [0.3, 0.05]>}} : float32[2]
      %v = Const() {{value = {dense(var)}}} : float32[2]
      %bn, %bn:1, %bn:2, %bn:3, %bn:4, %bn:5 = FusedBatchNormV3(%x, %s, %o, %mean, %v) {{data_format = "NHWC", epsilon = 0.001, exponential_avg_factor = 1.0, is_training = false}} : float32[N,5,5,2], float32[2], float32[2], float32[2], float32[2], float32[0]
      return "mp" = %mp, "ap" = %ap, "bn" = %bn
    }}
    """
    check_export(before)


def test_avg_pool_same_excludes_padding() -> None:
    before = """
    graph @t(%x: float32[N,5,5,1]) -> (float32[N,3,3,1]) {
      %ap = AvgPool(%x) {data_format = "NHWC", explicit_paddings = [], ksize = [1, 3, 3, 1], padding = "SAME", strides = [1, 2, 2, 1]} : float32[N,3,3,1]
      return "ap" = %ap
    }
    """
    check_export(before)


# -- forms chosen for ONNX Runtime -----------------------------------------------------------------


def test_concat_of_one_tensor_repeated_is_tile() -> None:
    """ConcatV2 of x, x, x, y along axis 1 -> Concat(Tile(x, 3), y) (DIN repeats its query 50 times)."""
    before = """
    graph @t(%x: float32[N,1,2], %y: float32[N,2,2]) -> (float32[N,5,2]) {
      %ax = Const() {value = dense<int32[] [1]>} : int32[]
      %c = ConcatV2(%x, %x, %x, %y, %ax) : float32[N,5,2]
      return "out" = %c
    }
    """
    expected = """
    c/Tile = Tile(x, c/i64)
    c/Concat = Concat(c/Tile, y) <axis=1>
    out = Identity(c/Concat)
    """
    check_export(before, expected)


def test_pack_of_whole_unit_split_is_transpose() -> None:
    """Pack(axis 0) of all 4 unit slices of x[N,3,4] along axis 2 -> [4,N,3,1]: one Unsqueeze and
    one Transpose; the Split, now unused, is pruned."""
    before = """
    graph @t(%x: float32[N,3,4]) -> (float32[4,N,3,1]) {
      %ones = Const() {value = dense<int32[4] [1, 1, 1, 1]>} : int32[4]
      %ax = Const() {value = dense<int32[] [2]>} : int32[]
      %s, %s:1, %s:2, %s:3 = SplitV(%x, %ones, %ax) {num_split = 4} : float32[N,3,1], float32[N,3,1], float32[N,3,1], float32[N,3,1]
      %p = Pack(%s, %s:1, %s:2, %s:3) {axis = 0} : float32[4,N,3,1]
      return "out" = %p
    }
    """
    expected = """
    p/Unsqueeze = Unsqueeze(x, p/i64)
    p/Transpose = Transpose(p/Unsqueeze) <perm=[2, 0, 1, 3]>
    out = Identity(p/Transpose)
    """
    model = check_export(before, expected)
    assert not [t.name for t in model.graph.initializer if t.name == "ones"]


@pytest.mark.parametrize(("axis", "order"), [(1, [1, 2, 3, 0]), (2, [0, 1, 3, 2]), (3, [3, 2, 1, 0])])
def test_pack_of_unit_split_other_axes(axis: int, order: list[int]) -> None:
    """Other Pack axes, and pieces out of order (then the plain Unsqueeze + Concat form)."""
    outs = ", ".join(f"%s:{i}" if i else "%s" for i in order)
    before = f"""
    graph @t(%x: float32[N,3,4]) -> (float32[*]) {{
      %ones = Const() {{value = dense<int32[4] [1, 1, 1, 1]>}} : int32[4]
      %ax = Const() {{value = dense<int32[] [2]>}} : int32[]
      %s, %s:1, %s:2, %s:3 = SplitV(%x, %ones, %ax) {{num_split = 4}} : float32[N,3,1], float32[N,3,1], float32[N,3,1], float32[N,3,1]
      %p = Pack({outs}) {{axis = {axis}}} : float32[*]
      return "out" = %p
    }}
    """
    shape = ["N", 3, 1]
    shape.insert(axis, 4)
    text = before.replace("float32[*]", f"float32[{','.join(map(str, shape))}]")
    check_export(text)


def test_matmul_before_transpose() -> None:
    """A pointwise FusedConv2D (matmul) of ExpandDims(Transpose(y)) where the transpose keeps the
    last axis: the product is taken on y and the narrower result transposed (xDeepFM's CIN)."""
    w = RNG.normal(size=(1, 1, 6, 2)).astype(np.float32)
    before = f"""
    graph @t(%y: float32[3,N,6]) -> (float32[N,1,3,2]) {{
      %perm = Const() {{value = dense<int32[3] [1, 0, 2]>}} : int32[3]
      %t = Transpose(%y, %perm) : float32[N,3,6]
      %ax = Const() {{value = dense<int32[] [-3]>}} : int32[]
      %e = ExpandDims(%t, %ax) : float32[N,1,3,6]
      %w = Const() {{value = {dense(w)}}} : float32[1,1,6,2]
      %c = FusedConv2D(%e, %w) {{{_conv_attrs(1, "VALID", False, "Relu", "matmul")}}} : float32[N,1,3,2]
      return "out" = %c
    }}
    """
    expected = """
    c/MatMul = MatMul(y, c/const)
    c/Transpose = Transpose(c/MatMul) <perm=[1, 0, 2]>
    c/Unsqueeze = Unsqueeze(c/Transpose, e/i64)
    c/Relu = Relu(c/Unsqueeze)
    out = Identity(c/Relu)
    """
    check_export(before, expected, feeds=lambda g, b: {"y": RNG.normal(size=(3, b, 6)).astype(np.float32)})


# -- the graph's surface --------------------------------------------------------------------------


def test_constant_output_and_folding() -> None:
    """A subgraph of constants is folded with the reference; an output that is a constant, an
    output that is an input's identity, and one value under two names all export."""
    before = """
    graph @t(%x: float32[N,2]) -> (float32[2], float32[N,2], float32[N,2]) {
      %a = Const() {value = dense<float32[2] [1.0, 4.0]>} : float32[2]
      %s = Sqrt(%a) : float32[2]
      %i = Identity(%x) : float32[N,2]
      return "c" = %s, "i" = %i, "j" = %i
    }
    """
    model = check_export(before)
    assert [n.op_type for n in model.graph.node] == ["Identity"] * 3


def test_large_constants_stored_once() -> None:
    """Two Const nodes holding the same table become one initializer."""
    table = RNG.normal(size=(64, 8)).astype(np.float32)
    before = f"""
    graph @t(%ids: int32[N,2]) -> (float32[N,2,8]) {{
      %t1 = Const() {{value = {dense(table)}}} : float32[64,8]
      %t2 = Const() {{value = {dense(table)}}} : float32[64,8]
      %axis = Const() {{value = dense<int32[] [0]>}} : int32[]
      %g1 = GatherV2(%t1, %ids, %axis) {{batch_dims = 0}} : float32[N,2,8]
      %g2 = GatherV2(%t2, %ids, %axis) {{batch_dims = 0}} : float32[N,2,8]
      %s = AddV2(%g1, %g2) : float32[N,2,8]
      return "out" = %s
    }}
    """
    model = check_export(before, feeds=lambda g, b: random_feeds(g, b, low=-2, high=70))
    big = [(t.name, list(t.dims)) for t in model.graph.initializer if int(np.prod(t.dims)) >= 64 * 8]
    assert big == [("t1", [65, 8])]  # with its zero row for out-of-range ids


def test_unsupported_op_names_nodes() -> None:
    """Every node whose op has no ONNX form is named, by op, in one ExportError."""
    before = """
    graph @t(%x: float32[N,3], %y: float32[N,3]) -> (float32[N,3], float32[N,3]) {
      %ax = Const() {value = dense<int32[] [1]>} : int32[]
      %cp = Cumprod(%x, %ax) {exclusive = false, reverse = false} : float32[N,3]
      %cp2 = Cumprod(%y, %ax) {exclusive = false, reverse = false} : float32[N,3]
      %at = Atan2(%x, %y) : float32[N,3]
      %s = AddV2(%cp, %cp2) : float32[N,3]
      %fe = FusedElementwise(%x, %y) {body = "[[\\"Atan2\\",[0,1],{}],[\\"Neg\\",[2],{}]]"} : float32[N,3]
      return "s" = %s, "at" = %at, "fe" = %fe
    }
    """
    with pytest.raises(ExportError) as err:
        export_onnx(ir(before))
    assert str(err.value) == (
        "t: 3 op type(s) have no ONNX export:\n  Atan2: 'at'\n"
        "  Atan2 (in a FusedElementwise body): 'fe'\n  Cumprod: 'cp', 'cp2'"
    )


def test_unsupported_form_names_node_and_operand() -> None:
    """An op the exporter knows, in a form it cannot express: the node, op and operand named."""
    before = """
    graph @t(%x: float32[N,3], %p: int32[2]) -> (float32[N,3]) {
      %y = Transpose(%x, %p) : float32[?,?]
      return "out" = %y
    }
    """
    with pytest.raises(
        ExportError, match=r"node 'y' \(Transpose\): Transpose's perm must be known at export time"
    ):
        export_onnx(ir(before))
    with pytest.raises(ExportError, match="opset 11 is not supported"):
        export_onnx(ir(before), opset=11)


# -- the executor ---------------------------------------------------------------------------------


def test_executor_checks_inputs_and_is_thread_safe() -> None:
    before = f"""
    graph @t(%x: float32[N,3], %k: int32[N,1]) -> (float32[N,4]) {{
      %w = Const() {{value = {dense(W34)}}} : float32[3,4]
      %y = FusedDense(%x, %w) {{activation = "Tanh"}} : float32[N,4]
      %c = Cast(%k) {{DstT = "float32", Truncate = false}} : float32[N,1]
      %z = Mul(%y, %c) : float32[N,4]
      return "out" = %z
    }}
    """
    graph = ir(before)
    ex = OrtExecutable(export_onnx(graph).SerializeToString(), intra_op_threads=1)
    assert ex.input_names == ["x", "k"] and ex.output_names == ["out"]
    with pytest.raises(OrtInputError, match="expected 2 inputs"):
        ex([np.zeros((1, 3), np.float32)])
    with pytest.raises(OrtInputError, match="input 'k': expected int32, got int64"):
        ex([np.zeros((1, 3), np.float32), np.zeros((1, 1), np.int64)])
    feeds = [random_feeds(graph, b, seed=b) for b in range(1, 9)]
    want = [run_reference(graph, f)["out"] for f in feeds]
    errors: list[str] = []

    def worker(i: int) -> None:
        for _ in range(20):
            k = (i + _) % len(feeds)
            got = ex([feeds[k]["x"], feeds[k]["k"]])[0]
            if not np.allclose(got, want[k], rtol=1e-5, atol=1e-6):
                errors.append(f"thread {i} call {_}: wrong result for batch {k + 1}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity (Linux)")
def test_default_threads_follow_the_affinity_mask() -> None:
    """Before: the process may run on CPU 0 only (taskset, a container's cpuset), the session is
    given no thread count. Expected: one intra-op thread, set explicitly (ONNX Runtime's own
    default would count the machine's cores and pin its pool threads)."""
    model = export_onnx(
        ir("""
        graph @t(%x: float32[N,4]) -> (float32[N,4]) {
          %y = Relu(%x) : float32[N,4]
          return "y" = %y
        }""")
    )
    before = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(before)})
        assert usable_cores() == 1
        session = OrtExecutable(model.SerializeToString())
        assert session.intra_op_threads == 1
        assert session.session.get_session_options().intra_op_num_threads == 1
    finally:
        os.sched_setaffinity(0, before)
    assert 1 <= usable_cores() <= len(before)
    x = np.array([[-1.0, 2.0, -3.0, 4.0]], np.float32)
    np.testing.assert_array_equal(session.run_named({"x": x})["y"], np.maximum(x, 0))


def test_sharded_session_splits_rows_and_matches_whole() -> None:
    """Before: a row-wise graph (a dense layer and a softmax per row), ONNX Runtime given two
    shards. Expected: batches of 2 or more rows run as two row slices at once, each slice's rows
    in order, equal to one whole call; a batch of one row runs whole."""
    w = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    model = export_onnx(
        ir(f"""
        graph @t(%x: float32[N,3]) -> (float32[N,4]) {{
          %w = Const() {{value = {dense(w)}}} : float32[3,4]
          %h = MatMul(%x, %w) : float32[N,4]
          %y = Softmax(%h) : float32[N,4]
          return "y" = %y
        }}""")
    )
    whole = OrtExecutable(model.SerializeToString(), intra_op_threads=1)
    sharded = OrtExecutable(model.SerializeToString(), shards=2)
    assert sharded.shards == 2 and sharded.intra_op_threads == 1
    try:
        for rows in (1, 2, 7, 33):
            x = np.random.default_rng(rows).normal(size=(rows, 3)).astype(np.float32)
            got, want = sharded.run_trusted([x])[0], whole.run_trusted([x])[0]
            assert got.shape == (rows, 4)
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    finally:
        sharded.close()


def test_sharding_is_off_when_an_output_is_not_per_row() -> None:
    """Before: a graph whose output sums over the batch. Expected: the executable runs whole."""
    model = export_onnx(
        ir("""
        graph @t(%x: float32[N,3]) -> (float32[3]) {
          %axis = Const() {value = dense<int32[] [0]>} : int32[]
          %y = Sum(%x, %axis) {keep_dims = false} : float32[3]
          return "y" = %y
        }""")
    )
    sharded = OrtExecutable(model.SerializeToString(), shards=2)
    assert sharded.shards == 1
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.testing.assert_allclose(sharded.run_trusted([x])[0], x.sum(0))
