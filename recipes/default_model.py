"""Re-runnable recipe for the built-in default segmenter (src/napari_labourfree/models/).

    python recipes/default_model.py --work out/default-model [--install]

No real micrograph and no label is used anywhere: the model is trained on the appearance
engine alone, so every real image it meets is one it has never seen. Stages (each skipped
when its output exists, so an interrupted run continues):
1. simulate phase-field polycrystals (512 px, 112 grains, 1000 steps): half with even
   grain areas (Lloyd-relaxed seeds), half from random seeds (a broader size spread);
2. paint them with the appearance engine: 256 px views at random grain sizes with random
   boundary polarity, width, fading, texture, twins, particles, scratches, noise, colour;
3. train a U-Net with two outputs (boundary probability and distance map);
4. copy the weights, without optimizer state, into the package.
About 45 min on a 2-core CPU with the defaults.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import time
from pathlib import Path

GRAIN_DIAMETER = (12.0, 100.0)  # px in the painted images; the training zoom widens it


def stage(name: str, done: Path) -> bool:
    if done.exists():
        print(f"[skip] {name}: {done} exists", flush=True)
        return False
    print(f"[run ] {name}", flush=True)
    return True


def main() -> None:
    from napari_labourfree import checkpoints
    from napari_labourfree.appearance import AppearanceConfig, render_dataset
    from napari_labourfree.devices import pick_device
    from napari_labourfree.jobs import run_job
    from napari_labourfree.phasefield.dataset import simulate_dataset
    from napari_labourfree.phasefield.params import GrowthParams
    from napari_labourfree.segmenter.model import Segmenter
    from napari_labourfree.segmenter.train import segmenter_config, train_segmenter

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("out/default-model"))
    parser.add_argument("--structures", type=int, default=48)
    parser.add_argument("--images", type=int, default=1200, help="painted training images")
    parser.add_argument("--epochs", type=int, default=48)
    parser.add_argument("--steps-per-epoch", type=int, default=80)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--install", action="store_true",
                        help="copy the result into src/napari_labourfree/models/")
    args = parser.parse_args()
    device = pick_device(args.device)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    timings = {}

    half = args.structures // 2
    for name, regularity, count, seed in (("sims_even", 5, args.structures - half, 11),
                                          ("sims_random", 0, half, 12)):
        if stage(f"simulate {name}", work / name / "meta.json"):
            start = time.perf_counter()
            run_job(simulate_dataset(GrowthParams(regularity=regularity), count, work / name,
                                     seed=seed, device=device, overwrite=True))
            timings[f"simulate {name}"] = time.perf_counter() - start
    looks = work / "looks"
    if stage("paint with the appearance engine", looks / "meta.json"):
        start = time.perf_counter()
        config = AppearanceConfig(grain_diameter=GRAIN_DIAMETER)
        # one structure folder for the engine: both kinds, prefixed
        sims = work / "sims_all" / "labels"
        sims.mkdir(parents=True, exist_ok=True)
        for name in ("sims_even", "sims_random"):
            for path in sorted((work / name / "labels").glob("*.tif")):
                shutil.copyfile(path, sims / f"{name}_{path.name}")
        run_job(render_dataset(work / "sims_all", looks, args.images, size=256, config=config,
                               seed=3, overwrite=True))
        timings["paint"] = time.perf_counter() - start
    weights = work / "segmenter.safetensors"
    if stage("train the segmenter", weights):
        start = time.perf_counter()
        config = segmenter_config("fast", depth=4, base=16, crop_size=160, batch_size=8,
                                  epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                                  lr=3e-4, decay_from=0.6, val_fraction=0.02, augment=1.0, zoom=(0.8, 1.25),
                                  outputs=2, seed=2)
        run_job(train_segmenter(looks, weights, config, device=device, overwrite=True),
                lambda e: print(e.message, {k: round(v, 4) for k, v in e.losses.items()},
                                flush=True) if "val_iou" in e.losses else None)
        timings["train"] = time.perf_counter() - start
    header = checkpoints.read_header(weights)
    model = Segmenter.load(weights)
    header["config"]["training"]["recipe"] = {
        "script": "recipes/default_model.py", "real_images_used": 0, "labels_used": 0,
        "structures": args.structures, "painted_images": args.images,
        "grain_diameter_painted": list(GRAIN_DIAMETER), "timings_s": timings}
    shipped = work / "default_segmenter.safetensors"
    # float16 halves the file (loading casts back to float32; outputs differ < 1e-3)
    checkpoints.save(shipped, "segmenter", header["config"],
                     {"unet": copy.deepcopy(model.net).half()})
    print(json.dumps(header["config"]["training"]["history"][-1]))
    print(json.dumps(timings))
    if args.install:
        target = Path(__file__).resolve().parents[1] / "src/napari_labourfree/models"
        target.mkdir(exist_ok=True)
        shutil.copyfile(shipped, target / "default_segmenter.safetensors")
        print(f"installed {target / 'default_segmenter.safetensors'}")


if __name__ == "__main__":
    main()
