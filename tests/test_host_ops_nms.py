"""NonMaxSuppressionV3/V4/V5 (fourier/ops/sparse.py) against TensorFlow's kernels.

They run on the host: how many boxes survive depends on the values, so the ops carry the
``host`` and ``value_sized`` traits and their lowering refuses. Their numpy reference is what
the host executor runs; here it is compared with ``tf.raw_ops``: indices and counts exactly, the
soft-NMS scores to one unit in the last place (numpy's exp and glibc's expf differ in the last
bit at times) over random overlapping boxes, ties, flipped and empty boxes, thresholds at their
bounds, float16, and the padded form.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from fourier.errors import CompileError
from fourier.ops.registry import get_op

tf = pytest.importorskip("tensorflow")
raw = tf.raw_ops
RNG = np.random.default_rng(23)
NMS = ("NonMaxSuppressionV3", "NonMaxSuppressionV4", "NonMaxSuppressionV5")
COVERED = set(NMS)  # reference vs TensorFlow here (they have no lowering to compare with)


def _boxes(n: int, dtype: Any = np.float32, spread: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """n boxes [y1, x1, y2, x2], many overlapping, some with flipped corners, and their scores."""
    centre = RNG.uniform(0, spread, (n, 2))
    size = RNG.uniform(0.05, 0.5, (n, 2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    flip = RNG.random(n) < 0.3
    boxes[flip] = boxes[flip][:, [2, 3, 0, 1]]
    return boxes.astype(dtype), RNG.random(n).astype(dtype)


def _ref(op: str, attrs: dict[str, Any], *args: Any) -> list[np.ndarray]:
    out = get_op(op).reference(attrs, *[np.asarray(a) for a in args])
    return [np.asarray(o) for o in (out if isinstance(out, tuple) else (out,))]


def _same(got: list[np.ndarray], want: Any) -> None:
    want = list(want) if isinstance(want, (list, tuple)) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = w.numpy()
        assert g.dtype == w.dtype and g.shape == w.shape, (g.dtype, g.shape, w.dtype, w.shape)
        if g.dtype.kind == "f":  # soft-NMS scores: exp's last bit differs from glibc's expf at times
            np.testing.assert_array_max_ulp(g, w, maxulp=1)
        else:
            np.testing.assert_array_equal(g, w)


def _run(op: str, boxes: np.ndarray, scores: np.ndarray, k: int, iou: float, floor: float, **kw: Any) -> None:
    t = boxes.dtype
    args = [boxes, scores, np.int32(k), t.type(iou), t.type(floor)]
    attrs = {"pad_to_max_output_size": kw.get("pad", False)}
    if op == "NonMaxSuppressionV3":
        want = raw.NonMaxSuppressionV3(
            boxes=boxes, scores=scores, max_output_size=k, iou_threshold=args[3], score_threshold=args[4]
        )
        attrs = {}
    elif op == "NonMaxSuppressionV4":
        want = raw.NonMaxSuppressionV4(
            boxes=boxes,
            scores=scores,
            max_output_size=k,
            iou_threshold=args[3],
            score_threshold=args[4],
            pad_to_max_output_size=attrs["pad_to_max_output_size"],
        )
    else:
        sigma = t.type(kw.get("sigma", 0.0))
        args.append(sigma)
        want = raw.NonMaxSuppressionV5(
            boxes=boxes,
            scores=scores,
            max_output_size=k,
            iou_threshold=args[3],
            score_threshold=args[4],
            soft_nms_sigma=sigma,
            pad_to_max_output_size=attrs["pad_to_max_output_size"],
        )
    _same(_ref(op, attrs, *args), want)


@pytest.mark.parametrize("op", NMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_nms_equals_tensorflow_on_random_boxes(op: str, dtype: Any) -> None:
    for n, k, iou, floor in [
        (40, 10, 0.5, -np.inf),
        (40, 40, 0.3, 0.2),
        (25, 100, 0.0, -np.inf),  # any overlap suppresses
        (25, 7, 1.0, 0.5),  # only identical boxes suppress
        (60, 0, 0.5, -np.inf),  # nothing asked for
        (0, 5, 0.5, 0.0),  # no boxes
        (1, 5, 0.5, 0.0),
    ]:
        boxes, scores = _boxes(n, dtype)
        for pad in (False, True) if op != "NonMaxSuppressionV3" else (False,):
            _run(op, boxes, scores, k, iou, floor, pad=pad)


def test_nms_ties_duplicates_and_empty_boxes_equal_tensorflow() -> None:
    boxes = np.array(
        [
            [0, 0, 1, 1],
            [0, 0, 1, 1],  # a duplicate with the same score: the lower index wins
            [0.5, 0.5, 0, 0],  # flipped corners
            [0.2, 0.2, 0.2, 0.8],  # no area: never overlaps
            [0.2, 0.2, 0.2, 0.8],
            [0, 0.5, 1, 1.5],  # IoU 1/3 with the first
            [2, 2, 3, 3],
        ],
        np.float32,
    )
    scores = np.array([0.9, 0.9, 0.8, 0.7, 0.7, 0.6, 0.9], np.float32)
    for op in NMS:
        for iou in (0.0, 1 / 3, 0.34, 0.5, 1.0):
            for floor in (-np.inf, 0.7, 0.9):
                _run(op, boxes, scores, 7, iou, floor, pad=True)
                _run(op, boxes, scores, 3, iou, floor)


def test_soft_nms_scores_equal_tensorflow() -> None:
    """Soft-NMS drops nothing by IoU (a box overlapping a kept one by 0.8 > iou_threshold stays,
    its score decayed); indices exactly, scores to one unit in the last place, float16 included."""
    for dtype in (np.float32, np.float16):
        boxes = np.array([[0, 0, 1, 1], [0, 0, 1, 0.8]], dtype)
        _run("NonMaxSuppressionV5", boxes, np.array([0.9, 0.8], dtype), 2, 0.4, 0.0, sigma=1.0)
    for _ in range(5):
        for sigma, iou, floor in [(0.5, 1.0, 0.0), (0.1, 0.6, 0.05), (1.0, 0.4, -np.inf), (0.3, 1.0, 0.3)]:
            for dtype in (np.float32, np.float16):
                boxes, scores = _boxes(30, dtype, spread=0.6)
                for pad in (False, True):
                    _run("NonMaxSuppressionV5", boxes, scores, 20, iou, floor, sigma=sigma, pad=pad)


def test_nms_checks_what_tensorflow_checks() -> None:
    boxes, scores = _boxes(4)
    with pytest.raises(ValueError, match="iou_threshold 1.5 is not in"):
        _ref("NonMaxSuppressionV3", {}, boxes, scores, np.int32(2), np.float32(1.5), np.float32(0))
    with pytest.raises(ValueError, match="4 boxes|num_boxes"):
        _ref("NonMaxSuppressionV3", {}, boxes, scores[:3], np.int32(2), np.float32(0.5), np.float32(0))


def test_nms_ops_are_host_ops_whose_lowering_refuses() -> None:
    for op in NMS:
        d = get_op(op)
        assert {"host", "value_sized"} <= d.traits and d.family == "sparse", op
        with pytest.raises(CompileError, match=f"{op} runs on the host only .*depends on the values"):
            d.lower({})


def test_nms_in_a_graph_runs_in_the_host_part_and_matches_tensorflow() -> None:
    """Before: boxes and scores fed, NonMaxSuppressionV4 (padded) and V5 (soft) on them, the kept
    boxes gathered. Expected: V5 is placed on the host, the padded V4 (a static shape) on the
    device, and the reference interpreter gives TensorFlow's answer."""
    from fourier.host.partition import partition
    from fourier.importer.graphdef import import_graphdef
    from fourier.interpreter import run_reference

    g = tf.Graph()
    with g.as_default():
        b = tf.compat.v1.placeholder(tf.float32, [None, 4], name="boxes")
        s = tf.compat.v1.placeholder(tf.float32, [None], name="scores")
        idx, valid = raw.NonMaxSuppressionV4(
            boxes=b,
            scores=s,
            max_output_size=6,
            iou_threshold=0.4,
            score_threshold=0.1,
            pad_to_max_output_size=True,
        )
        sel, sc, _ = raw.NonMaxSuppressionV5(
            boxes=b, scores=s, max_output_size=8, iou_threshold=0.7, score_threshold=0.1, soft_nms_sigma=0.4
        )
        tf.identity(tf.gather(b, idx), name="kept")
        tf.identity(valid, name="valid")
        tf.identity(sc * 2.0, name="soft")
        tf.identity(sel, name="sel")
    names = ["kept", "valid", "soft", "sel"]
    graph = import_graphdef(g.as_graph_def(), "<nms>", names)
    by_name = {n.op: n for n in graph.nodes}
    assert by_name["NonMaxSuppressionV4"].outputs[0].type.shape == (6,)
    plan = partition(graph)
    ops = {n.name: n.op for n in graph.nodes}
    assert {ops[name] for name, where in plan.placement.items() if where == "host"} >= {"NonMaxSuppressionV5"}
    assert {ops[name] for name, where in plan.placement.items() if where == "device"} >= {
        "NonMaxSuppressionV4"
    }
    boxes, scores = _boxes(30, spread=0.7)
    feeds = {"boxes": boxes, "scores": scores}
    got = run_reference(graph, feeds)
    with tf.compat.v1.Session(graph=g) as sess:
        want = sess.run([f"{n}:0" for n in names], {"boxes:0": boxes, "scores:0": scores})
    for n, w in zip(names, want):
        np.testing.assert_array_equal(np.asarray(got[n]), w, err_msg=n)


