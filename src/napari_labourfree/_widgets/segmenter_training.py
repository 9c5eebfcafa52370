"""Segmenter (U-Net) dock widget: train on a synthesized folder, or load weights."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import CheckBox, ComboBox, FileEdit, Label, PushButton, SpinBox

from ..devices import DEVICE_CHOICES, pick_device
from ._base import JobWidget
from ._shared import shared
from .style import _path

if TYPE_CHECKING:
    import napari


class SegmenterTrainingWidget(JobWidget):
    """Train the U-Net on synthetic (image, mask) pairs; validation figures per epoch."""

    title = "Segmenter (U-Net)"

    def __init__(self, viewer: napari.viewer.Viewer):
        w_data = FileEdit(mode="d", label="training data folder",
                          tooltip="from Synthesize data set (or a simulation folder)")
        w_preset = ComboBox(choices=("fast", "paper"), value="fast", label="preset")
        w_epochs = SpinBox(value=8, min=1, max=100_000, label="epochs")
        w_steps = SpinBox(value=50, min=1, max=1_000_000, label="batches per epoch")
        w_crop = SpinBox(value=128, min=16, max=2048, step=16, label="crop size (px)")
        w_batch = SpinBox(value=4, min=1, max=256, label="batch size")
        w_device = ComboBox(choices=DEVICE_CHOICES, value="auto", label="device")
        w_weights = FileEdit(mode="w", filter="*.safetensors", label="weights file")
        w_resume = CheckBox(value=False, text="resume training these weights")
        w_train = PushButton(text="Train")
        w_load = PushButton(text="Load weights")
        w_load_default = PushButton(text="Use the built-in default")
        w_history = Label(value="")
        parts = {k[2:]: v for k, v in locals().items() if k.startswith("w_")}
        super().__init__(viewer, parts, ["train", "load", "load_default"], sections={
            "Training options": ["preset", "epochs", "steps", "crop", "batch", "device",
                                 "resume"]})
        self.preset.changed.connect(self._preset_chosen)
        self.train.changed.connect(self._start)
        self.load.changed.connect(self._load)
        self.load_default.changed.connect(self._load_default)

    def _preset_chosen(self, preset: str) -> None:
        from ..segmenter.train import segmenter_config

        c = segmenter_config(preset)
        self.epochs.value, self.steps.value = c.epochs, c.steps_per_epoch
        self.crop.value, self.batch.value = c.crop_size, c.batch_size

    def _start(self) -> None:
        from ..segmenter.train import segmenter_config, train_segmenter
        from ..training_data import channels_for

        try:
            data, weights = _path(self.data), _path(self.weights)
            if data is None:
                raise ValueError("choose the training data folder (images/ and masks/)")
            if weights is None:
                raise ValueError("choose where to save the weights (.safetensors)")
            if weights.suffix != ".safetensors":
                weights = weights.with_suffix(".safetensors")
            # colour training data (synthesized from colour micrographs) trains a colour U-Net
            config = segmenter_config(self.preset.value, channels=channels_for([data]),
                                      epochs=self.epochs.value,
                                      steps_per_epoch=self.steps.value,
                                      crop_size=self.crop.value, batch_size=self.batch.value)
            device = pick_device(self.device.value)
            job = train_segmenter(data, weights, config, device=device,
                                  resume=self.resume.value, overwrite=not self.resume.value)
        except (ValueError, FileNotFoundError, FileExistsError) as err:
            self.error(err)
            return
        self.history.value = ""
        self.run_job(job, self._use, f"training on {device}", self._epoch_done)

    def _epoch_done(self, event) -> None:
        if "val_boundary_f1" in event.losses:
            line = (f"{event.message.split(',')[0]}: val IoU {event.losses['val_iou']:.3f}, "
                    f"boundary F1 {event.losses['val_boundary_f1']:.3f}")
            lines = [x for x in self.history.value.split("\n") if x][-5:] + [line]
            self.history.value = "\n".join(lines)

    def _load(self) -> None:
        path = _path(self.weights)
        if path is None or not path.is_file():
            self.error("choose an existing weights file to load")
            return
        self._use(path)

    def _load_default(self) -> None:
        from ..segmenter.default import default_weights

        try:
            self._use(default_weights())
        except FileNotFoundError as err:
            self.error(err)

    def _use(self, path) -> None:
        from ..checkpoints import read_header

        try:
            header = read_header(path)
            if header.get("kind") != "segmenter":
                raise ValueError(f"{Path(path).name} holds {header.get('kind')} weights, "
                                 "not a segmenter")
        except (ValueError, FileNotFoundError) as err:
            self.error(err)
            return
        shared.set_segmenter(str(path))
        self.status.value = f"segmenter ready: {Path(path).name} (used by the Segment widget)"
