"""A trained style translator, loaded from its weights, and `synthesize`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch

from .. import checkpoints
from ..derived import check_labelled, tinted_file
from ..devices import autocast
from ..io.atomic import all_or_none, atomic_write, write_text
from ..io.tiff import write_tiff
from ..jobs import Job, Progress, relay
from ..normalise import as_channels, check_image, from_network, to_network
from ..provenance import versions
from ..tiling import tiled_apply
from ..training_data import simulation_files
from .networks import ResnetGenerator, generator
from .registration import agreed_shift

# simulations whose synthetic images tell where the model draws the structure
REGISTRATION_PAIRS = 8


class StyleModel:
    """F (simulation -> real look) and, for a CycleGAN, G (real -> simulation look) in eval
    mode. CUT models have F alone."""

    def __init__(self, G: ResnetGenerator | None, F: ResnetGenerator, header: dict,
                 device: torch.device):
        self.G = None if G is None else G.eval()
        self.F, self.header, self.device = F.eval(), header, device

    @classmethod
    def load(cls, path: Path | str, device: torch.device | str = "cpu") -> StyleModel:
        header, tensors = checkpoints.load(path, checkpoints.STYLE)
        arch = header["config"]["architecture"]
        if arch.get("name") not in ("cyclegan-resnet", "cut-resnet"):
            raise checkpoints.CheckpointError(
                f"{Path(path).name}: unknown style architecture {arch.get('name')!r}")
        device = torch.device(device)
        F = generator(arch)
        G = generator(arch) if arch["name"] == "cyclegan-resnet" else None
        checkpoints.restore(tensors, {"F": F} if G is None else {"G": G, "F": F},
                            Path(path).name)
        return cls(None if G is None else G.to(device), F.to(device), header, device)

    @property
    def normalisation(self) -> dict:
        return self.header["config"]["normalisation"]

    @property
    def channels(self) -> int:
        """1 when the real images were grey, 3 when they were colour (RGB)."""
        return self.header["config"]["architecture"].get("channels", 1)

    @property
    def grain_tint(self) -> bool:
        """Whether the model learned from simulations whose grains had random colours (it
        should be given tinted ones: synthesize tints them)."""
        return bool(self.header["config"]["training"].get("grain_tint", False))

    def _apply(self, net, image, tile, overlap, message) -> Job[np.ndarray]:
        x = to_network(as_channels(check_image(image, colour=True), self.channels),
                       self.normalisation)

        def run(batch):
            with autocast(self.device):
                return net(batch)

        y = yield from tiled_apply(run, x, tile=tile, overlap=overlap,
                                   multiple=ResnetGenerator.multiple, batch_size=1,
                                   device=self.device, message=message)
        return from_network(y if y.ndim == 2 else np.moveaxis(y, 0, -1))

    def to_real(self, image: np.ndarray, tile: int = 1024, overlap: int = 128
                ) -> Job[np.ndarray]:
        """Job: a simulation (phi or any grey image) in the real images' style, [0, 1]:
        (H, W), or (H, W, 3) when the real images were colour."""
        return self._apply(self.F, image, tile, overlap, "stylising")

    def to_simulation(self, image: np.ndarray, tile: int = 1024, overlap: int = 128
                      ) -> Job[np.ndarray]:
        """Job: a real micrograph in the simulations' look, [0, 1]."""
        if self.G is None:
            raise ValueError("this style model (CUT) translates simulations to the real look "
                             "only; train a CycleGAN to translate real images back")
        return _grey(self._apply(self.G, image, tile, overlap, "translating"))


def _grey(job: Job[np.ndarray]) -> Job[np.ndarray]:
    """The job's image, its channels averaged when it has three (simulations are grey)."""
    out = yield from job
    return out if out.ndim == 2 else out.mean(axis=-1)


