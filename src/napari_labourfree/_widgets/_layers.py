"""Reading what users put in napari layers: grey frames and the pixel size."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..units import PixelSize


def grey_frames(layer) -> list[np.ndarray]:
    """The layer's image as a list of 2-D grey frames (a 2-D image is one frame).

    RGB(A) becomes grey (its strongest colour contrast); a (t, y, x) stack gives one frame per plane. Anything else
    (multichannel, 4-D, multiscale) gets a ValueError naming the layer.
    """
    data = layer.data
    if getattr(layer, "multiscale", False):
        data = data[0]
    data = np.asarray(data)
    if getattr(layer, "rgb", False):
        from ..normalise import colour_to_grey

        data = colour_to_grey(data)
    if data.ndim == 2:
        return [data]
    if data.ndim == 3:
        return list(data)
    raise ValueError(f"layer '{layer.name}' has shape {data.shape}; expected a 2-D image or a "
                     "(frames, y, x) stack")


def layer_pixel_size(layer, typed: float = 0.0, unit: str = "um") -> PixelSize | None:
    """The pixel size for measuring a layer: its ``scale`` when not 1, else the file's
    metadata (TIFF layers opened from disk), else the value typed in (0 = none)."""
    scale = float(layer.scale[-1])
    if scale != 1.0 and scale > 0:
        return PixelSize(scale, unit, "layer scale")
    path = getattr(getattr(layer, "source", None), "path", None)
    if path and Path(path).suffix.lower() in (".tif", ".tiff") and Path(path).is_file():
        import tifffile

        from ..io.images import pixel_size_from_tiff

        with tifffile.TiffFile(path) as tif:
            found = pixel_size_from_tiff(tif)
        if found is not None:
            return found
    return PixelSize(typed, unit, "typed") if typed > 0 else None


def as_features(table: dict) -> dict:
    """A grain table as a Labels layer's features: napari maps rows to label ids through
    the ``index`` column."""
    return {"index": table["label"], **table}
