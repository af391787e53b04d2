"""How quick the pass report is, per zoo model, and the screenshots in docs/viewer.md.

    python bench/viewer.py                    # timings into bench/results/viewer_cpu.json
    python bench/viewer.py --screenshots docs/img   # also the PNGs the docs show

Measured per model (median of 5 where timed in Python): the -O2 pipeline with and without IR
snapshots, building the report (structural diffs, layouts, page), its size, and in headless
Chromium the page's load time and the slowest switch to any (pass, tab) pair.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
RESULTS = Path(__file__).parent / "results" / "viewer_cpu.json"

SWITCH_ALL = """
const out = [];
for (const row of document.querySelectorAll('tr.pass.changed')) {
  for (const tab of ['graph', 'unified', 'side', 'nodes']) {
    const t0 = performance.now();
    row.click();
    document.querySelector(`.tabs button[data-tab="${tab}"]`).click();
    document.body.getBoundingClientRect();  // force layout inside the timed region
    out.push([Number(row.dataset.pass), tab, performance.now() - t0]);
  }
}
return out;
"""


def _median(f: Any, n: int = 5) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(tmp: Path) -> dict[str, Any]:
    from fourier.importer import load_graph
    from fourier.passes.manager import PassManager, pipeline_for_level
    from fourier.testing.browser import browser
    from fourier.testing.zoo import ensure_zoo
    from fourier.viewer.html import render_report

    zoo = ensure_zoo()
    rows: dict[str, Any] = {}
    reports = {}
    for name, model in zoo.items():
        graphs = [load_graph(model.pb) for _ in range(11)]
        plain = _median(lambda: PassManager(pipeline_for_level(2)).run(graphs.pop()))
        snap = _median(lambda: PassManager(pipeline_for_level(2), snapshots=True).run(graphs.pop()))
        report = PassManager(pipeline_for_level(2), snapshots=True).run(graphs.pop())
        build = _median(lambda: render_report(report, f"{name}.pb"))
        page = tmp / f"{name}.html"
        page.write_text(render_report(report, f"{name}.pb"), encoding="utf-8")
        reports[name] = page
        rows[name] = {
            "nodes_imported": report.records[0].nodes_before,
            "passes_changed": sum(r.snapshot is not None for r in report.records),
            "pipeline_s": round(plain, 4),
            "pipeline_with_snapshots_s": round(snap, 4),
            "report_build_s": round(build, 4),
            "report_bytes": page.stat().st_size,
        }
    with browser() as driver:
        for name, page in reports.items():
            loads = []
            for _ in range(3):
                driver.get(page.as_uri())
                loads.append(
                    driver.execute_script(
                        "const t = performance.getEntriesByType('navigation')[0]; return t.loadEventEnd - t.startTime;"
                    )
                )
            switches = driver.execute_script(SWITCH_ALL)
            worst = max(switches, key=lambda s: s[2])
            rows[name].update(
                browser_load_ms=round(statistics.median(loads), 1),
                switch_median_ms=round(statistics.median(s[2] for s in switches), 1),
                switch_worst_ms=round(worst[2], 1),
                switch_worst=f"pass {worst[0]} {worst[1]}",
            )
    return rows


def screenshots(out: Path, tmp: Path) -> list[Path]:
    """The docs' pictures: the terminal view (rich's own rendering, shown in Chromium) and the
    HTML report of DeepFM on three views."""
    from rich.console import Console

    from fourier.importer import load_graph
    from fourier.passes.manager import PassManager, pipeline_for_level
    from fourier.testing.browser import browser
    from fourier.testing.zoo import ensure_zoo
    from fourier.viewer.changes import pass_changes, select
    from fourier.viewer.html import write_report
    from fourier.viewer.terminal import pass_table, print_changes

    zoo = ensure_zoo()
    out.mkdir(parents=True, exist_ok=True)
    report = PassManager(pipeline_for_level(2), verify=True, snapshots=True).run(load_graph(zoo["deepfm"].pb))
    console = Console(
        record=True, width=150, force_terminal=True, color_system="truecolor", file=open(os.devnull, "w")
    )
    changes = pass_changes(report)
    console.print("$ fourier diff deepfm.pb --pass fuse-dense", style="bold")
    console.print(pass_table(report, changes))
    print_changes(console, select(changes, "fuse-dense"), context=1)
    svg = tmp / "terminal.svg"
    svg.write_text(console.export_svg(title="fourier diff deepfm.pb --pass fuse-dense"), encoding="utf-8")
    page = write_report(report, tmp / "deepfm.html", "deepfm.pb", "zoo/deepfm.pb")
    shots = []
    with browser(1500, 1300) as driver:
        driver.get(svg.as_uri())
        path = out / "diff-terminal.png"
        driver.save_screenshot(str(path))
        shots.append(path)
        driver.set_window_size(1600, 900)
        views = {
            "report-graph.png": (
                "document.querySelector('tr.pass[data-pass=\"8\"]').click();"
                "document.querySelector('#graph .node.st-rewritten').dispatchEvent(new MouseEvent('click', {bubbles: true}));"
            ),
            "report-tables.png": (
                "document.querySelector('tr.pass[data-pass=\"12\"]').click();"
                "document.querySelector('#graph .node.st-added[data-node*=\"fused_tables\"]')"
                ".dispatchEvent(new MouseEvent('click', {bubbles: true}));"
            ),
            "report-side-by-side.png": (
                "document.querySelector('tr.pass[data-pass=\"8\"]').click();"
                "document.querySelector('.tabs button[data-tab=\"side\"]').click();"
            ),
        }
        for file, script in views.items():
            driver.get(page.as_uri())
            driver.execute_script(script)
            time.sleep(0.2)
            driver.save_screenshot(str(out / file))
            shots.append(out / file)
    return shots


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--screenshots", type=Path, help="also write the docs' PNGs here")
    args = ap.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.screenshots:
            for p in screenshots(args.screenshots, tmp):
                print("wrote", p)
        rows = measure(tmp)
    result = {
        "command": "python bench/viewer.py",
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
        },
        "models": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(
        "| model | nodes | passes changed | pipeline ms | with snapshots ms | report ms | size KB | load ms | switch median / worst ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['nodes_imported']} | {r['passes_changed']} | {r['pipeline_s'] * 1e3:.0f} | "
            f"{r['pipeline_with_snapshots_s'] * 1e3:.0f} | {r['report_build_s'] * 1e3:.0f} | {r['report_bytes'] / 1024:.0f} | "
            f"{r['browser_load_ms']:.0f} | {r['switch_median_ms']:.0f} / {r['switch_worst_ms']:.0f} ({r['switch_worst']}) |"
        )


if __name__ == "__main__":
    main()
