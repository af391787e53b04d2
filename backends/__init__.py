"""Backends: lowering the IR to JAX, and compiling it to XLA executables (as fourier.backends)."""
