"""The report from a first look: which pass it opens on, drawings that fit, and a node's
"why it fired" that names the model and leads to the answer.

Before: the -O2 pass reports of the bundled MLP (``fourier/examples/mlp.pb``) and the zoo's DeepFM.
Expected: the page opens on the pass that changed the most (MLP: fuse-dense, not strip-identity,
whose 6 "rewritten" nodes only had an input re-pointed past a removed Identity; DeepFM:
fuse-tables), no drawing is wider than a row, and the command a rule-made node shows is
``fourier opt <absolute model path> --explain-rule RULE --at NODE``, which, run as is, reports
the match that fired.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

import fourier
from fourier.cli import cli
from fourier.importer import load_graph
from fourier.passes.manager import PassManager, PipelineReport, parse_pipeline, pipeline_for_level
from fourier.testing.zoo import ZooModel
from fourier.viewer.html import explain_command, render_report, report_data
from fourier.viewer.layout import ROW_WIDTH

MLP = Path(fourier.__file__).parent / "examples" / "mlp.pb"


def _o2(path: Path) -> PipelineReport:
    return PassManager(pipeline_for_level(2), snapshots=True).run(load_graph(path))


@pytest.fixture(scope="module")
def mlp_report() -> PipelineReport:
    return _o2(MLP)


@pytest.fixture(scope="module")
def deepfm_report(zoo: dict[str, ZooModel]) -> PipelineReport:
    return _o2(zoo["deepfm"].pb)


def test_the_page_opens_on_the_pass_that_changed_the_most(
    mlp_report: PipelineReport, deepfm_report: PipelineReport
) -> None:
    data = report_data(mlp_report, "mlp.pb")
    weights = {p["name"]: p["weight"] for p in data["passes"] if "weight" in p}
    # strip-identity removes 7 Identity nodes and "rewrites" 6 whose input moved past them;
    # fuse-dense removes 6 nodes and turns 3 activations into FusedDense.
    assert weights == {"strip-identity": 7, "fuse-dense": 9}
    assert data["start"] == 8 and data["passes"][7]["name"] == "fuse-dense"
    deepfm = report_data(deepfm_report, "deepfm.pb")
    assert deepfm["passes"][deepfm["start"] - 1]["name"] == "fuse-tables"
    assert "DATA.start" in render_report(mlp_report, "mlp.pb")  # the script opens there


def test_no_drawing_is_wider_than_a_row_and_no_boxes_overlap(deepfm_report: PipelineReport) -> None:
    data = report_data(deepfm_report, "deepfm.pb")
    tables = data["views"][str(data["start"])]["graph"]
    assert len(tables["nodes"]) == 144  # before wrapping its 52 removed lookups, 6884 px wide
    for index, view in data["views"].items():
        g = view["graph"]
        assert g["width"] <= ROW_WIDTH, index
        boxes = [(n["x"], n["y"], n["x"] + n["w"], n["y"] + g["box"]) for n in g["nodes"]]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (index, a, b)


def test_why_it_fired_names_the_model_and_its_command_answers(mlp_report: PipelineReport) -> None:
    given = os.path.relpath(MLP)  # as a user types it; the page's command works from anywhere
    data = report_data(mlp_report, "mlp.pb", given)
    assert data["explain"] == f"fourier opt {MLP.resolve()}"
    made = [n for n in data["final"] if n["rule"] in data["rules"]]
    assert [n["name"] for n in made] == ["model/dense/Relu", "model/dense_1/Relu", "model/dense_2/Sigmoid"]
    for n in made:
        cmd = explain_command(given, data["pipeline"], n["rule"], n["name"])
        assert cmd == f"{data['explain']} --explain-rule {n['rule']} --at {n['name']}"
        result = CliRunner().invoke(cli, shlex.split(cmd)[1:])
        assert result.exit_code == 0, result.output
        owner = data["rules"][n["rule"]]["pass"]
        assert (
            f"match: {n['name']} ({n['op']}): rewritten by {n['rule']} in pass {owner} (from TF nodes "
            in (result.output)
        )
        assert "expected" not in result.output


def test_the_command_keeps_a_pipeline_other_than_o2_and_says_when_the_path_is_unknown() -> None:
    pipeline = "strip-identity,cse,fuse-dense"
    report = PassManager(parse_pipeline(pipeline), snapshots=True).run(load_graph(MLP))
    data = report_data(report, "mlp.pb", str(MLP))
    assert data["explain"] == f"fourier opt {MLP.resolve()} -p {pipeline}"
    result = CliRunner().invoke(
        cli,
        [
            *shlex.split(data["explain"])[1:],
            "--explain-rule",
            "fuseddense-activation",
            "--at",
            "model/dense/Relu",
        ],
    )
    assert "match: model/dense/Relu (FusedDense): rewritten by fuseddense-activation" in result.output
    assert report_data(report, "mlp.pb")["explain"] == "fourier opt MODEL -p strip-identity,cse,fuse-dense"
    assert explain_command("my model.pb", pipeline, "r", "a'b") == (
        f"fourier opt 'my model.pb' -p {pipeline} --explain-rule r --at 'a'\"'\"'b'"
    )
