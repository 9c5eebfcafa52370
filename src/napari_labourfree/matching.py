"""Simulations matched to the user's images: their grain size, found without labels, and
the growth parameters that reproduce it.

A segmenter trained on 55 px grains draws 55 px grains over anything, and a style model
shown 150 px real grains beside 55 px simulated ones has to invent structure to match
them; so the simulations take the real images' mean grain diameter. The estimate comes
from the built-in default's own segmentation at the scale where its views agree (see
:mod:`.segmenter.scale`), the median over the images.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

# Structures keep at least this many grains, so a crop still shows a network of them;
# larger grains get larger structures (up to MAX_SIZE) and fewer of them.
MIN_GRAINS = 40
SIZE_STEP = 128
MAX_SIZE = 1024
# Simulated grains stay in this range (px): smaller ones are mostly diffuse interface
# (about 5 px wide) and vanish within the growth; the segmenter rescales real images of
# grains outside it into its range anyway.
DIAMETER_LIMITS = (24.0, 250.0)
# Coefficient of variation of the grain diameters after a fast-preset growth (144 grains in
# 512 px, one Lloyd iteration) for seed-density spreads 0, 0.5, 1, 1.5: measured once,
# 3 structures each (docs/results.md). Real structures reach 0.4-0.7.
CV_FOR_SPREAD = ((0.0, 0.22), (0.5, 0.35), (1.0, 0.50), (1.5, 0.65))
MIN_GRAINS_FOR_CV = 20
MATCHED_REGULARITY = 1  # one Lloyd iteration: no slivers, sizes still spread


@dataclass(frozen=True)
class GrainSize:
    """The real images' mean grain diameter (px) and where it came from."""

    diameter: float | None
    source: str  # 'auto' (estimated by the built-in default), 'user' or 'preset'
    per_image: dict[str, float | None]
    cv: float | None = None  # spread of the diameters: their std over their mean

    def to_dict(self) -> dict:
        return {"diameter_px": self.diameter, "source": self.source,
                "per_image_px": self.per_image,
                "cv": None if self.cv is None else round(self.cv, 3)}


def check_grain_size(value) -> str | float:
    """'auto', 'preset' or a mean grain diameter in px (finite, 2 to 10000)."""
    if value in ("auto", "preset"):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"grain size must be 'auto', 'preset' or a diameter in px, "
                         f"not {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number) or not 2 <= number <= 10_000:
        raise ValueError(f"grain size must be a diameter between 2 and 10000 px, "
                         f"not {value!r}")
    return number


def estimate_from_quality(qualities: dict[str, dict | None]) -> GrainSize:
    """The median of the per-image grain-size estimates (``quality['grain_size_px']`` of
    the default's segmentations, by image name); None when no image gave one."""
    per_image = {name: (q or {}).get("grain_size_px") for name, q in qualities.items()}
    found = [d for d in per_image.values() if d]
    return GrainSize(statistics.median(found) if found else None, "auto", per_image)


def diameter_cv(diameters) -> float | None:
    """Std over mean of the grain diameters, None for fewer than MIN_GRAINS_FOR_CV."""
    import numpy as np

    d = np.asarray(diameters, float)
    d = d[np.isfinite(d) & (d > 0)]
    return float(d.std() / d.mean()) if len(d) >= MIN_GRAINS_FOR_CV else None


def spread_for(cv: float | None) -> float:
    """The seed-density spread whose structures have diameters of this CV (0 to 1.5)."""
    import numpy as np

    if cv is None:
        return 0.0
    spreads, cvs = zip(*CV_FOR_SPREAD, strict=True)
    return float(np.interp(cv, cvs, spreads))


def simulated_diameter(size: int, grains: int) -> float:
    """Equivalent-circle diameter (px) of the mean grain of ``grains`` in ``size``^2 px
    (the phase field keeps nearly all of Lloyd-relaxed seeds over a fast-preset growth)."""
    return math.sqrt(4 * size * size / (grains * math.pi))


def matched_growth(diameter: float, size: int = 512, grains: int = 112,
                   count: int = 40) -> tuple[int, int, int]:
    """(size, grains, count) of structures whose mean grain diameter is ``diameter``
    (clipped to DIAMETER_LIMITS), keeping the preset's total pixels.

    >>> matched_growth(54.6)
    (512, 112, 40)
    >>> matched_growth(150)
    (896, 45, 13)
    """
    d = min(max(diameter, DIAMETER_LIMITS[0]), DIAMETER_LIMITS[1])
    side = d * math.sqrt(MIN_GRAINS * math.pi / 4)
    new_size = min(MAX_SIZE, max(size, SIZE_STEP * math.ceil(side / SIZE_STEP)))
    new_grains = max(2, round(4 * new_size * new_size / (math.pi * d * d)))
    new_count = max(8, round(count * size * size / (new_size * new_size)))
    return new_size, new_grains, new_count
