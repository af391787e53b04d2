"""Helpers for tests and benchmarks: the model zoo and the TensorFlow oracle (need TensorFlow)."""
