"""The dashboard end to end in a real browser (Debian's headless Chromium, driven by Playwright):
a ``qterm paper`` run replays a real session at 15 minutes a second while the page watches --
the equity curve grows and positions and fills appear as bars arrive; HALT reaches the risk state;
when the server goes away the page says so. Screenshots go to out/e2e/."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "out" / "e2e"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
KEY = "e2e-key"
# How long a state the page must reach may take to show: a bound on a condition, not a delay. The
# page polls; on a busy machine (the suite beside two CPU burners) a halt took over 10 s to show.
WAIT_MS = 60_000
# As the machine's notes say: no background networking on a closed network, a fresh profile.
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def need_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = "Debian's chromium is not installed (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must run the browser tests", pytrace=False)
    pytest.skip(message)


def until(condition: Callable[[], bool], seconds: float) -> None:
    """Poll ``condition`` until it holds (fail after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still false after {seconds} s")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def paper(tmp_path: Path) -> Iterator[dict[str, object]]:
    """``qterm paper`` on one real SPY session, paced, with the API and dashboard on a free port."""
    port = free_port()
    command = [
        sys.executable, "-m", "quantterminal.cli.main", "paper", "--days", "1", "--symbols", "SPY",
        "--speed", "15", "--port", str(port), "--hold", "--database", f"sqlite:///{tmp_path}/ledger.sqlite3",
    ]  # fmt: skip
    log = (tmp_path / "paper.log").open("w")
    process = subprocess.Popen(command, env={**os.environ, "QT_API_KEY": KEY}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/v1/openapi.json", timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("the paper run's API did not come up: " + (tmp_path / "paper.log").read_text())
    yield {"url": url, "process": process}
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    log.close()


def sign_in(page: object, user: str = "operator", password: str = KEY) -> None:
    """The login form, as an operator fills it (locally: ``operator`` and the API key)."""
    page.fill("#user", user)  # type: ignore[attr-defined]
    page.fill("#password", password)  # type: ignore[attr-defined]
    page.click("#login button[type=submit]")  # type: ignore[attr-defined]


def api(url: str, path: str) -> dict[str, object]:
    request = urllib.request.Request(f"{url}/v1{path}", headers={"x-api-key": KEY})
    with urllib.request.urlopen(request, timeout=5) as response:
        return dict(json.load(response))


@pytest.mark.slow
def test_the_dashboard_follows_a_paper_run_halts_it_and_shows_when_the_api_is_down(
    paper: dict[str, object],
) -> None:
    need_chromium()
    from playwright.sync_api import expect, sync_playwright

    url = str(paper["url"])
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})  # a laptop's width
        page.goto(url)
        expect(page.locator("#login")).to_be_visible(timeout=WAIT_MS)
        sign_in(page, password="not the key")
        expect(page.locator("#banner")).to_contain_text("Incorrect username or password")
        sign_in(page)
        expect(page.locator("#link")).to_have_text("LIVE", timeout=WAIT_MS)
        expect(page.locator("#login")).to_be_hidden()
        expect(page.locator("#mode")).to_have_text("SIMULATED")  # paper / LIVE come from [broker] kind

        # P&L and positions change as bars arrive.
        # (Polled from here: the page's Content-Security-Policy forbids eval, and so the string
        # predicates of Playwright's wait_for_function -- the page runs under its real CSP.)
        chart = page.locator("#chart")

        def points() -> int:
            return int(chart.get_attribute("data-points") or 0)

        until(lambda: points() > 5, 20)
        first_points = points()
        first_equity = page.locator("#equity").inner_text()
        page.screenshot(path=str(SHOTS / "1-live.png"), full_page=True)
        until(lambda: points() > first_points + 20, 30)
        until(lambda: page.locator("#fills tr").count() > 2, 30)
        expect(page.locator("#positions")).not_to_contain_text("none", timeout=WAIT_MS)
        until(lambda: page.locator("#equity").inner_text() != first_equity, 30)  # the P&L moves with the bars
        page.screenshot(path=str(SHOTS / "2-trading.png"), full_page=True)

        # At 1280 px every control is whole: each DISABLE button inside its panel and the window,
        # the panel with nothing to scroll sideways; one time zone, the market's, said everywhere.
        panel = page.locator("section", has=page.locator("#strategies"))
        edge = panel.bounding_box()
        assert edge is not None
        buttons = page.locator("#strategies button")
        assert buttons.count() >= 1
        for i in range(buttons.count()):
            box = buttons.nth(i).bounding_box()
            assert box is not None
            assert box["x"] + box["width"] <= min(edge["x"] + edge["width"], 1280), (box, edge)
        assert panel.evaluate("e => e.scrollWidth <= e.clientWidth")
        headers = page.locator("#strategies th").all_inner_texts()
        assert "bars" in headers
        expect(page.locator("#strategies")).to_contain_text("1min")
        assert page.locator("#orders th").first.inner_text() == "time (ET)"
        assert page.locator("#fills th").first.inner_text() == "time (ET)"
        assert page.locator("#clock").inner_text().endswith(" ET")
        expect(page.locator("#health")).to_contain_text("last bar (ET)")

        # HALT needs a reason, then reaches the risk state.
        page.click("#halt")
        expect(page.locator("#banner")).to_contain_text("reason is needed")
        assert api(url, "/risk")["halted"] is False
        page.fill("#reason", "e2e: halt from the dashboard")
        page.click("#halt")
        expect(page.locator("#trading")).to_have_text("HALTED", timeout=WAIT_MS)
        risk = api(url, "/risk")
        assert risk["halted"] is True
        assert risk["halt_reason"] == "e2e: halt from the dashboard"
        expect(page.locator("#risk")).to_contain_text("e2e: halt from the dashboard", timeout=WAIT_MS)
        page.screenshot(path=str(SHOTS / "3-halted.png"), full_page=True)
        page.fill("#reason", "e2e: resume")
        page.click("#resume")
        expect(page.locator("#trading")).to_have_text("TRADING", timeout=WAIT_MS)

        # The API goes away: the page says so and keeps the last data, dimmed.
        process = paper["process"]
        assert isinstance(process, subprocess.Popen)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        expect(page.locator("#link")).to_have_text("DISCONNECTED", timeout=WAIT_MS)
        expect(page.locator("#banner")).to_contain_text("API unreachable")
        expect(page.locator("#panels")).to_have_class("stale")
        assert page.locator("#equity").inner_text() != "-"
        page.screenshot(path=str(SHOTS / "4-api-down.png"), full_page=True)
        browser.close()


