"""The ``fourier`` command line: compile, inspect, run, import."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from fourier.errors import FourierError

console = Console(stderr=True)
stdout = Console()


def _parse_buckets(value: str) -> list[int]:
    try:
        return [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}") from None


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fourier")
def cli() -> None:
    """Fourier: compile TensorFlow inference graphs to XLA executables per batch bucket."""


@cli.command("compile")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.option("--buckets", "-b", default="32,64,128", show_default=True, help="batch sizes to compile")
@click.option("-o", "--out", type=click.Path(path_type=Path), help="artifact directory [MODEL.fourier]")
@click.option("--platform", default=None, help="cpu, cuda, ... [JAX's default device]")
@click.option("--outputs", default=None, help="comma-separated output tensors [graph sinks]")
def compile_cmd(
    model: Path, buckets: str, out: Path | None, platform: str | None, outputs: str | None
) -> None:
    """Compile MODEL (.pb, .pbtxt or SavedModel dir) into an artifact."""
    from fourier.compiler import compile_model

    target = out or model.with_suffix(".fourier")
    sizes = _parse_buckets(buckets)
    started: dict[Any, float] = {}

    def on_start(b: int | None) -> None:
        started[b] = time.perf_counter()
        console.print(f"  compiling bucket {b if b is not None else 'static'} ...", end="")

    def on_bucket(b: int | None, seconds: float) -> None:
        console.print(f" {seconds:.2f} s")

    console.print(f"[bold]fourier compile[/bold] {model} -> {target}")
    report = compile_model(
        model,
        target,
        sizes,
        platform=platform,
        outputs=outputs.split(",") if outputs else None,
        on_start=on_start,
        on_bucket=on_bucket,
    )
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    table = Table(title="compiled", show_header=False)
    table.add_row("artifact", str(report.out))
    table.add_row("signature", str(report.signature))
    table.add_row("ops", f"{report.num_ops} (plus constants and inputs)")
    table.add_row("buckets", ", ".join(map(str, report.buckets)) if report.buckets else "static shapes")
    table.add_row(
        "compile seconds", f"{sum(report.bucket_seconds.values()):.2f} ({report.total_seconds:.2f} total)"
    )
    table.add_row("artifact size", f"{_size(report.artifact_bytes)} (weights {_size(report.weight_bytes)})")
    stdout.print(table)


@cli.command("inspect")
@click.argument("artifact", type=click.Path(exists=True, path_type=Path))
def inspect_cmd(artifact: Path) -> None:
    """Show an artifact's signature, buckets, versions and sizes."""
    from fourier.artifact import read_manifest

    m = read_manifest(artifact, verify=True)
    table = Table(title=str(artifact), show_header=False)
    table.add_row("source", f"{m.source.get('path', '')} (sha256 {m.source.get('sha256', '')[:16]})")
    table.add_row("platform", f"{m.platform} ({m.device_kind})")
    table.add_row("versions", ", ".join(f"{k} {v}" for k, v in m.versions.items()))
    table.add_row("buckets", ", ".join(map(str, m.buckets)) if m.buckets else "static shapes")
    table.add_row("passes", ", ".join(m.passes) or "(none)")
    table.add_row("weights", f"{len(m.params)} tensors")
    stdout.print(table)
    sig = Table(title="signature")
    for col in ("", "name", "dtype", "shape"):
        sig.add_column(col)
    for kind, specs in (("in", m.signature.inputs), ("out", m.signature.outputs)):
        for s in specs:
            sig.add_row(kind, s.name, s.dtype, "[" + ", ".join(map(str, s.shape)) + "]")
    stdout.print(sig)
    files = Table(title="files (sha256 verified)")
    files.add_column("file")
    files.add_column("size", justify="right")
    for rel in sorted(m.files):
        files.add_row(rel, _size((artifact / rel).stat().st_size))
    stdout.print(files)


def _random_inputs(model: Any, batch: int, seed: int) -> dict[str, np.ndarray]:
    from fourier.ir.types import numpy_dtype

    rng = np.random.default_rng(seed)
    feeds = {}
    for s in model.signature.inputs:
        shape = s.with_batch(batch)
        dt = numpy_dtype(s.dtype)
        if s.dtype == "bool":
            feeds[s.name] = rng.integers(0, 2, shape).astype(bool)
        elif np.issubdtype(dt, np.integer):
            feeds[s.name] = rng.integers(0, 10, shape).astype(dt)
        else:
            feeds[s.name] = rng.uniform(-1, 1, shape).astype(dt)
    return feeds


@cli.command("run")
@click.argument("artifact", type=click.Path(exists=True, path_type=Path))
@click.option("--batch", default=1, show_default=True, help="batch size of random inputs")
@click.option("--inputs", "npz", type=click.Path(exists=True, path_type=Path), help=".npz of inputs by name")
@click.option("--repeat", default=20, show_default=True, help="timed runs after one warm-up")
@click.option("--seed", default=0, show_default=True)
def run_cmd(artifact: Path, batch: int, npz: Path | None, repeat: int, seed: int) -> None:
    """Run an artifact on random (or .npz) inputs; print outputs and latency."""
    from fourier.runtime import load

    model = load(artifact)
    console.print(
        f"loaded {artifact} in {model.load_info.seconds * 1e3:.1f} ms on {model.load_info.platform}"
    )
    if npz:
        with np.load(npz, allow_pickle=False) as data:
            feeds = {k: data[k] for k in data.files}
    else:
        feeds = _random_inputs(model, batch, seed)
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


@cli.command("import")
@click.argument("model", type=click.Path(exists=True, path_type=Path))
@click.option("--outputs", default=None, help="comma-separated output tensors")
def import_cmd(model: Path, outputs: str | None) -> None:
    """Import MODEL and print its IR."""
    from fourier.importer import load_graph
    from fourier.ir.verifier import verify

    graph = load_graph(model, outputs.split(",") if outputs else None)
    verify(graph)
    click.echo(str(graph), nl=False)


def main() -> None:
    """Entry point: run the CLI, turning Fourier's errors into one clear line and exit code 1."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except FourierError as e:
        console.print(f"[red]error:[/red] {type(e).__name__}: {e}", highlight=False)
        sys.exit(1)
