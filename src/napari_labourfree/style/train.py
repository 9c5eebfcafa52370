"""Training the style model (CycleGAN, or CUT/FastCUT: see :mod:`.cut`) as a job: progress
with losses and previews, checkpoints, resume."""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import checkpoints
from ..derived import check_labelled, grain_tint_for, tinted_file
from ..devices import autocast
from ..io.images import list_images
from ..jobs import Job, Progress
from ..normalise import DEFAULT as DEFAULT_NORMALISATION
from ..normalise import check_image, from_network
from ..provenance import versions
from ..settings import (
    TrainingDiverged,
    all_finite,
    check_weights_output,
    diverged,
    from_preset,
    require,
)
from ..training_data import CropSampler, load_for_network, simulation_files
from .cut import CUT, VARIANTS, cut_step
from .networks import UPSAMPLING, ImagePool, PatchDiscriminator, generator, init_weights

MODELS = ("cyclegan", *VARIANTS)


@dataclass(frozen=True)
class StyleConfig:
    """Everything that defines a CycleGAN training run. Presets fill it; any field can be
    overridden."""

    preset: str = "fast"
    model: str = "cyclegan"  # or "cut" / "fastcut": one generator, contrastive (cut.py)
    ngf: int = 16
    ndf: int = 32
    n_blocks: int = 4
    upsample: str = "resize"  # or "transpose", the reference's (checkerboard artefacts)
    channels: int = 1  # 3: the real images are colour (RGB); simulations are repeated to RGB
    # each simulated grain takes a random colour before the model sees it (as tint etching
    # colours grains; a grey model reads them as grey levels), and synthesize tints the
    # same way (derived.tinted_file)
    grain_tint: bool = False
    crop_size: int = 128
    batch_size: int = 1
    iterations: int = 2000
    lr: float = 2e-4
    beta1: float = 0.5
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5  # times lambda_cycle, as in the reference implementation
    pool_size: int = 50
    decay_from: float = 0.5  # fraction of iterations after which lr falls linearly to 0
    checkpoint_every: int = 500
    preview_every: int = 50
    seed: int = 0

    def validate(self) -> StyleConfig:
        require(self.iterations >= 1, f"iterations must be at least 1 (got {self.iterations})")
        require(self.batch_size >= 1, f"batch size must be at least 1 (got {self.batch_size})")
        require(self.crop_size >= 32 and self.crop_size % 4 == 0,
             f"crop size must be a multiple of 4 and at least 32 (got {self.crop_size})")
        require(self.model in MODELS,
                f"style model must be one of {', '.join(MODELS)} (got {self.model!r})")
        require(self.upsample in UPSAMPLING,
                f"upsample must be one of {', '.join(UPSAMPLING)} (got {self.upsample!r})")
        require(self.channels in (1, 3),
                f"channels must be 1 (grey) or 3 (RGB), not {self.channels}")
        require(isinstance(self.grain_tint, bool), f"grain_tint is True or False, not "
                                                   f"{self.grain_tint!r}")
        require(self.ngf >= 1 and self.ndf >= 1 and self.n_blocks >= 0, "ngf, ndf must be >= 1")
        require(self.lr > 0, "the learning rate must be positive")
        require(0 <= self.beta1 < 1, f"beta1 must lie in [0, 1) (got {self.beta1})")
        require(self.lambda_cycle >= 0 and self.lambda_identity >= 0,
                "lambda_cycle and lambda_identity must not be negative")
        require(self.pool_size >= 0, f"pool size must not be negative (got {self.pool_size})")
        require(0 <= self.decay_from <= 1, "decay_from must lie in [0, 1]")
        require(self.checkpoint_every >= 1 and self.preview_every >= 1,
             "checkpoint/preview intervals must be at least 1")
        return self

    def architecture(self) -> dict:
        arch = {"name": "cyclegan-resnet", "ngf": self.ngf, "ndf": self.ndf,
                "n_blocks": self.n_blocks, "channels": self.channels,
                "upsample": self.upsample}
        if self.model != "cyclegan":
            arch.update(name="cut-resnet", variant=self.model)
        return arch


