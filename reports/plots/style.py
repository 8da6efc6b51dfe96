"""Shared look of the report's figures: sizes, engine colours and line styles, PNG output.

The package's ``__init__`` selects matplotlib's Agg backend (no display). Figures are built as
:class:`matplotlib.figure.Figure` objects without ``pyplot``'s global state, so nothing
leaks from one figure to the next.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure

#: engine spec -> colour, the same in every figure and every report: the scratch engines
#: in blues, each Keras backend its own hue (TensorFlow keeps the orange old reports used)
ENGINE_PALETTE = {
    "scratch": "#1f77b4",
    "scratch:gpu": "#17becf",
    "keras:tensorflow": "#ff7f0e",
    "keras:jax": "#2ca02c",
    "keras:torch": "#d62728",
    "keras": "#ff7f0e",
}
#: colours for engines not in :data:`ENGINE_PALETTE` (matplotlib's tab20 without the
#: hues above), picked by a digest of the spec so an engine keeps its colour everywhere
EXTRA_COLOURS = (
    "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#aec7e8", "#ffbb78",
    "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d",
    "#9edae5", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
)  # fmt: skip
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


def engine_colour(engine: str) -> str:
    """The colour of one engine spec: :data:`ENGINE_PALETTE`, else one of
    :data:`EXTRA_COLOURS` chosen by the spec's digest (stable across runs and figures).

    Parameters
    ----------
    engine : str
        An engine spec.

    Returns
    -------
    str
        ``#rrggbb``.
    """
    if engine in ENGINE_PALETTE:
        return ENGINE_PALETTE[engine]
    digest = hashlib.sha256(engine.encode("utf-8")).digest()
    return EXTRA_COLOURS[int.from_bytes(digest[:4], "big") % len(EXTRA_COLOURS)]


def palette_for(engines: Sequence[str]) -> dict[str, str]:
    """Colours for the engines of a figure, one per engine, each from :func:`engine_colour`.

    Two unknown specs whose digests pick the same colour would be told apart by nothing;
    the later one (in the order given) then takes the next colour no engine of the figure
    uses.

    Parameters
    ----------
    engines : sequence of str
        Engine specs, any number.

    Returns
    -------
    dict of str to str
    """
    palette: dict[str, str] = {}
    for engine in engines:
        colour = engine_colour(engine)
        if colour in palette.values() and engine not in ENGINE_PALETTE:
            start = EXTRA_COLOURS.index(colour) if colour in EXTRA_COLOURS else 0
            free = [
                EXTRA_COLOURS[(start + step) % len(EXTRA_COLOURS)]
                for step in range(len(EXTRA_COLOURS))
                if EXTRA_COLOURS[(start + step) % len(EXTRA_COLOURS)] not in palette.values()
            ]
            # more engines than colours: reuse one (the dashes still differ)
            colour = free[0] if free else colour
        palette[engine] = colour
    return palette


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
