"""The daily report of a real pipeline day, opened in headless Chromium: it renders with its figures and no script
error. Needs Debian's `chromium` (scripts/test installs it in CI); skipped with a message where it is absent."""

from datetime import timedelta

import pytest
from helpers import FIRST_DAY
from watchkeeper.pipeline import run_day
from watchkeeper.reports.browser import chromium, open_page, screenshot

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium() is None, reason="chromium is not installed (apt-get install -y chromium)"),
]


def test_console_errors_are_caught(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>not_defined_anywhere()</script></body></html>")
    assert any("not_defined_anywhere" in line for line in open_page(page).console)


def test_daily_report_renders_with_its_figures(tiny, tmp_path):
    cfg, storage, _ = tiny
    for i in range(3):
        result = run_day(cfg, FIRST_DAY + timedelta(days=i), storage)
    page = tmp_path / "report.html"
    page.write_bytes(storage.read_bytes(cfg.results_key(result.day, "report.html")))
    assert page.stat().st_size < 300_000
    rendered = open_page(page)
    assert rendered.console == []
    assert result.headline in rendered.dom
    assert rendered.dom.count("<svg") >= 1  # each estimated metric over the days
    assert "Label coverage per prediction day" in rendered.dom
    shot = screenshot(page, tmp_path / "report.png", height=1200)
    assert shot.stat().st_size > 20_000  # a page with figures, not a blank canvas
