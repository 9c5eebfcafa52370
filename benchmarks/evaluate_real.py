"""Segmentation quality on the labelled real micrographs in ../shared/data (labels used only
for measuring), for the built-in default and three comparisons.

    python benchmarks/evaluate_real.py --shared ../shared --work out/default-model

(a) default: the shipped default segmenter;
(b) own style: a U-Net trained only on simulations styled towards that data set's own
    (unlabeled) images: what `labourfree pipeline` does;
(c) untextured: a U-Net trained on plain simulations (phi), the paper's baseline 2;
(d) classical: Sato ridge filter + marker watershed, parameters fixed once.
(b) and (c) reuse the recipe's work folder (recipes/default_model.py) and are trained here
with the fast preset when missing. Prints a Markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

SETS = {
    "nist-steel": ("nist-steel/steel_optical.tif", "nist-steel/steel_optical_boundaries.tif"),
    "tbm-optical": ("tbm-optical/images/*.png", "tbm-optical/masks/*.png"),
}
KEYS = ("boundary_f1", "ap", "ari", "count_error", "mean_area_error", "iou")


def pairs(shared: Path, name: str):
    images, masks = SETS[name]
    found = sorted((shared / "data").glob(images))
    truths = sorted((shared / "data").glob(masks))
    return list(zip(found, truths))


def evaluate(segment, items) -> dict:
    from napari_labourfree.analysis.metrics import evaluate_pair, mean_over_images
    from napari_labourfree.io.images import read_image

    results = []
    for image_path, truth_path in items:
        image = read_image(image_path).data
        truth = read_image(truth_path, grey=False).data
        boundaries, labels = segment(image)
        results.append(evaluate_pair(boundaries, truth > truth.max() / 2, pred_labels=labels))
    return mean_over_images(results)


def learned(weights: Path, close_gaps: float = 0.0):
    from napari_labourfree.jobs import run_job
    from napari_labourfree.segment.model import Segmenter

    model = Segmenter.load(weights)

    def segment(image):
        result = run_job(model.segment(image, close_gaps=close_gaps))
        return result.boundaries, result.labels

    return segment


def trained(data: Path, out: Path) -> Path:
    from napari_labourfree.jobs import run_job
    from napari_labourfree.segment.train import segmenter_config, train_segmenter

    if not out.exists():
        run_job(train_segmenter(data, out, segmenter_config("fast", seed=2)))
    return out


def main() -> None:
    from napari_labourfree.segment.classical import classical_boundaries
    from napari_labourfree.segment.default import default_weights

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--work", type=Path, default=Path("out/default-model"))
    parser.add_argument("--default", type=Path, default=None, help="default weights to test")
    parser.add_argument("--json", type=Path, default=Path("out/results.json"))
    args = parser.parse_args()
    default = args.default or default_weights()
    methods = {
        "(a) default": lambda name: learned(default),
        "(a) default, close gaps 3": lambda name: learned(default, 3.0),
        "(b) own style (pipeline)": lambda name: learned(trained(
            args.work / f"synthetic_{name}", args.work / f"own_style_{name}.safetensors")),
        "(c) untextured simulations": lambda name: learned(trained(
            args.work / "sims", args.work / "untextured.safetensors")),
        "(d) classical ridge + watershed": lambda name: classical_boundaries,
    }
    table = {}
    for name in SETS:
        items = pairs(args.shared, name)
        if not items:
            print(f"skipping {name}: not in {args.shared / 'data'}")
            continue
        for method, make in methods.items():
            start = time.perf_counter()
            table[(name, method)] = evaluate(make(name), items)
            print(f"{name} {method}: {time.perf_counter() - start:.0f} s", flush=True)
    print("\n| data set | method | boundary F1 | AP | ARI | count error | mean-area error |"
          " interior IoU |\n|---|---|---|---|---|---|---|---|")
    for (name, method), m in table.items():
        print(f"| {name} | {method} | " + " | ".join(
            "-" if m.get(k) is None or np.isnan(m[k]) else f"{m[k]:.3f}" for k in KEYS) + " |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({f"{n} | {m}": v for (n, m), v in table.items()}, indent=2))


if __name__ == "__main__":
    main()
