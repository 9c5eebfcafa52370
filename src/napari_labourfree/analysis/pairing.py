"""Pairing prediction and truth files by image name (used by `evaluate` and the pipeline).

'steel_optical_boundaries.tif' and 'steel_optical_labels.tif' belong to image
'steel_optical': role suffixes are stripped to find the image a file belongs to.
"""

from __future__ import annotations

from pathlib import Path

# Suffixes that name what a file holds, not which image it belongs to.
ROLE_SUFFIXES = ("_boundaries", "_boundary", "_masks", "_mask", "_labels", "_grains",
                 "_prediction", "_pred", "_truth", "_gt")


def image_key(path: Path) -> str:
    """'steel_optical_boundaries.tif' -> 'steel_optical'."""
    stem = path.stem
    stripped = True
    while stripped:
        stripped = False
        for suffix in ROLE_SUFFIXES:
            if stem.lower().endswith(suffix) and len(stem) > len(suffix):
                stem, stripped = stem[: -len(suffix)], True
    return stem


def group_by_image(paths: list[Path]) -> dict[str, dict[str, Path]]:
    """{key: {"labels": path, "boundaries": path}} with whichever of the two exist."""
    groups: dict[str, dict[str, Path]] = {}
    for path in paths:
        role = "labels" if path.stem.lower().endswith(("_labels", "_grains")) else "boundaries"
        slot = groups.setdefault(image_key(path), {})
        if role in slot:
            raise ValueError(f"{slot[role].name} and {path.name} both look like the "
                             f"{role} of image {image_key(path)!r}")
        slot[role] = path
    return groups


def load_side(files: dict[str, Path], threshold: float | None = None):
    """(boundary mask, labels or None) from one image's files."""
    from ..io.images import read_image
    from .instances import boundaries_from_image

    boundary = labels = None
    if "boundaries" in files:
        image = read_image(files["boundaries"], grey=False).data
        boundary, labels, _ = boundaries_from_image(image, threshold=threshold)
    if "labels" in files:
        image = read_image(files["labels"], grey=False).data
        mask, labels, _ = boundaries_from_image(image, "labels")
        boundary = mask if boundary is None else boundary
    return boundary, labels
