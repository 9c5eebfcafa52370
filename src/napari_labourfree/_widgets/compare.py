"""Compare synthetic vs real dock widget: histograms, patch entropy, SSIM, t-SNE."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import Label, PushButton, Select, SpinBox

from ..jobs import Progress
from ._base import JobWidget
from ._layers import image_frames
from ._plots import apply_theme, clear, make_canvas

if TYPE_CHECKING:
    import napari

def _compare(groups: dict, pairs: list, patch: int, per_image: int):
    """Job: realism report plus SSIM of (simulation, synthetic) pairs of one size."""
    from ..analysis.realism import compare_groups, ssim

    yield Progress(0, 1, "measuring patches and running t-SNE")
    report = compare_groups(groups, patch_size=patch, patches_per_image=per_image)
    scores = [ssim(a, b) for a, b in pairs]
    yield Progress(1, 1, "done")
    return report, scores


class CompareWidget(JobWidget):
    """Does the synthetic data look like the real data? Pick layers of each kind."""

    title = "Compare synthetic vs real"

    def __init__(self, viewer: napari.viewer.Viewer):
        w_real = Select(choices=self.layers_of("image"), label="real layers")
        w_synthetic = Select(choices=self.layers_of("image"), label="synthetic layers")
        w_simulation = Select(choices=self.layers_of("image"), label="simulation layers",
                              tooltip="optional: untextured phi; SSIM is measured between "
                              "each synthetic layer and the simulation of the same size")
        w_patch = SpinBox(value=64, min=16, max=512, step=16, label="patch size (px)")
        w_per_image = SpinBox(value=32, min=2, max=1000, label="patches per image")
        w_compare = PushButton(text="Compare")
        w_table = Label(value="")
        parts = {k[2:]: v for k, v in locals().items() if k.startswith("w_")}
        super().__init__(viewer, parts, ["compare"], sections={
            "Options": ["patch", "per_image"]})
        self.canvas, self.figure = make_canvas(1, 3, height=2.6, viewer=viewer)
        self.native.layout().addWidget(self.canvas)
        self.compare.changed.connect(self._start)
        for name in ("real", "synthetic", "simulation"):
            getattr(self, name).changed.connect(self.update_buttons)
        self.report = None
        self.update_buttons()

    def update_buttons(self, *args) -> None:
        if not self.busy:
            others = bool(self.synthetic.value) or bool(self.simulation.value)
            self.compare.enabled = bool(self.real.value) and others

    def reset_choices(self, *args) -> None:
        super().reset_choices(*args)
        self.update_buttons()

    def _start(self) -> None:
        groups, shapes = {}, {}
        try:
            for name in ("real", "synthetic", "simulation"):
                frames = []
                for layer in getattr(self, name).value:
                    frames += image_frames(layer)
                if frames:
                    groups[name] = frames
                    shapes[name] = [f.shape for f in frames]
            if "real" not in groups or len(groups) < 2:
                raise ValueError("choose real layers and at least one other kind")
        except ValueError as err:
            self.error(err)
            return
        pairs = [(s, y) for s in groups.get("simulation", []) for y in groups.get("synthetic", [])
                 if s.shape == y.shape]
        self.run_job(_compare(groups, pairs, self.patch.value, self.per_image.value),
                     self._show, "comparing")

    def _show(self, result) -> None:
        report, scores = result
        self.report = report
        from ..analysis.realism import plot_realism

        plot_realism(report, clear(self.figure))
        apply_theme(self.figure, self._viewer)
        self.canvas.setVisible(True)
        self.canvas.draw_idle()
        lines = []
        for row in report.table:
            lines.append(f"{row['group']}: entropy {row['entropy_mean']:.2f} ± "
                         f"{row['entropy_std']:.2f} bits, histogram distance to real "
                         f"{row['wasserstein_to_real']:.3f}")
        if scores:
            lines.append(f"SSIM simulation vs synthetic: {np.mean(scores):.3f} "
                         f"({len(scores)} pair(s))")
        self.table.value = "\n".join(lines)
