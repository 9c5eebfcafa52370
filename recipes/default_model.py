"""Re-runnable recipe for the built-in default segmenter (src/napari_labourfree/models/).

    python recipes/default_model.py --shared ../shared --work out/default-model

Stages (each skipped when its output exists, so an interrupted run continues):
1. simulate 48 polycrystals (512 px, 112 grains, 1000 steps);
2. for each real data set in ../shared/data, used WITHOUT its labels, train a fast
   CycleGAN (simulations -> that look) and synthesize the 48 structures in it;
3. paint the same structures with hand-made micrograph looks (random grain shading,
   boundary darkness and width, uneven light, blur, noise) for generic variety;
4. train one U-Net on all of it (strong appearance augmentation);
5. copy the weights, without optimizer state, into the package, with a model card.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
from pathlib import Path

import numpy as np

REAL_SETS = {  # name -> (folder under shared/data, glob) ; labels are never read
    "nist-steel": ("nist-steel", "steel_optical.tif"),
    "tbm-optical": ("tbm-optical/images", "*.png"),
}


def stage(name: str, done: Path) -> bool:
    if done.exists():
        print(f"[skip] {name}: {done} exists")
        return False
    print(f"[run ] {name}")
    return True


def paint(sims: Path, out: Path, seed: int = 0) -> None:
    """Hand-painted looks with wide random variation (dark boundaries of many widths)."""
    import tifffile
    from scipy import ndimage as ndi

    from napari_labourfree.io.tiff import write_tiff
    from napari_labourfree.phasefield.appearance import micrograph_look

    rng = np.random.default_rng(seed)
    for sub in ("images", "masks"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for path in sorted((sims / "images").glob("*.tif")):
        phi = tifffile.imread(path)
        labels = tifffile.imread(sims / "labels" / path.name)
        mask = tifffile.imread(sims / "masks" / path.name) > 0
        width = rng.integers(-1, 3)  # thinner or thicker drawn boundaries
        if width > 0:
            line = ndi.binary_dilation(mask, iterations=int(width))
            phi = np.where(line & ~mask, np.minimum(phi, 0.6), phi)
            mask = line
        elif width < 0:
            phi = np.where(ndi.binary_erosion(mask), phi, np.maximum(phi, 0.85))
            mask = ndi.binary_erosion(mask) | (phi < 0.8)
        image = micrograph_look(
            phi, labels, rng, grain_contrast=rng.uniform(0.02, 0.4),
            boundary_strength=rng.uniform(0.3, 0.9), illumination=rng.uniform(0, 0.4),
            blur=rng.uniform(0, 1.5), noise=rng.uniform(0.0, 0.1))
        write_tiff(out / "images" / path.name, image)
        write_tiff(out / "masks" / path.name, (mask * 255).astype(np.uint8))


def merge(sources: list[Path], out: Path) -> None:
    """One training folder with every source's images and masks (names prefixed)."""
    for sub in ("images", "masks"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for source in sources:
        for path in sorted((source / "images").glob("*.tif")):
            name = f"{source.name}_{path.name}"
            shutil.copyfile(path, out / "images" / name)
            shutil.copyfile(source / "masks" / path.name, out / "masks" / name)


def main() -> None:
    from napari_labourfree import checkpoints
    from napari_labourfree.devices import pick_device
    from napari_labourfree.jobs import run_job
    from napari_labourfree.phasefield.dataset import simulate_dataset
    from napari_labourfree.phasefield.params import GrowthParams
    from napari_labourfree.segment.model import Segmenter
    from napari_labourfree.segment.train import segmenter_config, train_segmenter
    from napari_labourfree.style.model import synthesize
    from napari_labourfree.style.train import style_config, train_style

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--work", type=Path, default=Path("out/default-model"))
    parser.add_argument("--count", type=int, default=48)
    parser.add_argument("--style-iterations", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--install", action="store_true",
                        help="copy the result into src/napari_labourfree/models/")
    args = parser.parse_args()
    device = pick_device(args.device)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)

    sims = work / "sims"
    if stage("simulate", sims / "meta.json"):
        run_job(simulate_dataset(GrowthParams(), args.count, sims, seed=11, device=device,
                                 overwrite=True))
    sources = []
    for name, (folder, pattern) in REAL_SETS.items():
        real = sorted((args.shared / "data" / folder).glob(pattern))
        if not real:
            print(f"[skip] {name}: no images in {args.shared / 'data' / folder}")
            continue
        weights = work / f"style_{name}.safetensors"
        if stage(f"train style on {name} ({len(real)} images, no labels)", weights):
            config = style_config("fast", iterations=args.style_iterations, seed=1)
            run_job(train_style(sims, real, weights, config, device=device, overwrite=True))
        synthetic = work / f"synthetic_{name}"
        if stage(f"synthesize {name}", synthetic / "meta.json"):
            run_job(synthesize(sims, weights, synthetic, device=device, overwrite=True))
        sources.append(synthetic)
    painted = work / "painted"
    if stage("paint generic looks", painted / "images"):
        paint(sims, painted)
    sources.append(painted)
    data = work / "training"
    if stage("merge training data", data / "images"):
        merge(sources, data)
    weights = work / "segmenter.safetensors"
    if stage("train the segmenter", weights):
        config = segmenter_config("fast", depth=4, base=16, epochs=args.epochs,
                                  steps_per_epoch=60, val_fraction=0.05, augment=1.5, seed=2)
        run_job(train_segmenter(data, weights, config, device=device, overwrite=True),
                lambda e: print(e.message, e.losses) if "val_iou" in e.losses else None)
    header = checkpoints.read_header(weights)
    # Ship the network only (no optimizer state) with a record of how it was made.
    model = Segmenter.load(weights)
    header["config"]["training"]["recipe"] = {
        "script": "recipes/default_model.py", "sources": [s.name for s in sources],
        "real_sets_used_without_labels": list(REAL_SETS), "simulations": args.count,
        "style_iterations": args.style_iterations}
    shipped = work / "default_segmenter.safetensors"
    # float16 halves the file (loading casts back to float32; outputs differ < 1e-3)
    checkpoints.save(shipped, "segmenter", header["config"],
                     {"unet": copy.deepcopy(model.net).half()})
    print(json.dumps(header["config"]["training"]["history"][-1]))
    if args.install:
        target = Path(__file__).resolve().parents[1] / "src/napari_labourfree/models"
        target.mkdir(exist_ok=True)
        shutil.copyfile(shipped, target / "default_segmenter.safetensors")
        print(f"installed {target / 'default_segmenter.safetensors'}")


if __name__ == "__main__":
    main()
