"""What a walk-forward window's study is: the name that keeps its trials apart from every other
search's.

A study's trials are in-sample scores; they may be reused only by a search that would score them
the same. Matching studies by window number alone let a rerun with other windows reuse trials
scored on other sessions -- sessions after its own out-of-sample window among them: look-ahead,
the one thing a walk-forward exists to prevent. The name therefore carries a digest of everything
that decides a trial's score: the searched instance and its strategy's code, the space, the
objective and its minimum trades, how orders are placed and filled, the window's exact sessions,
and the bars themselves. The same command with the same data (another machine joining, a rerun
with more trials) finds the same studies; anything else finds new ones.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from quantterminal.core.models import Bar
from quantterminal.core.research.walk_forward import Window, within

_DIGEST = 12  # hex digits of the key in a study's name (48 bits: no two searches meet by chance)
_BAR = struct.Struct("<q5d")  # time (µs), open, high, low, close, volume


def data_fingerprint(bars_by_symbol: Mapping[str, Sequence[Bar]]) -> str:
    """A SHA-256 of the bars themselves (symbol, time, open, high, low, close, volume): the same
    for the same data whatever file or format it was read from."""
    digest = hashlib.sha256()
    for symbol in sorted(bars_by_symbol):
        bars = bars_by_symbol[symbol]
        digest.update(f"{symbol}|{len(bars)}|".encode())
        pack = _BAR.pack
        digest.update(
            b"".join(
                pack(int(b.timestamp.timestamp() * 1_000_000), b.open, b.high, b.low, b.close, float(b.volume))
                for b in bars
            )
        )
    return digest.hexdigest()


def window_study(
    base: str, window: Window, identity: Mapping[str, Any], bars_by_symbol: Mapping[str, Sequence[Bar]]
) -> str:
    """The study of ``window`` in the search ``base`` (the name a user gives): ``base-w<i>-<key>``,
    the key a digest of ``identity`` (what decides a trial's score, as plain data), the window's
    sessions and its bars (in sample and out of sample: the window as the report shows it)."""
    days = (*window.in_sample, *window.out_of_sample)
    key = {
        "identity": identity,
        "in_sample": [d.isoformat() for d in window.in_sample],
        "out_of_sample": [d.isoformat() for d in window.out_of_sample],
        "data": data_fingerprint(within(bars_by_symbol, days)),
    }
    text = json.dumps(key, sort_keys=True, default=str, separators=(",", ":"))
    return f"{base}-w{window.index}-{hashlib.sha256(text.encode()).hexdigest()[:_DIGEST]}"
