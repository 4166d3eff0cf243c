"""A parameter search space: for each parameter a range (with an optional step or log scale) or a
list of choices -- what ``[optimize.space]`` declares, in the form the search engine reads."""

from __future__ import annotations

from dataclasses import dataclass

ParamValue = bool | int | float | str


@dataclass(frozen=True)
class Range:
    """``low``..``high`` (``step``, ``log``), or ``choices``."""

    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[ParamValue, ...] | None = None

    @property
    def integer(self) -> bool:
        """Whole numbers only: integer bounds and step (or none)."""
        values = (self.low, self.high, self.step if self.step is not None else 1)
        return self.choices is None and all(v is not None and float(v).is_integer() for v in values)
