"""Training the U-Net on (synthetic image, boundary mask) pairs as a job."""

from __future__ import annotations

import contextlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .. import checkpoints
from ..devices import autocast
from ..io.images import read_image
from ..jobs import Job, Progress, run_job
from ..normalise import DEFAULT as DEFAULT_NORMALISATION
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
from .augment import resize_pair, vary_appearance, vary_colour
from .unet import build_unet, grey_to_colour


@dataclass(frozen=True)
class SegmenterConfig:
    preset: str = "fast"
    depth: int = 3
    base: int = 16
    crop_size: int = 128
    batch_size: int = 4
    epochs: int = 8
    steps_per_epoch: int = 50
    lr: float = 1e-4
    decay_from: float = 1.0  # fraction of training after which lr falls linearly to 0
    dice: bool = False  # add a soft Dice term to BCE
    val_fraction: float = 0.1
    augment: float = 1.0  # strength of the appearance augmentation (0 = off)
    zoom: tuple[float, float] = (0.75, 1.33)
    outputs: int = 2  # 1: boundary only; 2: boundary + distance map (seeded watershed)
    channels: int = 1  # 1: grey images; 3: RGB (colour micrographs, e.g. tint-etched)
    distance_weight: float = 1.0
    seed: int = 0

    def validate(self) -> SegmenterConfig:
        require(self.epochs >= 1, f"epochs must be at least 1 (got {self.epochs})")
        require(self.steps_per_epoch >= 1, "steps per epoch must be at least 1")
        require(self.batch_size >= 1, f"batch size must be at least 1 (got {self.batch_size})")
        require(1 <= self.depth <= 6, f"depth must lie in 1..6 (got {self.depth})")
        require(self.base >= 1, "base width must be at least 1")
        require(self.crop_size >= 2**self.depth and self.crop_size % 2**self.depth == 0,
             f"crop size must be a multiple of {2**self.depth} (2^depth), not {self.crop_size}")
        require(self.lr > 0 and np.isfinite(self.lr), "the learning rate must be positive")
        require(0 <= self.decay_from <= 1, "decay_from must lie in [0, 1]")
        require(0 <= self.val_fraction < 1, "val_fraction must lie in [0, 1)")
        require(0 < self.zoom[0] <= self.zoom[1], "zoom must be (low, high) with 0 < low <= high")
        require(self.outputs in (1, 2), f"outputs must be 1 or 2 (got {self.outputs})")
        require(self.channels in (1, 3),
                f"channels must be 1 (grey) or 3 (RGB), not {self.channels}")
        require(self.distance_weight >= 0, "distance_weight must not be negative")
        return self

    def architecture(self) -> dict:
        return {"name": "unet", "depth": self.depth, "base": self.base,
                "channels": self.channels, "outputs": self.outputs}


PRESETS = {
    "fast": {},
    # the paper: batch 2, Adam 1e-4, BCE, 200 epochs over 180 images augmented to 2700
    "paper": {"depth": 4, "base": 64, "crop_size": 256, "batch_size": 2, "epochs": 200,
              "steps_per_epoch": 1350},
}


def segmenter_config(preset: str = "fast", **overrides) -> SegmenterConfig:
    """The preset's config with ``overrides`` (None values ignored) applied, validated."""
    if overrides.get("zoom") is not None:
        overrides["zoom"] = tuple(overrides["zoom"])
    return from_preset(SegmenterConfig, PRESETS, preset, overrides, "segmenter")


