"""Run an exported ONNX model with ONNX Runtime's CPU kernels: the serving half of the ONNX backend.

It imports only numpy and onnxruntime (never the compiler or the exporter), so a runtime can load
it as it loads `fourier.backends.xla`'s executables. One ``InferenceSession`` serves every batch
size the model's symbolic dimensions allow; ``InferenceSession.run`` is safe to call from many
threads at once, so an `OrtExecutable` is too.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["OrtExecutable", "OrtInputError", "PACKED_INPUTS", "usable_cores"]

# The model metadata key listing inputs the caller packs (``export_onnx(pack_inputs=True)``):
# JSON ``[{"name": packed input, "inputs": [member names], "axis": -1}]``.
PACKED_INPUTS = "fourier.packed_inputs"


class OrtInputError(ValueError):
    """A call's arguments do not match the model's inputs (count, dtype or rank)."""


_ORT_TYPES: dict[str, np.dtype[Any]] = {
    "tensor(float)": np.dtype("float32"),
    "tensor(double)": np.dtype("float64"),
    "tensor(float16)": np.dtype("float16"),
    "tensor(int8)": np.dtype("int8"),
    "tensor(int16)": np.dtype("int16"),
    "tensor(int32)": np.dtype("int32"),
    "tensor(int64)": np.dtype("int64"),
    "tensor(uint8)": np.dtype("uint8"),
    "tensor(uint16)": np.dtype("uint16"),
    "tensor(uint32)": np.dtype("uint32"),
    "tensor(uint64)": np.dtype("uint64"),
    "tensor(bool)": np.dtype("bool"),
}


def usable_cores() -> int:
    """Physical cores among the CPUs this process may run on (its affinity mask: ``taskset``, a
    container's cpuset), counting hyperthreads of one core once; the number of logical CPUs where
    the topology is not readable.

    ONNX Runtime's own default (``intra_op_num_threads=0``) counts the machine's physical cores,
    ignoring the affinity mask, and pins its pool threads to processors: every such session in a
    process pins its worker to the same processor (on a 2-core host, CPU 1), where they and the
    caller's thread then queue behind each other. An explicit count avoids both."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)
    cores = set()
    for cpu in cpus:
        topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add(
                (
                    topo.joinpath("physical_package_id").read_text().strip(),
                    topo.joinpath("core_id").read_text().strip(),
                )
            )
        except OSError:
            return max(1, len(cpus))
    return max(1, len(cores))


class OrtExecutable:
    """An ONNX model in one ONNX Runtime CPU session: call it with numpy inputs in the graph's
    input order, get numpy outputs in its output order (as `fourier.backends.xla.Executable`)."""

    def __init__(
        self,
        model: bytes | str | Path,
        *,
        intra_op_threads: int = 0,
        inter_op_threads: int = 1,
        optimization_level: str = "all",
        optimized_model_path: str | Path | None = None,
        spin: bool = True,
        shards: int = 1,
        batch_symbol: str = "N",
    ) -> None:
        """``model``: the serialized ONNX model, or a path to one. ``intra_op_threads``: threads
        one call may use (0: `usable_cores`, set explicitly so ONNX Runtime pins no thread). ``optimization_level``:
        ``disable``, ``basic``, ``extended`` or ``all`` (ONNX Runtime's graph optimizations).
        ``optimized_model_path``: where to write the graph ONNX Runtime actually runs (to inspect).
        ``spin``: whether idle intra-op threads spin for work (ONNX Runtime's default; on a host
        whose cores other processes share, spinning threads slow everyone, this call included).
        ``shards`` > 1: `run_trusted` splits a batch of at least ``shards`` rows into that many
        slices of rows along ``batch_symbol`` and runs them at once, each on one thread (the
        caller's and ``shards - 1`` of this executable's) in a 1-thread session: no intra-op pool
        whose threads spin beside the caller. Only for models whose rows are independent (the
        compiler's padding proof), and only where every output is batched (else calls run whole)."""
        import onnxruntime as ort

        levels = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }
        if optimization_level not in levels:
            raise ValueError(f"optimization_level {optimization_level!r} is not one of {sorted(levels)}")
        opts = ort.SessionOptions()
        opts.graph_optimization_level = levels[optimization_level]
        shards = max(1, int(shards))
        threads = 1 if shards > 1 else int(intra_op_threads) or usable_cores()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = int(inter_op_threads)
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        if optimized_model_path is not None:
            opts.optimized_model_filepath = str(optimized_model_path)
        source = str(model) if isinstance(model, (str, Path)) else model
        self._session = ort.InferenceSession(source, sess_options=opts, providers=["CPUExecutionProvider"])
        ins = self._session.get_inputs()
        self.input_names: list[str] = [i.name for i in ins]
        self.output_names: list[str] = [o.name for o in self._session.get_outputs()]
        self.input_dtypes: list[np.dtype[Any] | None] = [_ORT_TYPES.get(str(i.type)) for i in ins]
        self.input_shapes: list[list[Any]] = [list(i.shape) for i in ins]
        self.intra_op_threads = threads
        meta = self._session.get_modelmeta().custom_metadata_map
        groups = json.loads(meta.get(PACKED_INPUTS, "[]"))
        # packed input -> its members, concatenated along their last axis by the caller
        self.packed: dict[str, list[str]] = {g["name"]: list(g["inputs"]) for g in groups}
        self._plan: list[int | tuple[int, ...]] | None = None
        # Row slices run at once: which inputs are split (dim 0 is the batch), if every output is.
        batched_out = all(o.shape and o.shape[0] == batch_symbol for o in self._session.get_outputs())
        self._split_inputs = [bool(sh) and sh[0] == batch_symbol for sh in self.input_shapes]
        self.shards = shards if batched_out and any(self._split_inputs) else 1
        self._pool = ThreadPoolExecutor(self.shards - 1, "fourier-ort-shard") if self.shards > 1 else None

    def __call__(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run one call; ``inputs`` in the model's input order (``input_names``)."""
        if len(inputs) != len(self.input_names):
            raise OrtInputError(
                f"expected {len(self.input_names)} inputs {self.input_names}, got {len(inputs)}"
            )
        feeds: dict[str, Any] = {}
        for name, want, shape, x in zip(self.input_names, self.input_dtypes, self.input_shapes, inputs):
            a = np.asarray(x)
            if want is not None and a.dtype != want:
                raise OrtInputError(f"input {name!r}: expected {want.name}, got {a.dtype.name}")
            if a.ndim != len(shape):
                raise OrtInputError(
                    f"input {name!r}: expected rank {len(shape)} {shape}, got shape {a.shape}"
                )
            feeds[name] = a
        return list(self._session.run(self.output_names, feeds))

    def bind(self, names: Sequence[str]) -> list[int | tuple[int, ...]]:
        """Take calls with inputs in the order ``names`` (the caller's signature) from now on
        (`run_trusted`): returns, per model input, the index of the caller's input it is, or the
        indices of the inputs packed into it. `OrtInputError` if a model input has no source."""
        at = {n: i for i, n in enumerate(names)}
        plan: list[int | tuple[int, ...]] = []
        for name in self.input_names:
            members = self.packed.get(name, [name])
            missing = [m for m in members if m not in at]
            if missing:
                raise OrtInputError(f"model input {name!r} needs {missing}, which the caller does not give")
            plan.append(at[name] if name not in self.packed else tuple(at[m] for m in members))
        self._plan = plan
        return plan

    def run_trusted(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Run one call on inputs the caller has already checked against its signature (the
        runtime checks every request), in the order given to `bind` (else this model's own input
        order): no per-input checks here; packed inputs are concatenated."""
        if self._plan is None:
            feeds = dict(zip(self.input_names, inputs))
        else:
            feeds = {
                name: inputs[p] if isinstance(p, int) else np.concatenate([inputs[i] for i in p], axis=-1)
                for name, p in zip(self.input_names, self._plan)
            }
        if self._pool is not None:
            rows = next(len(feeds[n]) for n, split in zip(self.input_names, self._split_inputs) if split)
            if rows >= self.shards:
                return self._run_sharded(feeds, rows)
        return list(self._session.run(self.output_names, feeds))

    def _run_sharded(self, feeds: dict[str, Any], rows: int) -> list[np.ndarray]:
        assert self._pool is not None
        cuts = [rows * k // self.shards for k in range(self.shards + 1)]
        parts = [
            {n: (x[a:b] if split else x) for (n, x), split in zip(feeds.items(), self._split_inputs)}
            for a, b in itertools.pairwise(cuts)
        ]
        pending = [self._pool.submit(self._session.run, self.output_names, p) for p in parts[1:]]
        first = self._session.run(self.output_names, parts[0])
        outs = [first] + [f.result() for f in pending]
        return [np.concatenate([o[k] for o in outs]) for k in range(len(self.output_names))]

    def close(self) -> None:
        """Stop the shard threads (if any); the session is freed with the object."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def run_named(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one call on inputs by name; outputs by name."""
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise OrtInputError(f"missing inputs {missing}")
        outs = self([feeds[n] for n in self.input_names])
        return dict(zip(self.output_names, outs))

    @property
    def session(self) -> Any:
        """The underlying ``onnxruntime.InferenceSession``."""
        return self._session
