"""The appearance engine: phase-field grain maps painted as micrographs of many kinds.

Training data is physics plus appearance: the simulation gives exact grain maps, and the
engine paints them with wide, documented variation (boundary polarity and width, grain size,
interior texture, twins, particles, scratches, noise models, colour). A generalist
segmenter trained on it sees no real image at all.
"""

from .config import AppearanceConfig
from .dataset import render_dataset
from .geometry import mean_diameter, periodic_view
from .paint import Painted, interface_distance, paint

__all__ = ["AppearanceConfig", "Painted", "interface_distance", "mean_diameter", "paint",
           "periodic_view", "render_dataset"]
