"""`labourfree segment`: boundaries, grains and grain tables for micrographs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..segmenter.options import (
    INSTANCE_METHODS,
    PRECISIONS,
    SegmentOptions,
    parse_grain_size,
)
from . import (
    add_cluster_options,
    cluster_from,
    refuse_existing,
    report_failures,
    run_with_progress,
    user_pixel_size,
)


def add_to(sub) -> None:
    p = sub.add_parser(
        "segment",
        help="segment micrographs with a trained U-Net -> boundaries, labels, grain CSV",
        description="For each image writes DIR/<stem>_boundaries.tif (uint8, 255 = "
        "boundary), DIR/<stem>_labels.tif (grain ids; boundary pixels go to the nearest "
        "grain), DIR/<stem>_grains.csv, DIR/<stem>_grains_summary.json and "
        "DIR/<stem>_overlay.png (the boundaries drawn on the image). Images of any size are "
        "processed in overlapping tiles.",
    )
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGES",
                   help="micrographs (files or folders; grey or RGB, 8/16-bit or float; "
                        "zarr and OME-Zarr too), or 'sample' for a synthetic micrograph "
                        "generated on the fly")
    p.add_argument("--model", default="default",
                   help="segmenter weights (.safetensors), or 'default' for the built-in model")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--pixel-size", type=float, help="pixel side length (default: from the file)")
    p.add_argument("--unit", default="um", help="unit of --pixel-size (nm, um, mm)")
    p.add_argument("--threshold", type=float,
                   help="boundary probability cut, strictly between 0 and 1 (default: the "
                        "model's)")
    p.add_argument("--grain-size", default="auto", type=_grain_size,
                   help="expected mean grain diameter in px: the image is rescaled so its "
                        "grains match the model's training sizes; 'auto' (default) estimates "
                        "it, 'off' segments at the image's own scale")
    p.add_argument("--instances", default="auto", choices=INSTANCE_METHODS,
                   help="grains from a seeded watershed on the model's distance map "
                        "('watershed', robust to gaps), from the connected regions between "
                        "thresholded boundaries ('components'), or 'auto' (default: watershed "
                        "when the model has a distance map)")
    p.add_argument("--seed-threshold", type=float, default=SegmentOptions.seed_threshold,
                   help="distance-map level (0-1) above which a pixel is a grain core "
                        f"(default {SegmentOptions.seed_threshold})")
    p.add_argument("--min-area", type=int, default=SegmentOptions.min_area,
                   help="grains smaller than this (px) merge into their neighbours "
                        f"(default {SegmentOptions.min_area})")
    p.add_argument("--close-gaps", type=float, default=0.0,
                   help="with --instances components: split grains joined through gaps in "
                        "the predicted boundaries (h-maxima height in px, e.g. 3; default off)")
    p.add_argument("--tile", type=int, default=SegmentOptions.tile,
                   help=f"tile size in px (default {SegmentOptions.tile})")
    p.add_argument("--overlap", type=int, default=SegmentOptions.overlap,
                   help=f"tile overlap in px (default {SegmentOptions.overlap})")
    p.add_argument("--chunk", type=_chunk, metavar="PX",
                   help="segment window by window in PX-px windows and write zarr, never "
                        "holding the whole image (default: zarr inputs and TIFFs over "
                        "8192x8192 px, in 2048-px windows)")
    p.add_argument("--precision", choices=PRECISIONS, default=SegmentOptions.precision,
                   help="the network's arithmetic on a CPU: float32 (default) or bfloat16, "
                        "about 2.6x faster on CPUs with AVX-512 BF16 but a few grains in a "
                        "thousand come out differently")
    p.add_argument("--tta", action="store_true", help="average the 8 flips/turns (8x slower)")
    p.add_argument("--save-probability", action="store_true",
                   help="also write <stem>_probability.tif (float32)")
    p.add_argument("--include-border", action="store_true",
                   help="count grains touching the edge in the summary statistics")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    add_cluster_options(p, "images")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _grain_size(text: str):
    try:
        return parse_grain_size(text)
    except ValueError as err:  # argparse shows its own vaguer text for a ValueError
        raise argparse.ArgumentTypeError(str(err)) from None



def _chunk(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 256 or value % 16:
        raise argparse.ArgumentTypeError(
            f"--chunk must be a whole number of px, a multiple of 16 and at least 256, "
            f"not {text!r}")
    return value


def run(args) -> int:
    from ..devices import pick_device
    from ..io.folders import check_apart, check_unique_stems
    from ..io.images import list_images
    from ..segmenter.batch import by_windows, outputs_of, segment_files
    from ..segmenter.default import resolve_weights
    from ..segmenter.model import Segmenter
    from . import describe_cluster
    from .grains import _print_table

    if args.out.exists() and not args.out.is_dir():
        raise NotADirectoryError(f"--out {args.out} exists and is not a folder")
    check_apart(args.out, args.images, "--out")
    options = SegmentOptions().with_(
        threshold=args.threshold, grain_size=args.grain_size, instances=args.instances,
        seed_threshold=args.seed_threshold, min_area=args.min_area,
        close_gaps=args.close_gaps, tile=args.tile, overlap=args.overlap, tta=args.tta,
        precision=args.precision)
    weights = resolve_weights(args.model)  # before anything is written
    if [str(p) for p in args.images] == ["sample"] and not Path("sample").exists():
        inputs = [_write_sample(args.out, args.overwrite)]
    else:
        inputs = list_images(args.images, zarr=True)
    check_unique_stems(inputs)
    if args.close_gaps and any(by_windows(p, args.chunk) for p in inputs):
        raise ValueError("--close-gaps is not available for images segmented window by "
                         "window (zarr, TIFFs over 8192x8192 px, or --chunk)")
    refuse_existing([args.out / n for p in inputs
                     for n in outputs_of(p, args.save_probability, args.chunk)], args.overwrite)
    user_size = user_pixel_size(args)
    kwargs = {"options": options, "pixel_size": user_size,
              "include_border": args.include_border,
              "save_probability": args.save_probability, "weights_name": str(weights),
              "chunk": args.chunk}
    retried = []
    with cluster_from(args) as client:
        if client is None:
            device = pick_device(args.device)
            model = Segmenter.load(weights, device)
            print(f"labourfree segment: {len(inputs)} image(s) with {weights.name} on {device}",
                  file=sys.stderr)
            job = segment_files(model, inputs, args.out, **kwargs)
        else:
            from ..scaleout.segment import segment_files_on

            print(f"labourfree segment: {len(inputs)} image(s) with {weights.name} on "
                  f"{describe_cluster(client)}", file=sys.stderr)
            job = segment_files_on(client, weights, args.device, inputs, args.out, **kwargs)
        try:
            result = run_with_progress(job, args.quiet, unit="tile" if client is None
                                       else "image")
        except KeyboardInterrupt:
            print(f"\ninterrupted: finished images are in {args.out}", file=sys.stderr)
            return 130
    rows, failures, *more = result
    retried = more[0] if more else []
    _print_table([(name, "image", summary, size) for name, summary, size, *_ in rows])
    for name, _, _, quality, notes in rows:
        for note in notes:
            print(f"{name}: {note}", file=sys.stderr)
        if quality and quality.get("warnings"):
            print(f"warning: {name}: " + "; ".join(quality["warnings"]), file=sys.stderr)
    if retried:
        print(f"done again after their worker died: {', '.join(retried)}", file=sys.stderr)
    print(f"wrote {len(rows)} segmentation(s) to {args.out}", file=sys.stderr)
    return report_failures("segment", failures, len(inputs), "image(s)")


def _write_sample(out: Path, overwrite: bool) -> Path:
    """The built-in sample: a synthetic micrograph generated on the fly (and its truth)."""
    from .._sample_data import synthetic_micrograph
    from ..io.tiff import write_tiff

    path, truth = out / "sample.tif", out / "sample_truth_boundaries.tif"
    refuse_existing([path, truth], overwrite)
    (image, _, _), (mask, _, _) = synthetic_micrograph()
    write_tiff(path, image)
    write_tiff(truth, (mask * 255).astype("uint8"))
    print(f"wrote the built-in sample micrograph to {path} (its true boundaries: {truth.name})",
          file=sys.stderr)
    return path
