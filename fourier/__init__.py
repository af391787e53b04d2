"""Fourier: a graph compiler for TensorFlow inference graphs.

A frozen GraphDef goes in; an artifact of XLA executables compiled ahead of time for a set of
batch buckets comes out; `load` serves it inside your process::

    import fourier
    fourier.compile("model.pb", "model.fourier", buckets=[32, 64, 128])
    model = fourier.load("model.fourier")
    outputs = model({"features": x})
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "compile",
    "import_model",
    "load",
    "import_graph",
    "optimize",
    "explain_rule",
    "list_passes",
    "Model",
    "Batcher",
    "Graph",
    "Signature",
    "TensorSpec",
    "CompileReport",
    "errors",
]

if TYPE_CHECKING:
    from fourier.compiler import CompileReport, Imported
    from fourier.ir.core import Graph
    from fourier.runtime import Model
    from fourier.signature import Signature, TensorSpec


def compile(model: Any, out: Any, buckets: Any = (32, 64, 128), **kwargs: Any) -> CompileReport:
    """Compile a frozen graph (``.pb``, ``.pbtxt``, SavedModel dir, or `Graph`) into ``out``."""
    from fourier.compiler import compile_model

    return compile_model(model, out, buckets, **kwargs)


def import_model(model: Any, outputs: Any = None) -> Imported:
    """The first compile stage, to stop at and print: ``.optimize()``, ``.lower()``,
    ``.compile()`` and ``.package(out)`` continue it (`fourier.compiler`)."""
    from fourier.compiler import import_model as _import_model

    return _import_model(model, outputs)


def load(path: Any, platform: str | None = None, **kwargs: Any) -> Model:
    """Load an artifact for serving (warm-up, long-tail policy, cache dir: `fourier.runtime.load`)."""
    from fourier.runtime import load as _load

    return _load(path, platform, **kwargs)


def import_graph(path: Any, outputs: Any = None) -> Graph:
    """Import a TensorFlow graph into the IR without compiling it."""
    from fourier.importer import load_graph

    return load_graph(path, outputs)


def optimize(model: Any, pipeline: str | None = None, **kwargs: Any) -> Any:
    """Run a pass pipeline on a graph, model file or reproducer (`fourier.api.optimize`)."""
    from fourier.api import optimize as _optimize

    return _optimize(model, pipeline, **kwargs)


def explain_rule(model: Any, rule: str, at: str | None = None, **kwargs: Any) -> Any:
    """Why a rewrite rule does or does not match, per node (`fourier.api.explain_rule`)."""
    from fourier.api import explain_rule as _explain_rule

    return _explain_rule(model, rule, at, **kwargs)


def list_passes() -> dict[str, str]:
    """Every pass a pipeline can name, with its summary (`fourier.api.list_passes`)."""
    from fourier.api import list_passes as _list_passes

    return _list_passes()


def __getattr__(name: str) -> Any:
    # Lazy so that `import fourier` stays cheap and TensorFlow-free.
    if name == "Model":
        from fourier.runtime import Model

        return Model
    if name == "Batcher":
        from fourier.batcher import Batcher

        return Batcher
    if name == "Graph":
        from fourier.ir.core import Graph

        return Graph
    if name in ("Signature", "TensorSpec"):
        from fourier import signature

        return getattr(signature, name)
    if name == "CompileReport":
        from fourier.compiler import CompileReport

        return CompileReport
    if name == "errors":
        from fourier import errors

        return errors
    raise AttributeError(name)
