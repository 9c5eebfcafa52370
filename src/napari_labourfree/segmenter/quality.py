"""How far to trust a segmentation: signals computed from the model's own output.

None of these needs a ground truth. They flag the failures seen on unfamiliar
micrographs: boundaries that do not close into grains (a probability map full of gaps or
of lines inside grains), an uncertain probability map, a grain size outside what the
model was trained on, and too few grains to measure.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ..analysis.instances import boundaries_from_labels

MIN_CLOSED = 0.6
MAX_UNCERTAIN = 0.15
MIN_GRAINS = 5


NEAR = np.add.outer(np.arange(-2, 3) ** 2, np.arange(-2, 3) ** 2) <= 4  # a disk of radius 2


def _count_ids(labels: np.ndarray, rows: int = 512) -> int:
    """How many distinct ids > 0 ``labels`` holds (row block by row block: a few MB, where
    np.unique would copy and sort the whole image)."""
    seen = np.zeros(int(labels.max()) + 1, bool)
    for start in range(0, labels.shape[0], rows):
        seen[labels[start:start + rows]] = True
    return int(np.count_nonzero(seen[1:]))


def assess(probability: np.ndarray, labels: np.ndarray, threshold: float, scale,
           grain_range: tuple[float, float] | None) -> dict:
    """A dict of quality figures plus ``warnings`` (plain sentences, empty when fine).

    ``probability`` and ``labels`` are at the scale the network saw the image."""
    predicted = probability > threshold
    lines = boundaries_from_labels(labels) if labels.max() > 0 else np.zeros_like(predicted)
    if predicted.any() and lines.any():
        near = ndi.binary_dilation(lines, NEAR)  # within 2 px (Euclidean) of a grain's edge
        closed = float(np.count_nonzero(predicted & near) / np.count_nonzero(predicted))
    else:
        closed = 0.0 if predicted.any() else 1.0
    uncertain = np.count_nonzero((probability > 0.3) & (probability < 0.7)) / probability.size
    grains = _count_ids(labels)
    quality = {
        "grains": grains,
        "closed_boundary_fraction": round(closed, 4),
        "uncertain_fraction": round(float(uncertain), 4),
        "grain_size_px": None if scale.grain_size is None else round(scale.grain_size, 2),
        "scale": round(scale.scale, 4),
        "scale_source": scale.source,
        "scale_agreement": None if scale.agreement is None else round(scale.agreement, 3),
        "scale_estimates_px": {f"{s:g}": None if d is None else round(d, 2)
                               for s, d in scale.estimates.items()},
        "model_grain_range_px": None if grain_range is None else list(grain_range),
    }
    warnings = []
    if grains < MIN_GRAINS:
        warnings.append(f"only {grains} grain(s) found: the model may not recognise this "
                        "kind of image")
    if closed < MIN_CLOSED:
        warnings.append(f"only {closed:.0%} of the predicted boundaries close into grains")
    if uncertain > MAX_UNCERTAIN:
        warnings.append(f"{uncertain:.0%} of the pixels have an uncertain boundary "
                        "probability (0.3-0.7)")
    if scale.source == "auto" and scale.grain_size is None and grain_range is not None:
        warnings.append("no grain size could be estimated at any scale (the grains found "
                        "were outside the model's range, or too few to measure); segmented "
                        "at the image's own scale; set the grain size if you know it")
    if grain_range is not None and scale.grain_size is not None:
        seen = scale.grain_size * scale.scale
        if not grain_range[0] <= seen <= grain_range[1]:
            warnings.append(f"grains of about {scale.grain_size:.0f} px are outside the "
                            f"model's range ({grain_range[0]:.0f}-{grain_range[1]:.0f} px) "
                            "even after rescaling")
    if scale.agreement is not None and scale.agreement > 1.5:
        warnings.append(f"the grain-size estimates at two scales differ by "
                        f"{scale.agreement:.1f}x: the grain size is uncertain")
    quality["warnings"] = warnings
    return quality
