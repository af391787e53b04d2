"""Quantization simulation (placeholder while written)."""
