"""The built-in default segmenter, shipped inside the package."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

WEIGHTS = "default_segmenter.safetensors"


def default_weights() -> Path:
    """Path of the shipped default weights; FileNotFoundError when this build has none."""
    path = Path(str(resources.files("napari_labourfree") / "models" / WEIGHTS))
    if not path.is_file():
        raise FileNotFoundError(
            "this version ships no built-in default segmenter yet; train one with "
            "`labourfree train-segmenter` and pass it with --model WEIGHTS")
    return path


def resolve_weights(model: str | Path) -> Path:
    """'default' -> the shipped weights; anything else is a weights file that must exist."""
    if str(model) == "default":
        return default_weights()
    path = Path(model)
    if not path.is_file():
        raise FileNotFoundError(f"no such weights file: {path}")
    return path
