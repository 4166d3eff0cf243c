"""The pictures of a parameter search (``qterm optimize --out``): where in the space the good
scores are (a heatmap of two parameters, the trials' mean objective in each cell), and how each
window's in-sample score carried over out of sample (a scatter beside the line of no decay)."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from quantterminal.core.research.walk_forward import WindowResult


def heatmap(path: Path, trials: Sequence[Mapping[str, Any]], objective: str) -> Path | None:
    """The completed trials' mean ``objective`` over the first two parameters (others averaged
    over; one parameter: the score along it). ``None`` when no trial completed."""
    done = [t for t in trials if t.get("state") == "complete" and t.get("value") is not None]
    names = sorted({k for t in done for k in t if k.startswith("param_")})
    if not done or not names:
        return None
    import matplotlib  # noqa: PLC0415 - only a search with --out pays for it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    x_name, y_name = names[0], names[1] if len(names) > 1 else None
    xs = sorted({t[x_name] for t in done})
    ys = sorted({t[y_name] for t in done}) if y_name else [None]
    cells: dict[tuple[Any, Any], list[float]] = {}
    for t in done:
        cells.setdefault((t[x_name], t[y_name] if y_name else None), []).append(float(t["value"]))
    grid = [[statistics.fmean(cells[(x, y)]) if (x, y) in cells else float("nan") for x in xs] for y in ys]
    fig, axis = plt.subplots(figsize=(max(5.0, 0.5 * len(xs) + 2), max(3.0, 0.4 * len(ys) + 2)))
    image = axis.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    axis.set_xticks(range(len(xs)), [_label(x) for x in xs], rotation=45, ha="right")
    axis.set_xlabel(x_name.removeprefix("param_"))
    if y_name:
        axis.set_yticks(range(len(ys)), [_label(y) for y in ys])
        axis.set_ylabel(y_name.removeprefix("param_"))
    else:
        axis.set_yticks([])
    fig.colorbar(image, label=f"mean in-sample {objective} (blank: not tried)")
    axis.set_title(f"{len(done)} completed trials, every window")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def in_out_scatter(path: Path, windows: Sequence[WindowResult], objective: str) -> Path:
    """Each window's in-sample score against its out-of-sample score, beside the line of no decay."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    points = [(w.window.index, w.in_sample, w.out_of_sample) for w in windows]
    shown = [(i, a, b) for i, a, b in points if a is not None and b is not None]
    fig, axis = plt.subplots(figsize=(5, 5))
    if shown:
        axis.scatter([a for _, a, _ in shown], [b for _, _, b in shown], color="tab:blue")
        for i, a, b in shown:
            axis.annotate(f"w{i}", (a, b), textcoords="offset points", xytext=(4, 4), fontsize=8)
        low = min(min(a, b) for _, a, b in shown)
        high = max(max(a, b) for _, a, b in shown)
        axis.plot([low, high], [low, high], color="#999999", linestyle="--", label="out = in (no decay)")
        axis.legend(loc="upper left")
    else:
        axis.text(0.5, 0.5, "no window with both scores", ha="center", transform=axis.transAxes)
    axis.set_xlabel(f"in-sample {objective}")
    axis.set_ylabel(f"out-of-sample {objective}")
    axis.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _label(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
