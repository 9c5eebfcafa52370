"""Output folders of the data-set jobs (simulate, paint, synthesize)."""

from __future__ import annotations

from pathlib import Path

SUBDIRS = ("images", "masks", "labels", "snapshots")


def prepare_output_dir(out: Path, overwrite: bool = False, subdirs=SUBDIRS,
                       prefix: str = "structure_") -> Path:
    """Make ``out`` ready; refuse a non-empty folder unless ``overwrite``.

    With ``overwrite`` only what an earlier run wrote there (``prefix*.tif`` in ``subdirs``
    and meta.json) is removed; anything else the user keeps in the folder is left alone.
    The first three ``subdirs`` are created.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output {out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ValueError(
                f"output folder {out} is not empty; choose a new folder or allow overwriting "
                "to replace an earlier run there")
        for sub in subdirs:
            for old in (out / sub).glob(f"{prefix}*.tif"):
                old.unlink()
        (out / "meta.json").unlink(missing_ok=True)
    for sub in subdirs[:3]:
        (out / sub).mkdir(parents=True, exist_ok=True)
    return out
