"""Reading what users put in napari layers: image frames and the pixel size."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..units import PixelSize, normalise_unit


def image_frames(layer, colour: bool = False) -> list[np.ndarray]:
    """The layer's image as a list of frames (a 2-D image is one frame).

    RGB(A) becomes grey (its strongest colour contrast), or with ``colour`` stays (H, W, 3)
    RGB (alpha dropped); a (t, y, x) stack gives one frame per plane. Anything else
    (multichannel, 4-D) gets a ValueError naming the layer.
    """
    data = layer.data
    if getattr(layer, "multiscale", False):
        data = data[0]
    data = np.asarray(data)
    if getattr(layer, "rgb", False):
        if colour:
            data = data[..., :3]
            return [data] if data.ndim == 3 else list(data)
        from ..normalise import colour_to_grey

        data = colour_to_grey(data)
    if data.ndim == 2:
        return [data]
    if data.ndim == 3:
        return list(data)
    raise ValueError(f"layer '{layer.name}' has shape {data.shape}; expected a 2-D image or a "
                     "(frames, y, x) stack")


def parse_pixel_size(text, unit: str = "um") -> PixelSize | None:
    """A pixel size typed into a text field: '' or '0' means none. Kept exactly as typed
    (a spin box would round 0.2252 to 0.23)."""
    text = str(text).strip()
    if text in ("", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"pixel size {text!r} is not a number") from None
    return PixelSize(value, unit, "typed")


def layer_length_unit(layer) -> str | None:
    """The layer's length unit ('nm', 'um', ...) from napari's ``units``; None for pixels
    or an older napari without units."""
    units = getattr(layer, "units", None)
    if not units:
        return None
    try:
        return normalise_unit(str(units[-1]))
    except ValueError:  # 'pixel' or anything that is not a length
        return None


def layer_pixel_size(layer, typed="", unit: str = "um") -> PixelSize | None:
    """The pixel size for measuring a layer: its ``scale`` in its ``units`` when those are
    a length; else its scale when not 1 (in ``unit``); else the file's metadata (TIFF layers
    opened from disk); else what was typed ('' = none)."""
    scale = float(layer.scale[-1])
    layer_unit = layer_length_unit(layer)
    if layer_unit is not None and scale > 0:
        return PixelSize(scale, layer_unit, "layer scale and units")
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
    return parse_pixel_size(typed, unit)


def same_place(layer, ndim: int) -> dict:
    """scale, translate (and units) for a result layer that lies on ``layer``'s pixels."""
    place = {"scale": tuple(layer.scale)[-ndim:], "translate": tuple(layer.translate)[-ndim:]}
    units = getattr(layer, "units", None)
    if units:
        place["units"] = tuple(str(u) for u in units)[-ndim:]
    return place


def as_features(table: dict) -> dict:
    """A grain table as a Labels layer's features: napari maps rows to label ids through
    the ``index`` column."""
    return {"index": table["label"], **table}
