"""Microstructure generator dock widget: grow one structure live, or write a data set.

Thin: it gathers parameters, runs the core jobs (``phasefield.solver.simulate`` and
``phasefield.dataset.simulate_dataset``) in a napari ``thread_worker``, and shows results.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FileEdit, FloatSpinBox, PushButton, SpinBox
from napari.utils.notifications import show_info

from ..devices import DEVICE_CHOICES, pick_device
from ..phasefield.dataset import simulate_dataset
from ..phasefield.params import GrowthParams
from ..phasefield.solver import boundary_mask, simulate
from ._base import JobWidget, show_layer

if TYPE_CHECKING:
    import napari

RESULT = "microstructure"  # suffix of this widget's layer names


class MicrostructureGenerator(JobWidget):
    title = "Microstructure generator"

    """Phase-field polycrystals: live preview of one structure, or a data set on disk."""

    def __init__(self, viewer: napari.viewer.Viewer):
        d = GrowthParams()
        w_image_height = SpinBox(value=d.height, min=16, max=16384, label="height (px)")
        w_image_width = SpinBox(value=d.width, min=16, max=16384, label="width (px)")
        w_grains = SpinBox(value=d.grains, min=2, max=1_000_000, label="grains")
        w_steps = SpinBox(value=d.steps, min=0, max=1_000_000, step=50, label="steps")
        w_seed = SpinBox(value=0, min=0, max=2**31 - 1, label="seed")
        w_regularity = SpinBox(value=d.regularity, min=0, max=100,
                                  label="regularity", tooltip="Lloyd iterations: 0 = random "
                                  "seeds; more = more even grain areas")
        w_dt = FloatSpinBox(value=d.dt, min=0.001, max=1.0, step=0.01, label="dt")
        w_snapshot_every = SpinBox(value=100, min=0, max=1_000_000, step=50,
                                      label="movie frame every",
                                      tooltip="steps between frames of the growth movie (0 = none)")
        w_device = ComboBox(choices=DEVICE_CHOICES, value="auto", label="device")
        w_fast = CheckBox(value=True, text="compile the solver")
        w_preview = PushButton(text="Preview one structure")
        w_count = SpinBox(value=10, min=1, max=1_000_000, label="structures")
        w_folder = FileEdit(mode="d", label="output folder")
        w_overwrite = CheckBox(value=False, text="replace an earlier simulation there")
        w_generate = PushButton(text="Generate data set")
        parts = {k[2:]: v for k, v in locals().items() if k.startswith("w_")}
        super().__init__(viewer, parts, ["preview", "generate"], sections={
            "Physics and device": ["regularity", "dt", "snapshot_every", "device", "fast"],
            "Data set on disk": ["count", "folder", "overwrite", "generate"]})
        self.preview.changed.connect(self._start_preview)
        self.generate.changed.connect(self._start_dataset)

    # -- parameters ----------------------------------------------------------------------

    def params(self) -> GrowthParams:
        return GrowthParams(
            height=self.image_height.value, width=self.image_width.value, grains=self.grains.value,
            steps=self.steps.value, dt=self.dt.value, regularity=self.regularity.value,
        ).validate()

    # -- jobs ----------------------------------------------------------------------------

    def _start_preview(self) -> None:
        try:
            params = self.params()
            device = pick_device(self.device.value)
            job = simulate(params, seeds=(self.seed.value,), device=device,
                           compile=None if self.fast.value else False,
                           snapshot_every=self.snapshot_every.value,
                           preview_every=max(params.check_every, params.steps // 20 or 1))
        except ValueError as err:
            self.error(err)
            return
        # Results are drawn with the parameters of this run, whatever the fields say later.
        self.run_job(job, lambda result: self._show_structure(result, params),
                     f"growing on {device}", self._show_preview)

    def _start_dataset(self) -> None:
        # FileEdit reports an empty field as the current directory; look at the text itself.
        text = self.folder.line_edit.value.strip()
        folder = Path(text).expanduser() if text else None
        if folder is None:
            self.error("choose an output folder for the data set")
            return
        try:
            device = pick_device(self.device.value)
            job = simulate_dataset(self.params(), self.count.value, folder, seed=self.seed.value,
                                   device=device, compile=None if self.fast.value else False,
                                   snapshot_every=self.snapshot_every.value,
                                   overwrite=self.overwrite.value)
        except (ValueError, OSError) as err:  # OSError: a folder in use, not writable, ...
            self.error(err)
            return
        self.run_job(job, lambda meta: show_info(
            f"wrote {meta['completed']} structures to {folder}"), f"writing to {folder}")

    # -- results -------------------------------------------------------------------------

    def _show_preview(self, event) -> None:
        if event.preview is not None:
            show_layer(self._viewer, event.preview, f"phi [{RESULT}]", colormap="gray",
                       contrast_limits=(0, 1))

    def _show_structure(self, result, params: GrowthParams) -> None:
        phi, labels = result.phi[0], result.labels[0]
        steps = None
        if result.snapshots:  # a growth movie along a time axis, ending on the final state
            frames = [(s.step, s.phi[0], s.labels[0]) for s in result.snapshots]
            if result.snapshots[-1].step != params.steps:
                frames.append((params.steps, phi, labels))
            steps = [f[0] for f in frames]
            phi = np.stack([f[1] for f in frames])
            labels = np.stack([f[2] for f in frames])
        mask = boundary_mask(phi, params.mask_threshold) // 255
        # the time axis counts simulation steps when the snapshots are evenly spaced
        spacing = np.diff(steps) if steps and len(steps) > 1 else None
        even = spacing is not None and (spacing == spacing[0]).all()
        place = {"scale": (float(spacing[0]), 1.0, 1.0)} if even else {}
        viewer = self._viewer
        show_layer(viewer, phi, f"phi [{RESULT}]", colormap="gray", contrast_limits=(0, 1),
                   **place)
        show_layer(viewer, mask, f"boundaries [{RESULT}]", "labels", opacity=0.6, **place)
        show_layer(viewer, labels, f"grains [{RESULT}]", "labels", opacity=0.4, **place)
        if steps:
            labels_now = list(viewer.dims.axis_labels)
            labels_now[-3] = "step" if even else "frame"
            viewer.dims.axis_labels = labels_now
            viewer.dims.set_point(viewer.dims.ndim - 3, steps[-1] if even else len(steps) - 1)
        n = result.grain_counts()[0]
        self.status.value = f"{n} grains, {result.fields} order-parameter fields"
