"""Segmentation quality on the labelled real micrographs in ../shared/data (labels used only
for measuring; nothing here is tuned on them).

    python benchmarks/evaluate_real.py --shared ../shared [--old OLD.safetensors]

Rows:
- old default: the default shipped before the appearance engine (pass its weights with
  --old; `git show 2ed4733:src/napari_labourfree/models/default_segmenter.safetensors`);
- default: the shipped default (trained on the appearance engine alone: no real image);
- default, no rescale: the same with ``grain_size='off'``;
- default, components: the same with threshold + connected components instead of the
  seeded watershed;
- classical: Sato ridge filter + marker watershed, parameters fixed once.
Extra weights: --weights NAME=PATH (repeatable). Prints a Markdown table, writes JSON.
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
KEYS = ("boundary_f1", "ap", "ari", "count_error", "grains_pred", "grains_true")


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
        image = read_image(image_path, colour=True).data  # each method takes what it reads
        truth = read_image(truth_path, grey=False).data
        boundaries, labels = segment(image)
        results.append(evaluate_pair(boundaries, truth > truth.max() / 2, pred_labels=labels))
    return mean_over_images(results)


def learned(weights: Path, **options):
    from napari_labourfree.jobs import run_job
    from napari_labourfree.segmenter.model import Segmenter

    model = Segmenter.load(weights)

    def segment(image):
        result = run_job(model.segment(image, **options))
        return result.boundaries, result.labels

    return segment


def main() -> None:
    from napari_labourfree.normalise import as_channels
    from napari_labourfree.segmenter.classical import classical_boundaries
    from napari_labourfree.segmenter.default import default_weights

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--old", type=Path, help="the earlier default's weights")
    parser.add_argument("--weights", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--only", nargs="*", help="row names to run (default all)")
    parser.add_argument("--json", type=Path, default=Path("out/results.json"))
    args = parser.parse_args()
    default = default_weights()
    methods = {}
    if args.old:
        methods["old default"] = lambda: learned(args.old)
    methods.update({
        "default": lambda: learned(default),
        "default, no rescale": lambda: learned(default, grain_size="off"),
        "default, components": lambda: learned(default, instances="components"),
        "classical ridge + watershed": lambda: lambda image: classical_boundaries(
            as_channels(image, 1)),
    })
    for item in args.weights:
        name, path = item.split("=", 1)
        methods[name] = lambda path=path: learned(Path(path))
    if args.only:
        methods = {k: v for k, v in methods.items() if k in args.only}
    table = {}
    for name in SETS:
        items = pairs(args.shared, name)
        if not items:
            print(f"skipping {name}: not in {args.shared / 'data'}")
            continue
        for method, make in methods.items():
            start = time.perf_counter()
            table[(name, method)] = evaluate(make(), items)
            print(f"{name} {method}: {time.perf_counter() - start:.0f} s", flush=True)
    print("\n| data set | method | boundary F1 | AP | ARI | count error | grains (pred) |"
          " grains (true) |\n|---|---|---|---|---|---|---|---|")
    for (name, method), m in table.items():
        print(f"| {name} | {method} | " + " | ".join(
            "-" if m.get(k) is None or np.isnan(m[k]) else
            (f"{m[k]:.0f}" if k.startswith("grains") else f"{m[k]:.3f}") for k in KEYS) + " |")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({f"{n} | {m}": v for (n, m), v in table.items()}, indent=2))


if __name__ == "__main__":
    main()
