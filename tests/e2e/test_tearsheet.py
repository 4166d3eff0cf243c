"""The tearsheet in a real browser (Debian's Chromium): a backtest's output folder becomes one HTML
file that renders with no network (every request outside the file is refused and counted), shows
each section, readable date axes, and is kept as a screenshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantterminal.cli.main import main
from tests.e2e.test_dashboard import CHROMIUM, CHROMIUM_ARGS, SHOTS, need_chromium


def test_a_backtest_folder_becomes_a_self_contained_tearsheet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need_chromium()
    from playwright.sync_api import sync_playwright

    run = tmp_path / "bt"
    assert main(["backtest", "--strategy", "momentum", "--out", str(run)]) == 0
    assert main(["report", str(run)]) == 0
    page_file = run / "tearsheet.html"
    html = page_file.read_text()
    for loads in ('src="http', "src='http", 'href="http', "url(http", "@import"):
        assert loads not in html, loads
    outside: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.route(
            "**/*",
            lambda route: (
                route.continue_()
                if route.request.url.startswith("file:")
                else (outside.append(route.request.url), route.abort())[1]
            ),
        )
        page.goto(page_file.as_uri())
        headings = page.locator("h2").all_inner_texts()
        sections = ("Summary", "Equity and drawdown", "Monthly returns", "Rolling Sharpe and the return distribution")
        more = ("Worst drawdowns", "Yearly returns", "Closed trades", "Risk refusals by rule", "Fills and slippage")
        for wanted in (*sections, *more, "Configuration", "Data manifest"):
            assert wanted in headings
        assert page.locator("svg").count() == 2
        summary = page.locator("table").first.inner_text()
        for figure in ("buy and hold", "Sharpe", "CAGR", "volatility", "Calmar", "VaR", "CVaR", "beta"):
            assert figure in summary
        months = page.locator("section", has=page.locator("h2", has_text="Monthly returns")).inner_text()
        assert "Jan" in months
        assert "2011" in months
        # at 1280 px nothing spills sideways, and the page is read, not scrolled for ever: the fills
        # are summarised (every one is in fills.csv)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        assert page.evaluate("document.documentElement.scrollHeight") < 9000
        assert "every one is in fills.csv" in page.locator("body").inner_text()
        page.emulate_media(media="print")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        # the equity chart's date labels: each appears once (not the same date along the axis)
        labels = [t.strip() for t in page.locator("svg").first.locator("text").all_text_contents() if t and t.strip()]
        dated = [t for t in labels if any(m in t for m in ("Jan", "Feb", "Mar", "2011"))]
        assert dated
        assert len(dated) == len(set(dated)), labels
        page.screenshot(path=str(SHOTS / "tearsheet.png"), full_page=True)
        browser.close()
    assert outside == [], "nothing outside the file is fetched"
