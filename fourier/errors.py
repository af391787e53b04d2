"""Typed errors. Every error Fourier raises on bad input is a `FourierError` naming the culprit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = [
    "FourierError",
    "GraphImportError",
    "ExternalStateError",
    "UnsupportedOpsError",
    "VerificationError",
    "InferenceError",
    "CompileError",
    "ArtifactError",
    "InputError",
    "MissingInputError",
    "UnknownInputError",
    "InputDtypeError",
    "InputShapeError",
]


class FourierError(Exception):
    """Base of every error Fourier raises on purpose."""


class GraphImportError(FourierError, ValueError):
    """The graph file could not be read or makes no sense (names file and node where known)."""


class ExternalStateError(GraphImportError):
    """The graph reads state kept outside it (a hash table's resource handle): its contents must
    be extracted with TensorFlow first (`fourier.host.extract`)."""


class UnsupportedOpsError(GraphImportError):
    """The graph uses op types Fourier has no registry entry for; lists every one at once."""

    def __init__(self, source: str, uses: Mapping[str, Sequence[str]]) -> None:
        self.source = source
        self.uses = {op: list(nodes) for op, nodes in sorted(uses.items())}
        lines = [f"{source}: {len(self.uses)} unsupported op type(s):"]
        for op, nodes in self.uses.items():
            shown = ", ".join(nodes[:5]) + (f", ... ({len(nodes)} nodes)" if len(nodes) > 5 else "")
            lines.append(f"  {op}: {shown}")
        super().__init__("\n".join(lines))


class VerificationError(FourierError):
    """The IR broke one of its invariants; the message names the node."""


class InferenceError(VerificationError):
    """A node's op inference rejects its inputs (``node`` is the node)."""

    def __init__(self, message: str, node: object = None) -> None:
        super().__init__(message)
        self.node = node


class CompileError(FourierError):
    """The graph cannot be compiled as asked (bucket, shape, platform)."""


class ArtifactError(FourierError):
    """An artifact is missing, corrupt, tampered with, or from an incompatible compiler."""


class InputError(FourierError, ValueError):
    """A request's inputs do not match the model's signature."""


class MissingInputError(InputError, KeyError):
    """A signature input was not given."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class UnknownInputError(InputError, KeyError):
    """An input name the signature does not have."""

    def __str__(self) -> str:
        return str(self.args[0])


class InputDtypeError(InputError, TypeError):
    """An input has the wrong dtype."""


class InputTypeError(InputError, TypeError):
    """A request is not a mapping of input names to arrays (a bare array, a list, None, ...)."""


class InputShapeError(InputError):
    """An input has the wrong rank or a wrong non-batch dimension, or batches disagree."""
