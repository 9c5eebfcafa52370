"""npe2 reader and writer: TIFF micrographs open with their pixel size, and grains save with
their grain table.

The reader gives a layer the ``scale`` and ``units`` that the file's ImageJ, OME, FEI or
Zeiss tags carry, so measurements in the widgets are in physical units from the start.
The writer saves a Labels layer as a TIFF (the pixel size in ImageJ tags) and its grain
table beside it as ``<name>_grains.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TIFF_SUFFIXES = (".tif", ".tiff")


def get_reader(path):
    """napari calls this with a path (or a list of paths); a reader for TIFFs, else None."""
    if isinstance(path, list):
        return None if not all(_is_tiff(p) for p in path) else read_tiffs
    return read_tiffs if _is_tiff(path) else None


def read_tiffs(path) -> list[tuple]:
    paths = path if isinstance(path, list) else [path]
    return [read_tiff(p) for p in paths]


def read_tiff(path) -> tuple:
    """(data, layer attributes, "image") of one TIFF, placed at its physical pixel size."""
    import tifffile

    from .io.images import pixel_size_from_tiff

    path = Path(path)
    with tifffile.TiffFile(path) as tif:
        data = tif.asarray()
        size = pixel_size_from_tiff(tif)
    data = np.squeeze(data)
    rgb = data.ndim >= 3 and data.shape[-1] in (3, 4) and data.dtype == np.uint8
    spatial = data.ndim - (1 if rgb else 0)
    attributes = {"name": path.stem, "rgb": rgb, "metadata": {"source_path": str(path)}}
    if size is not None:
        attributes["scale"] = (1.0,) * (spatial - 2) + (size.value, size.value)
        attributes["units"] = ("pixel",) * (spatial - 2) + (_pint_name(size.unit),) * 2
        attributes["metadata"]["pixel_size"] = size.as_dict()
    return data, attributes, "image"


def get_zarr_reader(path):
    """A reader for one zarr store (a plain 2-D array or an OME-Zarr image), else None."""
    from .io.lazy import is_zarr

    return read_zarr if isinstance(path, (str, Path)) and is_zarr(path) else None


def read_zarr(path) -> list[tuple]:
    """A zarr micrograph as a lazy (dask) image layer: every OME-Zarr level (multiscale),
    placed at its pixel size; nothing is read until napari shows it."""
    import dask.array as da

    from .io.lazy import open_lazy

    image = open_lazy(path)
    levels = []
    for level in image.levels or [image.array]:
        data = da.from_zarr(level)
        kept = [a for a in image.axes if a in "yxc"]
        data = data[tuple(slice(None) if a in "yxc" else 0 for a in image.axes)]
        if image.colour:
            data = da.moveaxis(data, kept.index("c"), -1)[..., :3]
        levels.append(data)
    attributes = {"name": Path(path).name.split(".")[0], "rgb": image.colour,
                  "multiscale": len(levels) > 1,
                  "metadata": {"source_path": str(path)}}
    if image.pixel_size is not None:
        size = image.pixel_size
        attributes["scale"] = (size.value, size.value)
        attributes["units"] = (_pint_name(size.unit),) * 2
        attributes["metadata"]["pixel_size"] = size.as_dict()
    return [(levels if len(levels) > 1 else levels[0], attributes, "image")]


def write_labels(path: str, data, meta: dict) -> list[str]:
    """A Labels layer -> TIFF with its pixel size, plus ``<stem>_grains.csv`` (2-D layers)."""
    from .analysis.statistics import grain_table
    from .io.tables import write_csv
    from .io.tiff import write_tiff

    path = Path(path)
    if path.suffix.lower() not in TIFF_SUFFIXES:
        path = path.with_suffix(".tif")
    labels = np.asarray(data)
    if labels.max(initial=0) < 2**16:
        labels = labels.astype(np.uint16)
    size = _pixel_size(meta)
    extra = {}
    if size is not None:
        extra = {"imagej": True, "resolution": (1 / size.value, 1 / size.value),
                 "metadata": {"unit": size.unit}}
    write_tiff(path, labels, **extra)
    written = [str(path)]
    if labels.ndim == 2:
        table_path = path.with_name(path.stem + "_grains.csv")
        write_csv(table_path, grain_table(labels, size))
        written.append(str(table_path))
    return written


def _pixel_size(meta: dict):
    from .units import PixelSize, normalise_unit

    scale, units = meta.get("scale"), meta.get("units")
    if scale is None or units is None:
        return None
    try:
        unit = normalise_unit(str(units[-1]))
    except ValueError:  # pixels
        return None
    return PixelSize(float(scale[-1]), unit, "layer scale and units")


def _pint_name(unit: str) -> str:
    return {"um": "micrometer", "nm": "nanometer", "mm": "millimeter", "cm": "centimeter",
            "m": "meter", "pm": "picometer", "A": "angstrom", "in": "inch"}[unit]


def _is_tiff(path) -> bool:
    return isinstance(path, (str, Path)) and Path(path).suffix.lower() in TIFF_SUFFIXES
