"""Grain-analysis speed on large images.

    python benchmarks/bench_analysis.py [--size 4096] [--grains 10000]

Prints seconds (best of --repeat) for: boundary mask -> grain labels, the per-grain table
(regionprops), the summary (incl. intercept lines in 4 directions), all metrics of one
image pair, and the realism comparison of two groups of 512 px images, plus peak RSS.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import numpy as np


def best_of(repeat: int, fn):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    from napari_labourfree.analysis.instances import boundaries_from_labels, grains_from_boundaries
    from napari_labourfree.analysis.metrics import evaluate_pair
    from napari_labourfree.analysis.realism import compare_groups
    from napari_labourfree.analysis.statistics import grain_summary, grain_table
    from napari_labourfree.phasefield.voronoi import voronoi_structure
    from napari_labourfree.units import PixelSize

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--grains", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    shape = (args.size, args.size)
    truth_labels = voronoi_structure(args.grains, shape, 0, regularity=0)
    mask = boundaries_from_labels(truth_labels)
    pred_mask = np.roll(mask, 1, axis=0)
    size = PixelSize(0.1, "um")
    print(f"# {platform.processor() or platform.machine()}, {args.size}x{args.size} px, "
          f"{args.grains} Voronoi grains; seconds, best of {args.repeat}")

    t, labels = best_of(args.repeat, lambda: grains_from_boundaries(mask))
    print(f"mask -> labels (4-connected)      {t:7.2f} s   ({labels.max()} grains)")
    t, _ = best_of(args.repeat, lambda: grains_from_boundaries(mask, min_area=10, close_gaps=2,
                                                               fill_boundaries=True))
    print(f"  + min area, close gaps, fill     {t:7.2f} s")
    t, table = best_of(args.repeat, lambda: grain_table(labels, size))
    print(f"grain table (regionprops)         {t:7.2f} s   ({len(table['label'])} rows)")
    t, summary = best_of(args.repeat, lambda: grain_summary(labels, table, size))
    print(f"summary + ASTM G (both methods)   {t:7.2f} s   (G = "
          f"{summary['astm_g_planimetric']:.2f} / {summary['astm_g_intercept']:.2f})")
    t, metrics = best_of(args.repeat, lambda: evaluate_pair(pred_mask, mask))
    print(f"all metrics, one pair             {t:7.2f} s   (BF1 {metrics['boundary_f1']:.3f}, "
          f"AP {metrics['ap']:.3f})")

    rng = np.random.default_rng(0)
    real = [(rng.random((512, 512)) * 255).astype(np.uint8) for _ in range(8)]
    sim = [voronoi_structure(100, (512, 512), i).astype(np.float32) / 100 for i in range(8)]
    t, _ = best_of(1, lambda: compare_groups({"real": real, "simulation": sim}))
    print(f"realism: 2 x 8 images, 256 patches, t-SNE  {t:5.2f} s")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