PRESETS = {
    # small enough for a laptop CPU: a usable style in minutes
    "fast": {},
    # the paper / reference CycleGAN: ResNet-9, ngf 64, 256 px crops (meant for a GPU)
    "paper": {"ngf": 64, "ndf": 64, "n_blocks": 9, "crop_size": 256, "iterations": 40000,
              "checkpoint_every": 2000, "preview_every": 200},
}


def style_config(preset: str = "fast", **overrides) -> StyleConfig:
    """The preset's config with ``overrides`` (None values ignored) applied, validated."""
    return from_preset(StyleConfig, PRESETS, preset, overrides, "style")


class CycleGAN(torch.nn.Module):
    """G: real -> simulation look, F: simulation -> real look, and their discriminators."""

    def __init__(self, arch: dict):
        super().__init__()
        if arch.get("name") != "cyclegan-resnet":
            raise checkpoints.CheckpointError(
                f"unknown style architecture {arch.get('name')!r}")
        self.arch = dict(arch)
        self.G, self.F = generator(arch), generator(arch)
        self.D_X = PatchDiscriminator(arch["ndf"], arch["channels"])
        self.D_Y = PatchDiscriminator(arch["ndf"], arch["channels"])

    def modules_to_save(self) -> dict:
        return {"G": self.G, "F": self.F, "D_X": self.D_X, "D_Y": self.D_Y}

    def generator_parameters(self):
        return [*self.G.parameters(), *self.F.parameters()]

    def discriminator_parameters(self):
        return [*self.D_X.parameters(), *self.D_Y.parameters()]


def build_style_model(arch: dict) -> CycleGAN | CUT:
    """The trainable model an architecture dict describes."""
    if arch.get("name") == "cut-resnet":
        if arch.get("variant") not in VARIANTS:
            raise checkpoints.CheckpointError(f"unknown CUT variant {arch.get('variant')!r}")
        return CUT(arch)
    return CycleGAN(arch)


def train_style(sim, real, out: Path | str, config: StyleConfig | None = None, *,
                device: torch.device | str = "cpu", resume: bool = False,
                overwrite: bool = False) -> Job[Path]:
    """A job that trains the CycleGAN and returns the weights path.

    ``sim``: a `labourfree simulate` folder (or image files); ``real``: folders and/or files
    of unlabeled real micrographs, and/or 2-D arrays (napari layers). Checks inputs and the output path now, before the job
    starts. With ``resume``, continues from ``out`` (same architecture) to
    ``config.iterations``. Closing the job (Cancel, Ctrl-C) saves a checkpoint first.
    """
    config = (config or style_config()).validate()
    out = check_weights_output(out, resume, overwrite)
    sim_files = simulation_files(sim) if isinstance(sim, (str, Path)) else _items(sim, "simulation")
    real_files = _items(real if isinstance(real, (list, tuple)) else [real], "real")
    if config.grain_tint:
        check_labelled(sim_files)
    header = None
    if resume:
        header, _ = checkpoints.load(out, checkpoints.STYLE)
        stored = {"upsample": "transpose", **header["config"]["architecture"]}
        if stored != config.architecture():
            raise ValueError(f"{out.name} was trained with {stored}; resume with the same "
                             f"architecture, not {config.architecture()}")
        tinted = header["config"]["training"].get("grain_tint", False)
        if tinted != config.grain_tint:
            raise ValueError(f"{out.name} was trained {'with' if tinted else 'without'} "
                             f"grain tints; resume with grain tint "
                             f"{'on' if tinted else 'off'} (or auto)")
    return _train_job(sim_files, real_files, out, config, torch.device(device), header)


