"""Micrographs too large to read at once: zarr, OME-Zarr and tiled TIFFs, read a window at
a time, and label/boundary images written to zarr a window at a time.

OME-Zarr (NGFF 0.4 and 0.5) images are groups whose ``multiscales`` list the levels from
full resolution down; the full-resolution level is segmented and its ``scale`` gives the
pixel size. A TIFF is opened through tifffile's zarr interface, which reads only the tiles
(or strips) a window needs.
"""

from __future__ import annotations

import contextlib
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..units import PixelSize

ZARR_MARKERS = ("zarr.json", ".zarray", ".zgroup")
# A TIFF this large (pixels) is segmented window by window instead of read whole.
LARGE_PIXELS = 8192 * 8192


def is_zarr(path: Path | str) -> bool:
    """A zarr store (array or group) on disk."""
    path = Path(path)
    return path.is_dir() and any((path / m).is_file() for m in ZARR_MARKERS)


@dataclass
class LazyImage:
    """A 2-D grey (H, W) or colour (H, W, 3) image read window by window."""

    array: object  # zarr array with axes (y, x) or (y, x, c) after ``axes`` is applied
    path: Path
    axes: str  # the stored array's axes, e.g. "yx", "yxc", "cyx", "tczyx"
    pixel_size: PixelSize | None = None
    levels: list = field(default_factory=list)  # OME-Zarr levels, full resolution first
    notes: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(int(self.array.shape[self.axes.index(a)]) for a in "yx")

    @property
    def colour(self) -> bool:
        return "c" in self.axes

    def read(self, y0: int, y1: int, x0: int, x1: int, step: int = 1) -> np.ndarray:
        """The window [y0:y1, x0:x1] (every ``step``-th pixel) as (h, w) or (h, w, 3)."""
        index = tuple(slice(y0, y1, step) if a == "y" else slice(x0, x1, step) if a == "x"
                      else slice(None) if a == "c" else 0 for a in self.axes)
        window = np.asarray(self.array[index])
        if "c" in self.axes:
            kept = [a for a in self.axes if a in "yxc"]
            window = np.moveaxis(window, kept.index("c"), -1)[..., :3]
        return window

    def overview(self, most: int = 4_000_000) -> np.ndarray:
        """Every k-th pixel, at most ``most`` pixels: for percentiles and colour axes."""
        h, w = self.shape
        step = max(1, math.ceil(math.sqrt(h * w / most)))
        return self.read(0, h, 0, w, step)


def open_lazy(path: Path | str) -> LazyImage:
    """Open a zarr array, an OME-Zarr image or a TIFF without reading its pixels (other
    image files are read whole, as they have no way to read a window).

    Raises FileNotFoundError or ValueError naming the file and what is wrong with it.
    """
    import zarr

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such image: {path}")
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        from .images import pixel_size_from_tiff

        try:
            with tifffile.TiffFile(path) as tif:
                size = pixel_size_from_tiff(tif)
                axes = tif.series[0].axes.lower().replace("s", "c")
            array = zarr.open(tifffile.imread(path, aszarr=True, level=0), mode="r")
        except (tifffile.TiffFileError, ValueError, KeyError, IndexError) as err:
            raise ValueError(f"{path.name}: not a readable TIFF ({err})") from None
        return _checked(LazyImage(array, path, axes, size))
    if not path.is_dir():  # PNG, JPEG, BMP: no window-wise reader, so read it whole
        from .images import read_image

        loaded = read_image(path, grey=False, colour=True)
        axes = "yxc" if loaded.data.ndim == 3 else "yx"
        return _checked(LazyImage(loaded.data, path, axes, loaded.pixel_size,
                                  notes=loaded.notes))
    if not is_zarr(path):
        raise ValueError(f"{path.name}: not a zarr store (no zarr.json, .zarray or .zgroup)")
    try:
        node = zarr.open(path, mode="r")
    except Exception as err:  # noqa: BLE001 (zarr raises many kinds for a damaged store)
        raise ValueError(f"{path.name}: not a readable zarr store ({err})") from None
    if isinstance(node, zarr.Array):
        axes = "yxc" if node.ndim == 3 and node.shape[-1] in (3, 4) else "yx"[-node.ndim:] \
            if node.ndim <= 2 else None
        if axes is None:
            raise ValueError(f"{path.name}: a zarr array of shape {node.shape} is not a 2-D "
                             "grey or RGB image")
        return _checked(LazyImage(node, path, axes, _stored_pixel_size(node.attrs)))
    return _checked(_open_ome(node, path))


