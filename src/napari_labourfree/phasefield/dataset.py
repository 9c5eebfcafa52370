"""Simulate a training set: N structures written as TIFFs plus a meta.json, as a job.

Layout (names the rest of the pipeline relies on)::

    DIR/images/structure_0000.tif   phi = sum eta^2, float32
    DIR/masks/structure_0000.tif    uint8, 255 = grain boundary
    DIR/labels/structure_0000.tif   grain ids (uint16), stable over time
    DIR/snapshots/structure_0000_{phi,labels}.tif   optional (T, H, W) growth sequences
    DIR/meta.json                   parameters, versions, per-structure grain counts and
                                mean grain diameters (grain_diameter: their range, px)

Every file is written atomically and meta.json is rewritten after each batch, so an
interrupted run leaves complete structures that meta.json describes.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from ..io.atomic import all_or_none, write_text
from ..io.folders import FolderLock, locked, prepare_output_dir
from ..io.tiff import write_tiff
from ..jobs import Job, Progress, relay
from ..provenance import versions
from .params import GrowthParams
from .solver import grow, initial_labels

SUBDIRS = ("images", "masks", "labels", "snapshots")


def structure_seed(seed: int, index: int) -> np.random.SeedSequence:
    """Seed of structure ``index``: the same whatever the count or batch size."""
    return np.random.SeedSequence([seed, index])


def default_batch_size(device: torch.device) -> int:
    """Structures grown at once: batching pays on a GPU, not on a CPU."""
    return 16 if device.type in ("cuda", "mps") else 1


def simulate_dataset(
    params: GrowthParams,
    count: int,
    out: Path,
    seed: int = 0,
    device: torch.device | str = "cpu",
    compile: bool | None = None,
    batch_size: int | None = None,
    snapshot_every: int = 0,
    overwrite: bool = False,
) -> Job[dict]:
    """Simulate ``count`` structures into ``out``; yields progress, returns the meta dict.

    Parameters and the folder are checked here, before the job starts, so bad input fails
    at once with a ValueError rather than inside a worker thread.
    """
    device = torch.device(device)
    batch_size = batch_size or default_batch_size(device)
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1 (got {batch_size})")
    out, lock = open_dataset(params, count, out, overwrite)
    return locked(_dataset_job(params, count, out, seed, device, compile, batch_size,
                               snapshot_every), lock)


def open_dataset(params: GrowthParams, count: int, out: Path, overwrite: bool
                 ) -> tuple[Path, FolderLock]:
    """Check the parameters and count, lock ``out`` and prepare its sub-folders."""
    params.validate()
    if count < 1:
        raise ValueError(f"count must be at least 1 (got {count})")
    lock = FolderLock(out, "simulate")
    try:
        out = prepare_output_dir(Path(out), overwrite, SUBDIRS)
    except BaseException:
        lock.release()
        raise
    return out, lock


def new_meta(params, count, seed, device, snapshot_every) -> dict:
    """meta.json of a data set before any structure is done."""
    return {
        "kind": "napari-labourfree phase-field data set",
        "parameters": params.to_dict(),
        "seed": seed,
        "count": count,
        "completed": 0,
        "complete": False,
        "device": str(device),
        "snapshot_every": snapshot_every,
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "structures": [],
    }


def record(meta: dict, entries: list[dict], out: Path) -> None:
    """Add finished structures' entries to ``meta`` (kept in index order) and rewrite
    meta.json, so an interrupted run leaves a meta.json that describes what is complete."""
    meta["structures"] = sorted(meta["structures"] + entries, key=lambda s: s["index"])
    diameters = [s["diameter_px"] for s in meta["structures"]]
    meta["grain_diameter"] = [min(diameters), max(diameters)]
    meta["completed"] = len(meta["structures"])
    meta["complete"] = meta["completed"] == meta["count"]
    write_text(Path(out) / "meta.json", json.dumps(meta, indent=2))


def write_structure(out: Path, index: int, result, k: int, labels0: np.ndarray,
                    params: GrowthParams) -> dict:
    """Write structure ``index`` (item ``k`` of a grown batch) and return its meta entry."""
    out = Path(out)
    name, stem = f"structure_{index:04d}.tif", f"structure_{index:04d}"
    files = [out / sub / name for sub in ("images", "masks", "labels")]
    files += [out / "snapshots" / f"{stem}_{kind}.tif" for kind in ("phi", "labels")
              if result.snapshots]
    with all_or_none(files):
        write_tiff(files[0], result.phi[k])
        write_tiff(files[1], result.mask[k])
        write_tiff(files[2], result.labels[k])
        if result.snapshots:
            meta_t = {"axes": "TYX", "steps": [s.step for s in result.snapshots]}
            write_tiff(files[3], np.stack([s.phi[k] for s in result.snapshots]),
                       metadata=meta_t)
            write_tiff(files[4], np.stack([s.labels[k] for s in result.snapshots]),
                       metadata=meta_t)
    count = result.grain_counts()[k]
    return {
        "name": name, "index": index,
        "grains_initial": len(np.unique(labels0[k])),
        "grains_final": count,
        # equivalent-circle diameter of the mean grain: the labels are periodic, so every
        # id is one whole grain
        "diameter_px": round(math.sqrt(4 * params.height * params.width
                                       / (max(count, 1) * math.pi)), 2),
        "boundary_fraction": float((result.mask[k] > 0).mean()),
        "fields": result.fields,
    }


def _dataset_job(params, count, out, seed, device, compile, batch_size, snapshot_every):
    meta = new_meta(params, count, seed, device, snapshot_every)
    write_text(out / "meta.json", json.dumps(meta, indent=2))
    total = count * params.steps
    for start in range(0, count, batch_size):
        indices = list(range(start, min(count, start + batch_size)))
        labels0 = initial_labels(params, [structure_seed(seed, i) for i in indices])
        n_batch = len(indices)
        result = yield from relay(
            grow(labels0, params, device, compile, snapshot_every),
            lambda event, start=start, n=n_batch: Progress(
                start * params.steps + event.step * n, total,
                f"structure {start + 1}/{count}: {event.message}"),
        )
        record(meta, [write_structure(out, i, result, k, labels0, params)
                      for k, i in enumerate(indices)], out)
        yield Progress((indices[-1] + 1) * params.steps, total, f"wrote {meta['completed']}/{count}")
    return meta
