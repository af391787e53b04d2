"""``fourier diff`` in the terminal, on a zoo model.

Before: DeepFM's frozen graph.
Expected: a table row per pass with ops before -> after; for every pass that changed the graph a
unified diff of the IR; no colour codes when piped; ``--pass`` shows one pass only.
"""

from __future__ import annotations

from click.testing import CliRunner

from fourier.cli import cli
from fourier.testing.zoo import ZooModel


def test_diff_shows_a_table_and_the_diff_of_each_changed_pass(zoo: dict[str, ZooModel]) -> None:
    result = CliRunner().invoke(cli, ["diff", str(zoo["deepfm"].pb)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "\x1b[" not in out  # piped: plain text
    assert "strip-identity" in out and "194 -> 129" in out  # 65 Identity nodes forwarded
    sections = [line for line in out.splitlines() if line.startswith("=== pass ")]
    assert [s.split(": ")[1].split(" ")[0] for s in sections][:3] == [
        "strip-identity",
        "fold-constants",
        "cse",
    ]
    assert "-  %model/sparse_emb_C1/embedding_lookup = GatherV2(" in out
    assert "# rule fuse-tables" in out


def test_diff_one_pass(zoo: dict[str, ZooModel]) -> None:
    result = CliRunner().invoke(cli, ["diff", str(zoo["mlp"].pb), "--pass", "fuse-dense"])
    assert result.exit_code == 0, result.output
    assert result.output.count("=== pass ") == 1 and "=== pass 8: fuse-dense ===" in result.output
    assert "+  %model/dense/Relu = FusedDense(" in result.output
    bad = CliRunner().invoke(cli, ["diff", str(zoo["mlp"].pb), "--pass", "fuse-tables"])
    assert bad.exit_code != 0 and "no pass 'fuse-tables' changed the graph" in bad.output
