"""Painting a grain map as a micrograph, with every factor drawn at random from a config.

The truth never changes with the look: the boundary mask is the pixels within
``truth_width`` of the interface between grains, whatever line is drawn there (dark,
bright, wide, faded or none at all). Twins, particles, pits, scratches and dust are
painted on top and are *not* boundaries; particles belong to the grains around them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from .config import POLARITIES, AppearanceConfig


@dataclass
class Painted:
    image: np.ndarray      # uint8 or uint16 grey micrograph
    mask: np.ndarray       # bool, True = grain boundary (the truth)
    labels: np.ndarray     # int32 grains, 1..N
    factors: dict = field(default_factory=dict)  # what was drawn, for the record


def interface_distance(labels: np.ndarray) -> np.ndarray:
    """Distance (px) of each pixel to the nearest interface between two grains (ids >= 1)."""
    from ..analysis.instances import boundaries_from_labels

    line = boundaries_from_labels(labels)  # one-sided 1-px line where labels change
    if not line.any():
        return np.full(labels.shape, np.float32(max(labels.shape)))
    return ndi.distance_transform_edt(~line).astype(np.float32)


def paint(labels: np.ndarray, rng: np.random.Generator | int = 0,
          config: AppearanceConfig | None = None, diameter: float | None = None) -> Painted:
    """A micrograph of the grain map ``labels`` (ids >= 1) with a random look.

    ``diameter``: the mean grain diameter in px (sizes particles and relief; measured from
    ``labels`` when omitted).
    """
    from .geometry import mean_diameter

    config = (config or AppearanceConfig()).validate()
    rng = np.random.default_rng(rng)
    labels = np.asarray(labels, np.int32)
    h, w = labels.shape
    n = int(labels.max()) + 1
    diameter = float(diameter or mean_diameter(labels))
    dist = interface_distance(labels)
    f: dict = {"diameter": round(diameter, 2)}

    def u(pair):
        return float(rng.uniform(*pair))

    def chance(p):
        return bool(rng.random() < p)

    weights = np.asarray(config.polarity, float)
    polarity = POLARITIES[rng.choice(3, p=weights / weights.sum())]
    f["polarity"] = polarity
    contrast = u(config.grain_contrast)
    if polarity == "none":
        contrast = max(contrast, config.min_contrast_without_line)
    f["grain_contrast"] = round(contrast, 3)
    base = {"dark": (0.45, 0.8), "bright": (0.2, 0.55), "none": (0.3, 0.7)}[polarity]
    shade = u(base) + contrast * rng.standard_normal(n)
    image = shade[labels].astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)

    if chance(config.p_relief):  # a brightness gradient across each grain
        amount = u(config.relief)
        slope = rng.standard_normal((n, 2)) * amount / diameter
        count = np.maximum(np.bincount(labels.ravel(), minlength=n), 1)
        cy = np.bincount(labels.ravel(), yy.ravel(), n) / count
        cx = np.bincount(labels.ravel(), xx.ravel(), n) / count
        image += (slope[labels, 0] * (yy - cy[labels]) + slope[labels, 1] * (xx - cx[labels]))
        f["relief"] = round(amount, 3)
    if chance(config.p_twins):
        image, twin_lines = _twins(image, labels, rng, u(config.twin_fraction), diameter,
                                   max(contrast, 0.08), yy, xx)
        f["twins"] = True
    else:
        twin_lines = None
    if chance(config.p_texture):
        amount, scale = u(config.texture), u(config.texture_scale)
        image += amount * _smooth_noise((h, w), scale, rng)
        f["texture"] = round(amount, 3)
    # Drawn only when possible, so looks from configs without mottling stay as they were.
    if config.p_mottling > 0 and chance(config.p_mottling):
        amount, scale = u(config.mottling), u(config.mottling_scale) * diameter
        if polarity == "none":  # the grains must stay the larger contrast, or no truth shows
            amount = min(amount, 0.75 * contrast)
        image = _mottling(image, rng, amount, scale)
        f["mottling"] = round(amount, 3)

    # the boundary line
    if polarity != "none":
        width = min(u(config.line_width), max(1.0, diameter / 4))
        strength = u(config.line_strength)
        line = np.clip(width / 2 + 0.5 - dist, 0, 1)
        if chance(config.p_fading):  # some stretches of boundary barely etched
            fade = np.clip(0.5 + 0.9 * _smooth_noise((h, w), diameter, rng), 0, 1)
            line = line * fade
            f["fading"] = True
        target = 0.03 if polarity == "dark" else 0.97
        image += (target - image) * line * strength
        if twin_lines is not None and chance(0.5):  # twin edges drawn faintly, like etched
            image += (target - image) * twin_lines * strength * 0.6
        f.update(line_width=round(width, 2), line_strength=round(strength, 3))

    boundary = dist < config.truth_width + 0.5

    for kind, p in (("boundary", config.p_boundary_particles),
                    ("interior", config.p_interior_particles)):
        if chance(p):
            places = boundary if kind == "boundary" else dist > 2
            image = _particles(image, places, rng, u(config.particle_fraction),
                               config.particle_radius, diameter)
            f[f"{kind}_particles"] = True
    if chance(config.p_scratches):
        k = int(rng.integers(config.scratches[0], config.scratches[1] + 1))
        image = _scratches(image, k, rng, yy, xx, config.scratch_width)
        f["scratches"] = k
    if chance(config.p_dust):
        image = _dust(image, rng)
        f["dust"] = True

    # imaging
    amount = u(config.illumination)
    if amount > 0:
        angle = rng.uniform(0, 2 * np.pi)
        ramp = (np.cos(angle) * xx + np.sin(angle) * yy) / max(h, w)
        image *= 1 + amount * (ramp - ramp.mean())
    amount = u(config.vignetting)
    if amount > 0:
        r2 = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2) / ((h / 2) ** 2 + (w / 2) ** 2)
        image *= 1 - amount * r2
    if chance(config.p_colour):
        image = _tint(image, labels, rng)
        f["colour"] = True
    sigma = u(config.blur)
    if sigma > 0.2:
        image = ndi.gaussian_filter(image, sigma)
    if chance(config.p_scan_lines):
        amount = u(config.scan_lines)
        image = image + amount * rng.standard_normal((h, 1)).astype(np.float32)
        # lines drawn a little early or late: the structure moves with them, truth too
        shift = np.round(rng.standard_normal(h) * amount * 20).astype(int)
        rows = np.arange(h)[:, None], np.clip(np.arange(w)[None] - shift[:, None], 0, w - 1)
        image, boundary, labels = image[rows], boundary[rows], labels[rows]
        f["scan_lines"] = round(amount, 3)
    if chance(config.p_shot_noise):
        photons = u(config.photons)
        image = rng.poisson(np.clip(image, 0, None) * photons).astype(np.float32) / photons
        f["photons"] = round(photons, 1)
    sd = u(config.noise)
    image = image + sd * rng.standard_normal((h, w)).astype(np.float32)
    image = np.clip(image, 0, 1)
    if chance(config.p_jpeg):
        quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
        image = _jpeg(image, quality)
        f["jpeg_quality"] = quality
    if chance(config.p_16bit):
        out = np.round(image * 65535).astype(np.uint16)
    else:
        out = np.round(image * 255).astype(np.uint8)
    f["noise"] = round(sd, 3)
    f["blur"] = round(sigma, 2)
    return Painted(out, boundary, labels, f)


def _smooth_noise(shape, scale: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian random field with unit std and correlation length ``scale`` px."""
    field = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), max(scale, 0.5))
    return field / (field.std() + 1e-6)


