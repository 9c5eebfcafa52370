"""Segment dock widget: any opened image layer -> boundary probability and grains."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    FileEdit,
    FloatSpinBox,
    LineEdit,
    PushButton,
    SpinBox,
)
from napari.utils.notifications import show_warning

from ..devices import DEVICE_CHOICES, pick_device
from ..jobs import Progress, relay
from ..segmenter.options import INSTANCE_METHODS, SegmentOptions, parse_grain_size
from ..units import UNIT_CHOICES
from ._base import JobWidget, show_layer
from ._layers import (
    as_features,
    image_frames,
    layer_pixel_size,
    parse_pixel_size,
    same_place,
)
from ._shared import shared
from .style import _path

if TYPE_CHECKING:
    import napari


def _default_available() -> bool:
    from ..segmenter.default import default_weights

    try:
        default_weights()
        return True
    except FileNotFoundError:
        return False


class SegmentWidget(JobWidget):
    """Boundaries and grains for the chosen image layer, with the grain table in
    ``labels_layer.features``."""

    title = "Segment"

    def __init__(self, viewer: napari.viewer.Viewer):
        w_image = ComboBox(choices=self.layers_of("image"), label="image layer")
        w_use_default = CheckBox(value=_default_available(), text="built-in default model",
                                 enabled=_default_available())
        w_weights = FileEdit(mode="r", filter="*.safetensors", label="segmenter weights")
        d = SegmentOptions()
        w_grain_size = LineEdit(value="auto", label="grain size (px)",
                                tooltip="expected mean grain diameter in px: the image is "
                                "rescaled so its grains match the model's training sizes. "
                                "'auto' estimates it; 'off' keeps the image's own scale")
        w_instances = ComboBox(choices=INSTANCE_METHODS, value=d.instances, label="grains from",
                               tooltip="watershed: seeds from the model's distance map, "
                               "robust to gaps; components: regions between thresholded "
                               "boundaries; auto: watershed when the model has a distance map")
        w_threshold = FloatSpinBox(value=0.0, min=0.0, max=0.99, step=0.05,
                                   label="boundary threshold",
                                   tooltip="boundary probability cut (0 = the model's own)")
        w_min_area = SpinBox(value=d.min_area, min=0, max=100_000, label="min grain area (px)")
        w_close_gaps = FloatSpinBox(value=0.0, min=0, max=50, step=1, label="close gaps (px)",
                                    tooltip="with 'components': split grains joined through "
                                    "gaps in the boundaries (0 = off)")
        w_tta = CheckBox(value=False, text="average 8 flips/turns (slower)")
        w_fast = CheckBox(value=False, text="bfloat16 on the CPU (faster, approximate)",
                          tooltip="about 2.6x faster network on CPUs with AVX-512 BF16; a "
                          "few grains in a thousand come out differently")
        w_pixel_size = LineEdit(value="", label="pixel size",
                                tooltip="side of one pixel, e.g. 0.2252; used when the layer "
                                "has no scale in length units and its file has none (empty = "
                                "pixels only)")
        w_unit = ComboBox(choices=UNIT_CHOICES, value="um", label="unit")
        w_device = ComboBox(choices=DEVICE_CHOICES, value="auto", label="device")
        w_show_table = CheckBox(value=True, text="show the grain table",
                                tooltip="open Grain statistics on the result: table, "
                                "histograms, CSV export")
        w_run = PushButton(text="Segment")
        w_folder = FileEdit(mode="d", label="micrographs folder",
                            tooltip="every image in this folder is segmented, as "
                            "`labourfree segment FOLDER --out RESULTS` does")
        w_results = FileEdit(mode="d", label="results folder",
                             tooltip="boundaries, labels, grain CSV + summary JSON and an "
                             "overlay PNG per image (a folder apart from the micrographs)")
        w_replace_results = CheckBox(value=False, text="replace earlier results there")
        w_run_folder = PushButton(text="Segment folder")
        parts = {k[2:]: v for k, v in locals().items() if k.startswith("w_")}
        super().__init__(viewer, parts, ["run", "run_folder"], sections={
            "Options": ["grain_size", "instances", "threshold", "min_area", "close_gaps",
                        "tta", "fast", "device"],
            "Pixel size": ["pixel_size", "unit"],
            "A whole folder": ["folder", "results", "replace_results", "run_folder"]})
        if shared.segmenter:
            self.weights.value = shared.segmenter
            self.use_default.value = False
        shared.segmenter_changed.connect(self._take_weights)
        self.run.changed.connect(self._start)
        self.run_folder.changed.connect(self._start_folder)
        self.image.changed.connect(self.update_buttons)
        self.update_buttons()

    def _show_table(self, grains) -> None:
        try:
            _open_grain_statistics(self._viewer, grains)
        except (AttributeError, KeyError, ValueError) as err:  # e.g. a viewer with no window
            self.error(f"could not open Grain statistics: {err}")

    def _take_weights(self, path: str) -> None:
        self.weights.value = path
        self.use_default.value = False

    def update_buttons(self) -> None:
        if not self.busy:
            self.run.enabled = self.image.value is not None

    def reset_choices(self, *args) -> None:
        super().reset_choices(*args)
        self.update_buttons()

    def _weights_path(self) -> Path:
        if self.use_default.value:
            from ..segmenter.default import default_weights

            return default_weights()
        text = self.weights.line_edit.value.strip()
        if not text:
            raise ValueError("choose segmenter weights (or the built-in default model)")
        return Path(text).expanduser()

    def _options(self) -> SegmentOptions:
        return SegmentOptions().with_(
            threshold=self.threshold.value or None, min_area=self.min_area.value,
            grain_size=parse_grain_size(self.grain_size.value),
            instances=self.instances.value, close_gaps=self.close_gaps.value,
            tta=self.tta.value, precision="bfloat16" if self.fast.value else "float32")

    def _model(self):
        from ..segmenter.model import Segmenter

        return Segmenter.load(self._weights_path(), pick_device(self.device.value))

    def _start(self) -> None:
        layer = self.image.value
        if layer is None:
            self.error("open an image layer first")
            return
        try:
            # colour stays colour: a grey model reads it along its strongest contrast
            frames = image_frames(layer, colour=True)
            options = self._options()
            size = layer_pixel_size(layer, self.pixel_size.value, self.unit.value)
            model = self._model()
        except (ValueError, OSError) as err:
            self.error(err)
            return
        # The result goes to this layer, whatever is selected when the job ends.
        self.run_job(_segment_frames(model, frames, options, size),
                     lambda result: self._show(layer, result, size),
                     f"segmenting '{layer.name}' on {model.device}")

    def _start_folder(self) -> None:
        """The CLI's batch job on a folder, in a worker: the same files as `labourfree
        segment FOLDER --out RESULTS`."""
        from ..io.folders import check_apart, check_unique_stems
        from ..io.images import list_images
        from ..segmenter.batch import output_names, segment_files

        try:
            folder, out = _path(self.folder), _path(self.results)
            if folder is None or out is None:
                raise ValueError("choose a folder of micrographs and a results folder")
            check_apart(out, [folder], "results folder")
            paths = list_images([folder])
            stems = check_unique_stems(paths)
            existing = [n for s in stems for n in output_names(s) if (out / n).exists()]
            if existing and not self.replace_results.value:
                raise ValueError(f"{out} already holds results ({existing[0]}"
                                 f"{' and more' if len(existing) > 1 else ''}); choose "
                                 "another folder or tick 'replace earlier results there'")
            options = self._options()
            size = parse_pixel_size(self.pixel_size.value, self.unit.value)
            model = self._model()
            job = segment_files(model, paths, out, options=options, pixel_size=size,
                                weights_name=str(self._weights_path()))
        except (ValueError, OSError) as err:
            self.error(err)
            return
        self.run_job(job, lambda result: self._folder_done(result, out, len(paths)),
                     f"segmenting {len(paths)} image(s) into {out}")

    def _folder_done(self, result, out: Path, total: int) -> None:
        rows, failures = result
        self.status.value = f"wrote {len(rows)} of {total} segmentation(s) to {out}"
        if failures:
            show_warning(f"{self.title}: {len(failures)} image(s) failed: " + "; ".join(
                f"{name}: {message}" for name, message in failures[:5]))

    def _show(self, layer, result, size) -> None:
        probability, labels, table, qualities = result
        if probability.shape[0] == 1:  # one frame: a 2-D (or RGB) layer
            probability, labels = probability[0], labels[0]
        place = same_place(layer, labels.ndim)
        viewer = self._viewer
        show_layer(viewer, probability, f"boundary probability [{layer.name}]",
                   colormap="magma", contrast_limits=(0, 1), blending="additive",
                   opacity=0.6, visible=False, **place)
        grains = show_layer(viewer, labels, f"grains [{layer.name}]", "labels", opacity=0.8,
                            features=table, metadata={"source_layer": layer.name}, **place)
        grains.contour = 2  # outlines over the micrograph, as grain maps are read
        grains.metadata["pixel_size"] = None if size is None else size.as_dict()
        grains.metadata["quality"] = qualities
        n = len(table["label"])
        self.status.value = f"{n} grains in '{layer.name}'"
        if self.show_table.value:
            self._show_table(grains)
        warnings = sorted({w for q in qualities for w in q.get("warnings", [])})
        if warnings:
            show_warning(f"{self.title}: '{layer.name}': " + "; ".join(warnings))
            self.status.value += " (unsure: see the warning)"


def _open_grain_statistics(viewer, grains) -> None:
    """Dock Grain statistics (or bring it forward) and measure ``grains`` there."""
    _, widget = viewer.window.add_plugin_dock_widget("napari-labourfree", "Grain statistics")
    widget.show_grains(grains)


def _segment_frames(model, frames, options, size):
    """Job: segment each frame; returns (probability, labels, table, qualities), the first
    two stacked over frames.

    Label ids stay unique across frames (frame k's ids follow frame k-1's), so one feature
    table with a ``frame`` column describes the whole stack.
    """
    from ..analysis.statistics import grain_table, stack_tables

    probabilities, stacks, tables, qualities = [], [], [], []
    offset = 0
    for k, frame in enumerate(frames):
        result = yield from relay(
            model.segment(frame, options),
            lambda e, k=k: Progress(e.step, e.total, f"frame {k + 1}/{len(frames)}: "
                                    f"{e.message}") if len(frames) > 1 else e)
        table = grain_table(result.labels, size)
        labels = result.labels.astype(np.uint32)
        labels[labels > 0] += offset
        table["label"] = table["label"] + offset
        offset = int(labels.max(initial=offset))
        probabilities.append(result.probability)
        qualities.append(result.quality)
        stacks.append(labels)
        tables.append(table)
    return (np.stack(probabilities), np.stack(stacks), as_features(stack_tables(tables)),
            qualities)
