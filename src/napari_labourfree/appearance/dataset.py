"""Render a training set with the appearance engine, as a job.

Each image takes a random simulated structure, a random grain size (log-uniform in the
config's range: the structure is read periodically at that scale) and a random look::

    DIR/images/look_0000.tif   uint8 or uint16 micrograph
    DIR/masks/look_0000.tif    uint8, 255 = grain boundary (the truth)
    DIR/labels/look_0000.tif   grain ids (for distance targets and instance metrics)
    DIR/meta.json              the config, the seed and each image's factors
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from ..io.atomic import all_or_none, write_text
from ..io.folders import FolderLock, check_apart, locked, prepare_output_dir
from ..io.images import read_image
from ..io.tiff import write_tiff
from ..jobs import Job, Progress
from ..provenance import versions
from .config import AppearanceConfig
from .geometry import mean_diameter, structure_view
from .paint import paint


def render_dataset(sims: Path | str, out: Path | str, count: int, *, size: int = 256,
                   config: AppearanceConfig | None = None, seed: int = 0,
                   overwrite: bool = False) -> Job[dict]:
    """Job: ``count`` painted micrographs of ``size`` px from the structures in ``sims`` (a
    `labourfree simulate` folder). Checks its inputs before it starts."""
    config = (config or AppearanceConfig()).validate()
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a whole number >= 1, not {count!r}")
    if not isinstance(size, int) or size < 32:
        raise ValueError(f"size must be a whole number of at least 32 px, not {size!r}")
    sources = sorted((Path(sims) / "labels").glob("*.tif"))
    if not sources:
        raise FileNotFoundError(f"{sims} holds no simulated structures (labels/*.tif); "
                                "run `labourfree simulate` first")
    check_apart(out, [sims])
    lock = FolderLock(out, "paint")
    try:
        out = prepare_output_dir(Path(out), overwrite, prefix="look_")
    except BaseException:
        lock.release()
        raise
    return locked(_render_job(sources, out, count, size, config, seed), lock)


def _render_job(sources, out, count, size, config, seed):
    structures = [read_image(p, grey=False).data for p in sources]
    diameters = [mean_diameter(s) for s in structures]
    meta = {"kind": "napari-labourfree appearance data set", "simulations": str(sources[0]
            .parent.parent), "count": count, "size": size, "seed": seed,
            "config": config.to_dict(), "versions": versions(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "images": []}
    lo, hi = map(math.log, config.grain_diameter)
    for i in range(count):
        rng = np.random.default_rng(np.random.SeedSequence([seed, i]))
        k = int(rng.integers(len(structures)))
        diameter = math.exp(rng.uniform(lo, hi))
        labels, geometry = structure_view(structures[k], (size, size),
                                          diameter / diameters[k], diameter, rng, config)
        painted = paint(labels, rng, config, diameter)
        name = f"look_{i:04d}.tif"
        with all_or_none([out / sub / name for sub in ("images", "masks", "labels")]):
            write_tiff(out / "images" / name, painted.image)
            write_tiff(out / "masks" / name, painted.mask.astype(np.uint8) * 255)
            write_tiff(out / "labels" / name, painted.labels.astype(
                np.uint16 if painted.labels.max() < 2**16 else np.uint32))
        meta["images"].append({"name": name, "structure": sources[k].name,
                               "grains": int(painted.labels.max()), **geometry,
                               **painted.factors})
        if (i + 1) % 50 == 0 or i + 1 == count:
            write_text(out / "meta.json", json.dumps(meta, indent=1))
        yield Progress(i + 1, count, f"painted {i + 1}/{count}")
    return meta