def _mottling(image, rng, amount: float, size: float) -> np.ndarray:
    """Patches of their own brightness, blind to the grains (uneven etching, stain, tint
    etchants' blotches): each patch is a blob of a smooth random field with about ``size``
    px across, shifted by its own amount (std ``amount``), with a soft edge."""
    field = _smooth_noise(image.shape, max(size / 4, 1.0), rng)
    level = rng.uniform(0.3, 1.0)  # covers about 16-38 % of the image
    patches, n = ndi.label(field > level)
    shift = np.zeros(n + 1, np.float32)
    shift[1:] = amount * rng.standard_normal(n)
    edge = np.clip((field - level) / 0.3, 0, 1)  # a ramp over a few px at the blob's rim
    return image + shift[patches] * edge


def _twins(image, labels, rng, fraction, diameter, contrast, yy, xx):
    """Straight bands across some grains with their own brightness (annealing twins)."""
    n = int(labels.max()) + 1
    has = rng.random(n) < fraction
    has[0] = False
    theta = rng.uniform(0, np.pi, n)
    count = np.maximum(np.bincount(labels.ravel(), minlength=n), 1)
    cy = np.bincount(labels.ravel(), yy.ravel(), n) / count
    cx = np.bincount(labels.ravel(), xx.ravel(), n) / count
    offset = rng.uniform(-0.3, 0.3, n) * diameter
    width = rng.uniform(0.1, 0.35, n) * diameter
    proj = ((xx - cx[labels]) * np.cos(theta)[labels] + (yy - cy[labels]) * np.sin(theta)[labels]
            - offset[labels])
    half = width[labels] / 2
    band = has[labels] & (np.abs(proj) < half)
    step = (contrast * rng.standard_normal(n) + np.sign(rng.standard_normal(n)) * contrast)
    image = image + band * step[labels].astype(np.float32)
    edge = has[labels] & (np.abs(np.abs(proj) - half) < 0.75)
    return image, edge.astype(np.float32)


def _particles(image, places, rng, fraction, radius_range, diameter):
    """Round particles (second phase, pits) at random pixels of ``places``."""
    h, w = image.shape
    r_hi = min(radius_range[1], max(radius_range[0], diameter / 6))
    mean_area = np.pi * ((radius_range[0] + r_hi) / 2) ** 2
    ys, xs = np.nonzero(places)
    if len(ys) == 0:
        return image
    n = int(min(len(ys), max(1, fraction * h * w / mean_area)))
    pick = rng.choice(len(ys), n, replace=False)
    bright = rng.random() < 0.5
    value = rng.uniform(0.85, 1.0) if bright else rng.uniform(0.0, 0.15)
    layer = np.zeros((h, w), np.float32)
    draw_disks(layer, ys[pick], xs[pick], rng.uniform(radius_range[0], r_hi, n))
    return image + (value - image) * layer