def test_behind_api_gateway_without_an_event_stream_the_page_polls(tmp_path: Path) -> None:
    """In AWS the page is served from S3 and the API by API Gateway, which cannot stream: the page
    falls back to polling the same routes."""
    need_chromium()
    from playwright.sync_api import expect, sync_playwright

    from quantterminal.adapters.api.http_api import build_api
    from quantterminal.adapters.api.local_api import LocalApiServer
    from quantterminal.adapters.broker.simulated_broker import SimulatedBroker
    from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
    from quantterminal.adapters.state.memory_state import MemoryStateStore
    from quantterminal.wiring.runtime import Runtime

    ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    ledger.migrate()
    runtime = Runtime.build(MemoryStateStore(), ledger, SimulatedBroker(), symbols=("SPY",))
    runtime.gate.halt("halted before the page opened", datetime.now(UTC))
    app = build_api(lambda: runtime.queries, lambda: runtime.symbols)
    with (
        LocalApiServer(app, KEY, stream_events=False) as server,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.goto(server.url)
        sign_in(page)
        expect(page.locator("#link")).to_have_text("POLLING", timeout=WAIT_MS)
        expect(page.locator("#trading")).to_have_text("HALTED", timeout=WAIT_MS)
        expect(page.locator("#risk")).to_contain_text("halted before the page opened")
        page.screenshot(path=str(SHOTS / "5-polling.png"), full_page=True)
        browser.close()
    ledger.close()


def test_a_first_sign_in_sets_a_new_password_and_the_kill_switch_works_from_the_browser(tmp_path: Path) -> None:
    """As a Cognito user created by the stack (a temporary password mailed to the operator): the
    first sign-in asks for a new password; then HALT, from the page, halts the account."""
    need_chromium()
    from playwright.sync_api import expect, sync_playwright

    from quantterminal.adapters.api.http_api import build_api
    from quantterminal.adapters.api.local_api import LocalApiServer
    from quantterminal.adapters.api.local_login import LocalLogin
    from quantterminal.adapters.broker.simulated_broker import SimulatedBroker
    from quantterminal.adapters.ledger.sqlite_ledger import SqliteLedger
    from quantterminal.adapters.state.memory_state import MemoryStateStore
    from quantterminal.wiring.runtime import Runtime

    ledger = SqliteLedger(tmp_path / "ledger.sqlite3")
    ledger.migrate()
    runtime = Runtime.build(MemoryStateStore(), ledger, SimulatedBroker(), symbols=("SPY",))
    app = build_api(lambda: runtime.queries, lambda: runtime.symbols)
    login = LocalLogin(KEY, require_new_password=True)
    with (
        LocalApiServer(app, KEY, stream_events=False, login=login) as server,
        sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(server.url)
        sign_in(page)
        expect(page.locator("#new-password-row")).to_be_visible(timeout=WAIT_MS)
        expect(page.locator("#banner")).to_contain_text("choose a new password")
        page.fill("#new-password", "a-new-password-1")
        page.click("#login button[type=submit]")
        expect(page.locator("#link")).to_have_text("POLLING", timeout=WAIT_MS)
        page.fill("#reason", "e2e: kill switch from the browser")
        page.click("#halt")
        expect(page.locator("#trading")).to_have_text("HALTED", timeout=WAIT_MS)
        assert runtime.store.get_risk_state("paper").halt_reason == "e2e: kill switch from the browser"
        # the old (temporary) password no longer signs in; the new one does
        page.evaluate("sessionStorage.clear()")
        page.reload()
        sign_in(page)
        expect(page.locator("#banner")).to_contain_text("Incorrect username or password", timeout=WAIT_MS)
        sign_in(page, password="a-new-password-1")
        expect(page.locator("#link")).to_have_text("POLLING", timeout=WAIT_MS)
        page.screenshot(path=str(SHOTS / "6-signed-in.png"), full_page=True)
        browser.close()
    ledger.close()
