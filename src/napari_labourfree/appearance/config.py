"""Every factor of the appearance engine, with its range and how often it is used.

One frozen object lists them all, so a data set records exactly what it was drawn from
(``to_dict`` goes into meta.json) and a stress test can move one factor outside its
training range (``dataclasses.replace``). Ranges are ``(low, high)``; ``p_*`` fields are
the probability that an image shows that factor at all. Intensities are on a 0-1 scale;
lengths are output pixels.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from ..settings import require

POLARITIES = ("dark", "bright", "none")


@dataclass(frozen=True)
class AppearanceConfig:
    # --- geometry (the phase-field structure, rescaled) ---
    grain_diameter: tuple[float, float] = (12.0, 160.0)  # mean grain diameter, log-uniform
    p_elongation: float = 0.0                        # grains stretched along one direction
    elongation: tuple[float, float] = (1.2, 4.0)     # length / width, area kept
    p_waviness: float = 0.0                          # boundaries bent by a smooth warp
    waviness: tuple[float, float] = (0.03, 0.12)     # how far, in grain diameters
    # --- boundaries ---
    polarity: tuple[float, float, float] = (0.45, 0.3, 0.25)  # weights of dark/bright/none
    line_width: tuple[float, float] = (1.0, 16.0)    # drawn line width (capped at D/4)
    line_strength: tuple[float, float] = (0.2, 1.0)  # how far a line goes to black/white
    p_fading: float = 0.5                            # lines fade along a smooth random field
    truth_width: float = 1.0                         # truth = pixels within this of the line
    # --- grains ---
    grain_contrast: tuple[float, float] = (0.0, 0.3)  # std of per-grain brightness
    min_contrast_without_line: float = 0.08          # 'none' polarity needs some contrast
    p_texture: float = 0.6                           # smooth noise inside grains
    texture: tuple[float, float] = (0.02, 0.25)      # its amplitude
    texture_scale: tuple[float, float] = (1.0, 12.0)  # its correlation length
    p_mottling: float = 0.0                          # etch mottling (off: see results.md)
    mottling: tuple[float, float] = (0.03, 0.2)      # std of the patches' brightness shift
    mottling_scale: tuple[float, float] = (0.1, 0.5)  # patch size, in grain diameters
    p_relief: float = 0.4                            # per-grain brightness gradient (etch)
    relief: tuple[float, float] = (0.05, 0.3)        # change across one grain diameter
    p_twins: float = 0.3                             # annealing twins (not boundaries)
    twin_fraction: tuple[float, float] = (0.1, 0.5)  # share of grains with a twin band
    # --- things that are not boundaries ---
    p_boundary_particles: float = 0.3                # second phase sitting on boundaries
    p_interior_particles: float = 0.3                # particles / pits inside grains
    particle_fraction: tuple[float, float] = (0.002, 0.08)  # area fraction
    particle_radius: tuple[float, float] = (1.0, 10.0)  # capped at D/6
    p_scratches: float = 0.3
    scratches: tuple[int, int] = (1, 8)
    scratch_width: tuple[float, float] = (0.5, 4.0)  # half-width
    p_dust: float = 0.15
    # --- imaging ---
    illumination: tuple[float, float] = (0.0, 0.4)   # linear gradient across the field
    vignetting: tuple[float, float] = (0.0, 0.4)     # darker corners
    blur: tuple[float, float] = (0.0, 1.8)           # Gaussian sigma (px)
    noise: tuple[float, float] = (0.0, 0.18)         # Gaussian std
    p_shot_noise: float = 0.3
    photons: tuple[float, float] = (5.0, 300.0)      # Poisson: photons at full brightness
    p_scan_lines: float = 0.25                       # SEM: per-line offset and jitter
    scan_lines: tuple[float, float] = (0.01, 0.06)
    p_jpeg: float = 0.2
    jpeg_quality: tuple[int, int] = (30, 90)
    p_16bit: float = 0.2
    p_colour: float = 0.2                            # tint etching: per-grain hue, then grey

    def validate(self) -> AppearanceConfig:
        for f in fields(self):
            value = getattr(self, f.name)
            values = value if isinstance(value, tuple) else (value,)
            require(all(isinstance(v, (int, float)) and math.isfinite(v) and v >= 0
                        for v in values),
                    f"appearance {f.name} must hold finite numbers >= 0, not {value!r}")
            if f.name.startswith("p_"):
                require(value <= 1, f"appearance {f.name} is a probability in [0, 1], "
                                    f"not {value}")
            elif isinstance(value, tuple) and f.name != "polarity":
                require(len(value) == 2 and value[0] <= value[1],
                        f"appearance {f.name} must be (low, high) with low <= high, not {value}")
        require(len(self.polarity) == 3 and sum(self.polarity) > 0,
                "appearance polarity needs three weights (dark, bright, none), not all 0")
        require(self.grain_diameter[0] >= 4, "appearance grain_diameter must start at >= 4 px")
        require(1 <= self.elongation[0] and self.elongation[1] <= 10,
                "appearance elongation (length / width) must lie in 1..10")
        require(self.waviness[1] <= 0.25, "appearance waviness must stay <= 0.25 grain "
                                          "diameters (more folds grains into pieces)")
        require(self.line_width[0] >= 0.5, "appearance line_width must start at >= 0.5 px")
        require(self.jpeg_quality[1] <= 100, "appearance jpeg_quality lies in 0..100")
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> AppearanceConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(values) - names
        require(not unknown, f"unknown appearance settings: {', '.join(sorted(unknown))}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v
                      for k, v in values.items()}).validate()