def synthesize(sim: Path | str, weights: Path | str, out: Path | str, *,
               device: torch.device | str = "cpu", overwrite: bool = False,
               tile: int = 1024) -> Job[dict]:
    """Job: F applied to every simulation in ``sim``, written with its mask and labels.

    ``out/images/*.tif`` (uint8 synthetic micrographs), ``out/masks`` and ``out/labels``
    (the simulation's, never re-derived: moved by whole pixels onto the structure where the
    model drew it elsewhere, else copied byte for byte; ``meta['mask_shift_px']``) and
    ``out/meta.json``.
    Inputs and the output folder are checked now, before the job starts.
    """
    from ..io.folders import FolderLock, check_apart, locked, prepare_output_dir

    sim = Path(sim)
    check_apart(out, [sim])
    images = simulation_files(sim)
    missing = [p.name for p in images if not (sim / "masks" / p.name).is_file()]
    if missing:
        raise FileNotFoundError(f"{sim / 'masks'} lacks the masks of {', '.join(missing[:3])}"
                                f"{' ...' if len(missing) > 3 else ''}")
    model = StyleModel.load(weights, device)
    if model.grain_tint:
        check_labelled(images)
    lock = FolderLock(out, "synthesize")
    try:
        out = prepare_output_dir(Path(out), overwrite)
    except BaseException:
        lock.release()
        raise
    return locked(_synthesize_job(sim, images, model, Path(weights), out, tile), lock)


def _synthesize_job(sim, images, model: StyleModel, weights, out, tile):
    from ..io.images import read_image

    meta = {"source": str(sim), "style_weights": str(weights),
            "style_training": model.header["config"]["training"].get("real_files", [])[:20],
            "versions": versions(), "images": []}
    try:  # the grain sizes the segmenter will see, from the simulations
        meta["grain_diameter"] = json.loads((sim / "meta.json").read_text())["grain_diameter"]
    except (OSError, ValueError, KeyError):
        pass
    total = len(images)
    seed = model.header["config"]["training"].get("seed", 0)
    meta["grain_tint"] = model.grain_tint

    def stylise(i: int, path: Path):
        if model.grain_tint:  # as the model saw them in training
            phi = tinted_file(path, i, seed)
        else:
            phi = read_image(path, colour=model.channels == 3).data  # tinted grains stay colour
        styled = yield from relay(model.to_real(phi, tile=tile),
                                  lambda e: Progress(i, total, f"image {i + 1}/{total}"))
        return styled

    # The model may draw the structure a few px from where the simulation has it: measured
    # on the first images, the masks and labels are moved onto it (style/registration.py).
    first = []
    for i, path in enumerate(images[:REGISTRATION_PAIRS]):
        first.append((yield from stylise(i, path)))
    shift, found = agreed_shift(
        (_read_array(sim / "masks" / path.name).astype(np.float32), styled)
        for path, styled in zip(images, first))
    meta["mask_shift_px"] = list(shift)
    meta["mask_shift"] = found
    for i, path in enumerate(images):
        styled = first[i] if i < len(first) else (yield from stylise(i, path))
        with all_or_none([out / sub / path.name for sub in ("images", "masks", "labels")]):
            write_tiff(out / "images" / path.name, np.round(styled * 255).astype(np.uint8),
                       photometric="rgb" if styled.ndim == 3 else "minisblack")
            for sub in ("masks", "labels"):
                source = sim / sub / path.name
                if source.is_file():
                    _write_moved(source, out / sub / path.name, shift)
        meta["images"].append(path.name)
        meta["completed"] = i + 1
        write_text(out / "meta.json", json.dumps(meta, indent=2))
        yield Progress(i + 1, total, f"image {i + 1}/{total}",
                       preview=styled if i == 0 else None)
    return meta


def _read_array(path: Path) -> np.ndarray:
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        return tifffile.imread(path)
    import imageio.v3 as iio

    return iio.imread(path)


def _write_moved(source: Path, target: Path, shift: tuple[int, int]) -> None:
    """A simulation's mask or labels, moved by ``shift`` px (wrapping round: the phase
    field is periodic), or copied byte for byte when there is nothing to move."""
    if shift == (0, 0):
        atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))
        return
    moved = np.roll(_read_array(source), shift, (0, 1))
    if source.suffix.lower() in (".tif", ".tiff"):
        write_tiff(target, moved)
        return
    import imageio.v3 as iio

    atomic_write(target, lambda tmp: iio.imwrite(tmp, moved, extension=source.suffix))
