"""The GPU copy path's logic -- slots, pinned staging, packing straight into staging, in-place
writes into device buffers, many requests in flight -- exercised on the CPU.

Before: zoo models loaded on the CPU, their copy path replaced by `fourier.gpu_copy.CopyPath`
driven through a stand-in for the CUDA runtime that copies host memory with ``memmove`` (a CPU
JAX array's buffer lives in host memory, so writing it in place is what the GPU path does to
device memory). Expected: 32 threads at once get TensorFlow's outputs at odd batches (rtol 1e-4,
atol 1e-5), no more slots are made than allowed, and a slot that fails its self-check refuses.
The same path on a real GPU is checked by tests/test_gpu.py (skipped without one).
"""

from __future__ import annotations

import ctypes
import itertools
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fourier
from fourier.gpu_copy import CopyPath, CopyPathError, CudaApi
from fourier.testing.oracle import TFGraph
from fourier.testing.zoo import ZooModel, random_inputs
from tests.conftest import ATOL, RTOL


class HostMemcpy(CudaApi):
    """The CUDA runtime calls of the copy path, on host memory."""

    name = "host-memcpy"

    def __init__(self, corrupt: bool = False) -> None:
        self._blocks: dict[int, np.ndarray] = {}
        self.corrupt = corrupt
        self.copies = 0

    def host_alloc(self, nbytes: int) -> int:
        block = np.zeros(nbytes, np.uint8)
        self._blocks[block.ctypes.data] = block
        return block.ctypes.data

    def host_free(self, ptr: int) -> None:
        self._blocks.pop(ptr, None)

    def stream(self) -> Any:
        return None

    def h2d(self, dst: int, src: int, nbytes: int, stream: Any) -> None:
        self.copies += 1
        if not self.corrupt:
            ctypes.memmove(dst, src, nbytes)

    def d2h(self, dst: int, src: int, nbytes: int, stream: Any) -> None:
        ctypes.memmove(dst, src, nbytes)

    def sync(self, stream: Any) -> None:
        pass

    def set_device(self, ordinal: int) -> None:
        pass


@pytest.mark.parametrize("name", ["deepfm", "din", "mlp", "bst"])
def test_many_requests_in_flight_through_the_copy_path_match_tensorflow(
    name: str, zoo: dict[str, ZooModel], artifacts: Path
) -> None:
    zm = zoo[name]
    fourier.compile(zm.pb, artifacts / f"{name}-copy", buckets=[32, 128], dims=zm.dims)
    model = fourier.load(artifacts / f"{name}-copy", cache_dir=None)
    api = HostMemcpy()
    (replica,) = model.replicas
    replica.copy = CopyPath(replica.device, model.signature, model._layout, slots=3, api=api)
    oracle = TFGraph(zm.pb)
    seq = zm.dims.get("S", [0])[0] if zm.dims else 0
    requests = [random_inputs(zm, b, seed=b, seq=seq or 16) for b in (1, 7, 33, 128, 300) * 7]
    expected = [oracle(f) for f in requests]
    with ThreadPoolExecutor(32) as pool:
        got = list(pool.map(model, requests))
    for g, want in zip(got, expected):
        for key in want:
            np.testing.assert_allclose(g[key], want[key], rtol=RTOL, atol=ATOL, err_msg=f"{name} {key}")
    assert api.copies > len(requests)  # every request (and chunk) copied in through the path
    assert all(len(s) <= 3 for s in replica.copy._made.values())
    # One copy in per request for a packed model (every input in one buffer).
    if model._layout is not None and not model._layout.loose:
        before = api.copies
        model(requests[0])
        assert api.copies == before + 1


def test_a_large_packed_buffer_is_copied_in_pieces_as_it_is_packed(
    zoo: dict[str, ZooModel], artifacts: Path
) -> None:
    # Before: DIN at bucket 1024 packs 570 KB per request (histories of 50 ids per row).
    zm = zoo["din"]
    fourier.compile(zm.pb, artifacts / "din-pieces", buckets=[1024], dims=zm.dims)
    model = fourier.load(artifacts / "din-pieces", cache_dir=None)
    api = HostMemcpy()
    (replica,) = model.replicas
    replica.copy = CopyPath(replica.device, model.signature, model._layout, slots=2, api=api)
    replica.copy.prepare((1024,))
    slot = replica.copy._made[(1024,)][0]
    # Expected: the packed buffer's copy is split into pieces that tile its runs, in order, and
    # each request's outputs still equal TensorFlow's at full and partial buckets.
    pieces = [copy for _, copy in slot.pack_chunks]
    assert len(pieces) > 1
    assert all(a[1] + a[2] <= b[1] for a, b in itertools.pairwise(pieces))
    whole = slot.copies_in[0]
    assert pieces[0][1] >= whole[1] and pieces[-1][1] + pieces[-1][2] <= whole[1] + whole[2]
    oracle = TFGraph(zm.pb)
    for batch in (1024, 700):
        feeds = random_inputs(zm, batch, seed=batch)
        before = api.copies
        got = model(feeds)
        assert api.copies == before + len(pieces) + len(slot.copies_after_pack)
        want = oracle(feeds)
        for key in want:
            np.testing.assert_allclose(
                got[key], want[key], rtol=RTOL, atol=ATOL, err_msg=f"din {batch} {key}"
            )


def test_a_slot_whose_buffers_do_not_read_back_refuses(zoo: dict[str, ZooModel], artifacts: Path) -> None:
    zm = zoo["deepfm"]
    fourier.compile(zm.pb, artifacts / "deepfm-copy-bad", buckets=[32])
    model = fourier.load(artifacts / "deepfm-copy-bad", cache_dir=None)
    (replica,) = model.replicas
    path = CopyPath(replica.device, model.signature, model._layout, api=HostMemcpy(corrupt=True))
    with pytest.raises(CopyPathError, match="did not read back through JAX"):
        path.prepare((32,))


def test_on_the_cpu_auto_keeps_jax_transfers_and_cuda_refuses(
    zoo: dict[str, ZooModel], artifacts: Path
) -> None:
    fourier.compile(zoo["mlp"].pb, artifacts / "mlp-copy", buckets=[8])
    assert fourier.load(artifacts / "mlp-copy", cache_dir=None).load_info.copy_path == "jax"
    with pytest.raises(fourier.errors.ArtifactError, match="copy_path='cuda' needs a CUDA device"):
        fourier.load(artifacts / "mlp-copy", cache_dir=None, copy_path="cuda")
