"""Helpers for pass tests: Before / Expected IR text, and a differential check of the two graphs."""

from __future__ import annotations

import textwrap

import numpy as np

from fourier.interpreter import run_reference
from fourier.ir.core import Graph
from fourier.ir.parser import parse_graph
from fourier.ir.types import numpy_dtype
from fourier.passes.manager import PassManager, PipelineReport, parse_pipeline


def ir(text: str) -> Graph:
    return parse_graph(textwrap.dedent(text).strip() + "\n")


def random_feeds(graph: Graph, batch: int, seed: int = 0, int_high: int = 10) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for node in graph.inputs:
        t = node.output.type
        shape = tuple(batch if not isinstance(d, int) else d for d in t.shape or ())
        dt = numpy_dtype(t.dtype)
        if t.dtype == "bool":
            feeds[node.name] = rng.integers(0, 2, shape).astype(bool)
        elif np.issubdtype(dt, np.integer):
            feeds[node.name] = rng.integers(-2, int_high, shape).astype(dt)
        else:
            feeds[node.name] = rng.uniform(-2, 2, shape).astype(dt)
    return feeds


def assert_same_outputs(
    before: Graph, after: Graph, batches: tuple[int, ...] = (1, 3), rtol: float = 1e-5
) -> None:
    """Differential check: the reference interpreter gives the same outputs before and after."""
    for b in batches:
        feeds = random_feeds(before, b, seed=b)
        want, got = run_reference(before, feeds), run_reference(after, feeds)
        assert list(want) == list(got)
        for name in want:
            assert got[name].dtype == want[name].dtype and got[name].shape == want[name].shape, name
            np.testing.assert_allclose(got[name], want[name], rtol=rtol, atol=1e-6, err_msg=name)


def assert_compiles(graph: Graph, batch: int = 3, rtol: float = 1e-5) -> None:
    """A pass must never turn a compilable graph into an uncompilable one: the graph lowers,
    XLA compiles it at ``batch`` rows, and it computes what the reference interpreter does."""
    import jax

    from fourier.backends.jax_lowering import lower_graph

    feeds = random_feeds(graph, batch, seed=batch)
    want = run_reference(graph, feeds)
    lowered = lower_graph(graph)
    with jax.enable_x64(True):
        compiled = (
            jax.jit(lowered.fn)
            .lower(list(lowered.param_values), [feeds[n] for n in lowered.input_names])
            .compile()
        )
        got = compiled(list(lowered.param_values), [feeds[n] for n in lowered.input_names])
    for (name, _), out in zip(graph.outputs, got):
        np.testing.assert_allclose(np.asarray(out), want[name], rtol=rtol, atol=1e-6, err_msg=name)


def check(pipeline: str, before: str, expected: str | None) -> PipelineReport:
    """Run ``pipeline`` on Before; the result must print as Expected (None: unchanged), compute
    the same, and still compile with XLA."""
    graph, original = ir(before), ir(before)
    report = PassManager(parse_pipeline(pipeline), verify=True).run(graph)
    want = str(original) if expected is None else str(ir(expected))
    assert str(graph) == want, f"\n--- got ---\n{graph}\n--- expected ---\n{want}"
    assert_same_outputs(original, graph)
    assert_compiles(graph)
    return report
