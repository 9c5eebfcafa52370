"""Style (CycleGAN) dock widget: train on simulations + real images, synthesize, stylize."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FileEdit, PushButton, Select, SpinBox

from ..derived import TINT_CHOICES
from ..devices import DEVICE_CHOICES, pick_device
from ..training_data import COLOUR_CHOICES
from ._base import JobWidget, show_layer
from ._layers import image_frames, same_place
from ._shared import shared

if TYPE_CHECKING:
    import napari

PREVIEW = "F(simulation) [style preview]"


def _path(edit: FileEdit) -> Path | None:
    """The path typed in a FileEdit, or None when empty (its .value would say cwd)."""
    text = edit.line_edit.value.strip()
    return Path(text).expanduser() if text else None


class StyleWidget(JobWidget):
    """Learn the look of real micrographs without labels; turn simulations into it."""

    title = "Style (CycleGAN)"

    def __init__(self, viewer: napari.viewer.Viewer):
        w_sim = FileEdit(mode="d", label="simulations folder")
        w_sim_layers = Select(choices=self.layers_of("image"), label="and/or simulation layers",
                              tooltip="phi layers, e.g. from the Microstructure generator")
        w_real_folder = FileEdit(mode="d", label="real images folder")
        w_real_layers = Select(choices=self.layers_of("image"), label="and/or real layers",
                               tooltip="unlabeled micrographs open in the viewer")
        w_model = ComboBox(choices=("cyclegan", "cut", "fastcut"), value="cyclegan",
                           label="model")
        w_colour = ComboBox(choices=COLOUR_CHOICES, value="auto", label="colour",
                            tooltip="rgb: learn and make colour images; grey: reduce colour "
                                    "to grey; auto: rgb when a real image is colour")
        w_tint = ComboBox(choices=TINT_CHOICES, value="auto", label="grain tints",
                          tooltip="each simulated grain in a random colour before the model "
                                  "sees it, as tint etching colours grains (synthesize tints "
                                  "the same way); auto: when the style is colour")
        w_preset = ComboBox(choices=("fast", "paper"), value="fast", label="preset")
        w_iterations = SpinBox(value=2000, min=1, max=10_000_000, step=100,
                               label="iterations")
        w_crop = SpinBox(value=128, min=32, max=1024, step=32, label="crop size (px)")
        w_device = ComboBox(choices=DEVICE_CHOICES, value="auto", label="device")
        w_weights = FileEdit(mode="w", filter="*.safetensors", label="weights file")
        w_resume = CheckBox(value=False, text="resume training these weights")
        w_train = PushButton(text="Train")
        w_load = PushButton(text="Load weights")
        w_out = FileEdit(mode="d", label="synthetic data folder")
        w_synthesize = PushButton(text="Synthesize data set")
        w_layer = ComboBox(choices=self.layers_of("image"), label="layer to stylize")
        w_stylize = PushButton(text="Stylize layer")
        parts = {k[2:]: v for k, v in locals().items() if k.startswith("w_")}
        super().__init__(viewer, parts, ["train", "load", "synthesize", "stylize"], sections={
            "Training options": ["model", "colour", "tint", "preset", "iterations", "crop", "device", "resume"],
            "Use the style": ["out", "synthesize", "layer", "stylize"]})
        self._model = None
        self._model_path = None
        self.preset.changed.connect(self._preset_chosen)
        self.train.changed.connect(self._start_training)
        self.load.changed.connect(self._load)
        self.synthesize.changed.connect(self._start_synthesis)
        self.stylize.changed.connect(self._start_stylize)
        self.update_buttons()

    def _preset_chosen(self, preset: str) -> None:
        from ..style.train import style_config

        config = style_config(preset)
        self.iterations.value, self.crop.value = config.iterations, config.crop_size

    def reset_choices(self, *args) -> None:
        super().reset_choices(*args)
        self.update_buttons()

    def update_buttons(self) -> None:
        if self.busy:
            return
        self.synthesize.enabled = self._model is not None
        self.stylize.enabled = self._model is not None and self.layer.value is not None

    # -- training ------------------------------------------------------------------------

    def _start_training(self) -> None:
        from ..style.train import choose_grain_tint, style_config, train_style
        from ..training_data import channels_for

        try:
            weights = _path(self.weights)
            sim = [folder] if (folder := _path(self.sim)) else []
            for layer in self.sim_layers.value:
                sim += image_frames(layer)
            if not sim:
                raise ValueError("choose simulations: a folder (from `labourfree simulate` or "
                                 "the Microstructure generator) and/or phi layers")
            if weights is None:
                raise ValueError("choose where to save the weights (.safetensors)")
            if weights.suffix != ".safetensors":
                weights = weights.with_suffix(".safetensors")
            real = [folder] if (folder := _path(self.real_folder)) else []
            for layer in self.real_layers.value:
                real += image_frames(layer, colour=True)
            if not real:
                raise ValueError("give real images: a folder and/or image layers")
            channels = channels_for(real, self.colour.value)
            config = style_config(self.preset.value, model=self.model.value, channels=channels,
                                  grain_tint=choose_grain_tint(self.tint.value, channels, sim,
                                                               weights, self.resume.value),
                                  iterations=self.iterations.value, crop_size=self.crop.value)
            device = pick_device(self.device.value)
            job = train_style(sim, real, weights, config, device=device,
                              resume=self.resume.value, overwrite=not self.resume.value)
        except (ValueError, FileNotFoundError, FileExistsError) as err:
            self.error(err)
            return
        self.run_job(job, self._trained, f"training on {device}", self._show_preview)

    def _show_preview(self, event) -> None:
        if event.preview is not None:
            rgb = event.preview.ndim == 3
            show_layer(self._viewer, event.preview, PREVIEW, rgb=rgb,
                       **({} if rgb else {"colormap": "gray"}), contrast_limits=(0, 1))

    def _trained(self, path) -> None:
        self._use(path)
        self.status.value = f"trained: {Path(path).name}"

    def _load(self) -> None:
        path = _path(self.weights)
        if path is None or not path.is_file():
            self.error("choose an existing weights file to load")
            return
        self._use(path)

    def _use(self, path) -> None:
        from ..style.model import StyleModel

        try:
            self._model = StyleModel.load(path, pick_device(self.device.value))
        except (ValueError, FileNotFoundError) as err:
            self.error(err)
            return
        self._model_path = Path(path)
        shared.set_style(str(path))
        self.status.value = f"style loaded: {Path(path).name}"
        self.update_buttons()

    # -- using the style -----------------------------------------------------------------

    def _start_synthesis(self) -> None:
        from ..style.model import synthesize

        try:
            sim, out = _path(self.sim), _path(self.out)
            if sim is None or out is None:
                raise ValueError("choose the simulations folder and an output folder")
            job = synthesize(sim, self._model_path, out, device=self._model.device)
        except (ValueError, OSError) as err:  # OSError: a folder in use, missing, ...
            self.error(err)
            return
        self.run_job(job, lambda meta: self._synthesized(meta, out), f"synthesizing into {out}",
                     self._show_preview)

    def _synthesized(self, meta, out) -> None:
        self.status.value = f"wrote {meta['completed']} synthetic images to {out}"

    def _start_stylize(self) -> None:
        layer = self.layer.value
        try:
            frames = image_frames(layer)
        except ValueError as err:
            self.error(err)
            return
        self.run_job(_stylize(self._model, frames), lambda out: self._stylized(layer, out),
                     f"stylizing '{layer.name}'")

    def _stylized(self, layer, frames) -> None:
        data = frames[0] if len(frames) == 1 else np.stack(frames)
        rgb = frames[0].ndim == 3
        show_layer(self._viewer, data, f"synthetic [{layer.name}]", rgb=rgb,
                   **({} if rgb else {"colormap": "gray"}), contrast_limits=(0, 1),
                   **same_place(layer, data.ndim - rgb))
        self.status.value = f"stylized '{layer.name}'" + (
            " (this style learned from tinted grains: a grey layer has none, so expect "
            "other colours than in its synthetic images)" if self._model.grain_tint else "")


def _stylize(model, frames):
    out = []
    for frame in frames:
        out.append((yield from model.to_real(frame)))
    return out