def train_segmenter(data, out: Path | str, config: SegmenterConfig | None = None,
                    *, device: torch.device | str = "cpu", resume: bool = False,
                    overwrite: bool = False, init: Path | str | None = None) -> Job[Path]:
    """A job that trains the U-Net on ``data`` and returns the weights path.

    ``data``: a `synthesize` or `simulate` folder with images/ and masks/, or a list of
    them (crops are drawn in proportion to each image's area). ``init``: a weights file
    to start from instead of random weights (fine-tuning, e.g. the built-in default); its
    architecture must be the config's, except that a grey model may start a colour one
    (:func:`~.unet.grey_to_colour`). Inputs are checked now.
    """
    config = (config or segmenter_config()).validate()
    out = check_weights_output(out, resume, overwrite)
    folders = [Path(d) for d in (data if isinstance(data, (list, tuple)) else [data])]
    images, masks = [], []
    for folder in folders:
        found = simulation_files(folder)
        pairs = [folder / "masks" / p.name for p in found]
        missing = [m.name for m in pairs if not m.is_file()]
        if missing:
            raise FileNotFoundError(f"{folder / 'masks'} lacks {', '.join(missing[:3])}"
                                    f"{' ...' if len(missing) > 3 else ''}")
        images += found
        masks += pairs
    header = None
    if resume:
        header, _ = checkpoints.load(out, checkpoints.SEGMENTER)
        if {"outputs": 1, **header["config"]["architecture"]} != config.architecture():
            raise ValueError(f"{out.name} was trained with {header['config']['architecture']}; "
                             f"resume with the same architecture")
    initial = None
    if init is not None and not resume:
        initial = (*checkpoints.load(init, checkpoints.SEGMENTER), Path(init).name)
        found = {"outputs": 1, **initial[0]["config"]["architecture"]}
        if found["channels"] == 1 and config.channels == 3:
            found["channels"] = 3
            initial = (initial[0], grey_to_colour(initial[1]), initial[2])
        if found != config.architecture():
            raise ValueError(f"{Path(init).name} has the architecture {found}; fine-tune it "
                             f"with the same depth, base, outputs and channels, not "
                             f"{config.architecture()}")
    return _train_job(images, masks, folders, out, config, torch.device(device), header,
                      initial)


