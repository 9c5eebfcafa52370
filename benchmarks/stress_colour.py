"""Colour stress test: a segmenter on colour micrographs made from engine paintings.

    python benchmarks/stress_colour.py [--model default] [--images 4] [--size 320]

The appearance engine paints each structure in grey with a plain look; this script then
colours it: each grain's shade times a colour (tint etching: random hues; or one sepia
colour for all, as a colour camera on an untinted etch), optionally a smooth colour stain
blind to the grains, then blur and noise in each channel. A grey model reads the colour
image along its strongest colour contrast; a colour model (from `labourfree pipeline` on
colour images) reads RGB. The rows are those of docs/decisions/decision-colour-views.txt
(a rejected reading along two contrasts). Prints boundary F1, ARI and AP per row; the
structures are those of benchmarks/stress_engine.py (seeds 900 on).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

SEPIA = np.array([0.92, 0.76, 0.55], np.float32)
# row -> (grey look: changes to the plain look, colouring, mean grain diameter in px)
ROWS = {
    "C1 tint, random hues, no line, contrast 0.1, 40 px": (
        {"polarity": (0, 0, 1), "grain_contrast": (0.1, 0.1)},
        {"hues": "random", "noise": 0.03}, 40),
    "C2 tint, random hues, no line, contrast 0.1, 100 px, noise 0.08": (
        {"polarity": (0, 0, 1), "grain_contrast": (0.1, 0.1)},
        {"hues": "random", "noise": 0.08}, 100),
    "C3 tint, saturation 0.4, faint dark lines 0.3, 60 px": (
        {"line_strength": (0.3, 0.3)},
        {"hues": "random", "saturation": 0.4, "noise": 0.05}, 60),
    "C4 dark lines, one sepia colour, 40 px": (
        {}, {"hues": "sepia", "noise": 0.03}, 40),
    "C5 dark lines, sepia, colour stain 0.08, 40 px": (
        {}, {"hues": "sepia", "stain": 0.08, "noise": 0.03}, 40),
}


def colourise(grey: np.ndarray, labels: np.ndarray, diameter: float, rng: np.random.Generator,
              hues: str, noise: float, saturation: float = 1.0, stain: float = 0.0,
              blur: float = 0.7) -> np.ndarray:
    """An (H, W, 3) uint8 colour micrograph of a grey painting and its grains."""
    from napari_labourfree.appearance.paint import _smooth_noise

    n = int(labels.max()) + 1
    if hues == "random":
        hue = rng.uniform(0, 1, n)
        colours = 0.5 + 0.5 * np.cos(2 * np.pi * (hue[:, None] + np.array([0, 1, 2]) / 3))
        colours = 1 - saturation * (1 - colours)
    else:
        colours = np.broadcast_to(SEPIA, (n, 3))
    image = colours[labels].astype(np.float32) * grey[..., None]
    if stain:  # colour only: along two directions orthogonal to grey
        chroma = np.array([[1, -1, 0], [1, 1, -2]], np.float32)
        chroma /= np.linalg.norm(chroma, axis=1, keepdims=True)
        fields = [_smooth_noise(grey.shape, diameter / 4, rng) for _ in range(2)]
        image += stain * np.tensordot(np.stack(fields, -1), chroma, 1)
    image = ndi.gaussian_filter(image, (blur, blur, 0))
    image += noise * rng.standard_normal(image.shape).astype(np.float32)
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def main() -> None:
    from napari_labourfree.analysis.metrics import evaluate_pair, mean_over_images
    from napari_labourfree.appearance import AppearanceConfig, mean_diameter, paint
    from napari_labourfree.appearance.geometry import structure_view
    from napari_labourfree.appearance.paint import gallery_factors
    from napari_labourfree.jobs import run_job
    from napari_labourfree.phasefield.params import GrowthParams
    from napari_labourfree.phasefield.solver import simulate
    from napari_labourfree.segmenter.default import default_weights
    from napari_labourfree.segmenter.model import Segmenter

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--size", type=int, default=320)
    parser.add_argument("--only", help="run the rows whose name contains this text")
    parser.add_argument("--save", type=Path, help="write each row's first image here (PNG)")
    args = parser.parse_args()
    # the plain look of stress_engine.py, without noise or blur: they come with the colour
    plain = {**gallery_factors()["plain dark lines"], "illumination": (0.1, 0.1),
             "blur": (0, 0), "noise": (0, 0), "line_strength": (0.7, 0.7)}
    weights = default_weights() if args.model == "default" else Path(args.model)
    model = Segmenter.load(weights)
    params = GrowthParams(height=256, width=256, grains=30, steps=400)
    structures = run_job(simulate(params, seeds=tuple(range(900, 900 + args.images)),
                                  compile=False)).labels
    print(f"model {weights.name}, {args.images} images of {args.size} px per row\n")
    print("| row | boundary F1 | ARI | AP | grains (pred / true) |")
    print("|---|---|---|---|---|")
    for name, (look, colouring, diameter) in ROWS.items():
        if args.only and args.only not in name:
            continue
        config = replace(AppearanceConfig(**plain), **look)
        results = []
        for i, labels in enumerate(structures):
            rng = np.random.default_rng(1000 + i)
            size = max(args.size, round(4 * diameter))
            view, _ = structure_view(labels, (size, size), diameter / mean_diameter(labels),
                                     diameter, rng, config)
            painted = paint(view, rng, config, diameter)
            rgb = colourise(painted.image.astype(np.float32) / 255, painted.labels, diameter,
                            rng, **colouring)
            if args.save and i == 0:
                import imageio.v3 as iio

                args.save.mkdir(parents=True, exist_ok=True)
                iio.imwrite(args.save / f"{name.split()[0]}.png", rgb)
            result = run_job(model.segment(rgb))
            results.append(evaluate_pair(result.boundaries, painted.mask,
                                         pred_labels=result.labels,
                                         true_labels=painted.labels))
        m = mean_over_images(results)
        pred = np.mean([s["grains_pred"] for s in results])
        true = np.mean([s["grains_true"] for s in results])
        print(f"| {name} | {m['boundary_f1']:.3f} | {m['ari']:.3f} | {m['ap']:.3f} | "
              f"{pred:.0f} / {true:.0f} |", flush=True)

if __name__ == "__main__":
    main()
