"""The HTML report in a real browser: headless Chromium driven by Selenium.

Before: the -O2 pass report of DeepFM (and of MobileNetV2, the largest zoo graph, and the MLP).
Expected: the page loads with no script error and fetches nothing and opens on the pass that
changed the most; selecting a pass shows its drawing with added and removed nodes; the unified
and side-by-side diffs appear in their tabs; clicking a drawn node shows its rule and TF origins;
search finds a node and selects its pass. In a 1400 px window the drawing opens fitted to the
view and both halves of the side-by-side diff show every character; a rule-made node's panel
shows the command, with the model's real path, that explains the rewrite.
Skips where no Chromium, chromedriver or Selenium is installed; ``.ci/run`` installs them and
sets FOURIER_REQUIRE_BROWSER, which turns the skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fourier
from fourier.importer import load_graph
from fourier.passes.manager import OPT_LEVELS, PassManager, pipeline_for_level
from fourier.testing.browser import NoBrowser, browser
from fourier.testing.zoo import ZooModel
from fourier.viewer.html import explain_command, write_report


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    try:
        with browser() as d:
            yield d
    except NoBrowser as e:
        if os.environ.get("FOURIER_REQUIRE_BROWSER"):  # CI installs a browser: it must run there
            pytest.fail(f"FOURIER_REQUIRE_BROWSER is set but {e}")
        pytest.skip(str(e))


def _open(
    driver: Any, zoo: dict[str, ZooModel], name: str, tmp_path: Path, source: Path | None = None
) -> None:
    pb = source or zoo[name].pb
    report = PassManager(pipeline_for_level(2), snapshots=True).run(load_graph(pb))
    page = write_report(report, tmp_path / f"{name}.html", f"{name}.pb", str(pb) if source else "")
    driver.get(page.as_uri())
    driver.get_log("browser")  # start each page with an empty console log


def _errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _js(driver: Any, script: str) -> Any:
    return driver.execute_script(script)


def test_select_a_pass_see_drawing_diffs_and_node_origin(
    driver: Any, zoo: dict[str, ZooModel], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    _open(driver, zoo, "deepfm", tmp_path)
    assert _js(driver, "return performance.getEntriesByType('resource').length") == 0  # nothing fetched
    assert driver.find_element(By.ID, "pass-title").text == "Pass 13: fuse-tables"  # changed the most

    driver.find_element(By.CSS_SELECTOR, 'tr.pass[data-pass="13"]').click()
    assert driver.find_element(By.ID, "pass-title").text == "Pass 13: fuse-tables"
    assert len(driver.find_elements(By.CSS_SELECTOR, "#graph .node.st-added")) > 0
    assert len(driver.find_elements(By.CSS_SELECTOR, "#graph .node.st-removed")) >= 52
    assert len(driver.find_elements(By.CSS_SELECTOR, "#graph path.edge")) > 0

    node = driver.find_element(By.CSS_SELECTOR, '#graph .node.st-added[data-node*="fused_tables"]')
    driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", node)
    assert node.get_attribute("class").endswith("focus")
    assert driver.find_element(By.ID, "node-rule").text == "fuse-tables"
    origins = driver.find_elements(By.CSS_SELECTOR, "#node-origin li")
    assert len(origins) == 26 and "embedding_lookup" in origins[0].text

    driver.find_element(By.CSS_SELECTOR, '.tabs button[data-tab="unified"]').click()
    assert len(driver.find_elements(By.CSS_SELECTOR, "#unified .d-add")) > 0
    assert len(driver.find_elements(By.CSS_SELECTOR, "#unified .d-del")) > 0
    driver.find_element(By.CSS_SELECTOR, '.tabs button[data-tab="side"]').click()
    rows = driver.find_elements(By.CSS_SELECTOR, "#side tr.s-del, #side tr.s-chg, #side tr.s-ins")
    assert rows and rows[0].find_elements(By.CSS_SELECTOR, "td.l")

    search = driver.find_element(By.ID, "search")
    search.send_keys("FusedDense")
    hits = driver.find_elements(By.CSS_SELECTOR, "#results .hit")
    for _ in range(20):  # the search is debounced
        if hits:
            break
        driver.implicitly_wait(0.1)
        hits = driver.find_elements(By.CSS_SELECTOR, "#results .hit")
    assert hits and "pass 8 fuse-dense: rewritten" in hits[0].text
    hits[0].click()
    assert driver.find_element(By.ID, "pass-title").text == "Pass 8: fuse-dense"
    made_by = driver.find_element(By.ID, "details").text
    assert "of pass fuse-dense" in made_by and "--explain-rule" in made_by
    assert _errors(driver) == []


def test_every_pass_and_tab_renders_on_the_largest_zoo_model(
    driver: Any, zoo: dict[str, ZooModel], tmp_path: Path
) -> None:
    _open(driver, zoo, "mobilenetv2", tmp_path)
    shown = _js(
        driver,
        """
        const out = [];
        for (const row of document.querySelectorAll('tr.pass.changed')) {
          row.click();
          for (const tab of ['graph', 'unified', 'side', 'nodes']) {
            document.querySelector(`.tabs button[data-tab="${tab}"]`).click();
            out.push([row.dataset.pass, tab, document.querySelectorAll('#tab-body *').length]);
          }
          document.querySelector('.tabs button[data-tab="graph"]').click();
        }
        return out;
        """,
    )
    assert len(shown) == 4 * 6  # MobileNetV2: six passes change the graph
    assert all(count > 0 for _, _, count in shown), shown
    assert _errors(driver) == []


def test_at_1400px_the_drawing_fits_and_both_sides_of_the_diff_read(
    driver: Any, zoo: dict[str, ZooModel], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    driver.set_window_size(1400, 900)
    try:
        _open(driver, zoo, "deepfm", tmp_path)
        assert _js(driver, "return innerWidth") == 1400
        assert driver.find_element(By.ID, "pass-title").text == "Pass 13: fuse-tables"
        fit = _js(
            driver,
            """
            const svg = document.getElementById('graph'), wrap = svg.parentElement;
            const r = svg.getBoundingClientRect();
            return {w: r.width, h: r.height, bottom: r.bottom, full: Number(svg.dataset.width),
                    wrapW: wrap.clientWidth, wrapH: wrap.clientHeight, inner: innerHeight,
                    scrolls: wrap.scrollWidth > wrap.clientWidth || wrap.scrollHeight > wrap.clientHeight};
            """,
        )
        assert fit["w"] < fit["full"] / 2, fit  # zoomed out: at 1:1 it is 1600 px wide
        assert fit["w"] <= fit["wrapW"] and fit["h"] <= fit["wrapH"] and not fit["scrolls"], fit
        assert fit["bottom"] <= fit["inner"], fit  # all of it on screen, no page scrolling
        driver.find_element(By.CSS_SELECTOR, '.tabs button[data-tab="side"]').click()
        sides = _js(
            driver,
            """
            const wrap = document.querySelector('.side-wrap'), cells = [...document.querySelectorAll('#side td.l, #side td.r')];
            return {table: document.getElementById('side').scrollWidth, wrap: wrap.clientWidth,
                    page: document.documentElement.scrollWidth, inner: innerWidth,
                    clipped: cells.filter((c) => c.scrollWidth > c.clientWidth + 1).length,
                    narrowest: Math.min(...cells.map((c) => c.getBoundingClientRect().width)), cells: cells.length};
            """,
        )
        assert sides["cells"] > 100 and sides["clipped"] == 0, sides  # every line wraps, none is cut
        assert sides["table"] <= sides["wrap"] and sides["page"] <= sides["inner"], sides
        assert sides["narrowest"] >= 300, sides  # each half keeps a readable width
        assert _errors(driver) == []
    finally:
        driver.set_window_size(1600, 1000)


def test_a_rule_made_node_shows_the_command_that_explains_it(
    driver: Any, zoo: dict[str, ZooModel], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    mlp = Path(fourier.__file__).parent / "examples" / "mlp.pb"
    _open(driver, zoo, "mlp", tmp_path, source=mlp)
    assert driver.find_element(By.ID, "pass-title").text == "Pass 8: fuse-dense"
    node = driver.find_element(By.CSS_SELECTOR, '#graph .node[data-node="model/dense/Relu"]')
    driver.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", node)
    command = driver.find_element(By.ID, "node-explain").text
    assert command == explain_command(str(mlp), OPT_LEVELS[2], "fuseddense-activation", "model/dense/Relu")
    assert command.startswith(f"fourier opt {mlp.resolve()} --explain-rule")
    assert "MODEL" not in driver.find_element(By.ID, "details").text
    assert _errors(driver) == []
