"""Draw docs/img/bench_*.png from the committed results (bench/results/compare_cpu.json, gpu_h200_*.json).

python bench/plots.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
IMG = ROOT / "docs" / "img"
PEERS = ("tf", "tf_xla", "ort")
COLORS = {
    "fourier": "#1f77b4",
    "fourier_O0": "#aec7e8",
    "tf": "#ff7f0e",
    "tf_xla": "#ffbb78",
    "ort": "#2ca02c",
}


def cpu(doc: dict[str, Any]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(doc["models"])
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for ax, batch in zip(axes, ("32", "128")):
        x = np.arange(len(models))
        width = 0.16
        for i, eng in enumerate(("fourier", "fourier_O0", "tf", "tf_xla", "ort")):
            vals = []
            for m in models:
                row = doc["models"][m]["batches"].get(batch, {})
                best = min((row[p]["median_ms"] for p in PEERS if p in row), default=np.nan)
                vals.append(row[eng]["median_ms"] / best if eng in row else np.nan)
            ax.bar(x + (i - 2) * width, vals, width, label=eng, color=COLORS[eng])
        ax.axhline(1.0, color="k", lw=0.8)
        ax.axhline(0.7, color="r", lw=0.8, ls="--", label="goal 0.7x")
        ax.set_yscale("log")
        ax.set_xticks(x, models, rotation=30)
        ax.set_ylabel("median latency / best peer (log)")
        ax.set_title(f"CPU, batch {batch} (host numpy in and out)")
    axes[0].legend(fontsize=8, ncol=2)
    fig.tight_layout()
    out = IMG / "bench_cpu.png"
    fig.savefig(out, dpi=90)
    return out


def gpu(docs: list[dict[str, Any]]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = {name: r for d in docs for name, r in d["models"].items()}
    fig, axes = plt.subplots(2, (len(models) + 1) // 2, figsize=(16, 7), sharey=False)
    for ax, (name, r) in zip(axes.flat, sorted(models.items())):
        buckets = [int(b) for b in r["buckets"]]
        rows = [r["buckets"][str(b)] for b in buckets]
        x = np.arange(len(buckets))
        bottom = np.zeros(len(buckets))
        for key, color in (
            ("pack_us", "#c7c7c7"),
            ("h2d_us", "#9467bd"),
            ("compute_us", "#1f77b4"),
            ("d2h_us", "#e377c2"),
        ):
            vals = np.array([row[key] for row in rows]) / 1e3
            ax.bar(x, vals, 0.6, bottom=bottom, color=color, label=key[:-3])
            bottom += vals
        ax.plot(x, [row["fourier_us"] / 1e3 for row in rows], "k.-", label="fourier (whole call)")
        ax.plot(x, [row["plain_jit_us"] / 1e3 for row in rows], "r^--", label="plain jax.jit")
        ax.plot(x, [row["floor_with_latency_us"] / 1e3 for row in rows], "g:", label="floor + copy latency")
        ax.set_xticks(x, buckets, rotation=45, fontsize=7)
        ax.set_title(name)
        ax.set_ylabel("ms")
    for ax in list(axes.flat)[len(models) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"GPU ({docs[0]['device']}): median ms per call by bucket, and where it goes")
    fig.tight_layout()
    out = IMG / "bench_gpu.png"
    fig.savefig(out, dpi=80)
    return out


def main() -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    print(cpu(json.loads((RESULTS / "compare_cpu.json").read_text())))
    gpus = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("gpu_h200_*.json"))]
    if gpus:
        print(gpu(gpus))


if __name__ == "__main__":
    main()
