"""The HTML report in a real browser: headless Chromium driven by Selenium.

Before: the -O2 pass report of DeepFM (and of MobileNetV2, the largest zoo graph).
Expected: the page loads with no script error and fetches nothing; selecting a pass shows its
drawing with added and removed nodes; the unified and side-by-side diffs appear in their tabs;
clicking a drawn node shows its rule and TF origins; search finds a node and selects its pass.
Skips where no Chromium, chromedriver or Selenium is installed; ``.ci/run`` installs them and
sets FOURIER_REQUIRE_BROWSER, which turns the skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fourier.passes.manager import PassManager, pipeline_for_level

from fourier.importer import load_graph
from fourier.testing.browser import NoBrowser, browser
from fourier.testing.zoo import ZooModel
from fourier.viewer.html import write_report


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    try:
        with browser() as d:
            yield d
    except NoBrowser as e:
        if os.environ.get("FOURIER_REQUIRE_BROWSER"):  # CI installs a browser: it must run there
            pytest.fail(f"FOURIER_REQUIRE_BROWSER is set but {e}")
        pytest.skip(str(e))


def _open(driver: Any, zoo: dict[str, ZooModel], name: str, tmp_path: Path) -> None:
    report = PassManager(pipeline_for_level(2), snapshots=True).run(load_graph(zoo[name].pb))
    page = write_report(report, tmp_path / f"{name}.html", f"{name}.pb")
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
    assert driver.find_element(By.ID, "pass-title").text == "Pass 1: strip-identity"

    driver.find_element(By.CSS_SELECTOR, 'tr.pass[data-pass="12"]').click()
    assert driver.find_element(By.ID, "pass-title").text == "Pass 12: fuse-tables"
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
