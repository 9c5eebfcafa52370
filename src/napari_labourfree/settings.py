"""Shared plumbing for the settings dataclasses and the trainers' output files."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path


def require(ok: bool, message: str) -> None:
    """Raise ValueError(message) unless ``ok`` (parameter validation reads as a list)."""
    if not ok:
        raise ValueError(message)


def from_preset(cls, presets: dict, preset: str, overrides: dict, what: str):
    """``cls(preset=...)`` with the preset's values, then ``overrides`` (None ignored),
    validated. Unknown presets or settings are a ValueError naming them."""
    if preset not in presets:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(presets)}")
    unknown = set(overrides) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"unknown {what} settings: {', '.join(sorted(unknown))}")
    values = {**presets[preset], **{k: v for k, v in overrides.items() if v is not None}}
    return replace(cls(preset=preset), **values).validate()


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
    return out
