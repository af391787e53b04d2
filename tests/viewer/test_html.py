"""The HTML pass report: one self-contained file, its data, and ``compile --report``.

Before: DeepFM's frozen graph through the -O2 pipeline.
Expected: a page that loads nothing from anywhere, a pass list with every pass, per changed pass a
unified and a side-by-side diff and a drawing whose nodes carry added/removed/rewritten marks,
every rule-made node naming its rule and the TF nodes it came from.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from fourier.cli import cli
from fourier.importer import load_graph
from fourier.ir.core import Graph
from fourier.passes.manager import PassManager, PipelineReport, parse_pipeline, pipeline_for_level
from fourier.testing.zoo import ZooModel
from fourier.viewer.html import render_report, report_data


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: dict[str, str] = {}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in = dict(attrs).get("id") or tag

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self.data[self._in] = self.data.get(self._in, "") + data

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def _report(graph: Graph) -> PipelineReport:
    return PassManager(pipeline_for_level(2), verify=True, snapshots=True).run(graph)


@pytest.fixture(scope="module")
def deepfm_report(zoo: dict[str, ZooModel]) -> PipelineReport:
    return _report(load_graph(zoo["deepfm"].pb))


def test_page_is_self_contained(deepfm_report: PipelineReport) -> None:
    page = render_report(deepfm_report, "deepfm.pb")
    p = _Page()
    p.feed(page)
    tags = [t for t, _ in p.tags]
    assert tags.count("script") == 2 and tags.count("style") == 1
    for tag, attrs in p.tags:  # nothing is fetched: no src, no href, no external sheet
        assert "src" not in attrs and "href" not in attrs, (tag, attrs)
    # The only URL in the page is the SVG namespace name, which is never fetched.
    assert set(re.findall(r"https?://[^\s\"']+", page)) == {"http://www.w3.org/2000/svg"}
    assert "default-src 'none'" in page  # and the CSP forbids loading anything
    data = json.loads(p.data["fourier-data"])
    assert data["title"] == "deepfm.pb" and len(data["passes"]) == 22


def test_every_changed_pass_has_both_diffs_and_a_drawing(deepfm_report: PipelineReport) -> None:
    data = report_data(deepfm_report, "deepfm.pb")
    changed = [p for p in data["passes"] if p["changed"]]
    assert [p["name"] for p in changed][:3] == ["strip-identity", "fold-constants", "cse"]
    assert set(data["views"]) == {str(p["index"]) for p in changed}
    for p in changed:
        v = data["views"][str(p["index"])]
        kinds = {k for k, _ in v["unified"]}
        assert "@" in kinds and ({"+", "-"} & kinds), p["name"]
        assert {r[4] for r in v["side"]} & {"del", "ins", "chg"}, p["name"]
        g = v["graph"]
        ids = {n["id"] for n in g["nodes"]}
        assert g["nodes"] and all(s in ids and t in ids for s, t, _ in g["edges"]), p["name"]
        drawn = {n["status"] for n in g["nodes"]}
        assert drawn & {"added", "removed", "rewritten"}, p["name"]
        counts = (p["added"], p["removed"], p["rewritten"])
        assert counts == tuple(
            sum(n["status"] == s for n in v["nodes"].values()) for s in ("added", "removed", "rewritten")
        )


def test_fused_table_names_its_rule_and_tf_origins(deepfm_report: PipelineReport) -> None:
    data = report_data(deepfm_report, "deepfm.pb")
    tables = next(p for p in data["passes"] if p["name"] == "fuse-tables")
    view = data["views"][str(tables["index"])]
    gathers = [n for n in view["nodes"].values() if n["op"] == "GatherV2" and n["status"] == "added"]
    assert gathers, "fuse-tables adds the gathers from the fused tables"
    for n in gathers:
        assert n["rule"] == "fuse-tables"
        assert len(n["origin"]) == 26 and all("embedding_lookup" in o for o in n["origin"])
    removed = [n for n in view["nodes"].values() if n["status"] == "removed" and n["op"] == "GatherV2"]
    assert len(removed) == 52 and all(n["before"] and n["after"] is None for n in removed)
    dense = next(p for p in data["passes"] if p["name"] == "fuse-dense")
    made = [n for n in data["views"][str(dense["index"])]["nodes"].values() if n["op"] == "FusedDense"]
    assert made and all(
        n["status"] == "rewritten" and data["rules"][n["rule"]]["pass"] == "fuse-dense" for n in made
    )


def test_hostile_node_names_cannot_break_out_of_the_page() -> None:
    from tests.passes._util import ir

    graph = ir("""
    graph @t(%x: float32[N,4]) -> (float32[N,4]) {
      %a = Relu(%x) : float32[N,4]
      %b = Relu(%a) : float32[N,4]
      return "y" = %b
    }
    """)
    graph.rename(graph.nodes[1], "</script><img src=x onerror=alert(1)>&amp;")
    page = render_report(PassManager(parse_pipeline("cse,dce"), snapshots=True).run(graph), "<b>t</b>")
    assert (
        "<img" not in page and "</script><" not in page.split("<script>", 1)[0].split('id="fourier-data">')[1]
    )
    assert "<title>&lt;b&gt;t&lt;/b&gt; - Fourier passes</title>" in page


def test_compile_report_writes_html_text_and_json(zoo: dict[str, ZooModel], tmp_path: Path) -> None:
    out, report = tmp_path / "mlp.fourier", tmp_path / "report"
    result = CliRunner().invoke(
        cli, ["compile", str(zoo["mlp"].pb), "-b", "8", "-o", str(out), "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in report.iterdir()) == ["passes.html", "passes.json", "passes.txt"]
    text = (report / "passes.txt").read_text()
    assert "fuse-dense" in text and "=== pass 8: fuse-dense ===  +0 added, -6 removed, ~3 rewritten" in text
    assert "+  %model/dense/Relu = FusedDense(" in text and "\x1b[" not in text
    records = json.loads((report / "passes.json").read_text())["records"]
    assert [r["name"] for r in records][:2] == ["strip-identity", "prune"] and "ir_after" not in records[0]
    assert "fourier-data" in (report / "passes.html").read_text()
