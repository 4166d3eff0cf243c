"""PostgreSQL's ``COPY`` text format for the ledger's bulk ingest: rows encoded as tab-separated
lines (``\\N`` for NULL, backslash escapes) and read by ``copy_expert`` from a file-like stream of
them, so a million bars are never one string in memory."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from quantterminal.core.models import Bar

COPY_CHUNK = 1 << 18  # bytes per read by COPY from the formatted-line stream


def copy_text(value: object) -> str:
    """One field in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    text = value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class LineStream:
    """A read-only file over lazily formatted lines, for ``copy_expert``: the server loads rows
    while Python is still formatting the rest (the server is another process, on another core)."""

    def __init__(self, lines: Iterator[str]) -> None:
        self._lines = lines
        self._pending = ""

    def read(self, size: int = -1) -> str:
        chunks = [self._pending]
        have = len(self._pending)
        for line in self._lines:
            chunks.append(line)
            have += len(line)
            if 0 <= size <= have:
                break
        text = "".join(chunks)
        if 0 <= size < len(text):
            self._pending = text[size:]
            return text[:size]
        self._pending = ""
        return text

    def readline(self, size: int = -1) -> str:  # part of the file protocol; COPY uses read
        return self.read(size)


def bar_copy_lines(bars: Sequence[Bar]) -> Iterator[str]:
    """Bars in COPY's text format, one line each (the hot path of bulk ingest)."""
    symbols: dict[str, str] = {}
    for b in bars:
        symbol = symbols.get(b.symbol)
        if symbol is None:
            symbol = symbols[b.symbol] = copy_text(b.symbol)
        vwap = "\\N" if b.vwap is None else repr(b.vwap)
        count = "\\N" if b.trade_count is None else str(b.trade_count)
        yield (
            f"{symbol}\t{b.timestamp.isoformat()}\t{b.open!r}\t{b.high!r}\t{b.low!r}\t{b.close!r}"
            f"\t{b.volume}\t{vwap}\t{count}\n"
        )
