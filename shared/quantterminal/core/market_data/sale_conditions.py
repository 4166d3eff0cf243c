"""Which trades may set a minute bar's prices and volume: the consolidated tape's sale-condition rules.

The SIPs (CTA for tapes A/B, UTP for tape C) publish, per sale condition, whether a trade carrying
it updates the consolidated high/low, the last (open and close) and the volume. Polygon/Massive
serve the same matrix as ``update_rules.consolidated`` of ``/v3/reference/conditions``. A trade
with several conditions updates a field only if every one of its conditions allows it; an
unknown condition restricts nothing (better a bar than a lost print).

Examples: an odd lot (I) or an average-price trade (W) counts in the volume but moves no price;
an out-of-sequence print (Z) can set the high or low but not the close; the official open/close
messages (Q, M) count for nothing -- they repeat an auction print already on the tape.

Extended hours: a Form T trade (T; U when reported out of sequence) updates no regular-session
statistic, but in a pre- or after-market minute bar it does set the prices (Massive's knowledge
base, "Does a Form T trade update a pre-market minute bar's high, low, open and close?"). So the
extended-hours conditions are neutral in minutes outside the regular session.

Three vocabularies name the conditions: CTA/UTP letters (Alpaca's ``c``), Polygon's numeric ids,
and LEAN's ``TradeConditionFlags`` bit set (the LEAN sample tape); the last two are mapped to the
letters here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple


class Eligibility(NamedTuple):
    """What a trade may update in a bar."""

    high_low: bool
    last: bool  # open and close
    volume: bool


ALL = Eligibility(True, True, True)
_VOLUME_ONLY = Eligibility(False, False, True)
_NOT_LAST = Eligibility(True, False, True)
_NOTHING = Eligibility(False, False, False)

LEAN_INTERMARKET_SWEEP = 1 << 5
# AlgoSeek's minute bars (LEAN's sample data) also leave intermarket sweep prints out of the prices
# of regular-session minutes, though the SIP rules count them: measured on LEAN's SPY tape of
# 2013-10-07, that convention reproduces 388 of its 390 regular-session bars exactly, the SIP rules
# 288. It is the LEAN vocabulary's own letter, so the SIP tables stay as the SIPs publish them.
# Outside the regular session the same bars count every print, average-price ones included
# (their after-hours highs of 168.90 are 1,002,411-share average-price prints).
_LEAN_SWEEP = "lean-iso"


# CTA/UTP sale conditions that restrict (every other condition updates everything).
LETTER_RULES: Mapping[str, Eligibility] = {
    "C": _VOLUME_ONLY,  # cash
    "G": _NOT_LAST,  # bunched sold
    "H": _VOLUME_ONLY,  # price variation
    "I": _VOLUME_ONLY,  # odd lot
    "M": _NOTHING,  # market center official close
    "N": _VOLUME_ONLY,  # next day
    "P": _NOT_LAST,  # prior reference price
    "Q": _NOTHING,  # market center official open
    "R": _VOLUME_ONLY,  # seller
    "T": _VOLUME_ONLY,  # Form T (extended hours)
    "U": _VOLUME_ONLY,  # extended hours, sold out of sequence
    "V": _VOLUME_ONLY,  # contingent trade
    "W": _VOLUME_ONLY,  # average price
    "Z": _NOT_LAST,  # sold out of sequence
    "4": _NOT_LAST,  # derivatively priced
    "7": _VOLUME_ONLY,  # qualified contingent trade
    _LEAN_SWEEP: _VOLUME_ONLY,  # (LEAN/AlgoSeek only, regular session; see ``lean_letters``)
}
# Outside the regular session these become: T updates everything, U like any out-of-sequence print.
EXTENDED_HOURS_RULES: Mapping[str, Eligibility] = {"T": ALL, "U": _NOT_LAST, _LEAN_SWEEP: ALL}

# Polygon/Massive condition ids -> CTA/UTP letters (the ones that restrict).
POLYGON_TO_LETTER: Mapping[str, str] = {
    "2": "W",  # average price
    "5": "G",  # bunch sold
    "7": "C",  # cash
    "10": "4",  # derivatively priced
    "12": "T",  # Form T
    "13": "U",  # extended hours sold out of sequence
    "15": "M",  # market center official close
    "16": "Q",  # market center official open
    "20": "N",  # next day
    "21": "H",  # price variation
    "22": "P",  # prior reference price
    "29": "R",  # seller
    "32": "Z",  # sold out of sequence
    "33": "Z",  # sold out of sequence, stopped stock
    "37": "I",  # odd lot
    "52": "V",  # contingent trade
    "53": "7",  # qualified contingent trade
}

# LEAN's TradeConditionFlags bits (QuantConnect/Lean Common/Data/Auxiliary/TradeConditionFlags.cs).
LEAN_BITS_TO_LETTER: Mapping[int, str] = {
    1 << 1: "C",  # Cash
    1 << 2: "N",  # NextDay
    1 << 3: "R",  # Seller
    1 << 10: "T",  # FormT
    1 << 13: "T",  # ExtendedHours
    1 << 14: "Z",  # OutOfSequence
    1 << 9: "4",  # DerivativelyPriced
    1 << 20: "W",  # AveragePrice
    1 << 22: "H",  # PriceVariation
    1 << 24: "M",  # OfficialClose
    1 << 25: "P",  # PriorReferencePrice
    1 << 26: "Q",  # OfficialOpen
    1 << 31: "I",  # OddLot
}


def lean_letters(flags: str) -> tuple[str, ...]:
    """The CTA/UTP letters a LEAN hex ``TradeConditionFlags`` value amounts to."""
    value = int(flags, 16)
    letters = tuple(letter for bit, letter in LEAN_BITS_TO_LETTER.items() if value & bit)
    return (*letters, _LEAN_SWEEP) if value & LEAN_INTERMARKET_SWEEP else letters


class SaleConditionRules:
    """The eligibility of a trade's conditions, in or out of the regular session (memoised: a
    feed sees a handful of distinct condition sets)."""

    def __init__(self, vocabulary: str = "letters") -> None:
        if vocabulary not in ("letters", "polygon", "lean"):
            raise ValueError(f"unknown sale-condition vocabulary {vocabulary!r}")
        self.vocabulary = vocabulary
        self._memo: dict[tuple[tuple[str, ...], bool], Eligibility] = {}

    def letters(self, conditions: tuple[str, ...]) -> tuple[str, ...]:
        if self.vocabulary == "polygon":
            return tuple(POLYGON_TO_LETTER.get(c, "") for c in conditions)
        if self.vocabulary == "lean":
            return tuple(letter for c in conditions for letter in lean_letters(c))
        return conditions

    def eligibility(self, conditions: tuple[str, ...], regular_session: bool) -> Eligibility:
        key = (conditions, regular_session)
        found = self._memo.get(key)
        if found is None and self.vocabulary == "lean" and not regular_session:
            # AlgoSeek's extended-hours bars count every print but the official open/close (above)
            official = {"M", "Q"} & set(self.letters(conditions))
            found = self._memo[key] = _NOTHING if official else ALL
        if found is None:
            high_low = last = volume = True
            for letter in self.letters(conditions):
                rule = (None if regular_session else EXTENDED_HOURS_RULES.get(letter)) or LETTER_RULES.get(letter, ALL)
                high_low, last, volume = high_low and rule.high_low, last and rule.last, volume and rule.volume
            found = self._memo[key] = Eligibility(high_low, last, volume)
        return found
