"""Loading training images and sampling random crops from them (shared by both trainers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .io.images import list_images, read_image
from .normalise import as_channels, is_colour, to_network


def simulation_files(folder: Path | str, sub: str = "images") -> list[Path]:
    """``folder/<sub>/*.tif`` of a `labourfree simulate`/`synthesize` output (or the folder's
    own images when it has no such subfolder)."""
    folder = Path(folder)
    if not folder.exists():
        raise FileNotFoundError(f"no such folder: {folder}")
    inner = folder / sub
    return list_images([inner if inner.is_dir() else folder])


def load_for_network(items, recipe: dict, notes: list[str] | None = None,
                     channels: int = 1) -> list[np.ndarray]:
    """Read images and normalise each to [-1, 1] float32: (H, W) for a grey network (RGB
    -> its strongest colour contrast), (3, H, W) for a colour one (grey repeated).

    Items are paths, or arrays already in memory (e.g. napari layers).
    """
    images = []
    for path in items:
        if isinstance(path, np.ndarray):
            images.append(to_network(as_channels(path, channels), recipe))
            continue
        loaded = read_image(path, grey=True, colour=channels == 3)
        if notes is not None:
            notes += [f"{Path(path).name}: {n}" for n in loaded.notes]
        images.append(to_network(as_channels(loaded.data, channels), recipe))
    return images


class CropSampler:
    """Random square crops from a list of (H, W) or (C, H, W) arrays, with random flips
    (and, optionally, 90-degree turns). Images smaller than the crop are reflect-padded
    once. Companions (masks) are (H, W)."""

    def __init__(self, images: list[np.ndarray], crop: int, rng: np.random.Generator,
                 rotate: bool = False, companions: list[list[np.ndarray]] | None = None):
        if not images:
            raise ValueError("no training images")
        self.crop, self.rng, self.rotate = crop, rng, rotate
        self.images = [_pad_to(im, crop) for im in images]
        # arrays cropped at the same place as each image (masks)
        self.companions = [[_pad_to(c, crop) for c in group] for group in (companions or [])]
        self.channels = 1 if images[0].ndim == 2 else images[0].shape[0]
        if any((im.shape[0] if im.ndim == 3 else 1) != self.channels for im in images):
            raise ValueError("training images mix grey and colour; load them with the "
                             "same number of channels")
        weights = np.array([im.shape[-2] * im.shape[-1] for im in self.images], float)
        self.p = weights / weights.sum()  # big images give proportionally more crops

    def sample(self, n: int, crop: int | None = None):
        """(n, C, c, c) float32 crops, plus the companions' (n, 1, c, c) crops in the
        same places."""
        c = crop or self.crop
        out = np.empty((n, self.channels, c, c), np.float32)
        extra = [np.empty((n, 1, c, c), np.float32) for _ in self.companions]
        for k in range(n):
            i = self.rng.choice(len(self.images), p=self.p)
            image = self.images[i]
            if image.shape[-2] < c or image.shape[-1] < c:
                image = _pad_to(image, c)
            y = self.rng.integers(0, image.shape[-2] - c + 1)
            x = self.rng.integers(0, image.shape[-1] - c + 1)
            flip, turns = self.rng.random() < 0.5, self.rng.integers(0, 4) if self.rotate else 0
            out[k] = _orient(image[..., y:y + c, x:x + c], flip, turns)
            for group, arr in zip(self.companions, extra):
                arr[k, 0] = _orient(_pad_to(group[i], c)[y:y + c, x:x + c], flip, turns)
        return (out, *extra) if extra else out


def _orient(a: np.ndarray, flip: bool, turns: int) -> np.ndarray:
    if flip:
        a = a[..., ::-1]
    return np.rot90(a, turns, axes=(-2, -1)) if turns else a


def _pad_to(image: np.ndarray, size: int) -> np.ndarray:
    h, w = image.shape[-2:]
    if h >= size and w >= size:
        return image
    pad = ((0, max(0, size - h)), (0, max(0, size - w)))
    return np.pad(image, ((0, 0),) * (image.ndim - 2) + pad, mode="reflect")


COLOUR_CHOICES = ("auto", "rgb", "grey")


def channels_for(items, colour: str = "auto") -> int:
    """Network input channels for ``colour``: 'grey' 1, 'rgb' 3, 'auto' 3 when any of the
    images (paths, folders or arrays) is colour, else 1."""
    if colour not in COLOUR_CHOICES:
        raise ValueError(f"colour must be one of {', '.join(COLOUR_CHOICES)}, not {colour!r}")
    if colour != "auto":
        return 3 if colour == "rgb" else 1
    for item in items:
        if isinstance(item, np.ndarray):
            if is_colour(item):
                return 3
            continue
        paths = simulation_files(item) if Path(item).is_dir() else list_images([item])
        if any(is_colour(read_image(p, colour=True).data) for p in paths):
            return 3
    return 1
