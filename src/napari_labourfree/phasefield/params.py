"""Parameters of one simulated structure (no torch here, so the CLI starts fast)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..settings import require

# Grains smaller than this (px) at the start vanish within a few steps: the diffuse
# interface is about 5 px wide at kappa = 1.
MIN_AREA_PER_GRAIN = 64
MIN_SIZE = 16
MAX_SPREAD = 3.0

@dataclass(frozen=True)
class GrowthParams:
    """Everything that defines one simulated structure apart from its random seed."""

    height: int = 512
    width: int = 512
    grains: int = 112
    steps: int = 1000
    dt: float = 0.1
    mobility: float = 1.0
    kappa: float = 1.0
    regularity: int = 5  # Lloyd iterations: 0 = random seeds, ~5+ = even grain areas
    spread: float = 0.0  # std of the log seed density: 0 = uniform, 1 = fine and coarse
    gap: int = 8  # px: bodies of grains that share a field are kept this far apart
    check_every: int = 50  # steps between grain-id tracking / recolouring checks
    mask_threshold: float = 0.8  # phi below this is grain boundary

    @property
    def dt_max(self) -> float:
        """Explicit-Euler stability limit: dt * L * (8 kappa + 4) <= 2."""
        return 2.0 / (self.mobility * (8.0 * self.kappa + 4.0))

    def validate(self) -> GrowthParams:
        """Raise ValueError naming the first bad parameter; return self when all are fine."""
        require(self.height >= MIN_SIZE and self.width >= MIN_SIZE,
             f"size {self.height}x{self.width} is too small; use at least {MIN_SIZE}x{MIN_SIZE} px")
        require(self.grains >= 2, f"grains must be at least 2 (got {self.grains})")
        area = self.height * self.width / self.grains
        require(area >= MIN_AREA_PER_GRAIN,
             f"{self.grains} grains do not fit in {self.height}x{self.width} px: each grain would "
             f"get {area:.0f} px, and grains need at least {MIN_AREA_PER_GRAIN} px; use at most "
             f"{self.height * self.width // MIN_AREA_PER_GRAIN} grains or a larger size")
        require(self.steps >= 0, f"steps must not be negative (got {self.steps})")
        require(self.kappa > 0, f"kappa must be positive (got {self.kappa})")
        require(self.mobility > 0, f"mobility L must be positive (got {self.mobility})")
        require(self.dt > 0, f"dt must be positive (got {self.dt})")
        require(self.dt <= self.dt_max,
             f"dt = {self.dt} is beyond the explicit stability limit {self.dt_max:.4g} for "
             f"L = {self.mobility}, kappa = {self.kappa}; use a smaller dt")
        require(self.regularity >= 0, f"regularity must not be negative (got {self.regularity})")
        require(math.isfinite(self.spread) and 0 <= self.spread <= MAX_SPREAD,
                f"spread must lie between 0 and {MAX_SPREAD} (got {self.spread})")
        require(self.gap >= 1, f"gap must be at least 1 px (got {self.gap})")
        require(self.check_every >= 1, f"check_every must be at least 1 (got {self.check_every})")
        require(0 < self.mask_threshold < 1, "mask_threshold must lie between 0 and 1")
        return self

    def to_dict(self) -> dict:
        return asdict(self)
