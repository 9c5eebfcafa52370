"""Physical pixel size: a value, a unit, and where it came from."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Spellings seen in ImageJ, OME, Zeiss and user input -> the ASCII name used in column
# headers (area_um2) and the length of one unit in millimetres (for ASTM E112).
_UNITS = {
    "nm": ("nm", 1e-6), "nanometer": ("nm", 1e-6), "nanometre": ("nm", 1e-6),
    "um": ("um", 1e-3), "µm": ("um", 1e-3), "μm": ("um", 1e-3), "\\u00b5m": ("um", 1e-3),
    "micron": ("um", 1e-3), "microns": ("um", 1e-3), "micrometer": ("um", 1e-3),
    "micrometre": ("um", 1e-3),
    "mm": ("mm", 1.0), "millimeter": ("mm", 1.0), "millimetre": ("mm", 1.0),
    "cm": ("cm", 10.0), "centimeter": ("cm", 10.0), "centimetre": ("cm", 10.0),
    "m": ("m", 1e3), "meter": ("m", 1e3), "metre": ("m", 1e3),
    "pm": ("pm", 1e-9), "a": ("A", 1e-7), "å": ("A", 1e-7), "angstrom": ("A", 1e-7),
    "in": ("in", 25.4), "inch": ("in", 25.4),
}
UNIT_CHOICES = ("nm", "um", "mm")
MIN_PIXEL_MM, MAX_PIXEL_MM = 1e-9, 10.0  # 1 pm to 10 mm: anything else is a typo


def normalise_unit(unit: str) -> str:
    """'µm', 'micron', 'um' -> 'um'; raises ValueError for a unit that is not a length."""
    key = str(unit).strip().lower()
    if key not in _UNITS:
        raise ValueError(f"unknown length unit {unit!r}; use one of nm, um, mm")
    return _UNITS[key][0]


@dataclass(frozen=True)
class PixelSize:
    """The side of one (square) pixel: ``value`` ``unit`` per pixel.

    ``source`` says where it came from (ImageJ, OME, FEI, Zeiss, user, ...).
    """

    value: float
    unit: str = "um"
    source: str = "user"

    def __post_init__(self):
        value = self.value
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not math.isfinite(value) or value <= 0:
            raise ValueError(f"pixel size must be a positive number, not {value!r}")
        object.__setattr__(self, "value", float(value))
        object.__setattr__(self, "unit", normalise_unit(self.unit))
        if not MIN_PIXEL_MM <= self.mm <= MAX_PIXEL_MM:
            raise ValueError(f"pixel size {self.value:g} {self.unit} is out of range: a pixel "
                             "lies between 1 pm (electron microscopes) and 10 mm (photographs)")

    @property
    def mm(self) -> float:
        """The pixel size in millimetres."""
        return self.value * _UNITS[self.unit.lower()][1]

    def as_dict(self) -> dict:
        return {"value": self.value, "unit": self.unit, "source": self.source}

    def __str__(self) -> str:
        return f"{self.value:.6g} {self.unit}/px"
