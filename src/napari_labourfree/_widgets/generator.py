"""Microstructure generator dock widget: grow one structure live, or write a data set.

Thin: it gathers parameters, runs the core jobs (``phasefield.solver.simulate`` and
``phasefield.dataset.simulate_dataset``) in a napari ``thread_worker``, and shows results.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    ProgressBar,
    PushButton,
    SpinBox,
)
from napari.qt.threading import thread_worker
from napari.utils.notifications import show_error, show_info

from ..devices import DEVICE_CHOICES, pick_device
from ..phasefield.dataset import simulate_dataset
from ..phasefield.solver import GrowthParams, boundary_mask, simulate

if TYPE_CHECKING:
    import napari

RESULT = "microstructure"  # suffix of this widget's layer names


def _drive(job):
    """Run a job in the worker thread: its yields become the worker's ``yielded`` signal."""
    return (yield from job)


def show_layer(viewer, data, name: str, kind: str = "image", **kwargs):
    """Add a layer, or refresh the one this plugin made earlier under ``name``.

    Only layers the plugin created (tagged in ``metadata``) are replaced; a user's layer of
    the same name is left alone and the new one gets a unique name from napari.
    """
    if name in viewer.layers:
        layer = viewer.layers[name]
        if layer.metadata.get("napari_labourfree") and layer._type_string == kind:
            layer.data = data
            return layer
    add = getattr(viewer, f"add_{kind}")
    return add(data, name=name, metadata={"napari_labourfree": True}, **kwargs)


class MicrostructureGenerator(Container):
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
        w_fast = CheckBox(value=True, text="compile the solver (3x faster; ~10 s to compile first)")
        w_preview = PushButton(text="Preview one structure")
        w_count = SpinBox(value=10, min=1, max=1_000_000, label="structures")
        w_folder = FileEdit(mode="d", label="output folder")
        w_overwrite = CheckBox(value=False, text="replace an earlier simulation there")
        w_generate = PushButton(text="Generate data set")
        w_cancel = PushButton(text="Cancel", enabled=False)
        w_progress = ProgressBar(value=0, min=0, max=1, label="progress")
        w_status = Label(value="")
        parts = {k[2:]: v for k, v in locals().items() if k.startswith("w_")}
        super().__init__(widgets=list(parts.values()))
        # magicgui containers own `width`/`height`, so widgets are attached after __init__.
        for name, part in parts.items():
            object.__setattr__(self, name, part)
        self._viewer = viewer
        self._worker = None
        self.preview.changed.connect(self._start_preview)
        self.generate.changed.connect(self._start_dataset)
        self.cancel.changed.connect(self._cancel)

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
            show_error(f"Microstructure generator: {err}")
            return
        # Results are drawn with the parameters of this run, whatever the fields say later.
        self._run(job, lambda result: self._show_structure(result, params), f"growing on {device}")

    def _start_dataset(self) -> None:
        # FileEdit reports an empty field as the current directory; look at the text itself.
        text = self.folder.line_edit.value.strip()
        folder = Path(text).expanduser() if text else None
        if folder is None:
            show_error("Microstructure generator: choose an output folder for the data set")
            return
        try:
            device = pick_device(self.device.value)
            job = simulate_dataset(self.params(), self.count.value, folder, seed=self.seed.value,
                                   device=device, compile=None if self.fast.value else False,
                                   snapshot_every=self.snapshot_every.value,
                                   overwrite=self.overwrite.value)
        except ValueError as err:
            show_error(f"Microstructure generator: {err}")
            return
        self._run(job, lambda meta: show_info(
            f"wrote {meta['completed']} structures to {folder}"), f"writing to {folder}")

    def _run(self, job, on_done, message: str) -> None:
        worker = thread_worker(_drive, start_thread=False)(job)
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(on_done)
        worker.errored.connect(lambda err: show_error(f"Microstructure generator: {err}"))
        worker.aborted.connect(lambda: show_info("Microstructure generator: cancelled"))
        worker.finished.connect(self._on_finished)
        self._worker = worker
        self._set_running(True)
        self.status.value = message
        worker.start()

    def _cancel(self) -> None:
        if self._worker is not None:
            self.status.value = "cancelling after the current block of steps..."
            self._worker.quit()

    def _set_running(self, running: bool) -> None:
        self.preview.enabled = self.generate.enabled = not running
        self.cancel.enabled = running
        if running:
            self.progress.max, self.progress.value = 1, 0

    # -- results -------------------------------------------------------------------------

    def _on_progress(self, event) -> None:
        self.progress.max = max(event.total, 1)
        self.progress.value = event.step
        self.status.value = event.message
        if event.preview is not None:
            show_layer(self._viewer, event.preview, f"phi [{RESULT}]", colormap="gray",
                       contrast_limits=(0, 1))

    def _on_finished(self) -> None:
        self._worker = None
        self._set_running(False)

    def _show_structure(self, result, params: GrowthParams) -> None:
        phi, labels = result.phi[0], result.labels[0]
        if result.snapshots:  # a growth movie along a time axis, ending on the final state
            frames = [(s.phi[0], s.labels[0]) for s in result.snapshots]
            if result.snapshots[-1].step != params.steps:
                frames.append((phi, labels))
            phi = np.stack([f[0] for f in frames])
            labels = np.stack([f[1] for f in frames])
        mask = boundary_mask(phi, params.mask_threshold) // 255
        viewer = self._viewer
        if f"phi [{RESULT}]" in viewer.layers:  # the live preview was 2-D; the result may not be
            old = viewer.layers[f"phi [{RESULT}]"]
            if old.metadata.get("napari_labourfree") and old.data.ndim != phi.ndim:
                viewer.layers.remove(old)
        show_layer(viewer, phi, f"phi [{RESULT}]", colormap="gray", contrast_limits=(0, 1))
        show_layer(viewer, mask, f"boundaries [{RESULT}]", "labels", opacity=0.6)
        show_layer(viewer, labels, f"grains [{RESULT}]", "labels", opacity=0.4)
        n = result.grain_counts()[0]
        self.status.value = f"{n} grains, {result.fields} order-parameter fields"
