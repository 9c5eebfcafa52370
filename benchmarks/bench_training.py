"""Training and inference speed of the learning core.

    python benchmarks/bench_training.py [--device auto] [--seg-size 4096] [--seconds 20]

Prints, for each preset: CycleGAN training iterations per second and U-Net training
batches per second (measured for --seconds after a short warm-up), then segmentation
throughput in megapixels per second on a --seg-size square image with the fast and the
paper U-Net (tiled, 512 px tiles), and peak memory (process RSS; GPU peak on CUDA).
"""

from __future__ import annotations

import argparse
import platform
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _rate(job, seconds: float, warmup: int = 3) -> float:
    """Events per second of a training job, after ``warmup`` steps; closes the job."""
    count, start = 0, None
    for event in job:
        if not event.losses:
            continue
        count += 1
        if count == warmup:
            start = time.perf_counter()
        elif start and time.perf_counter() - start > seconds:
            break
    rate = (count - warmup) / (time.perf_counter() - start)
    job.close()
    return rate


def main() -> None:
    from napari_labourfree.devices import pick_device
    from napari_labourfree.jobs import run_job
    from napari_labourfree.normalise import DEFAULT as DEFAULT_NORMALISATION
    from napari_labourfree.phasefield.dataset import simulate_dataset
    from napari_labourfree.phasefield.params import GrowthParams
    from napari_labourfree.segmenter.model import Segmenter
    from napari_labourfree.segmenter.train import segmenter_config, train_segmenter
    from napari_labourfree.segmenter.unet import build_unet
    from napari_labourfree.style.train import style_config, train_style

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seg-size", type=int, default=4096)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--presets", default="fast,paper")
    args = parser.parse_args()
    device = pick_device(args.device)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {device}")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        run_job(simulate_dataset(GrowthParams(height=256, width=256, grains=30, steps=200), 4,
                                 tmp / "sims", compile=False))
        real = tmp / "real"
        real.mkdir()
        import tifffile

        rng = np.random.default_rng(0)
        for i in range(2):
            tifffile.imwrite(real / f"r{i}.tif", rng.integers(0, 255, (512, 512), np.uint8))

        for preset in args.presets.split(","):
            config = style_config(preset, checkpoint_every=10**9, preview_every=10**9)
            job = train_style(tmp / "sims", real, tmp / f"s_{preset}.safetensors", config,
                              device=device, overwrite=True)
            rate = _rate(job, args.seconds)
            print(f"CycleGAN {preset:5s} ({config.crop_size} px, ngf {config.ngf}, "
                  f"{config.n_blocks} blocks): {rate:6.2f} it/s -> {config.iterations} "
                  f"iterations in {config.iterations / rate / 60:.1f} min")
            config = segmenter_config(preset, val_fraction=0.0)
            job = train_segmenter(tmp / "sims", tmp / f"u_{preset}.safetensors", config,
                                  device=device, overwrite=True)
            rate = _rate(job, args.seconds)
            total = config.epochs * config.steps_per_epoch
            print(f"U-Net    {preset:5s} (depth {config.depth}, base {config.base}, "
                  f"{config.crop_size} px x {config.batch_size}): {rate:6.2f} batches/s -> "
                  f"{total} batches in {total / rate / 60:.1f} min")

        image = rng.integers(0, 255, (args.seg_size, args.seg_size), np.uint8)
        for preset in args.presets.split(","):
            arch = segmenter_config(preset).architecture()
            net = build_unet(arch).to(device)
            model = Segmenter.from_network(net, DEFAULT_NORMALISATION, 0.5, device)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            run_job(model.segment(image))
            seconds = time.perf_counter() - start
            mp = args.seg_size**2 / 1e6
            gpu = (f", GPU peak {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB"
                   if device.type == "cuda" else "")
            print(f"segment {args.seg_size}x{args.seg_size} with the {preset} U-Net: "
                  f"{seconds:.1f} s = {mp / seconds:.2f} Mpx/s{gpu}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
