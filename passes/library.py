"""Importing this module registers every pass (the pass manager imports it on first use)."""

from fourier.passes import cleanup, cse, fold, fusion  # noqa: F401
from fourier.passes.rules import algebraic, conv, dense, recognize  # noqa: F401
