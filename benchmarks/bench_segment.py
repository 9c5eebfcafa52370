"""Segmentation speed of the built-in default on one large image, end to end and by part.

    python benchmarks/bench_segment.py [--size 2048] [--repeat 2] [--tile 512]
                                       [--precision float32|bfloat16]

Paints a --size x --size micrograph (Voronoi grains, about 2000 per Mpx, dark lines),
then prints, best of --repeat, in Mpx/s of the image:
- the whole `segment` job as `labourfree segment` runs it (read, grain-size search,
  network, grains, quality, TIFFs, CSV, JSON, overlay), on a TIFF;
- its parts: one pass of the network over the image at full scale; the grain-size search;
  grains from the maps; table + summary;
- peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
from pathlib import Path


def main() -> None:
    import tifffile
    import torch

    import napari_labourfree
    from napari_labourfree.analysis.statistics import grain_summary, grain_table
    from napari_labourfree.jobs import run_job
    from napari_labourfree.normalise import to_network
    from napari_labourfree.segmenter.batch import segment_files
    from napari_labourfree.segmenter.default import resolve_weights
    from napari_labourfree.segmenter.model import Segmenter, tiling
    from napari_labourfree.segmenter.options import SegmentOptions

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_analysis import best_of
    from bench_distributed import micrograph

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--tile", type=int, default=SegmentOptions.tile)
    parser.add_argument("--precision", default="float32", choices=("float32", "bfloat16"))
    args = parser.parse_args()

    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"napari-labourfree {napari_labourfree.__version__}")
    image = micrograph(args.size, 7)
    mpx = image.size / 1e6
    model = Segmenter.load(resolve_weights("default"))
    options = SegmentOptions(tile=args.tile, precision=args.precision)
    print(f"# {args.size}x{args.size} px ({mpx:.1f} Mpx), built-in default, tile {args.tile}, "
          f"{args.precision}; best of {args.repeat}")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.tif"
        tifffile.imwrite(path, image)
        run_job(model.segment(image[:512, :512], options))  # warm-up

        def whole():
            out = Path(tempfile.mkdtemp(dir=tmp))
            return run_job(segment_files(model, [path], out, options=options))

        t, _ = best_of(args.repeat, whole)
        print(f"labourfree segment, end to end   {t:7.2f} s   {mpx / t:6.2f} Mpx/s")

    x = to_network(model.network_input(image), model.normalisation)
    run = tiling(options)
    t, maps = best_of(args.repeat, lambda: run_job(model.maps(x, **run)))
    print(f"  network, one pass at full scale {t:7.2f} s   {mpx / t:6.2f} Mpx/s")
    resolved = model.resolved(options)
    t, _ = best_of(args.repeat, lambda: run_job(model._choose_scale(x, resolved, run)))
    print(f"  grain-size search               {t:7.2f} s")
    t, (labels, _, _) = best_of(args.repeat, lambda: model._instances(maps, resolved))
    print(f"  grains from the maps            {t:7.2f} s   ({labels.max()} grains)")
    t, _ = best_of(args.repeat, lambda: grain_summary(labels, grain_table(labels)))
    print(f"  grain table + summary           {t:7.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:.0f} MB (resident)")


if __name__ == "__main__":
    main()
