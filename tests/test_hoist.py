"""Request-level hoisting (`fourier.passes.hoist`, ``fourier compile --shared``).

Before/Expected on a small graph, refusals, and zoo models compiled with shared inputs against
TensorFlow fed the same request with the shared rows repeated (rtol 1e-4, atol 1e-5), at
N = 1, 7, 33, 128, 300 over buckets 8 and 64 (128 and 300 run chunked / on the long-tail path).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import fourier
from fourier.errors import InputError
from fourier.interpreter import run_reference
from fourier.passes.hoist import HoistError, hoist_shared, plan_hoist
from fourier.testing.zoo import ZooModel, random_inputs
from tests.passes._util import ir

RTOL, ATOL = 1e-4, 1e-5
SIZES = (1, 7, 33, 128, 300)

W = "dense<float32[4x4] [1.0, 2.0, 0.5, 0.0, 0.0, 1.0, -1.0, 2.0, 3.0, 0.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]>"
BEFORE = f"""
graph @t(%u: float32[N,4], %c: float32[N,4]) -> (float32[N,4], float32[N,4]) {{
  %k = Const() {{value = dense<int32[] [0]>}} : int32[]
  %w = Const() {{value = {W}}} : float32[4,4]
  %a = MatMul(%u, %w) {{transpose_a = false, transpose_b = false}} : float32[N,4]
  %r = Relu(%a) : float32[N,4]
  %n = Neg(%u) : float32[N,4]
  %m = Mean(%u, %k) {{keep_dims = true}} : float32[1,4]
  %b = Sub(%n, %m) : float32[N,4]
  %y = AddV2(%r, %c) : float32[N,4]
  return "y" = %y, "b" = %b
}}
"""

EXPECTED = f"""
graph @t(%u: float32[1,4], %c: float32[N,4]) -> (float32[N,4], float32[N,4]) {{
  %k = Const() {{value = dense<int32[] [0]>}} : int32[]
  %w = Const() {{value = {W}}} : float32[4,4]
  %a = MatMul(%u, %w) {{transpose_a = false, transpose_b = false}} : float32[1,4]
  %r = Relu(%a) : float32[1,4]
  %u/broadcast = BatchBroadcast(%u, %c) {{axis = 0, inner = 1}} : float32[N,4]  # rule hoist-shared
  %n = Neg(%u/broadcast) : float32[N,4]
  %m = Mean(%u/broadcast, %k) {{keep_dims = true}} : float32[1,4]
  %b = Sub(%n, %m) : float32[N,4]
  %r/broadcast = BatchBroadcast(%r, %c) {{axis = 0, inner = 1}} : float32[N,4]  # from r  # rule hoist-shared
  %y = AddV2(%r/broadcast, %c) : float32[N,4]
  return "y" = %y, "b" = %b
}}
"""


def test_hoist_before_expected() -> None:
    """The user-side MatMul and the Relu after it are computed once and broadcast where they meet
    the candidates. Neg only moves data (broadcasting its result would cost as much), so it stays
    per row on the broadcast input; the Mean over the batch mixes rows, so it stays too."""
    g = ir(BEFORE)
    plan = hoist_shared(g, ["u"])
    assert str(g) == str(ir(EXPECTED))
    assert plan.hoisted == ["a", "r"]
    assert plan.kept == {
        "m": "m (Mean): reduces over the N axis",
        "b": "m (Mean): reduces over the N axis",
        "n": "moves data only: broadcasting its result would cost as much",
    }
    assert plan.broadcasts == ["u/broadcast", "r/broadcast"]
    rng = np.random.default_rng(0)
    for n in (1, 5):
        u, c = rng.normal(size=(1, 4)).astype(np.float32), rng.normal(size=(n, 4)).astype(np.float32)
        want = run_reference(ir(BEFORE), {"u": np.repeat(u, n, 0), "c": c})
        got = run_reference(g, {"u": u, "c": c})
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-6)


def test_plan_matches_rewrite() -> None:
    """plan_hoist says what hoist_shared then does, without changing the graph."""
    g = ir(BEFORE)
    text = str(g)
    plan = plan_hoist(g, ["u"])
    assert str(g) == text
    assert plan.to_json() == hoist_shared(g, ["u"]).to_json()


@pytest.mark.parametrize(
    ("shared", "message"),
    [
        (["v"], "shared input 'v' is not an input of the graph; its inputs are: u, c"),
        (["u", "c"], "every batched input is declared shared"),
    ],
)
def test_hoist_refusals(shared: list[str], message: str) -> None:
    with pytest.raises(HoistError, match=message):
        plan_hoist(ir(BEFORE), shared)


def test_shared_input_must_be_batched() -> None:
    g = ir("""
    graph @t(%w: float32[4], %c: float32[N,4]) -> (float32[N,4]) {
      %y = AddV2(%c, %w) : float32[N,4]
      return "y" = %y
    }
    """)
    with pytest.raises(
        HoistError, match=r"shared input 'w' has type float32\[4\]: only an input whose first"
    ):
        plan_hoist(g, ["w"])


# -- zoo models ---------------------------------------------------------------------------------

DIN_SHARED = ["hist_C1", "hist_C2", "seq_length", "C3", "C4", "C5", "I1", "I2"]  # history + profile
USER_FIELDS = [f"C{i}" for i in range(3, 27)] + [f"I{i}" for i in range(1, 14)]  # all but the item's
CASES = {  # id -> (model, shared inputs)
    "din": ("din", DIN_SHARED),
    "din-user": ("din", ["hist_C1", "hist_C2", "seq_length", *USER_FIELDS]),
    "ranker": ("ranker", ["user_ids", "user_dense"]),
    "twotower": ("twotower", ["user_id", "user_hist", "user_dense"]),  # the whole user tower
    "deepfm": ("deepfm", ["C1", "C2", "C3", "C4", "C5", "C6", "I1", "I2", "I3"]),
    "deepfm-user": ("deepfm", USER_FIELDS),  # the DNN's first layer splits through the flatten
}


def _request(
    model: ZooModel, n: int, shared: list[str]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(one request: shared inputs as one row, the same request with the shared rows repeated)."""
    feeds = random_inputs(model, n, seed=n, seq=16)
    one = {k: (v[:1] if k in shared else v) for k, v in feeds.items()}
    repeated = {k: (np.repeat(v[:1], n, 0) if k in shared else v) for k, v in feeds.items()}
    return one, repeated