def draw_disks(layer: np.ndarray, ys, xs, radii) -> None:
    """Raise ``layer`` (float, in place) to 1 inside each disk, with a 1 px soft edge."""
    h, w = layer.shape
    for y, x, r in zip(ys, xs, radii, strict=True):
        y0, y1 = max(0, int(y - r - 1)), min(h, int(y + r + 2))
        x0, x1 = max(0, int(x - r - 1)), min(w, int(x + r + 2))
        gy, gx = np.ogrid[y0:y1, x0:x1]
        disk = np.clip(r + 0.5 - np.sqrt((gy - y) ** 2 + (gx - x) ** 2), 0, 1)
        layer[y0:y1, x0:x1] = np.maximum(layer[y0:y1, x0:x1], disk)


def _scratches(image, k, rng, yy, xx, half_width=(0.5, 2.0)):
    h, w = image.shape
    for _ in range(k):
        angle = rng.uniform(0, np.pi)
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        bend = rng.normal(0, 0.3) / max(h, w)
        along = (xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)
        across = -(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle) - bend * along**2
        width = rng.uniform(*half_width)
        profile = np.clip(width + 0.5 - np.abs(across), 0, 1)
        image = image + profile * rng.choice([-1, 1]) * rng.uniform(0.1, 0.4)
    return image


def _dust(image, rng):
    h, w = image.shape
    layer = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(1, 4))):
        y, x = rng.integers(0, h), rng.integers(0, w)
        layer[y, x] = 1
    layer = ndi.gaussian_filter(layer, rng.uniform(4, 15))
    return image - 0.3 * layer / (layer.max() + 1e-6)


def _tint(image, labels, rng):
    """Tint etching: each grain takes a colour; the grey image is what a colour micrograph
    becomes on reading (its strongest colour contrast, see normalise.colour_to_grey)."""
    from ..normalise import colour_to_grey

    n = int(labels.max()) + 1
    hue = rng.uniform(0, 1, n)
    rgb = 0.5 + 0.5 * np.cos(2 * np.pi * (hue[:, None] + np.array([0, 1 / 3, 2 / 3])))
    colour = rgb[labels].astype(np.float32) * image[..., None]
    grey = colour_to_grey(colour)
    lo, hi = np.percentile(grey, [0.5, 99.5])
    return np.clip((grey - lo) / max(hi - lo, 1e-6), 0, 1) * 0.8 + 0.1


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    import imageio.v3 as iio

    data = iio.imwrite("<bytes>", (image * 255).astype(np.uint8), extension=".jpg",
                       quality=quality)
    return iio.imread(io.BytesIO(data)).astype(np.float32) / 255


def gallery_factors() -> dict[str, dict]:
    """One config per factor with that factor forced on (for the docs' gallery)."""
    plain = dict(polarity=(1, 0, 0), p_fading=0, p_texture=0, p_mottling=0, p_relief=0,
                 p_twins=0, p_boundary_particles=0, p_interior_particles=0, p_scratches=0,
                 p_dust=0, p_shot_noise=0, p_scan_lines=0, p_jpeg=0, p_16bit=0, p_colour=0,
                 illumination=(0, 0), vignetting=(0, 0), blur=(0.5, 0.5), noise=(0.02, 0.02),
                 line_width=(2, 2), line_strength=(0.8, 0.8), grain_contrast=(0.1, 0.1))
    return {
        "plain dark lines": plain,
        "bright lines": {**plain, "polarity": (0, 1, 0)},
        "no line (step edges)": {**plain, "polarity": (0, 0, 1), "grain_contrast": (0.2, 0.2)},
        "wide, fading lines": {**plain, "line_width": (8, 8), "p_fading": 1},
        "texture and relief": {**plain, "p_texture": 1, "p_relief": 1},
        "etch mottling": {**plain, "p_mottling": 1, "mottling": (0.15, 0.15),
                          "mottling_scale": (0.3, 0.3)},
        "annealing twins": {**plain, "p_twins": 1, "twin_fraction": (0.5, 0.5)},
        "particles on boundaries": {**plain, "p_boundary_particles": 1,
                                    "particle_fraction": (0.02, 0.02)},
        "particles, pits, scratches": {**plain, "p_interior_particles": 1, "p_scratches": 1,
                                       "p_dust": 1},
        "SEM: shot noise, scan lines": {**plain, "p_shot_noise": 1, "photons": (15, 15),
                                        "p_scan_lines": 1},
        "light, vignetting, blur, JPEG": {**plain, "illumination": (0.4, 0.4),
                                          "vignetting": (0.4, 0.4), "blur": (1.5, 1.5),
                                          "p_jpeg": 1, "jpeg_quality": (30, 30)},
        "tint etching (colour -> grey)": {**plain, "polarity": (0, 0, 1), "p_colour": 1,
                                          "grain_contrast": (0.1, 0.1)},
    }
