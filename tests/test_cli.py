"""The command line on the bundled example: compile, inspect, run, import; every mistake one line.

The CLI runs as a user runs it, ``python -m fourier`` in a subprocess, so stderr is a pipe, not a
terminal: nothing may wrap there either.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import fourier
from fourier.compiler import _check_buckets, bucket_input_bytes
from fourier.errors import CompileError
from fourier.signature import Signature, TensorSpec

EXAMPLE = Path(fourier.__file__).parent / "examples" / "mlp.pb"
# longer than a line of 80 columns with any path in front: a message that names it must not wrap
LONG_DIR = "a_plain_directory_whose_name_alone_is_long_enough_to_wrap_a_line_of_eighty_columns"


def fourier_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fourier", *args], capture_output=True, text=True, timeout=300
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], culprits: list[str]) -> None:
    """Exit code 1, nothing on stdout, exactly one non-empty line on stderr naming every culprit."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert proc.stdout == ""
    for culprit in culprits:
        assert culprit in lines[0], (culprit, lines[0])


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled example compiled through the Python API, buckets given as text."""
    out = tmp_path_factory.mktemp("artifact") / "mlp.fourier"
    report = fourier.compile(EXAMPLE, out, buckets="4,8")
    assert report.buckets == [4, 8]
    return out


@pytest.fixture
def paths(tmp_path: Path, artifact: Path) -> dict[str, str]:
    model = tmp_path / "mlp.pb"
    shutil.copy(EXAMPLE, model)
    (tmp_path / "existing.txt").write_text("keep me\n")
    (tmp_path / "inputs.txt").write_text("features 1 2 3\n")
    (tmp_path / "bad.pb").write_bytes(b"not a graph")
    (tmp_path / LONG_DIR).mkdir()
    (tmp_path / LONG_DIR / "notes.txt").write_text("not a model\n")
    (tmp_path / "hist.json").write_text('{"batch_sizes": {"1": 5, "7": 2}}\n')
    return {
        "model": str(model),
        "artifact": str(artifact),
        "file": str(tmp_path / "existing.txt"),
        "text": str(tmp_path / "inputs.txt"),
        "badpb": str(tmp_path / "bad.pb"),
        "dir": str(tmp_path / LONG_DIR),
        "hist": str(tmp_path / "hist.json"),
        "missing": str(tmp_path / "missing.fourier"),
    }


def test_compile_inspect_run_on_the_bundled_example(tmp_path: Path) -> None:
    out = tmp_path / "mlp.fourier"
    proc = fourier_cli("compile", str(EXAMPLE), "--buckets", "32,64,128", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    for b in ("32", "64", "128"):
        assert f"compiling bucket {b}" in proc.stderr
    assert "artifact size" in proc.stdout and "compile seconds" in proc.stdout
    # features: float32[N,64] is 256 bytes a row
    assert "32: 8.0 KiB, 64: 16.0 KiB, 128: 32.0 KiB per call" in proc.stdout

    proc = fourier_cli("inspect", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "features" in proc.stdout and "32, 64, 128" in proc.stdout and "sha256 verified" in proc.stdout

    proc = fourier_cli("run", str(out), "--batch", "7", "--repeat", "3")
    assert proc.returncode == 0, proc.stderr
    assert "Identity float32[7, 1]" in proc.stdout and "median" in proc.stdout


def test_import_prints_ir() -> None:
    proc = fourier_cli("import", str(EXAMPLE))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("graph @mlp(%features: float32[N,64])")


def test_opt_lists_passes_without_a_model() -> None:
    proc = fourier_cli("opt", "--list-passes")  # as README.md prints it
    assert proc.returncode == 0, proc.stderr
    assert "fold-constants" in proc.stdout and "cse" in proc.stdout


def test_buckets_help_documents_the_histogram_format() -> None:
    proc = fourier_cli("buckets", "-h")
    assert proc.returncode == 0, proc.stderr
    assert '{"batch_sizes": {"1": 500, "3": 300, "17": 100, "300": 5}}' in proc.stdout
    assert "model.metrics.save_histogram(path)" in proc.stdout


MODEL_DIR = [LONG_DIR, "not a model: no saved_model.pb"]
ARTIFACT_AS_MODEL = ["mlp.fourier", "this is a Fourier artifact, not a model: use fourier run/inspect"]
MODEL_AS_ARTIFACT = ["mlp.pb", "this is a model, not an artifact: compile it first with fourier compile"]

# Before: the command line ({name}: a path of the `paths` fixture).
# Expected: exit code 1 and one line on stderr that contains every one of these.
CASES = [
    ("out-file", "compile {model} -o {file}", ["'--out'", "existing.txt", "is a file"]),
    ("out-under-file", "compile {model} -o {file}/mlp.fourier", ["'--out'", "existing.txt is a file"]),
    ("out-is-model", "compile {model} -o {model}", ["'--out'", "mlp.pb", "is the input model"]),
    ("out-dir", "compile {model} -o {dir}", ["'--out'", LONG_DIR, "not a Fourier artifact"]),
    ("buckets-abc", "compile {model} --buckets abc", ["'--buckets'", "'abc'"]),
    ("buckets-0", "compile {model} --buckets 0", ["'--buckets'", "'0'"]),
    ("buckets-huge", "compile {model} --buckets 32,100000000",
     ["bucket 100000000", "23.8 GiB", "limit of 4.0 GiB", "--max-bucket-bytes"]),
    ("max-bytes", "compile {model} --max-bucket-bytes lots", ["'--max-bucket-bytes'", "'lots'"]),
    ("dim-abc", "compile {model} --dim S=abc", ["'--dim'", "'abc'"]),
    ("garbage", "compile {badpb}", ["GraphImportError", "bad.pb"]),
    ("compile-dir", "compile {dir}", MODEL_DIR),
    ("import-dir", "import {dir}", MODEL_DIR),
    ("opt-dir", "opt {dir}", MODEL_DIR),
    ("diff-dir", "diff {dir}", MODEL_DIR),
    ("compile-artifact", "compile {artifact}", ARTIFACT_AS_MODEL),
    ("import-artifact", "import {artifact}", ARTIFACT_AS_MODEL),
    ("opt-artifact", "opt {artifact}", ARTIFACT_AS_MODEL),
    ("diff-artifact", "diff {artifact}", ARTIFACT_AS_MODEL),
    ("run-model", "run {model}", MODEL_AS_ARTIFACT),
    ("inspect-model", "inspect {model}", MODEL_AS_ARTIFACT),
    ("buckets-model", "buckets --histogram {hist} --artifact {model}", MODEL_AS_ARTIFACT),
    ("batch-negative", "run {artifact} --batch -1", ["'--batch'", "-1 is not"]),
    ("batch-0", "run {artifact} --batch 0", ["'--batch'", "0 is not"]),
    ("batch-abc", "run {artifact} --batch abc", ["'--batch'", "'abc'"]),
    ("inputs-text", "run {artifact} --inputs {text}", ["'--inputs'", "inputs.txt", "not an .npz"]),
    ("current-0", "buckets --histogram {hist} --current 0", ["'--current'", "'0'"]),
    ("current-abc", "buckets --histogram {hist} --current abc", ["'--current'", "'abc'"]),
    ("hist-text", "buckets --histogram {text}", ["inputs.txt", "not a batch-size histogram"]),
    ("hist-missing", "buckets --histogram {missing}", ["'--histogram'", "missing.fourier"]),
    ("run-missing", "run {missing}", ["'ARTIFACT'", "missing.fourier", "does not exist"]),
    ("compile-missing", "compile {missing}", ["'MODEL'", "missing.fourier", "does not exist"]),
    ("opt-no-model", "opt", ["'MODEL'", "--list-passes"]),
    ("unknown-option", "compile {model} --bogus", ["'--bogus'"]),
    ("unknown-command", "bogus", ["'bogus'"]),
]  # fmt: skip


@pytest.mark.parametrize("argv, culprits", [pytest.param(a, c, id=i) for i, a, c in CASES])
def test_every_mistake_is_one_line_naming_the_culprit(
    argv: str, culprits: list[str], paths: dict[str, str]
) -> None:
    proc = fourier_cli(*(a.format(**paths) for a in argv.split()))
    assert_one_line_error(proc, culprits)
    assert not Path(paths["model"]).with_suffix(".fourier").exists()  # nothing written
    assert Path(paths["file"]).read_text() == "keep me\n"


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs TensorFlow")
def test_a_saved_model_error_comes_without_tensorflow_logging(tmp_path: Path) -> None:
    # TensorFlow's C++ start-up logs ignore TF_CPP_MIN_LOG_LEVEL; the CLI imports it with stderr shut
    broken = tmp_path / "saved"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"garbage")
    assert_one_line_error(fourier_cli("compile", str(broken)), ["GraphImportError", "saved", "SavedModel"])


FEATURES = Signature((TensorSpec("features", "float32", ("N", 64)),), ())  # 256 bytes a row
HISTORY = Signature(
    (TensorSpec("features", "float32", ("N", 64)), TensorSpec("ids", "int64", ("N", "S"))), ()
)

# Before: buckets as given, the signature (None: sizes only), the sizes of S, max_bucket_bytes.
# Expected: the bucket sizes, or the start of the error; the start of the note (None: no note).
NOT_SIZES = "buckets: expected batch sizes (integers, or text such as '32,64,128'), got"
BUCKETS: list[tuple[Any, Signature | None, list[dict[str, int]], int | None, Any, str | None]] = [
    ("32,64", None, [{}], None, [32, 64], None),
    (" 64, 32,,32 ", None, [{}], None, [32, 64], None),
    ([128, 32, 32], None, [{}], None, [32, 128], None),
    ("abc", None, [{}], None, f"{NOT_SIZES} 'abc'", None),
    ("32,6x4", None, [{}], None, f"{NOT_SIZES} '32,6x4'", None),
    ([1.5], None, [{}], None, f"{NOT_SIZES} [1.5]", None),
    (None, None, [{}], None, f"{NOT_SIZES} None", None),
    (64, None, [{}], None, [64], None),
    ("", None, [{}], None, "buckets: no bucket sizes given", None),
    ("0,4", None, [{}], None, "buckets: sizes must be positive, got 0", None),
    # 244.1 MiB: below the note's 256 MiB
    ([32, 1_000_000], FEATURES, [{}], None, [32, 1_000_000], None),
    ([32, 2_000_000], FEATURES, [{}], None, [32, 2_000_000],
     "bucket 2000000: its inputs alone take 488.3 MiB a call"),
    ([32, 20_000_000, 40_000_000], FEATURES, [{}], None,
     "bucket 20000000: its inputs alone take 4.8 GiB (5120000000 bytes) a call, above the limit of "
     "4.0 GiB per bucket (buckets up to 16777216 fit); use smaller buckets, or raise the limit with "
     "--max-bucket-bytes (max_bucket_bytes=)", None),
    ([20_000_000], FEATURES, [{}], 8 << 30, [20_000_000],
     "bucket 20000000: its inputs alone take 4.8 GiB a call"),
    ([4097], FEATURES, [{}], 1 << 20,
     "bucket 4097: its inputs alone take 1.0 MiB (1048832 bytes) a call, above the limit of 1.0 MiB "
     "per bucket (buckets up to 4096 fit)", None),
    # S: its largest size compiled counts (64 * 8 + 256 = 768 bytes a row)
    ([1_000_000], HISTORY, [{"S": 16}, {"S": 64}], None, [1_000_000],
     "bucket 1000000: its inputs alone take 732.4 MiB"),
]  # fmt: skip


@pytest.mark.parametrize("buckets, signature, combos, limit, expected, note", BUCKETS)
def test_buckets_are_parsed_and_absurd_ones_refused_or_noted(
    buckets: Any,
    signature: Signature | None,
    combos: list[dict[str, int]],
    limit: int | None,
    expected: Any,
    note: str | None,
) -> None:
    notes: list[str] = []
    if isinstance(expected, str):
        with pytest.raises(CompileError) as err:
            _check_buckets(buckets, signature, combos, limit, notes)
        assert str(err.value).startswith(expected)
        return
    assert _check_buckets(buckets, signature, combos, limit, notes) == expected
    if note is None:
        assert notes == []
    else:
        assert len(notes) == 1 and notes[0].startswith(note)


def test_input_bytes_count_every_input_at_the_batch_and_symbol_sizes() -> None:
    assert bucket_input_bytes(FEATURES, 32, {}) == 32 * 64 * 4
    assert bucket_input_bytes(HISTORY, 2, {"S": 3}) == 2 * 64 * 4 + 2 * 3 * 8


def test_the_api_refuses_bad_bucket_text_with_a_compile_error(tmp_path: Path) -> None:
    with pytest.raises(CompileError, match="buckets: expected batch sizes .* got '32;64'"):
        fourier.compile(EXAMPLE, tmp_path / "out.fourier", buckets="32;64")
    assert not (tmp_path / "out.fourier").exists()
