"""Shared look of the report's figures: sizes, engine colours and line styles, PNG output.

The package's ``__init__`` selects matplotlib's Agg backend (no display). Figures are built as
:class:`matplotlib.figure.Figure` objects without ``pyplot``'s global state, so nothing
leaks from one figure to the next.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import seaborn as sns
from matplotlib.figure import Figure

#: engine -> colour, the same in every figure
ENGINE_PALETTE = {"scratch": "#1f77b4", "keras": "#ff7f0e"}
#: the first convolution layer's filters drawn per engine at most
MAX_FILTERS_SHOWN = 32
#: filters per row of the filter figure
FILTERS_PER_ROW = 16
#: class count above which heatmap cells carry no numbers (they would not fit)
MAX_ANNOTATED_CLASSES = 12


@dataclass(frozen=True)
class PlotSettings:
    """Size and resolution of the figures.

    Attributes
    ----------
    dpi : int
        Pixels per inch of the PNG files.
    scale : float
        Multiplies every figure's size in inches (tests use small figures).
    """

    dpi: int = 100
    scale: float = 1.0

    def new_figure(self, width: float, height: float) -> Figure:
        """A figure of ``width x height`` inches times :attr:`scale`, tight layout."""
        return Figure(figsize=(width * self.scale, height * self.scale), layout="constrained")


def palette_for(engines: Sequence[str]) -> dict[str, str]:
    """Colours for the engines: :data:`ENGINE_PALETTE`, then seaborn's for others."""
    extra = iter(sns.color_palette("deep", len(engines) + len(ENGINE_PALETTE)).as_hex()[2:])
    return {engine: ENGINE_PALETTE.get(engine) or next(extra) for engine in engines}


def engine_line_widths(engines: Sequence[str]) -> dict[str, float]:
    """Line width per engine: 3.5 for the first, 1.3 for the others (drawn on top)."""
    return {engine: 3.5 if index == 0 else 1.3 for index, engine in enumerate(engines)}


def engine_dashes(engines: Sequence[str]) -> dict[str, tuple[float, ...] | str]:
    """Solid for the first engine, dashes for the others, so overlapping curves stay visible."""
    patterns: list[tuple[float, ...] | str] = ["", (4.0, 2.0), (1.0, 1.5), (6.0, 2.0, 1.0, 2.0)]
    return {engine: patterns[index % len(patterns)] for index, engine in enumerate(engines)}


def figure_png(figure: Figure, settings: PlotSettings) -> bytes:
    """Render a figure to PNG bytes.

    Parameters
    ----------
    figure : Figure
        The figure.
    settings : PlotSettings
        Its resolution.

    Returns
    -------
    bytes
        The PNG file's content.
    """
    buffer = io.BytesIO()
    # no Software/URL metadata: the page must not mention any address
    figure.savefig(buffer, format="png", dpi=settings.dpi, metadata={"Software": None})
    return buffer.getvalue()


def engine_title(engine: str, records: Sequence[dict[str, Any]]) -> str:
    """``"scratch (3 seeds)"``: a panel title naming the engine and its run count."""
    seeds = len(records)
    return f"{engine} ({seeds} seed{'s' if seeds != 1 else ''})"