@pytest.mark.parametrize("case", sorted(CASES))
def test_zoo_hoisted_matches_tensorflow(case: str, zoo: dict[str, ZooModel], tmp_path: Path) -> None:
    from fourier.testing.oracle import TFGraph

    name, shared = CASES[case]
    model = zoo[name]
    report = fourier.compile(model.pb, tmp_path / "a", (8, 64), shared=shared, dims=model.dims or None)
    assert report.hoist is not None and report.hoist.broadcasts, "no shared input was hoisted"
    served = fourier.load(tmp_path / "a", check_shared=True)
    assert served.manifest.shared == tuple(shared)
    tf = TFGraph(model.pb)
    for n in SIZES:
        one, repeated = _request(model, n, shared)
        want = tf(repeated)
        for feed in (one, repeated):  # one row, or the rows repeated as the un-hoisted graph took them
            got = served(feed)
            for k in want:
                np.testing.assert_allclose(got[k], want[k], rtol=RTOL, atol=ATOL, err_msg=f"{name} N={n} {k}")
    # Without the leading 1: the same outputs.
    one, _ = _request(model, 7, shared)
    bare = {k: (v[0] if k in shared else v) for k, v in one.items()}
    for k, v in served(one).items():
        np.testing.assert_array_equal(served(bare)[k], v)
    # Repeated rows that differ are refused with check_shared, naming the input and the row.
    _, repeated = _request(model, 7, shared)
    bad = dict(repeated)
    first = next(s for s in shared if s in served.shared)
    bad[first] = bad[first].copy()
    bad[first][3] += 1
    with pytest.raises(InputError, match=f"input {first!r} is shared .* row 3 differs from row 0"):
        served(bad)


