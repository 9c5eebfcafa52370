"""Batches on dask.distributed, and an image larger than memory segmented window by window.

    python benchmarks/bench_distributed.py [--images 64] [--size 1024] [--big 8192]
                                           [--workers 1 2] [--skip-big] [--skip-batch]

1. ``--images`` micrographs of ``--size`` px (phase-field-free Voronoi grains painted by the
   appearance engine, 2000 grains per Mpx), segmented with the built-in default model:
   in this process (torch on every core), then on local clusters of each ``--workers``
   count. Prints seconds, images per second, the speed-up over the serial run and the
   scaling efficiency (one worker's time / (workers x their time)); start-up (cluster, torch import, model load on every worker;
   for the serial run: model load and one warm-up image) is shown apart.
2. One ``--big`` x ``--big`` px zarr image, segmented by ``labourfree segment`` in a
   child process (2048 px windows): seconds, Mpx/s and the child's peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def micrograph(size: int, seed: int) -> np.ndarray:
    from napari_labourfree._sample_data import SAMPLE_LOOK
    from napari_labourfree.appearance import AppearanceConfig, paint
    from napari_labourfree.phasefield.voronoi import voronoi_structure

    grains = max(4, round(2000 * size * size / 1e6))
    labels = voronoi_structure(grains, (size, size), seed, regularity=2)
    return paint(labels + 1, seed, AppearanceConfig(**SAMPLE_LOOK)).image  # uint8


def machine() -> str:
    import torch

    import napari_labourfree

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"python {platform.python_version()}, torch {torch.__version__}, "
            f"dask {__import__('distributed').__version__}, "
            f"napari-labourfree {napari_labourfree.__version__}")


def batch(args, folder: Path) -> None:
    import tifffile

    from napari_labourfree.jobs import run_job
    from napari_labourfree.scaleout.cluster import open_client
    from napari_labourfree.scaleout.segment import segment_files_on, worker_segmenter
    from napari_labourfree.segmenter.batch import segment_files
    from napari_labourfree.segmenter.default import resolve_weights
    from napari_labourfree.segmenter.model import Segmenter

    images = folder / "images"
    images.mkdir()
    for k in range(args.images):
        tifffile.imwrite(images / f"m{k:03d}.tif", micrograph(args.size, k))
    paths = sorted(images.iterdir())
    weights = resolve_weights("default")
    print(f"# {args.images} images of {args.size}x{args.size} px, built-in default model")
    print("run            start-up   seconds   images/s   vs serial   efficiency")

    start = time.perf_counter()
    model = Segmenter.load(weights)
    run_job(segment_files(model, paths[:1], folder / "warm", weights_name=str(weights)))
    started = time.perf_counter() - start
    start = time.perf_counter()
    run_job(segment_files(model, paths, folder / "serial", weights_name=str(weights)))
    serial = time.perf_counter() - start
    print(f"serial        {started:7.1f} s {serial:8.1f}   {len(paths) / serial:8.3f}")
    one = None
    for n in args.workers:
        start = time.perf_counter()
        with open_client(workers=n) as client:
            client.run(worker_segmenter, str(weights), "cpu")  # import torch, load the model
            started = time.perf_counter() - start
            start = time.perf_counter()
            _, failures, _ = run_job(segment_files_on(client, weights, "cpu", paths,
                                                         folder / f"workers{n}",
                                                         weights_name=str(weights)))
            took = time.perf_counter() - start
        assert not failures, failures
        same = all((folder / f"workers{n}" / f"{p.stem}_labels.tif").read_bytes()
                   == (folder / "serial" / f"{p.stem}_labels.tif").read_bytes() for p in paths)
        one = took * n if n == 1 else one
        efficiency = f"{one / (took * n):10.2f}" if one else "         -"
        print(f"{n} worker(s)   {started:7.1f} s {took:8.1f}   {len(paths) / took:8.3f}   "
              f"{serial / took:8.2f}x {efficiency}   labels identical to serial: {same}")


def big(args, folder: Path) -> None:
    import zarr

    size, tile = args.big, 1024
    store = zarr.create_array(str(folder / "big.zarr"), shape=(size, size),
                              chunks=(tile, tile), dtype="uint8")
    for y in range(0, size, tile):  # painted tile by tile: the image is never whole here
        for x in range(0, size, tile):
            store[y:y + tile, x:x + tile] = micrograph(tile, 1000 + y // tile * 97 + x // tile)
    print(f"# one {size}x{size} px zarr image (uint8, {size * size / 1e6:.0f} Mpx), "
          "labourfree segment in a child process")
    start = time.perf_counter()
    command = Path(sys.executable).with_name("labourfree")  # the venv's console script
    subprocess.run([str(command), "segment", str(folder / "big.zarr"), "--out", str(folder / "big-out"), "--quiet"],
                   check=True)
    took = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # kB -> MB (Linux)
    grains = len((folder / "big-out" / "big_grains.csv").read_text().splitlines()) - 1
    print(f"{took:.0f} s, {size * size / 1e6 / took:.2f} Mpx/s end to end, {grains} grains, "
          f"peak memory {peak:.0f} MB (resident, whole process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--big", type=int, default=8192)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--skip-batch", action="store_true")
    args = parser.parse_args()
    print(f"# {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_batch:
            batch(args, Path(tmp))
        if not args.skip_big:
            big(args, Path(tmp))


if __name__ == "__main__":
    main()
