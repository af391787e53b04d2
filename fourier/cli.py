"""The ``fourier`` command line: compile, inspect, run, import.

Every mistake is one line on stderr naming the file, flag or input, with exit code 1 (`main`).
"""

from __future__ import annotations

import os
import re
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fourier.errors import ArtifactError, FourierError, GraphImportError

# soft_wrap: progress and notes are never wrapped at the terminal's (or a pipe's 80) columns
console = Console(stderr=True, soft_wrap=True, highlight=False)
stdout = Console()

MANIFEST = "manifest.json"
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def _parse_sizes(value: str) -> list[int]:
    """``"32,64,128"`` -> ``[32, 64, 128]``: positive integers, or a BadParameter."""
    try:
        sizes = [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated positive integers, got {value!r}") from None
    if not sizes or min(sizes) < 1:
        raise click.BadParameter(f"expected comma-separated positive integers, got {value!r}")
    return sizes


def _sizes_option(ctx: click.Context, param: click.Parameter, value: str | None) -> list[int] | None:
    return None if value is None else _parse_sizes(value)


def _dims_option(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, list[int]]:
    """``("S=16,32", "S2=8")`` -> ``{"S": [16, 32], "S2": [8]}``."""
    out: dict[str, list[int]] = {}
    for v in values:
        name, _, sizes = v.partition("=")
        if not name.strip() or not sizes:
            raise click.BadParameter(f"expected NAME=SIZE,SIZE,..., got {v!r}")
        try:
            out[name.strip()] = _parse_sizes(sizes)
        except click.BadParameter as e:
            raise click.BadParameter(f"{name.strip()}: {e.message}") from None
    return out


_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def _bytes_option(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """``"4294967296"``, ``"4GiB"``, ``"512M"`` -> bytes (binary units)."""
    if value is None:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", value, re.IGNORECASE)
    if not m or float(m.group(1)) <= 0:
        raise click.BadParameter(f"expected a positive size such as 8GiB, 512MiB or 1000000, got {value!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with file descriptor 2 pointed at /dev/null: its C++ start-up logs
    (absl, since TF 2.16) ignore TF_CPP_MIN_LOG_LEVEL. The importer's own import is then a no-op;
    without TensorFlow it says that a SavedModel needs it."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                import tensorflow  # noqa: F401
            except ImportError:
                pass
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _check_model(path: Path, reproducer: bool = False) -> bool:
    """Refuse what is not a model before importing anything (TensorFlow takes seconds): an
    artifact, a directory without a SavedModel (or a reproducer, where ``reproducer``). True for
    a SavedModel directory (importing it needs TensorFlow)."""
    if not path.is_dir():
        return False
    if (path / MANIFEST).exists():
        raise GraphImportError(f"{path}: this is a Fourier artifact, not a model: use fourier run/inspect")
    if reproducer and (path / "pipeline.txt").exists():
        return False
    if not any((path / f).exists() for f in SAVED_MODEL_FILES):
        what = (
            "a pass reproducer: replay it with fourier opt"
            if (path / "pipeline.txt").exists()
            else "a model is a .pb, .pbtxt or SavedModel directory"
        )
        raise GraphImportError(f"{path}: not a model: no saved_model.pb in this directory ({what})")
    return True


def _check_artifact(path: Path) -> None:
    """Refuse a model given where an artifact is expected."""
    model = path.is_file() and path.suffix in (".pb", ".pbtxt")
    model = model or (path.is_dir() and any((path / f).exists() for f in SAVED_MODEL_FILES))
    if model and not (path / MANIFEST).exists():
        raise ArtifactError(
            f"{path}: this is a model, not an artifact: compile it first with fourier compile"
        )
    if path.is_file():
        raise ArtifactError(f"{path}: not a Fourier artifact (a file; an artifact is a directory)")


def _check_out(target: Path, model: Path) -> None:
    """Refuse an artifact directory that would overwrite the model or something else."""
    hint = ["-o", "--out"]
    if target.resolve() == model.resolve():
        raise click.BadParameter(
            f"{target} is the input model; name a new artifact directory", param_hint=hint
        )
    if target.exists() and not target.is_dir():
        raise click.BadParameter(
            f"{target} exists and is a file, not an artifact directory; refusing to overwrite it",
            param_hint=hint,
        )
    parent = next((p for p in target.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise click.BadParameter(f"{target}: {parent} is a file, not a directory", param_hint=hint)
    if target.is_dir() and not (target / MANIFEST).exists() and any(target.iterdir()):
        raise click.BadParameter(
            f"{target} exists and is not a Fourier artifact; refusing to overwrite it", param_hint=hint
        )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fourier")
def cli() -> None:
    """Fourier: compile TensorFlow inference graphs to XLA executables per batch bucket."""


@cli.command("compile")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--buckets",
    "-b",
    default="32,64,128",
    show_default=True,
    callback=_sizes_option,
    help="batch sizes to compile",
)
@click.option(
    "--dim",
    "dims",
    multiple=True,
    metavar="NAME=SIZES",
    callback=_dims_option,
    help="sizes to compile for an unknown non-batch input dimension, e.g. S=16,32,64 (repeatable)",
)
@click.option("-o", "--out", type=click.Path(path_type=Path), help="artifact directory [MODEL.fourier]")
@click.option(
    "--max-bucket-bytes",
    default=None,
    metavar="SIZE",
    callback=_bytes_option,
    help="refuse a bucket whose inputs alone take more than SIZE a call, e.g. 8GiB [4GiB]; "
    "one above 256 MiB is compiled with a note",
)
@click.option(
    "--host-tables",
    default=None,
    metavar="SIZE",
    callback=_bytes_option,
    help="keep embedding tables larger than SIZE (e.g. 256MiB) in host memory; their rows are "
    "gathered on the host and only those cross to the device",
)
@click.option("--platform", default=None, help="cpu, cuda, ... [JAX's default device]")
@click.option("--outputs", default=None, help="comma-separated output tensors [graph sinks]")
@click.option(
    "-O", "opt_level", type=click.IntRange(0, 2), default=2, show_default=True, help="optimization level"
)
@click.option("-p", "--passes", "pipeline", default=None, help="pass pipeline text (overrides -O)")
@click.option("--verify-passes", is_flag=True, help="verify the IR after every pass")
@click.option(
    "--reproducer", type=click.Path(path_type=Path), help="where to write a reproducer if a pass fails"
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="write the pass report here (passes.html, passes.txt, passes.json)",
)
@click.option(
    "--shared",
    default=None,
    metavar="INPUTS",
    help="comma-separated request-level inputs, passed once per request (one user, N candidates): "
    "what depends only on them is computed once",
)
@click.option(
    "--backend",
    type=click.Choice(["xla", "onnxruntime", "auto"]),
    default="xla",
    show_default=True,
    help="CPU executor: XLA, ONNX Runtime (the optimized graph exported to ONNX), or auto "
    "(both measured here per bucket, the faster recorded)",
)
@click.option(
    "--const",
    "consts",
    multiple=True,
    metavar="NAME=VALUE",
    help="bind an input that sets a shape at run time (a reshape target, an axis) to a value "
    "(a number or a JSON list); repeatable",
)
@click.option(
    "--require-padding-proof",
    is_flag=True,
    help="refuse a graph whose batch padding cannot be proven safe (default: compile it and serve "
    "exact batch sizes)",
)
def compile_cmd(
    model: Path,
    buckets: list[int],
    dims: dict[str, list[int]],
    out: Path | None,
    max_bucket_bytes: int | None,
    host_tables: int | None,
    platform: str | None,
    outputs: str | None,
    opt_level: int,
    pipeline: str | None,
    verify_passes: bool,
    reproducer: Path | None,
    report_dir: Path | None,
    shared: str | None,
    require_padding_proof: bool,
    consts: tuple[str, ...],
    backend: str,
) -> None:
    """Compile MODEL (.pb, .pbtxt or SavedModel dir) into an artifact."""
    saved_model = _check_model(model)
    target = out or (model.resolve() if model.name in ("", "..") else model).with_suffix(".fourier")
    _check_out(target, model)
    if saved_model:
        _import_tensorflow_quietly()
    from fourier import compile as compile_model
    from fourier.compiler import bucket_input_bytes

    progress = {"header": False, "open": False}  # an error after "compiling ..." starts a new line

    def on_start(label: str) -> None:
        if not progress["header"]:  # printed with the first bucket: a refusal before it is one line
            console.print(f"[bold]fourier compile[/bold] {escape(str(model))} -> {escape(str(target))}")
            progress["header"] = True
        console.print(f"  compiling {escape(label)} ...", end="")
        progress["open"] = True

    def on_bucket(label: str, seconds: float) -> None:
        console.print(f" {seconds:.2f} s")
        progress["open"] = False

    try:
        report = compile_model(
            model,
            target,
            buckets,
            platform=platform,
            outputs=outputs.split(",") if outputs else None,
            on_start=on_start,
            on_bucket=on_bucket,
            opt_level=opt_level,
            pipeline=pipeline,
            verify_passes=verify_passes,
            reproducer=reproducer,
            snapshots=report_dir is not None,
            dims=dims,
            max_bucket_bytes=max_bucket_bytes,
            shared=[n for n in shared.split(",") if n] if shared else (),
            require_padding_proof=require_padding_proof,
            consts=_parse_consts(consts),
            backend=backend,
            host_tables=host_tables,
        )
    except BaseException:
        if progress["open"]:
            console.print()
        raise
    if report_dir is not None:
        from fourier.viewer import write_report_dir

        paths = write_report_dir(report.passes, report_dir, model.name, str(model))
        console.print(f"pass report: {escape(', '.join(map(str, paths)))}")
    if report.host is not None:
        console.print(escape(report.host))
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    table = Table(title="compiled", show_header=False)
    table.add_row("artifact", str(report.out))
    table.add_row("signature", str(report.signature))
    table.add_row(
        "ops", f"{report.imported_ops} imported -> {report.num_ops} after passes (plus constants and inputs)"
    )
    table.add_row("passes", f"{report.passes.pipeline or '(none)'} ({report.passes.seconds:.2f} s)")
    if report.hoist is not None:
        table.add_row("hoisted", _hoist_line(report.hoist.to_json()))
    table.add_row("buckets", ", ".join(map(str, report.buckets)) if report.buckets else "static shapes")
    largest = {k: max(v) for k, v in dims.items() if k in report.signature.symbols}
    at = f" (at {', '.join(f'{k}={v}' for k, v in largest.items())})" if largest else ""
    table.add_row(
        "input bytes",
        (
            ", ".join(
                f"{b}: {_size(bucket_input_bytes(report.signature, b, largest))}" for b in report.buckets
            )
            if report.buckets
            else _size(bucket_input_bytes(report.signature, 0, {}))
        )
        + f" per call{at}",
    )
    table.add_row(
        "compile seconds", f"{sum(report.bucket_seconds.values()):.2f} ({report.total_seconds:.2f} total)"
    )
    table.add_row("artifact size", f"{_size(report.artifact_bytes)} (weights {_size(report.weight_bytes)})")
    stdout.print(table)


def _parse_consts(items: tuple[str, ...]) -> dict[str, Any]:
    """``("k=8", "shape=[2, 4]")`` -> ``{"k": 8, "shape": [2, 4]}``; a bad item is a usage error."""
    import json

    out: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--const")
        try:
            out[name] = json.loads(raw)
        except json.JSONDecodeError:
            raise click.BadParameter(
                f"{name}: {raw!r} is not a number or a JSON list", param_hint="--const"
            ) from None
    return out


def _hoist_line(hoist: dict[str, Any], limit: int = 6) -> str:
    """The request-level hoisting of a compile or an artifact, in one or two lines."""
    nodes = hoist.get("hoisted", [])
    shown = ", ".join(nodes[:limit]) + (f", ... ({len(nodes) - limit} more)" if len(nodes) > limit else "")
    line = (
        f"shared inputs {', '.join(hoist.get('shared', []))}: {len(nodes)} nodes computed once per "
        f"request, {len(hoist.get('broadcasts', []))} broadcast(s)"
    )
    kept = hoist.get("kept", {})
    if kept:
        line += f", {len(kept)} kept per row"
    return line + (f"\n  {shown}" if shown else "")


@cli.command("export-onnx")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), help="the ONNX file [MODEL.onnx]")
@click.option("-O", "opt_level", type=click.IntRange(0, 2), default=2, show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=None, help="a static batch [symbolic]")
@click.option("--opset", type=click.IntRange(13, 21), default=17, show_default=True)
@click.option("--outputs", default=None, help="comma-separated output tensors [graph sinks]")
def export_onnx_cmd(
    model: Path, out: Path | None, opt_level: int, batch: int | None, opset: int, outputs: str | None
) -> None:
    """Write Fourier's optimized graph of MODEL as a standalone ONNX file."""
    _check_model(model)
    from fourier import api

    path = api.export_onnx(
        model,
        out or model.with_suffix(".onnx"),
        opt_level=opt_level,
        outputs=outputs.split(",") if outputs else None,
        batch=batch,
        opset=opset,
    )
    stdout.print(f"wrote {escape(str(path))} ({_size(path.stat().st_size)})")


@cli.command("inspect")
@click.argument("artifact", type=click.Path(exists=True, path_type=Path))
def inspect_cmd(artifact: Path) -> None:
    """Show an artifact's signature, buckets, versions and sizes."""
    _check_artifact(artifact)
    from fourier import api

    found = api.inspect(artifact)  # hashes, then the manifest against its modules (one line if not)
    m = found.manifest
    table = Table(title=str(artifact), show_header=False)
    table.add_row("digest", f"{found.digest} (pin it: fourier.load(path, digest=...))")
    table.add_row("source", f"{m.source.get('path', '')} (sha256 {m.source.get('sha256', '')[:16]})")
    table.add_row("platform", f"{m.platform} ({m.device_kind})")
    table.add_row("versions", ", ".join(f"{k} {v}" for k, v in m.versions.items()))
    table.add_row("buckets", ", ".join(map(str, m.buckets)) if m.buckets else "static shapes")
    for name in m.signature.symbols:
        sizes = sorted({e.dims[name] for e in m.executables})
        table.add_row(
            f"dimension {name}", ", ".join(map(str, sizes)) + " (other sizes: reference path, then compiled)"
        )
    table.add_row("passes", ", ".join(m.passes) or "(none)")
    if m.hoist:
        table.add_row("hoisted", _hoist_line(m.hoist))
    if m.backend:
        b = m.backend
        shards = b.get("shards", {})
        chosen = ", ".join(
            f"{k}: {v}" + (f" in {shards[k]} row slices" if k in shards else "")
            for k, v in b.get("choice", {}).items()
        )
        table.add_row(
            "backend", f"{b.get('kind')} ({b.get('onnx')})" + (f"; per bucket {chosen}" if chosen else "")
        )
    if m.host:
        h = m.host
        table.add_row(
            "host part",
            f"{h.get('nodes', 0)} nodes on numpy before the executables (strings, tables): reads "
            f"{', '.join(h.get('inputs', []))}; hands {', '.join(h.get('crossings', []))} to the "
            f"executables; tables {', '.join(h.get('tables', [])) or '(none)'}",
        )
    table.add_row("weights", f"{len(m.params)} tensors")
    stdout.print(table)
    sig = Table(title="signature")
    for col in ("", "name", "dtype", "shape"):
        sig.add_column(col)
    for kind, specs in (
        ("in", m.signature.inputs),
        ("unused", m.signature.unused),
        ("out", m.signature.outputs),
    ):
        for s in specs:
            shape = "[" + ", ".join(map(str, s.shape)) + "]"
            if s.default is not None:
                shape += f" (default {np.asarray(s.default_array()).tolist()})"
            if kind == "unused":
                shape += " (accepted in a request, ignored: the outputs do not read it)"
            elif s.name in m.shared:
                shape += " (shared: one row per request)"
            sig.add_row(kind, s.name, s.dtype, shape)
    stdout.print(sig)
    files = Table(title="files (sha256 verified)")
    files.add_column("file")
    files.add_column("size", justify="right")
    for rel in sorted(m.files):
        files.add_row(rel, _size((artifact / rel).stat().st_size))
    stdout.print(files)


def _random_inputs(model: Any, batch: int, seed: int, dims: dict[str, int]) -> dict[str, np.ndarray]:
    from fourier.signature import numpy_dtype

    rng = np.random.default_rng(seed)
    feeds = {}
    for s in model.signature.inputs:
        shape = s.concrete(batch, dims)
        dt = numpy_dtype(s.dtype)
        if s.dtype == "bool":
            feeds[s.name] = rng.integers(0, 2, shape).astype(bool)
        elif np.issubdtype(dt, np.integer):
            feeds[s.name] = rng.integers(0, 10, shape).astype(dt)
        else:
            feeds[s.name] = rng.uniform(-1, 1, shape).astype(dt)
    return feeds


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an .npz file, or a BadParameter naming ``--inputs`` and the file."""
    if not zipfile.is_zipfile(path):
        raise click.BadParameter(
            f"{path} is not an .npz file (write one with numpy.savez(path, name=array, ...))",
            param_hint="'--inputs'",
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as e:
        raise click.BadParameter(f"{path}: unreadable .npz ({e})", param_hint="'--inputs'") from e


@cli.command("run")
@click.argument("artifact", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--batch", default=1, show_default=True, type=click.IntRange(min=1), help="batch size of random inputs"
)
@click.option(
    "--inputs",
    "npz",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=".npz of inputs by name (numpy.savez)",
)
@click.option(
    "--repeat", default=20, show_default=True, type=click.IntRange(min=0), help="timed runs after one warm-up"
)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--dim",
    "dims",
    multiple=True,
    metavar="NAME=SIZE",
    callback=_dims_option,
    help="size of a symbolic input dimension for random inputs [the first compiled one]",
)
def run_cmd(
    artifact: Path, batch: int, npz: Path | None, repeat: int, seed: int, dims: dict[str, list[int]]
) -> None:
    """Run an artifact on random (or .npz) inputs; print outputs and latency."""
    _check_artifact(artifact)
    feeds = _read_npz(npz) if npz else None
    from fourier import load

    model = load(artifact)
    info = model.load_info
    console.print(f"loaded {escape(str(artifact))} in {info.seconds * 1e3:.1f} ms on {info.platform}")
    if feeds is None:
        sizes = dict(zip(model.signature.symbols, model.shapes[0][1:]))
        sizes.update({k: v[0] for k, v in dims.items()})
        feeds = _random_inputs(model, batch, seed, sizes)  # type: ignore[arg-type]
    result = model(feeds)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        model(feeds)
        times.append(time.perf_counter() - t0)
    for name, value in result.items():
        stdout.print(f"[bold]{name}[/bold] {value.dtype.name}{list(value.shape)}")
        stdout.print(np.array2string(value, threshold=20, edgeitems=3, precision=6))
    if times:
        ms = np.array(times) * 1e3
        stdout.print(
            f"latency over {repeat} runs: median {np.median(ms):.3f} ms, "
            f"p90 {np.percentile(ms, 90):.3f} ms, min {ms.min():.3f} ms"
        )


@cli.command("opt")
@click.argument("model", required=False, type=click.Path(exists=True, path_type=Path))
@click.option(
    "-p", "--passes", "pipeline", default=None, help="pass pipeline, e.g. 'prune,fold-constants,cse'"
)
@click.option("-O", "opt_level", type=click.IntRange(0, 2), default=None, help="use the pipeline of a level")
@click.option("-o", "--out", type=click.Path(path_type=Path), help="write the IR here instead of stdout")
@click.option("--outputs", default=None, help="comma-separated output tensors")
@click.option("--stats", is_flag=True, help="print a table of passes: time, ops before -> after, stats")
@click.option(
    "--verify/--no-verify", "verify_each", default=True, show_default=True, help="verify after every pass"
)
@click.option(
    "--reproducer", type=click.Path(path_type=Path), help="where to write a reproducer if a pass fails"
)
@click.option("--explain-rule", "explain", default=None, help="say why rule NAME does or does not match")
@click.option("--at", "at", default=None, help="with --explain-rule: only this node")
@click.option("--list-passes", is_flag=True, help="list the passes and exit")
def opt_cmd(
    model: Path | None,
    pipeline: str | None,
    opt_level: int | None,
    out: Path | None,
    outputs: str | None,
    stats: bool,
    verify_each: bool,
    reproducer: Path | None,
    explain: str | None,
    at: str | None,
    list_passes: bool,
) -> None:
    """Run a pass pipeline on MODEL (a graph file, or a reproducer directory) and print the IR."""
    if model is None and not list_passes:
        raise click.UsageError(
            "Missing argument 'MODEL' (a graph file or reproducer directory), or --list-passes"
        )
    from fourier import api
    from fourier.viewer.terminal import pass_table

    if list_passes or model is None:
        table = Table(title="passes")
        table.add_column("name")
        table.add_column("what")
        for name, summary in api.list_passes().items():
            table.add_row(name, summary)
        stdout.print(table)
        return
    _prepare_model(model)
    if explain is not None:
        _render_explanation(
            api.explain_rule(
                model, explain, at, pipeline=pipeline, opt_level=opt_level, outputs=_split(outputs)
            )
        )
        return
    result = api.optimize(
        model,
        pipeline,
        opt_level=opt_level,
        outputs=_split(outputs),
        verify=verify_each,
        reproducer=reproducer,
    )
    if result.replayed:
        console.print(f"replayed reproducer {escape(result.replayed)}: {escape(result.pipeline)}")
    if stats:
        console.print(pass_table(result.report))
    text = str(result.graph)
    if out is not None:
        out.write_text(text)
        console.print(f"wrote {out}")
    else:
        click.echo(text, nl=False)


def _split(outputs: str | None) -> list[str] | None:
    return outputs.split(",") if outputs else None


def _prepare_model(model: Path) -> None:
    """Refuse what is not a model (one line) before anything imports it; a SavedModel needs
    TensorFlow, imported quietly."""
    if _check_model(model, reproducer=True):
        _import_tensorflow_quietly()


def _render_explanation(report: Any) -> None:
    if not report.owner_in_pipeline:
        console.print(
            f"[yellow]note:[/yellow] the pipeline does not run {report.owner}; explaining on its result"
        )
    click.echo(
        f"rule {report.rule} (pass {report.owner}): fired {report.fired} time(s); after "
        f"{', '.join(report.ran) or 'no passes'}, {report.made} node(s) made by the rule, "
        f"{report.matching} of {len(report.results) - report.made} remaining candidate node(s) match"
    )
    if not report.results:
        click.echo("no candidate node for this rule")
    for r in report.results:
        click.echo(f"{'match' if r.matched else 'no'}: {r.node} ({r.op}): {r.reason}")


@cli.command("diff")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.option("-p", "--passes", "pipeline", default=None, help="pass pipeline [the -O2 pipeline]")
@click.option("--pass", "only", default=None, help="show only this pass (name or number)")
@click.option("--outputs", default=None, help="comma-separated output tensors")
@click.option(
    "-U",
    "--context",
    default=2,
    show_default=True,
    type=click.IntRange(min=0),
    help="lines of context in the diffs",
)
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="also write the HTML report here",
)
def diff_cmd(
    model: Path,
    pipeline: str | None,
    only: str | None,
    outputs: str | None,
    context: int,
    html_out: Path | None,
) -> None:
    """Show what every pass did to MODEL: a table of passes, then the structural IR diff of each
    pass that changed it (renaming or reordering alone is not a change)."""
    from fourier import api
    from fourier.viewer.changes import pass_changes, select
    from fourier.viewer.terminal import pass_table, print_changes

    _prepare_model(model)
    result = api.optimize(model, pipeline, outputs=_split(outputs), verify=True, snapshots=True)
    report = result.report
    changes = pass_changes(report)
    shown = select(changes, only)
    if only is not None and not shown:
        names = ", ".join(sorted({c.record.name for c in changes})) or "none"
        raise click.BadParameter(
            f"no pass {only!r} changed the graph (passes that did: {names})", param_hint="--pass"
        )
    stdout.print(pass_table(report, changes))
    print_changes(stdout, shown, context)
    if html_out is not None:
        from fourier.viewer.html import write_report

        console.print(f"wrote {write_report(report, html_out, model.name, str(model), changes)}")


@cli.command("buckets")
@click.option(
    "--histogram",
    "histogram",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='batch-size histogram, JSON: {"batch_sizes": {"SIZE": COUNT, ...}} (model.metrics.save_histogram)',
)
@click.option(
    "--max-buckets",
    "-k",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="how many buckets to recommend",
)
@click.option(
    "--current", default=None, callback=_sizes_option, help="the buckets served now, e.g. 32,64,128"
)
@click.option(
    "--artifact", type=click.Path(exists=True, path_type=Path), help="read the current buckets from it"
)
def buckets_cmd(histogram: Path, max_buckets: int, current: list[int] | None, artifact: Path | None) -> None:
    """Recommend the buckets that minimize expected padded rows for a served batch-size histogram.

    \b
    The --histogram file is JSON: batch size -> number of requests of that many
    rows, as model.metrics.save_histogram(path) writes it (one count a request):
      {"batch_sizes": {"1": 500, "3": 300, "17": 100, "300": 5}}
    A bare {"1": 500, ...} object is read too. Sizes are integers >= 1 (strings,
    as JSON keys), counts integers >= 0, and at least one count is above 0.
    """
    from fourier.advisor import advise, read_histogram

    now = current
    if artifact is not None:
        _check_artifact(artifact)
    if artifact is not None and now is None:
        from fourier.artifact import read_manifest

        now = read_manifest(artifact, verify=False).buckets
    advice = advise(read_histogram(histogram), max_buckets, now)
    table = Table(title=f"{advice.requests} requests, {advice.rows} rows", show_header=True)
    for col in ("buckets", "sizes", "padded rows per real row"):
        table.add_column(col)
    if advice.current is not None and advice.current_waste is not None:
        table.add_row("current", ",".join(map(str, advice.current)), f"{advice.current_waste:.3f}")
    table.add_row("recommended", ",".join(map(str, advice.recommended)), f"{advice.recommended_waste:.3f}")
    stdout.print(table)
    click.echo(f"fourier compile MODEL --buckets {','.join(map(str, advice.recommended))}")


@cli.command("import")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.option("--outputs", default=None, help="comma-separated output tensors")
def import_cmd(model: Path, outputs: str | None) -> None:
    """Import MODEL and print its IR."""
    if _check_model(model):
        _import_tensorflow_quietly()
    from fourier import api

    click.echo(str(api.import_graph(model, _split(outputs))), nl=False)


def _one_line(text: str) -> str:
    """A message on one line: the lines of a multi-line message joined with '; '."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        return ""
    head, rest = lines[0], "; ".join(lines[1:])
    return f"{head} {rest}" if head.endswith(":") else f"{head}; {rest}" if rest else head


def _error(where: str, message: str) -> None:
    """One line on stderr, never wrapped (click strips the colour when stderr is not a terminal)."""
    click.echo(f"{where}: {click.style('error:', fg='red', bold=True)} {_one_line(message)}", err=True)


def main(args: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning every mistake (a usage error, a Fourier error, a file that
    cannot be read or written) into one line on stderr naming the culprit and exit code 1."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before anything imports TensorFlow
    try:
        cli.main(args=args, prog_name="fourier", standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.UsageError as e:
        path = e.ctx.command_path if e.ctx is not None else "fourier"
        _error(path, f"{e.format_message()} (see '{path} -h')")
        sys.exit(1)
    except click.ClickException as e:
        _error("fourier", e.format_message())
        sys.exit(1)
    except FourierError as e:
        _error("fourier", f"{type(e).__name__}: {e}")
        sys.exit(1)
    except BrokenPipeError:  # `fourier import model.pb | head`: the reader left; nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except OSError as e:
        _error("fourier", f"{e.filename}: {e.strerror}" if e.filename else f"{type(e).__name__}: {e}")
        sys.exit(1)