def split_validation(n: int, fraction: float, rng: np.random.Generator):
    """Indices (train, val): at least one validation image when fraction > 0 and n > 1."""
    order = rng.permutation(n)
    n_val = min(n - 1, max(1, round(n * fraction))) if fraction > 0 and n > 1 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _train_job(images, masks, folders, out, config: SegmenterConfig, device, header,
               initial=None):
    from ..analysis.metrics import boundary_f1, pixel_iou
    from .model import Segmenter

    recipe = dict(DEFAULT_NORMALISATION)
    yield Progress(0, config.epochs * config.steps_per_epoch, "loading images")
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    xs = load_for_network(images, recipe, channels=config.channels)
    ys = [(read_image(m, grey=False).data > 0).astype(np.float32) for m in masks]
    for x, y, m in zip(xs, ys, masks):
        if x.shape[-2:] != y.shape:
            raise ValueError(f"{m.name}: mask {y.shape} and image {x.shape[-2:]} differ in "
                             "size")
    train_idx, val_idx = split_validation(len(xs), config.val_fraction, rng)
    targets = [[ys[i] for i in train_idx]]
    if config.outputs == 2:
        targets.append([distance_target(ys[i] > 0) for i in train_idx])
    sampler = CropSampler([xs[i] for i in train_idx], config.crop_size, rng, rotate=True,
                          companions=targets)
    grain_size = _grain_size_range(folders, config)
    if grain_size is None and initial is not None:  # fine-tuning keeps what it knew
        grain_size = initial[0]["config"].get("grain_size")

    net = build_unet(config.architecture()).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=config.lr)
    start, history = 0, []
    if header is not None:
        _, tensors = checkpoints.load(out, checkpoints.SEGMENTER)
        checkpoints.restore(tensors, {"unet": net}, out.name)
        checkpoints.restore_optimizers(header, tensors, {"unet": opt})
        start = header["config"]["training"]["step"]
        history = header["config"]["training"].get("history", [])
    elif initial is not None:
        checkpoints.restore(initial[1], {"unet": net}, "the starting weights")
    total = config.epochs * config.steps_per_epoch

    def save(step: int) -> None:
        training = {"step": step, "epoch": step // config.steps_per_epoch, **asdict(config),
                    "history": history, "data": [str(f) for f in folders],
                    "images": len(xs),
                    "started_from": None if initial is None else initial[2],
                    "train_images": len(train_idx), "val_images": len(val_idx),
                    "val_files": [images[i].name for i in val_idx][:50], "device": str(device)}
        cfg = {"architecture": config.architecture(), "normalisation": recipe,
               "threshold": 0.5, "training": training, "versions": versions()}
        if grain_size:
            cfg["grain_size"] = grain_size
        if not all_finite([net]):
            raise diverged(f"step {step}", out)
        checkpoints.save(out, checkpoints.SEGMENTER, cfg, {"unet": net}, {"unet": opt})

    step, started = start, time.perf_counter()
    running = []
    try:
        while step < total:
            net.train()
            zoom = rng.uniform(*config.zoom)
            source = max(2**config.depth, round(config.crop_size / zoom))
            x, *y = sampler.sample(config.batch_size, source)
            x = torch.from_numpy(x).to(device)
            y = torch.from_numpy(np.concatenate(y, axis=1)).to(device)
            x, y = resize_pair(x, y, config.crop_size)
            if config.augment > 0:
                x = vary_appearance(x, gen, config.augment)
                if config.channels == 3:
                    x = vary_colour(x, gen, config.augment)
            with autocast(device):
                logits = net(x)
            loss = _loss(logits.float(), y, config.dice, config.distance_weight)
            if not torch.isfinite(loss):
                raise diverged(f"step {step + 1}", out)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            for group in opt.param_groups:
                group["lr"] = config.lr * _lr_factor(step, total, config.decay_from)
            opt.step()
            step += 1
            running.append(loss.item())
            losses = {"loss": float(np.mean(running[-20:]))}
            if step % config.steps_per_epoch == 0:
                epoch = step // config.steps_per_epoch
                record = {"epoch": epoch, "loss": float(np.mean(running))}
                running = []
                if len(val_idx):
                    model = Segmenter.from_network(net, recipe, 0.5, device)
                    scores = []
                    for i in val_idx:
                        prob = run_job(model.probability(xs[i], normalised=True))
                        pred, true = prob > 0.5, ys[i] > 0
                        scores.append((pixel_iou(pred, true)["iou"],
                                       boundary_f1(pred, true)["boundary_f1"]))
                    record["val_iou"], record["val_boundary_f1"] = map(float,
                                                                       np.mean(scores, 0))
                    losses.update(val_iou=record["val_iou"],
                                  val_boundary_f1=record["val_boundary_f1"])
                history.append(record)
                save(step)
            rate = (step - start) / (time.perf_counter() - started)
            epoch = -(-step // config.steps_per_epoch)  # the epoch this step belongs to
            yield Progress(step, total, f"epoch {epoch}/{config.epochs}, {rate:.1f} it/s",
                           losses)
        if step % config.steps_per_epoch:
            save(step)
    except GeneratorExit:
        with contextlib.suppress(TrainingDiverged):  # a non-finite state is not saved
            save(step)
        raise
    return out


def _lr_factor(step: int, total: int, decay_from: float) -> float:
    """1 until ``decay_from`` of the training, then falling linearly towards 0."""
    start = decay_from * total
    if step < start or start >= total:
        return 1.0
    return max(0.0, 1 - (step - start) / (total - start))


def _loss(logits: torch.Tensor, target: torch.Tensor, dice: bool,
          distance_weight: float = 1.0) -> torch.Tensor:
    """BCE (+ soft Dice) on the boundary channel; BCE with soft targets on the distance."""
    boundary, mask = logits[:, :1], target[:, :1]
    loss = F.binary_cross_entropy_with_logits(boundary, mask)
    if dice:
        p = torch.sigmoid(boundary)
        inter = (p * mask).sum(dim=(1, 2, 3))
        union = p.sum(dim=(1, 2, 3)) + mask.sum(dim=(1, 2, 3))
        loss = loss + (1 - (2 * inter + 1) / (union + 1)).mean()
    if logits.shape[1] > 1:
        loss = loss + distance_weight * F.binary_cross_entropy_with_logits(
            logits[:, 1:], target[:, 1:2])
    return loss


def distance_target(mask: np.ndarray) -> np.ndarray:
    """Each grain pixel's distance to the boundary mask, divided by the largest distance in
    its grain (float32 in [0, 1]; 0 on boundaries). Scale-free: every grain peaks at 1."""
    from scipy import ndimage as ndi
    from skimage import measure

    if not mask.any():  # one grain filling the view: all core
        return np.ones(mask.shape, np.float32)
    grains = measure.label(~mask, connectivity=1)
    dist = ndi.distance_transform_edt(~mask).astype(np.float32)
    if grains.max() == 0:
        return dist
    peak = np.zeros(grains.max() + 1, np.float32)
    peak[1:] = ndi.maximum(dist, grains, np.arange(1, grains.max() + 1))
    return dist / np.maximum(peak[grains], 1.0)


def _grain_size_range(folders, config: SegmenterConfig) -> dict | None:
    """The grain diameters (px) the network saw, when the data sets record them (the
    appearance engine's, simulations and their synthetic versions do), widened by the
    training zoom."""
    import json

    ranges = []
    for folder in folders:
        try:
            meta = json.loads((Path(folder) / "meta.json").read_text())
            found = meta.get("grain_diameter") or meta["config"]["grain_diameter"]
            ranges.append([float(v) for v in found])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    if not ranges:
        return None
    low, high = min(r[0] for r in ranges), max(r[1] for r in ranges)
    return {"range": [low * config.zoom[0], high * config.zoom[1]]}