def _padded_v4_cases() -> list[Any]:
    from fourier.testing.conformance import Case

    cases = []
    for n, k, iou, floor, dtype in [
        (40, 10, 0.5, -np.inf, np.float32),
        (40, 40, 0.3, 0.2, np.float32),
        (25, 100, 0.0, -np.inf, np.float32),
        (25, 7, 1.0, 0.5, np.float32),
        (30, 12, 0.5, 0.1, np.float16),
        (60, 0, 0.5, -np.inf, np.float32),
        (0, 5, 0.5, 0.0, np.float32),
    ]:
        boxes, scores = _boxes(n, dtype)
        cases.append(
            Case(
                "NonMaxSuppressionV4",
                lambda b, s, k=k, iou=iou, floor=floor, t=dtype: raw.NonMaxSuppressionV4(
                    boxes=b,
                    scores=s,
                    max_output_size=k,
                    iou_threshold=t(iou),
                    score_threshold=t(floor),
                    pad_to_max_output_size=True,
                ),
                {"b": boxes, "s": scores},
                f"padded-{n}-boxes-keep-{k}-iou{iou}-{np.dtype(dtype).name}",
            )
        )
    return cases


@pytest.mark.parametrize("case", _padded_v4_cases(), ids=lambda c: c.id)
def test_padded_nms_v4_runs_on_the_device_and_equals_tensorflow(case: Any) -> None:
    """pad_to_max_output_size gives V4 a static [max_output_size]: the node needs no host (the
    registry's device_if), and its JAX lowering and reference both give TensorFlow's answer."""
    from fourier.host.partition import needs_host
    from fourier.importer.graphdef import import_graphdef
    from fourier.testing.conformance import check, run_tf

    graph_def, _, names = run_tf(case)
    assert not needs_host(import_graphdef(graph_def, "<nms>", names))
    check(case)


def test_unpadded_nms_v4_stays_on_the_host() -> None:
    from fourier.host.partition import needs_host
    from fourier.importer.graphdef import import_graphdef

    g = tf.Graph()
    with g.as_default():
        b = tf.compat.v1.placeholder(tf.float32, [None, 4], name="b")
        s = tf.compat.v1.placeholder(tf.float32, [None], name="s")
        idx, _ = raw.NonMaxSuppressionV4(
            boxes=b, scores=s, max_output_size=5, iou_threshold=0.5, score_threshold=0.0
        )
        tf.identity(idx, name="out")
    assert needs_host(import_graphdef(g.as_graph_def(), "<nms>", ["out"]))
