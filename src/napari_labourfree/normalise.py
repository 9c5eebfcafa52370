"""Turning micrographs of any dtype into network input, the same way in training and use.

Each image is scaled by its own percentiles (robust to 8/16-bit, float, offsets and a few
saturated pixels), then mapped to [-1, 1]. The recipe is stored in every checkpoint, so a
model sees its input exactly as it saw its training data.

Colour models (trained on RGB micrographs) take (H, W, 3) images: one pair of percentiles
over all three channels keeps the hues, and the network gets them channel-first.
"""

from __future__ import annotations

import numpy as np

DEFAULT = {"method": "percentile", "low": 0.5, "high": 99.5}


def check_image(image: np.ndarray, name: str = "image", colour: bool = False) -> np.ndarray:
    """A 2-D (or, with ``colour``, also an (H, W, 3) RGB), finite, numeric image, or
    ValueError saying what is wrong."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        if not colour:
            raise ValueError(f"{name} is RGB; convert it to grey first (read_image does)")
        if image.shape[-1] == 4:
            raise ValueError(f"{name} is RGBA; drop the alpha channel first (read_image "
                             "does)")
    elif image.ndim != 2:
        raise ValueError(f"{name} must be a 2-D {'grey or RGB ' if colour else 'grey '}"
                         f"image, not shape {image.shape}")
    if image.dtype == bool or not np.issubdtype(image.dtype, np.number):
        raise ValueError(f"{name} has unsupported pixel type {image.dtype}")
    if min(image.shape[:2]) < 8:
        raise ValueError(f"{name} of {image.shape[0]}x{image.shape[1]} px is too small "
                         "(at least 8x8)")
    if np.issubdtype(image.dtype, np.floating) and not np.isfinite(image).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return image


LUMINANCE = np.array([0.2125, 0.7154, 0.0721], np.float32)


def colour_to_grey(rgb: np.ndarray, axis: np.ndarray | None = None) -> np.ndarray:
    """RGB(A) -> float32 grey in [0, 1] along the image's strongest colour contrast.

    Tint etching colours grains by orientation, and two grains of different hue can have
    the same luminance; the first principal component of the pixel colours keeps the
    difference. Its sign is chosen to agree with luminance, so a grey-looking colour image
    comes out close to its luminance. ``axis`` (from :func:`grey_axis`): use the axis
    fitted on a whole image for a piece of it.
    """
    flat = _unit_pixels(rgb)
    axis = grey_axis(rgb) if axis is None else np.asarray(axis, np.float32)
    grey = flat @ axis - axis[axis < 0].sum()  # weights' absolute sum is 1: range [0, 1]
    return grey.reshape(np.shape(rgb)[:-1]).astype(np.float32)


def grey_axis(rgb: np.ndarray) -> np.ndarray:
    """The colour direction :func:`colour_to_grey` projects on (weights summing to 1 in
    absolute value)."""
    flat = _unit_pixels(rgb)
    sample = flat[:: max(1, len(flat) // 200_000)]
    axis = LUMINANCE.copy()
    if len(sample) > 3 and np.ptp(sample, axis=0).max() > 0:
        _, vectors = np.linalg.eigh(np.cov(sample.T))
        axis = vectors[:, -1].astype(np.float32)
        axis = axis if axis @ LUMINANCE >= 0 else -axis
        axis /= np.abs(axis).sum()
    return axis


def _unit_pixels(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.ndim < 3 or rgb.shape[-1] not in (3, 4):
        raise ValueError(f"expected an RGB(A) image, not shape {rgb.shape}")
    top = np.iinfo(rgb.dtype).max if np.issubdtype(rgb.dtype, np.integer) else 1.0
    return rgb[..., :3].reshape(-1, 3).astype(np.float32) / np.float32(top)


def check_recipe(recipe) -> dict:
    """A normalisation recipe ``{"method": "percentile", "low": 0.5, "high": 99.5}``, or
    ValueError naming what is wrong."""
    if not isinstance(recipe, dict):
        raise ValueError(f"a normalisation recipe is a dict, not {type(recipe).__name__}")  # noqa: TRY004 (one error for any bad recipe)
    if recipe.get("method") != "percentile":
        raise ValueError(f"unknown normalisation {recipe.get('method')!r}")
    for key in ("low", "high"):
        value = recipe.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not 0 <= value <= 100:
            raise ValueError(f"normalisation percentile {key!r} must be a number from 0 to "
                             f"100, not {value!r}")
    if recipe["low"] >= recipe["high"]:
        raise ValueError(f"normalisation percentiles are swapped or equal: low "
                         f"{recipe['low']} must be below high {recipe['high']}")
    return recipe


def is_colour(image: np.ndarray) -> bool:
    """An (H, W, 3) RGB image (not a grey one, not a stack)."""
    return np.ndim(image) == 3 and np.shape(image)[-1] == 3


def as_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """A grey (H, W) or RGB (H, W, 3) image as a model with ``channels`` inputs wants it:
    grey for a grey model (colour along its strongest contrast), RGB for a colour model
    (grey repeated in all three channels)."""
    if channels == 1:
        return colour_to_grey(image) if is_colour(image) else image
    if channels == 3:
        return image if is_colour(image) else np.repeat(np.asarray(image)[..., None], 3, -1)
    raise ValueError(f"a model takes 1 (grey) or 3 (RGB) channels, not {channels}")


def to_unit(image: np.ndarray, recipe: dict | None = None,
            levels: tuple[float, float] | None = None) -> np.ndarray:
    """Image -> float32 in [0, 1] by the recipe's percentiles (clipped); an RGB image keeps
    its shape and hues (one pair of percentiles for all channels). ``levels``: the
    (low, high) found on a whole image (:func:`unit_levels`), for a piece of it."""
    image = check_image(image, colour=True).astype(np.float32, copy=False)
    low, high = unit_levels(image, recipe) if levels is None else levels
    if high <= low:
        return np.zeros_like(image, dtype=np.float32)
    return np.clip((image - low) / (high - low), 0, 1).astype(np.float32, copy=False)


def unit_levels(image: np.ndarray, recipe: dict | None = None) -> tuple[float, float]:
    """The recipe's (low, high) percentiles of an image: what :func:`to_unit` maps to 0, 1."""
    recipe = check_recipe(recipe or DEFAULT)
    image = np.asarray(image)
    sample = image if image.size <= 4_000_000 else image[:: 4, :: 4]  # percentiles of 16 Mpx+
    low, high = np.percentile(sample, [recipe["low"], recipe["high"]])
    return low, high  # numpy scalars of the image's float type, as to_unit computes in


def to_network(image: np.ndarray, recipe: dict | None = None,
               levels: tuple[float, float] | None = None) -> np.ndarray:
    """Image -> float32 in [-1, 1]: (H, W) stays (H, W), RGB (H, W, 3) becomes (3, H, W)."""
    x = to_unit(image, recipe, levels) * 2 - 1
    return np.ascontiguousarray(np.moveaxis(x, -1, 0)) if x.ndim == 3 else x


def from_network(x: np.ndarray) -> np.ndarray:
    """[-1, 1] -> float32 [0, 1]."""
    return np.clip((np.asarray(x, np.float32) + 1) / 2, 0, 1)
