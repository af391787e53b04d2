"""Reproducers: a pipeline's input and pipeline text on disk, so ``fourier opt DIR`` replays a failure.

A reproducer directory holds ``pipeline.txt`` (the pipeline up to the failing pass),
``input.fir`` (the IR text given to the pipeline) and ``constants.safetensors`` (the constants too
large to print inline). The graph is stored as a `fourier.ir.saved.SavedGraph`, as artifacts store theirs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

import fourier.ops  # noqa: F401  (installs the op registry that parse_graph builds nodes with)
from fourier.ir.core import Graph
from fourier.ir.saved import SavedGraph, save_graph
from fourier.passes.base import Pass

__all__ = ["write_reproducer", "read_reproducer"]


def write_reproducer(directory: Path, saved: SavedGraph | Graph, passes: Sequence[Pass] | str) -> Path:
    """Write ``pipeline.txt``, ``input.fir`` and ``constants.safetensors`` into ``directory``.

    ``passes`` is the pipeline, as passes or as its text."""
    from safetensors.numpy import save_file

    if isinstance(saved, Graph):
        saved = save_graph(saved)
    text = passes if isinstance(passes, str) else ",".join(str(p) for p in passes)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pipeline.txt").write_text(text + "\n")
    (directory / "input.fir").write_text(saved.text)
    save_file(
        {k: np.ascontiguousarray(v) for k, v in saved.constants.items()},
        str(directory / "constants.safetensors"),
    )
    return directory


def read_reproducer(directory: Path) -> tuple[Graph, str]:
    """The input graph and pipeline text of a reproducer directory."""
    from safetensors.numpy import load_file

    consts = load_file(str(directory / "constants.safetensors"))
    graph = SavedGraph((directory / "input.fir").read_text(), consts).load()
    return graph, (directory / "pipeline.txt").read_text().strip()
