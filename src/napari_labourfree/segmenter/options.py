"""One set of segmentation options, shared by the Python API, the CLI, the widget, batches
and the pipeline, with its defaults and its checks in one place."""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields, replace

from ..settings import require

INSTANCE_METHODS = ("auto", "watershed", "components")
PRECISIONS = ("float32", "bfloat16")


@dataclass(frozen=True)
class SegmentOptions:
    """How a micrograph is turned into grains.

    threshold: boundary probability cut; None = the one stored in the model.
    instances: 'watershed' (seeds from the model's distance map, robust to gaps in the
        boundaries), 'components' (connected regions between thresholded boundaries), or
        'auto' (watershed when the model has a distance map).
    seed_threshold: distance-map level (0-1) above which a pixel is a grain core.
    min_evidence: with 'watershed', neighbouring grains whose shared line has a mean
        boundary probability below this are merged (a core that broke in two); None =
        half the threshold, 0 = never merge.
    min_area: grains smaller than this (px) merge into their neighbours.
    close_gaps: with 'components', split grains joined through gaps (h-maxima, px).
    grain_size: the expected mean grain diameter in px, 'auto' to estimate it, or 'off'
        to segment at the image's own scale. The image is rescaled so its grains match the
        sizes the model was trained on.
    tile, overlap: tiled inference (px). tta: average the 8 flips/turns.
    precision: the network's arithmetic on a CPU. 'float32' (default), or 'bfloat16':
        about 2.6x faster on CPUs with AVX-512 BF16 (or AMX), but the probability moves
        by up to 0.03 and a few grains in a thousand change, so it is not the default.
        (On CUDA the network always runs in bfloat16 autocast.)
    """

    threshold: float | None = None
    instances: str = "auto"
    seed_threshold: float = 0.5
    min_evidence: float | None = None
    min_area: int = 16
    close_gaps: float = 0.0
    grain_size: float | str = "auto"
    tile: int = 512
    overlap: int = 64
    tta: bool = False
    precision: str = "float32"

    def validate(self) -> SegmentOptions:
        t = self.threshold
        require(t is None or (_number(t) and 0 < t < 1),
                f"threshold must lie strictly between 0 and 1, not {t!r}")
        require(self.instances in INSTANCE_METHODS,
                f"instances must be one of {', '.join(INSTANCE_METHODS)}, not {self.instances!r}")
        require(_number(self.seed_threshold) and 0 < self.seed_threshold < 1,
                f"seed_threshold must lie strictly between 0 and 1, not {self.seed_threshold!r}")
        e = self.min_evidence
        require(e is None or (_number(e) and 0 <= e < 1),
                f"min_evidence must lie in [0, 1), not {e!r}")
        require(_whole(self.min_area) and self.min_area >= 0, f"min_area must be a whole number >= 0, not "
                f"{self.min_area!r}")
        require(_number(self.close_gaps) and 0 <= self.close_gaps <= 1000,
                f"close_gaps must lie in 0..1000 px, not {self.close_gaps!r}")
        g = self.grain_size
        require(g in ("auto", "off") or (_number(g) and 2 <= g <= 100_000),
                f"grain_size must be 'auto', 'off' or a diameter of 2-100000 px, not {g!r}")
        require(_whole(self.tile) and 32 <= self.tile <= 8192,
                f"tile must be a whole number of 32-8192 px, not {self.tile!r}")
        require(_whole(self.overlap) and 0 <= self.overlap < self.tile / 2,
                f"overlap must be a whole number of px from 0 to under half the tile "
                f"({self.tile}), not {self.overlap!r}")
        require(isinstance(self.tta, bool), f"tta must be True or False, not {self.tta!r}")
        require(self.precision in PRECISIONS,
                f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        return self

    def with_(self, **changes) -> SegmentOptions:
        """A copy with ``changes`` (None values ignored), validated; unknown names refused."""
        unknown = set(changes) - {f.name for f in fields(self)}
        require(not unknown, f"unknown segmentation options: {', '.join(sorted(unknown))}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None}).validate()

    def to_dict(self) -> dict:
        return asdict(self)


def parse_grain_size(text: str) -> float | str:
    """'auto', 'off' or a number of px (the CLI's and the widget's spelling)."""
    text = str(text).strip().lower()
    if text in ("auto", "off"):
        return text
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"grain size must be 'auto', 'off' or a diameter in px, not {text!r}")


def _whole(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))
