"""A SavedModel with string preprocessing compiled and served as one artifact (issue 18).

Before: the ranking SavedModel of `fourier.testing.preprocessing` (StringLookup, Hashing plain
and salted, IntegerLookup and Discretization feeding embeddings and a DNN).
Expected: ``fourier.compile(saved_model_dir, ...)`` partitions it (lookups and hashes on the host,
ids crossing), compiles the rest, and writes the host part into the artifact (hashed with the
rest); ``fourier.load`` serves requests of the model's own inputs, strings included, matching
TensorFlow at batches 1, 7, 33, 128, 300 (rtol 1e-4, atol 1e-5) with out-of-vocabulary, empty
and non-ASCII strings, directly and through a Batcher from 8 threads; a process that cannot
import TensorFlow serves it the same; the host stage is timed in the metrics.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fourier
from fourier.errors import InputError
from fourier.testing.preprocessing import PreprocessingModel, ensure_preprocessing, random_requests
from tests._serve import serve_without_tensorflow
from tests.test_host import _tf_request

tf = pytest.importorskip("tensorflow")
RTOL, ATOL = 1e-4, 1e-5


@pytest.fixture(scope="module")
def ranking() -> PreprocessingModel:
    return ensure_preprocessing("ranking")


@pytest.fixture(scope="module")
def artifact(ranking: PreprocessingModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("host") / "ranking.fourier"
    report = fourier.compile(ranking.path, out, [8, 64])
    assert report.host is not None and "LookupTableFindV2" in report.host
    return out


@pytest.fixture(scope="module")
def oracle(ranking: PreprocessingModel) -> Any:
    loaded = tf.saved_model.load(str(ranking.path))
    fn = loaded.signatures["serving_default"]
    fn._keep = loaded  # type: ignore[attr-defined]  # the signature's variables live with the object
    return fn


def test_the_artifact_serves_strings_and_matches_tensorflow(artifact: Path, oracle: Any) -> None:
    model = fourier.load(artifact)
    assert set(model.host_inputs) >= {"user", "category"}
    for batch in (1, 7, 33, 128, 300):
        request = random_requests(batch, seed=batch)
        want = oracle(**_tf_request(request))["score"].numpy()
        np.testing.assert_allclose(model(request)["score"], want, rtol=RTOL, atol=ATOL, err_msg=str(batch))
    assert model.metrics.snapshot()["latency"]["host"]["count"] == 5
    requests = [random_requests(n, seed=100 + n) for n in (1, 3, 5, 8, 13, 2, 7, 4)]
    with fourier.Batcher(model, max_delay_ms=5) as batcher, ThreadPoolExecutor(8) as pool:
        got = list(pool.map(batcher, requests))
    for g, r in zip(got, requests):
        np.testing.assert_allclose(
            g["score"], oracle(**_tf_request(r))["score"].numpy(), rtol=RTOL, atol=ATOL
        )
    with pytest.raises(InputError, match="unknown input 'usr'"):
        model({**random_requests(2), "usr": np.array([b"a", b"b"], dtype=object)})


def test_a_process_without_tensorflow_serves_it(artifact: Path, oracle: Any, tmp_path: Path) -> None:
    got = serve_without_tensorflow(artifact, "fourier.testing.preprocessing", (1, 7, 33), tmp_path)
    for b, scores in got.items():
        want = oracle(**_tf_request(random_requests(b, seed=b)))["score"].numpy()
        np.testing.assert_allclose(scores, want, rtol=RTOL, atol=ATOL)
