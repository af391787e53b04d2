"""Freeze a SavedModel's serving signature into a GraphDef (needs TensorFlow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fourier.errors import ExternalStateError, GraphImportError

__all__ = ["freeze_saved_model", "load_signature", "freeze_function"]


def load_signature(path: Path, signature: str = "serving_default") -> tuple[Any, Any]:
    """Load the SavedModel with TensorFlow (its table initializers run): (the loaded object, the
    signature's concrete function). The object keeps the function's captured resources alive."""
    try:
        import tensorflow as tf
    except ImportError as e:
        raise GraphImportError(
            f"{path}: importing a SavedModel needs TensorFlow to freeze it; install tensorflow, "
            "or pass a frozen .pb"
        ) from e
    if not (path / "saved_model.pb").exists():
        raise GraphImportError(f"{path}: not a SavedModel directory (no saved_model.pb)")
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as e:
        raise GraphImportError(f"{path}: TensorFlow could not load the SavedModel: {e}") from e
    if signature not in loaded.signatures:
        raise GraphImportError(
            f"{path}: no signature {signature!r}; it has {sorted(loaded.signatures.keys())}"
        )
    return loaded, loaded.signatures[signature]


def freeze_function(fn: Any) -> tuple[Any, list[str], list[str]]:
    """Freeze a concrete function's variables into constants: (TensorFlow's GraphDef proto, output
    tensor names, output names from the signature). Resources that are not variables (hash
    tables) stay as Placeholders of dtype resource, named as the function's captures."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    if fn.graph.get_collection("table_initializer"):  # a TF1 SavedModel's tables, ops of its graph
        raise ExternalStateError(
            "the signature reads hash tables its TF1 graph initializes; a SavedModel's tables import "
            "with fourier.host.extract.load_model"
        )
    frozen = convert_variables_to_constants_v2(fn)
    outputs = [t.name.split(":")[0] if t.name.endswith(":0") else t.name for t in frozen.outputs]
    names = sorted(fn.structured_outputs.keys()) if isinstance(fn.structured_outputs, dict) else outputs
    return frozen.graph.as_graph_def(), outputs, list(names)


def freeze_saved_model(path: Path, signature: str = "serving_default") -> tuple[bytes, list[str], list[str]]:
    """Return (GraphDef bytes, output tensor names, output names from the signature)."""
    _, fn = load_signature(path, signature)
    graph_def, outputs, names = freeze_function(fn)
    return graph_def.SerializeToString(), outputs, names
