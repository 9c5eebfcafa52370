"""Reading micrographs, masks and label images, with their pixel size when the file has one.

TIFFs go through tifffile, which parses ImageJ, OME, FEI/Thermo and Zeiss SEM metadata;
other formats (PNG, JPEG, BMP) through imageio and carry no pixel size.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile

from ..units import PixelSize

TIFF_SUFFIXES = (".tif", ".tiff")
IMAGE_SUFFIXES = TIFF_SUFFIXES + (".png", ".jpg", ".jpeg", ".bmp")


@dataclass
class LoadedImage:
    """Pixels plus what the file said about them."""

    data: np.ndarray
    path: Path
    pixel_size: PixelSize | None = None
    notes: list[str] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)  # tifffile's JSON description, if any

    @property
    def name(self) -> str:
        return self.path.stem


def read_image(path: Path | str, *, grey: bool = True, allow_stack: bool = False,
               colour: bool = False) -> LoadedImage:
    """Read a 2-D image (or, with ``allow_stack``, a (frames, y, x) stack).

    ``grey``: RGB(A) becomes grey (float in [0, 1], along the strongest colour contrast:
    :func:`~napari_labourfree.normalise.colour_to_grey`) with a note saying so; without it,
    RGB is refused unless its three channels are equal (a mask saved as RGB).
    ``colour``: RGB stays (H, W, 3) (alpha dropped), for colour models; an RGB file whose
    channels are all equal is still read as grey.
    Raises FileNotFoundError or ValueError with a message naming the file and the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"{path.name}: unsupported file type {path.suffix!r} "
                         f"(use one of {', '.join(IMAGE_SUFFIXES)})")
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            data, rgb, pixel_size, metadata = _read_tiff(path)
        else:
            data, rgb, pixel_size = _read_other(path)
            metadata = {}
    except (ValueError, OSError, tifffile.TiffFileError) as err:
        if isinstance(err, (FileNotFoundError, PermissionError)):
            raise
        raise ValueError(f"{path.name}: cannot read this image ({err})") from err

    notes = []
    kept_colour = False
    if rgb:
        if data.shape[-1] == 4:
            data = data[..., :3]
        if np.ptp(data.astype(np.float32), axis=-1).max() == 0:
            data = data[..., 0]
        elif colour:
            if data.ndim != 3:
                raise ValueError(f"{path.name}: a stack of RGB images; give one per file")
            kept_colour = True
        elif grey:
            from ..normalise import colour_to_grey

            data = colour_to_grey(data)
            notes.append("RGB converted to grey along its strongest colour contrast")
        else:
            raise ValueError(f"{path.name}: expected a single-channel image, got RGB")
    if data.ndim == 3 and not allow_stack and not kept_colour:
        raise ValueError(f"{path.name}: a stack of {data.shape[0]} frames; "
                         "give one 2-D image per file")
    if data.ndim not in (2, 3) or min(data.shape[:2] if kept_colour else data.shape[-2:]) < 2:
        raise ValueError(f"{path.name}: expected a 2-D image, got shape {data.shape}")
    if data.dtype == bool:
        data = data.astype(np.uint8)
    if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
        raise ValueError(f"{path.name}: unsupported pixel type {data.dtype}")
    return LoadedImage(data, path, pixel_size, notes, metadata)


def _read_tiff(path: Path):
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        data = series.asarray()
        axes = series.axes
        photometric = tif.pages.first.photometric
        pixel_size = pixel_size_from_tiff(tif)
        metadata = dict(tif.shaped_metadata[0]) if tif.shaped_metadata else {}
    # Extra samples that are not RGB (e.g. a stack saved as planar samples) are frames.
    rgb = (photometric == tifffile.PHOTOMETRIC.RGB and "S" in axes
           and data.shape[axes.index("S")] in (3, 4))
    if rgb and axes.index("S") != len(axes) - 1:
        data = np.moveaxis(data, axes.index("S"), -1)
    data = _squeeze_to_frames(data, 3 if rgb else 2)
    return data, rgb, pixel_size, metadata