def _open_ome(group, path: Path) -> LazyImage:
    attrs = dict(group.attrs)
    multiscales = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    if not multiscales:
        raise ValueError(f"{path.name}: a zarr group without OME-Zarr 'multiscales': open "
                         "the image array inside it instead")
    first = multiscales[0]
    axes_meta = first.get("axes") or [{"name": n} for n in "tczyx"[-len(
        group[first["datasets"][0]["path"]].shape):]]
    axes = "".join(str(a["name"] if isinstance(a, dict) else a).lower()[0] for a in axes_meta)
    levels = [group[d["path"]] for d in first["datasets"]]
    size = None
    for transform in first["datasets"][0].get("coordinateTransformations", []):
        if transform.get("type") == "scale" and "x" in axes:
            unit = (axes_meta[axes.index("x")].get("unit") if isinstance(
                axes_meta[axes.index("x")], dict) else None)
            with contextlib.suppress(ValueError, TypeError):
                size = PixelSize(transform["scale"][axes.index("x")], _ome_unit(unit),
                                 "OME-Zarr") if unit else None
    return LazyImage(levels[0], path, axes, size, levels)


def _ome_unit(unit: str) -> str:
    return {"micrometer": "um", "nanometer": "nm", "millimeter": "mm"}.get(unit, unit)


def _stored_pixel_size(attrs) -> PixelSize | None:
    found = dict(attrs).get("pixel_size")
    if isinstance(found, dict):
        with contextlib.suppress(ValueError, TypeError, KeyError):
            return PixelSize(found["value"], found.get("unit", "um"),
                             found.get("source", "zarr"))
    return None


def _checked(image: LazyImage) -> LazyImage:
    axes, shape = image.axes, image.array.shape
    if len(axes) != len(shape) or "y" not in axes or "x" not in axes:
        raise ValueError(f"{image.path.name}: axes {axes!r} do not fit shape {shape}")
    extra = {a: n for a, n in zip(axes, shape) if a not in "yxc" and n > 1}
    if extra:
        raise ValueError(f"{image.path.name}: a stack ({', '.join(f'{a}={n}' for a, n in extra.items())}); "
                         "segment one 2-D image at a time")
    if "c" in axes:
        channels = shape[axes.index("c")]
        if channels == 1:
            image.axes = axes.replace("c", "q")  # one channel: grey, indexed away like t/z
        elif channels not in (3, 4):
            raise ValueError(f"{image.path.name}: {channels} channels; expected grey or RGB")
    dtype = np.dtype(image.array.dtype)
    if dtype.kind not in "uif" or dtype == np.float16:
        raise ValueError(f"{image.path.name}: pixels of type {dtype} are not supported")
    if min(image.shape) < 16:
        raise ValueError(f"{image.path.name}: {image.shape[0]}x{image.shape[1]} px is too "
                         "small to segment")
    return image


def create_zarr(path: Path, shape: tuple[int, int], chunks: tuple[int, int], dtype,
                pixel_size: PixelSize | None = None):
    """A new 2-D zarr array at ``path`` (compressed, chunked like the work), with the
    pixel size in its attributes."""
    import zarr

    array = zarr.open_array(str(path), mode="w", shape=shape, chunks=chunks, dtype=dtype,
                            fill_value=0)
    if pixel_size is not None:
        array.attrs["pixel_size"] = pixel_size.as_dict()
    return array


def replace_dir(tmp: Path, final: Path) -> None:
    """Move a finished store ``tmp`` to ``final``, replacing an older one there."""
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