def choose_grain_tint(choice: str, channels: int, sim, out: Path | str | None = None,
                      resume: bool = False) -> bool:
    """``choice`` ('auto', 'on', 'off') for the simulations ``sim`` (a folder, or files,
    folders and arrays): 'auto' keeps the weights' own choice when resuming them, and
    otherwise tints where :func:`derived.grain_tint_for` says."""
    if choice == "auto" and resume and out is not None and Path(out).is_file():
        return bool(checkpoints.read_header(out)["config"]["training"].get("grain_tint"))
    sims = simulation_files(sim) if isinstance(sim, (str, Path)) else _items(sim, "simulation")
    return grain_tint_for(choice, channels, sims)


def _items(items, what: str) -> list:
    """Image files (from files and folders) followed by in-memory 2-D arrays."""
    items = list(items)
    arrays = [i for i in items if isinstance(i, np.ndarray)]
    for array in arrays:
        check_image(array, f"a {what} image", colour=True)
    found = []
    for item in items:
        if isinstance(item, np.ndarray):
            continue
        path = Path(item)
        # a `simulate`/`synthesize` folder keeps its images in images/
        found += simulation_files(path) if path.is_dir() else list_images([path])
    found += arrays
    if not found:
        raise ValueError(f"give at least one {what} image (files, folders or layers)")
    return found


def _train_job(sim_files, real_files, out, config: StyleConfig, device, header):
    recipe = dict(DEFAULT_NORMALISATION)
    yield Progress(0, config.iterations, "loading images")
    notes: list[str] = []
    sims = load_for_network((tinted_file(path, i, config.seed) for i, path
                             in enumerate(sim_files)) if config.grain_tint else sim_files,
                            recipe, channels=config.channels)
    reals = load_for_network(real_files, recipe, notes, channels=config.channels)
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    sample_y = CropSampler(sims, config.crop_size, rng, rotate=True)
    sample_x = CropSampler(reals, config.crop_size, rng)

    model = build_style_model(config.architecture()).to(device)
    opt_g = torch.optim.Adam(model.generator_parameters(), lr=config.lr,
                             betas=(config.beta1, 0.999))
    opt_d = torch.optim.Adam(model.discriminator_parameters(), lr=config.lr,
                             betas=(config.beta1, 0.999))
    start = 0
    if header is not None:
        _, tensors = checkpoints.load(out, checkpoints.STYLE)
        checkpoints.restore(tensors, model.modules_to_save(), out.name)
        checkpoints.restore_optimizers(header, tensors, {"G": opt_g, "D": opt_d})
        start = header["config"]["training"]["iteration"]
    else:
        init_weights(model)
    pool_x, pool_y = ImagePool(config.pool_size), ImagePool(config.pool_size)
    crop = _centre_crop(sims[0], 256)
    preview_source = torch.from_numpy(crop[None] if crop.ndim == 3 else crop[None, None]
                                      ).to(device)

    def schedule(it: int) -> float:
        decay_start = config.decay_from * config.iterations
        if it < decay_start:
            return 1.0
        return max(0.0, 1 - (it - decay_start) / max(1, config.iterations - decay_start))

    def save(iteration: int) -> None:
        training = {"iteration": iteration, **asdict(config),
                    "sim_images": len(sim_files), "real_images": len(real_files),
                    "sim_source": "arrays" if isinstance(sim_files[0], np.ndarray)
                    else str(Path(sim_files[0]).parent),
                    "real_files": [f"array {p.shape[0]}x{p.shape[1]}"
                                   if isinstance(p, np.ndarray) else Path(p).name
                                   for p in real_files[:200]],
                    "device": str(device), "notes": notes[:20]}
        cfg = {"architecture": config.architecture(), "normalisation": recipe,
               "training": training, "versions": versions()}
        if not all_finite(model.modules_to_save().values()):
            raise diverged(f"iteration {iteration}", out)
        checkpoints.save(out, checkpoints.STYLE, cfg, model.modules_to_save(),
                         {"G": opt_g, "D": opt_d})

    it = start
    started = time.perf_counter()
    try:
        while it < config.iterations:
            for opt in (opt_g, opt_d):
                for group in opt.param_groups:
                    group["lr"] = config.lr * schedule(it)
            x = torch.from_numpy(sample_x.sample(config.batch_size)).to(device)
            y = torch.from_numpy(sample_y.sample(config.batch_size)).to(device)
            if isinstance(model, CUT):
                with autocast(device):
                    losses = cut_step(model, x, y, opt_g, opt_d, config.model, _lsgan)
            else:
                losses = _step(model, x, y, opt_g, opt_d, pool_x, pool_y, config, device)
            if not all(math.isfinite(v) for v in losses.values()):
                raise diverged(f"iteration {it + 1}", out)
            it += 1
            preview = None
            if it % config.preview_every == 0 or it == config.iterations:
                preview = _preview(model, preview_source, device)
            if it % config.checkpoint_every == 0 and it < config.iterations:
                save(it)
            rate = (it - start) / (time.perf_counter() - started)
            yield Progress(it, config.iterations, f"{rate:.2f} it/s", losses, preview)
        save(it)
    except GeneratorExit:  # cancelled between iterations: the state is consistent, keep it
        with contextlib.suppress(TrainingDiverged):  # ... unless it is not finite
            save(it)
        raise
    return out


