"""A matplotlib canvas that fits in a napari dock (dark or light theme)."""

from __future__ import annotations


def make_canvas(rows: int = 1, cols: int = 2, height: float = 2.4):
    """(canvas, figure): a Qt canvas with a ``rows`` x ``cols`` grid of axes."""
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2.4 * cols, height * rows), layout="constrained")
    figure.subplots(rows, cols)
    canvas = FigureCanvasQTAgg(figure)
    canvas.setMinimumHeight(int(150 * rows))
    return canvas, figure


def clear(figure) -> list:
    for ax in figure.axes:
        ax.clear()
    return figure.axes
