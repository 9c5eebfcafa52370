"""The software versions recorded beside every result (meta.json, summaries, weights)."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

from . import __version__

_LIBRARIES = ("numpy", "scipy", "scikit-image", "torch")


def versions() -> dict[str, str]:
    """napari-labourfree, Python, and the libraries whose algorithms shape the numbers."""
    found = {"napari-labourfree": __version__, "python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            pass
    return found