def _step(model: CycleGAN, x, y, opt_g, opt_d, pool_x, pool_y, config, device) -> dict:
    G, Fn, D_X, D_Y = model.G, model.F, model.D_X, model.D_Y
    lc, li = config.lambda_cycle, config.lambda_identity * config.lambda_cycle
    for p in itertools.chain(D_X.parameters(), D_Y.parameters()):
        p.requires_grad_(False)
    with autocast(device):
        fake_y, fake_x = G(x), Fn(y)
        rec_x, rec_y = Fn(fake_y), G(fake_x)
        loss_gan = _lsgan(D_Y(fake_y), True) + _lsgan(D_X(fake_x), True)
        loss_cycle = F.l1_loss(rec_x, x) + F.l1_loss(rec_y, y)
        loss_idt = (F.l1_loss(G(y), y) + F.l1_loss(Fn(x), x) if li > 0
                    else torch.zeros((), device=device))
        loss_g = loss_gan + lc * loss_cycle + li * loss_idt
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    for p in itertools.chain(D_X.parameters(), D_Y.parameters()):
        p.requires_grad_(True)
    with autocast(device):
        old_y, old_x = pool_y.query(fake_y), pool_x.query(fake_x)
        loss_d_y = 0.5 * (_lsgan(D_Y(y), True) + _lsgan(D_Y(old_y.detach()), False))
        loss_d_x = 0.5 * (_lsgan(D_X(x), True) + _lsgan(D_X(old_x.detach()), False))
    opt_d.zero_grad(set_to_none=True)
    (loss_d_x + loss_d_y).backward()
    opt_d.step()
    return {"G": loss_gan.item(), "cycle": loss_cycle.item(), "identity": loss_idt.item(),
            "D_X": loss_d_x.item(), "D_Y": loss_d_y.item()}


def _lsgan(prediction: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.ones_like(prediction) if real else torch.zeros_like(prediction)
    return F.mse_loss(prediction.float(), target.float())


@torch.no_grad()
def _preview(model: CycleGAN, source: torch.Tensor, device) -> np.ndarray:
    with autocast(device):
        out = model.F(source)
    return from_network(image_from_channels(out.float().cpu().numpy()[0]))


def image_from_channels(x: np.ndarray) -> np.ndarray:
    """A network's (C, H, W) output as an image: (H, W) grey, or (H, W, 3) RGB."""
    return x[0] if len(x) == 1 else np.moveaxis(x, 0, -1)


def _centre_crop(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[-2:]
    s = min(size, h, w) // 4 * 4
    y, x = (h - s) // 2, (w - s) // 2
    return image[..., y:y + s, x:x + s]
