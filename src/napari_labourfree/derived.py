"""Copies of a `labourfree simulate` folder whose phi images carry more than the phase field
(particles, grain tints), for the style model to learn from. Masks and labels are copied
byte for byte: what the segmenter learns stays the phase field's."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .jobs import Job, Progress


def structure_rng(seed: int, index: int) -> np.random.Generator:
    """The random draws of the ``index``-th structure of a derived copy."""
    return np.random.default_rng(np.random.SeedSequence([seed, index]))


def derive_simulations(sims: Path | str, out: Path | str, kind: str, extra: dict,
                       change: Callable[[np.ndarray, np.ndarray, np.ndarray,
                                         np.random.Generator], np.ndarray],
                       seed: int = 0, message: str = "derived") -> Job[dict]:
    """Job: ``out`` with ``change(phi, mask, labels, rng)`` of every simulation in ``sims``
    as its image (rng seeded by (seed, index), so each structure's draw is reproducible).
    ``extra`` goes into the meta, which returns."""
    from .io.atomic import all_or_none, atomic_write, write_text
    from .io.images import read_image
    from .io.tiff import write_tiff
    from .training_data import simulation_files

    sims, out = Path(sims), Path(out)
    for sub in ("images", "masks", "labels"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    source = json.loads((sims / "meta.json").read_text())
    meta = {"kind": f"napari-labourfree phase-field data set with {kind}",
            "simulations": str(sims), "parameters": source["parameters"],
            "grain_diameter": source.get("grain_diameter"),
            **{k: source[k] for k in ("particles",) if k in source},  # what sims carried
            **extra, "seed": seed,
            "completed": 0}
    files = simulation_files(sims)
    for i, path in enumerate(files):
        rng = structure_rng(seed, i)
        image = change(read_image(path).data, read_image(sims / "masks" / path.name).data,
                       read_image(sims / "labels" / path.name, grey=False).data, rng)
        with all_or_none([out / sub / path.name for sub in ("images", "masks", "labels")]):
            write_tiff(out / "images" / path.name, image,
                       photometric="rgb" if image.ndim == 3 else "minisblack")
            for sub in ("masks", "labels"):
                atomic_write(out / sub / path.name, lambda tmp, s=sims / sub / path.name:
                             shutil.copyfile(s, tmp))
        meta["completed"] = i + 1
        write_text(out / "meta.json", json.dumps(meta, indent=2))
        yield Progress(i + 1, len(files), f"{message} {i + 1}/{len(files)}")
    return meta


TINT_CHOICES = ("auto", "on", "off")


def grain_tint_for(choice: str, channels: int, sims: list | None = None) -> bool:
    """Whether to tint the simulations' grains: 'on', 'off', or 'auto': when the style is
    colour (``channels`` 3) and every one of ``sims`` (when given) has its grain labels and
    is not tinted already."""
    if choice not in TINT_CHOICES:
        raise ValueError(f"grain tint must be one of {', '.join(TINT_CHOICES)}, not "
                         f"{choice!r}")
    if choice != "auto":
        return choice == "on"
    return channels == 3 and (sims is None or all(
        not isinstance(item, np.ndarray) and _labels_of(Path(item), required=False)
        and not is_tinted(item) for item in sims))


# Tint etching colours each grain by its orientation, which is random from grain to grain.
# The tints are drawn from this range of each channel, so no grain is black (a boundary).
TINT_RANGE = (0.35, 1.0)


def tint_grains(phi: np.ndarray, labels: np.ndarray, rng: np.random.Generator
                ) -> np.ndarray:
    """float32 (H, W, 3): each grain in a random colour of its own, times phi (boundaries
    and particles stay dark)."""
    palette = rng.uniform(*TINT_RANGE, (int(labels.max()) + 1, 3)).astype(np.float32)
    return np.asarray(phi, np.float32)[..., None] * palette[labels]


def tint_simulations(sims: Path | str, out: Path | str, seed: int = 0) -> Job[dict]:
    """Job: a copy of a `simulate` folder whose grains each have a random colour
    (:func:`tint_grains`)."""
    return derive_simulations(sims, out, "grain tints", {"tint": list(TINT_RANGE)},
                              lambda phi, mask, labels, rng: tint_grains(phi, labels, rng),
                              seed, "tinting")


def check_labelled(sim_files: list) -> None:
    """Raise unless every item is a simulation image with its grain labels beside it (what
    grain tints need)."""
    for item in sim_files:
        if isinstance(item, np.ndarray):
            raise ValueError(  # noqa: TRY004 (callers show ValueErrors to the user)
                "grain tints need the simulations' grain labels: give a "
                "`labourfree simulate` folder, not image layers")
        _labels_of(Path(item))


def _labels_of(phi_path: Path, required: bool = True) -> Path | None:
    labels_path = phi_path.parent.parent / "labels" / phi_path.name
    if labels_path.is_file():
        return labels_path
    if not required:
        return None
    raise FileNotFoundError(f"grain tints need each simulation's grain labels; "
                            f"{labels_path} is missing (give a `labourfree simulate` folder)")


def is_tinted(phi_path: Path | str) -> bool:
    """Whether a simulation image comes from a copy whose grains are tinted already
    (:func:`tint_simulations`, e.g. the pipeline's ``simulations-tinted/``)."""
    meta = Path(phi_path).parent.parent / "meta.json"
    try:
        return "tint" in json.loads(meta.read_text())
    except (OSError, ValueError):
        return False


def tinted_file(phi_path: Path | str, index: int, seed: int = 0) -> np.ndarray:
    """The phi image of one simulation (``<sims>/images/NAME``) with its grains tinted as
    :func:`tint_simulations` tints the ``index``-th one (the same rng), read from its
    ``<sims>/labels/NAME``. An image tinted already is returned as it is."""
    from .io.images import read_image

    phi_path = Path(phi_path)
    if is_tinted(phi_path):
        return read_image(phi_path, colour=True).data
    labels_path = _labels_of(phi_path)
    return tint_grains(read_image(phi_path).data, read_image(labels_path, grey=False).data,
                       structure_rng(seed, index))
