"""The report's figures, drawn with seaborn on matplotlib's Agg backend (no display).

Every ``plot_*`` function returns a :class:`matplotlib.figure.Figure`, or ``None`` when the
results hold nothing to draw; :func:`figure_png` turns a figure into PNG bytes. Modules:
``style`` (sizes, a stable colour per engine spec, PNG output), ``cell_plots`` (learning
curves, confusion matrices, gains curves), ``filters`` (first-layer filters),
``overview_plots`` (accuracy vs time, per-class F1, time ratios to the baseline, epoch
times). Every figure takes any number of engines.
"""

import matplotlib

# before any submodule imports seaborn (and with it pyplot): no display, files only
matplotlib.use("Agg")

from reports.plots.cell_plots import (
    gains_frame,
    learning_curves_frame,
    plot_confusion_matrices,
    plot_gains_curves,
    plot_learning_curves,
)
from reports.plots.filters import filter_images, filter_mosaic, plot_first_layer_filters
from reports.plots.overview_plots import (
    plot_accuracy_vs_time,
    plot_epoch_times,
    plot_per_class_f1,
    plot_speed_ratios,
)
from reports.plots.style import (
    ENGINE_PALETTE,
    PlotSettings,
    engine_colour,
    figure_png,
    palette_for,
)

__all__ = [
    "ENGINE_PALETTE",
    "PlotSettings",
    "engine_colour",
    "figure_png",
    "filter_images",
    "filter_mosaic",
    "gains_frame",
    "learning_curves_frame",
    "palette_for",
    "plot_accuracy_vs_time",
    "plot_confusion_matrices",
    "plot_epoch_times",
    "plot_first_layer_filters",
    "plot_gains_curves",
    "plot_learning_curves",
    "plot_per_class_f1",
    "plot_speed_ratios",
]