def test_hoisted_din_through_the_copy_path(zoo: dict[str, ZooModel], tmp_path: Path) -> None:
    """The GPU copy path (its CUDA calls on host memory) with the request-level block: requests
    of different users from 16 threads at once, each matching TensorFlow on replicated rows, and
    one copy in per request for the two packed buffers."""
    from concurrent.futures import ThreadPoolExecutor

    from fourier.gpu_copy import CopyPath
    from fourier.testing.oracle import TFGraph
    from tests.test_gpu_copy import HostMemcpy

    model, shared = zoo["din"], DIN_SHARED
    fourier.compile(model.pb, tmp_path / "a", (8, 64), shared=shared)
    served = fourier.load(tmp_path / "a", cache_dir=None)
    layout = served._layout
    assert layout is not None and layout.fixed and not layout.loose
    api = HostMemcpy()
    (replica,) = served.replicas
    replica.copy = CopyPath(replica.device, served.signature, layout, slots=3, api=api)
    tf = TFGraph(model.pb)
    pairs = [_request(model, n, shared) for n in (1, 7, 33, 64) * 4]
    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(served, [one for one, _ in pairs]))
    for g, (_, repeated) in zip(got, pairs):
        want = tf(repeated)
        for k in want:
            np.testing.assert_allclose(g[k], want[k], rtol=RTOL, atol=ATOL)
    before = api.copies
    served(pairs[0][0])
    assert api.copies == before + 2  # the row buffer and the request-level block


def test_dense_layers_split_where_the_user_side_meets_the_candidates() -> None:
    """Before: DIN's attention unit in small, ``[q, k, q - k] W + b`` with ``k`` request-level.
    Expected: the dense layer is split by rows of W (``q W0 + k W1 + (q W2 - k W2) + b``), the two
    products of ``k`` are computed once per request, and the outputs equal the original graph's
    fed the shared row repeated."""
    rng = np.random.default_rng(3)
    w = rng.normal(size=(12, 3)).astype(np.float32)
    b = rng.normal(size=3).astype(np.float32)
    text = f"""
    graph @t(%k: float32[N,4], %q: float32[N,4]) -> (float32[N,3]) {{
      %axis = Const() {{value = dense<int32[] [-1]>}} : int32[]
      %w = Const() {{value = dense<float32[12x3] {w.ravel().tolist()}>}} : float32[12,3]
      %b = Const() {{value = dense<float32[3] {b.tolist()}>}} : float32[3]
      %d = Sub(%q, %k) : float32[N,4]
      %x = ConcatV2(%q, %k, %d, %axis) : float32[N,12]
      %y = FusedDense(%x, %w, %b) {{activation = ""}} : float32[N,3]
      return "y" = %y
    }}
    """
    g = ir(text)
    plan = hoist_shared(g, ["k"])
    assert plan.hoisted == ["y/split1", "y/split2/rhs"]  # k W1 and k W2
    assert sorted(g.node(n).inputs[0].producer.name for n in plan.broadcasts) == ["y/split1", "y/split2/rhs"]
    for n in (1, 6):
        k, q = rng.normal(size=(1, 4)).astype(np.float32), rng.normal(size=(n, 4)).astype(np.float32)
        want = run_reference(ir(text), {"k": np.repeat(k, n, 0), "q": q})["y"]
        np.testing.assert_allclose(run_reference(g, {"k": k, "q": q})["y"], want, rtol=1e-5, atol=1e-6)


def test_the_command_line_shows_the_hoisting(zoo: dict[str, ZooModel], tmp_path: Path) -> None:
    """``fourier compile --shared`` prints what was hoisted, ``fourier inspect`` marks the shared
    inputs, and a shared name that is not an input is one line naming the inputs."""
    from tests.test_cli import assert_one_line_error, fourier_cli

    pb, out = str(zoo["twotower"].pb), str(tmp_path / "tt.fourier")
    proc = fourier_cli("compile", pb, "-o", out, "--buckets", "8", "--shared", "user_id,user_hist,user_dense")
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.replace("│", " ").split())  # the table wraps its cells
    assert "shared inputs user_id, user_hist, user_dense: 6 nodes computed once per request" in text
    assert "model/user_vector/BiasAdd" in text
    shown = " ".join(fourier_cli("inspect", out).stdout.replace("│", " ").split())
    assert "[1, 50] (shared: one row per request)" in shown and "hoisted" in shown
    bad = fourier_cli("compile", pb, "-o", str(tmp_path / "b.fourier"), "--shared", "user")
    assert_one_line_error(bad, ["'user'", "user_id"])
