"""Optimization passes over the IR (installed as fourier.passes)."""
