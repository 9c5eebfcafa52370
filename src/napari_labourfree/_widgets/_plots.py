"""A matplotlib canvas that fits in a napari dock, in napari's current theme."""

from __future__ import annotations


def make_canvas(rows: int = 1, cols: int = 2, height: float = 2.4, viewer=None):
    """(canvas, figure): a Qt canvas with a ``rows`` x ``cols`` grid of axes, themed like
    ``viewer`` (and following its theme when it changes)."""
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
    from matplotlib.figure import Figure

    # at most 4 inches wide (400 px): the dock stays narrow, the canvas grows with it
    figure = Figure(figsize=(min(2.0 * cols, 4.0), height * rows), layout="constrained")
    figure.subplots(rows, cols)
    canvas = FigureCanvasQTAgg(figure)
    canvas.setMinimumHeight(int(150 * rows))
    canvas.setVisible(False)  # shown with the first result: no empty panels
    if viewer is not None:
        apply_theme(figure, viewer)

        def follow(event=None):
            apply_theme(figure, viewer)
            canvas.draw_idle()

        viewer.events.theme.connect(follow)
        # a closed dock's canvas is gone: stop following the theme then
        canvas.destroyed.connect(lambda *_: viewer.events.theme.disconnect(follow))
    return canvas, figure


def clear(figure) -> list:
    """Empty every panel (and show them again), keeping the theme."""
    for ax in figure.axes:
        ax.clear()
        ax.set_visible(True)
    return figure.axes


def theme_colours(viewer) -> tuple[str, str]:
    """(background, text) colours of the viewer's napari theme."""
    from napari.utils.theme import get_theme

    theme = get_theme(viewer.theme if viewer.theme != "system" else "dark")
    return theme.background.as_hex(), theme.text.as_hex()


def apply_theme(figure, viewer) -> None:
    """Colour the figure, its axes, labels, ticks and legends like the viewer's theme."""
    background, text = theme_colours(viewer)
    figure.set_facecolor(background)
    for ax in figure.axes:
        ax.set_facecolor(background)
        ax.tick_params(colors=text, labelsize=7)
        for spine in ax.spines.values():
            spine.set_color(text)
        for label in (ax.xaxis.label, ax.yaxis.label, ax.title):
            label.set_color(text)
        legend = ax.get_legend()
        if legend is not None:
            legend.get_frame().set_facecolor(background)
            legend.get_frame().set_edgecolor(text)
            for entry in legend.get_texts():
                entry.set_color(text)
