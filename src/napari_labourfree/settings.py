"""Shared plumbing for the settings dataclasses and the trainers' output files."""

from __future__ import annotations

import math
from dataclasses import fields, replace
from pathlib import Path


def require(ok: bool, message: str) -> None:
    """Raise ValueError(message) unless ``ok`` (parameter validation reads as a list)."""
    if not ok:
        raise ValueError(message)


class TrainingDiverged(ValueError):
    """A training loss or weight became NaN or infinite."""


def diverged(where: str, out: Path) -> TrainingDiverged:
    """The error for a training that went non-finite at ``where``: says what is on disk."""
    kept = (f"{out} keeps its last finite checkpoint" if Path(out).exists()
            else f"nothing was written to {out}")
    return TrainingDiverged(f"training diverged at {where}: the loss or the weights became "
                            f"NaN or infinite; {kept}. Train again with a lower learning "
                            "rate (or smaller loss weights)")


def all_finite(modules) -> bool:
    """Whether every parameter of the torch modules is finite."""
    import torch

    return all(bool(torch.isfinite(p).all()) for m in modules for p in m.parameters())


def _check_finite(settings) -> None:
    for f in fields(settings):
        value = getattr(settings, f.name)
        numbers = value if isinstance(value, tuple) else (value,)
        if any(isinstance(v, float) and not math.isfinite(v) for v in numbers):
            raise ValueError(f"{f.name.replace('_', ' ')} must be a finite number, not {value!r}")


def from_preset(cls, presets: dict, preset: str, overrides: dict, what: str):
    """``cls(preset=...)`` with the preset's values, then ``overrides`` (None ignored),
    validated. Unknown presets or settings are a ValueError naming them."""
    if preset not in presets:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(presets)}")
    unknown = set(overrides) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown {what} settings: {', '.join(sorted(unknown))}")
    values = {**presets[preset], **{k: v for k, v in overrides.items() if v is not None}}
    settings = replace(cls(preset=preset), **values)
    _check_finite(settings)
    return settings.validate()


def check_weights_output(out: Path | str, resume: bool, overwrite: bool) -> Path:
    """The weights path a training job may write: a .safetensors file that is new, or one
    the user asked to resume or to overwrite."""
    out = Path(out)
    if out.suffix != ".safetensors":
        raise ValueError(f"weights go in a .safetensors file, not {out.name}")
    if out.exists() and not (resume or overwrite):
        raise FileExistsError(f"{out} exists; use resume to continue it or overwrite to "
                              "start again")
    if resume and not out.exists():
        raise FileNotFoundError(f"cannot resume: {out} does not exist")
    _check_writable(out.parent)  # now, not after an hour of training
    return out


def _check_writable(folder: Path) -> None:
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".labourfree-write-test-"):
            pass
    except OSError as err:
        raise ValueError(f"cannot write into {folder}: {err.strerror or err}") from None
