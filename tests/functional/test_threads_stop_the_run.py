"""Nothing dies silently: when one of the feed's threads stops on its own (here: an error no
handler catches, raised from the connection's reader mid-replay), ``qterm paper`` and ``qterm
feed`` stop at once with one clear line and exit status 3 -- no summary of a partial run, no
divergence report over the bars that happened to be traded."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantterminal.cli.main import main
from quantterminal.core.market_data.feed_events import FeedEvent
from quantterminal.wiring.feed import FeedService


class ReaderKilled(BaseException):
    """Escapes every ``except Exception``: the thread it is raised in ends."""


@pytest.fixture
def reader_dies_after_300_events(monkeypatch: pytest.MonkeyPatch) -> None:
    original = FeedService._on_event
    seen = [0]

    def on_event(self: FeedService, event: FeedEvent) -> None:
        seen[0] += 1
        if seen[0] > 300:
            raise ReaderKilled("simulated: the reader thread hit a bug")
        original(self, event)

    monkeypatch.setattr(FeedService, "_on_event", on_event)


@pytest.mark.usefixtures("reader_dies_after_300_events")
def test_a_dead_feed_thread_stops_the_paper_run_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    code = main(["paper", "--days", "1", "--no-api", "--database", database, "--idle-exit", "600"])
    out, err = capsys.readouterr()
    assert code == 3
    (line,) = err.strip().splitlines()
    assert line.startswith("qterm paper: error: trading stopped after ")
    assert "the feed's connection reader stopped: ReaderKilled" in line
    assert "Paper run --" not in out
    assert "Divergence" not in out


@pytest.mark.usefixtures("reader_dies_after_300_events")
def test_a_dead_feed_thread_stops_qterm_feed_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    code = main(["feed", "--rth", "--database", database, "--idle-exit", "600"])
    _, err = capsys.readouterr()
    assert code == 3
    (line,) = err.strip().splitlines()
    assert line.startswith("qterm feed: error: the feed's connection reader stopped: ReaderKilled")