def _read_other(path: Path):
    import imageio.v3 as iio

    data = np.asarray(iio.imread(path))
    rgb = data.ndim == 3 and data.shape[-1] in (3, 4)
    if data.ndim == 3 and data.shape[-1] == 2:  # grey + alpha
        data, rgb = data[..., 0], False
    return data, rgb, None


def _squeeze_to_frames(data: np.ndarray, core_ndim: int) -> np.ndarray:
    """Drop length-1 axes and fold the rest into at most one frame axis."""
    extra = data.shape[:-core_ndim]
    extra = tuple(n for n in extra if n > 1)
    if len(extra) > 1:
        raise ValueError(f"a {len(extra) + 2}-D image ({data.shape}); "
                         "only 2-D images and simple (frames, y, x) stacks are supported")
    return data.reshape(extra + data.shape[-core_ndim:])


# ---------------------------------------------------------------------------------------
# pixel size from metadata


def pixel_size_from_tiff(tif: tifffile.TiffFile) -> PixelSize | None:
    """The pixel size recorded by ImageJ, OME, FEI/Thermo or Zeiss SEM software, else None.

    Bare TIFF resolution tags are ignored: they usually hold a screen or print dpi, not the
    microscope's scale.
    """
    for read in (_imagej, _ome, _fei, _zeiss):
        try:
            size = read(tif)
        except (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError, ET.ParseError):
            size = None
        if size is not None:
            return size
    return None


def _imagej(tif) -> PixelSize | None:
    meta = tif.imagej_metadata
    if not meta or not meta.get("unit"):
        return None
    num, den = tif.pages.first.tags["XResolution"].value
    unit = str(meta["unit"]).encode().decode("unicode_escape")  # ImageJ writes '\u00B5m'
    return PixelSize(den / num, unit, "ImageJ")


def _ome(tif) -> PixelSize | None:
    if not tif.ome_metadata:
        return None
    root = ET.fromstring(tif.ome_metadata)
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == "Pixels" and "PhysicalSizeX" in element.attrib:
            unit = element.attrib.get("PhysicalSizeXUnit", "µm")  # the OME default
            return PixelSize(float(element.attrib["PhysicalSizeX"]), unit, "OME")
    return None


def _fei(tif) -> PixelSize | None:
    meta = tif.fei_metadata
    if not meta:
        return None
    for section in ("Scan", "EScan", "IScan"):
        width = meta.get(section, {}).get("PixelWidth")
        if width:
            return PixelSize(float(width) * 1e6, "um", "FEI")  # metres -> micrometres
    return None


def _zeiss(tif) -> PixelSize | None:
    meta = tif.sem_metadata
    if not meta:
        return None
    for key in ("ap_image_pixel_size", "ap_pixel_size"):
        entry = meta.get(key)
        if entry and len(entry) >= 2:
            value, unit = entry[1], entry[2] if len(entry) > 2 else ""
            if isinstance(value, str):  # "2.233 nm" that tifffile did not split
                match = re.match(r"\s*([0-9.eE+-]+)\s*(\S+)", value)
                value, unit = float(match.group(1)), match.group(2)
            return PixelSize(float(value), unit, "Zeiss")
    return None


def list_images(paths, zarr: bool = False) -> list[Path]:
    """Image files named directly or found (not recursively) in the folders given, in order.

    ``zarr``: zarr stores (``io.lazy.is_zarr``) count as images too, named or found.
    Raises FileNotFoundError for a missing path and ValueError when nothing is found.
    """
    from .lazy import is_zarr

    found: list[Path] = []
    for path in map(Path, paths):
        if zarr and is_zarr(path):
            found.append(path)
        elif path.is_dir():
            found += sorted(p for p in path.iterdir()
                            if ((p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
                                or (zarr and is_zarr(p)))
                            and not p.name.startswith("."))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    if not found:
        kinds = ", ".join(IMAGE_SUFFIXES + ((".zarr",) if zarr else ()))
        raise ValueError(f"no images ({kinds}) in "
                         f"{', '.join(str(p) for p in paths)}")
    return found
