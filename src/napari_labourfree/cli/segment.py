"""`labourfree segment`: boundaries, grains and grain tables for micrographs."""

from __future__ import annotations

import sys
from pathlib import Path

from . import refuse_existing, run_with_progress, software_versions


def add_to(sub) -> None:
    p = sub.add_parser(
        "segment",
        help="segment micrographs with a trained U-Net -> boundaries, labels, grain CSV",
        description="For each image writes DIR/<stem>_boundaries.tif (uint8, 255 = "
        "boundary), DIR/<stem>_labels.tif (grain ids; boundary pixels go to the nearest "
        "grain), DIR/<stem>_grains.csv and DIR/<stem>_grains_summary.json. Images of any "
        "size are processed in overlapping tiles.",
    )
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGES",
                   help="micrographs (files or folders; grey or RGB, 8/16-bit or float)")
    p.add_argument("--model", default="default",
                   help="segmenter weights (.safetensors), or 'default' for the built-in model")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--pixel-size", type=float, help="pixel side length (default: from the file)")
    p.add_argument("--unit", default="um", help="unit of --pixel-size (nm, um, mm)")
    p.add_argument("--threshold", type=float, help="boundary probability cut (default: the model's)")
    p.add_argument("--min-area", type=int, default=16,
                   help="grains smaller than this (px) merge into their neighbours (default 16)")
    p.add_argument("--close-gaps", type=float, default=0.0,
                   help="split grains joined through gaps in the predicted boundaries "
                        "(h-maxima height in px, e.g. 3; default off)")
    p.add_argument("--tile", type=int, default=512, help="tile size in px (default 512)")
    p.add_argument("--overlap", type=int, default=64, help="tile overlap in px (default 64)")
    p.add_argument("--tta", action="store_true", help="average the 8 flips/turns (8x slower)")
    p.add_argument("--save-probability", action="store_true",
                   help="also write <stem>_probability.tif (float32)")
    p.add_argument("--include-border", action="store_true",
                   help="count grains touching the edge in the summary statistics")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def resolve_model(name: str) -> Path:
    """'default' -> the weights shipped in the package; anything else is a path."""
    if name == "default":
        from ..segment.default import default_weights

        return default_weights()
    path = Path(name)
    if not path.is_file():
        raise FileNotFoundError(f"no such weights file: {path}")
    return path


def run(args) -> int:
    from ..analysis.statistics import grain_summary, grain_table
    from ..devices import pick_device
    from ..io.images import list_images, read_image
    from ..io.tables import write_csv, write_json
    from ..io.tiff import write_tiff
    from ..jobs import Progress, relay
    from ..segment.model import Segmenter
    from ..units import PixelSize
    from .grains import _print_table

    inputs = list_images(args.images)
    stems = [p.stem for p in inputs]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    if twice:
        raise ValueError(f"inputs share a name, their outputs would collide: {', '.join(twice)}")
    if args.out.exists() and not args.out.is_dir():
        raise NotADirectoryError(f"--out {args.out} exists and is not a folder")
    names = ["boundaries.tif", "labels.tif", "grains.csv", "grains_summary.json"]
    if args.save_probability:
        names.append("probability.tif")
    refuse_existing([args.out / f"{s}_{n}" for s in stems for n in names], args.overwrite)
    user_size = PixelSize(args.pixel_size, args.unit, "user") if args.pixel_size else None
    device = pick_device(args.device)
    weights = resolve_model(args.model)
    model = Segmenter.load(weights, device)
    print(f"labourfree segment: {len(inputs)} image(s) with {weights.name} on {device}",
          file=sys.stderr)

    def job():
        rows = []
        for i, path in enumerate(inputs):
            loaded = read_image(path, grey=True)
            for note in loaded.notes:
                print(f"{path.name}: {note}", file=sys.stderr)
            size = user_size or loaded.pixel_size
            result = yield from relay(
                model.segment(loaded.data, threshold=args.threshold, min_area=args.min_area,
                              close_gaps=args.close_gaps, tile=args.tile,
                              overlap=args.overlap, tta=args.tta),
                lambda e, i=i: Progress(e.step, e.total,
                                        f"image {i + 1}/{len(inputs)}: {e.message}"))
            stem = args.out / path.stem
            scale = _imagej_scale(size)
            write_tiff(f"{stem}_boundaries.tif", result.boundaries.astype("uint8") * 255,
                       **scale)
            labels = result.labels
            if labels.max() < 2**16:
                write_tiff(f"{stem}_labels.tif", labels.astype("uint16"), **scale)
            else:
                write_tiff(f"{stem}_labels.tif", labels)
            if args.save_probability:
                write_tiff(f"{stem}_probability.tif", result.probability, **scale)
            table = grain_table(labels, size)
            summary = grain_summary(labels, table, size, args.include_border)
            write_csv(f"{stem}_grains.csv", table)
            write_json(f"{stem}_grains_summary.json", {
                "image": path.name, "input": str(path), "model": str(weights),
                "pixel_size": None if size is None else size.as_dict(),
                "parameters": {"threshold": args.threshold or model.threshold,
                               "min_area": args.min_area, "close_gaps": args.close_gaps,
                               "tile": args.tile,
                               "overlap": args.overlap, "tta": args.tta,
                               "include_border": args.include_border},
                "software": software_versions(), "summary": summary,
                "grain_table": f"{path.stem}_grains.csv"})
            rows.append((path.name, "image", summary, size))
        return rows

    try:
        rows = run_with_progress(job(), args.quiet, unit="tile")
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished images are in {args.out}", file=sys.stderr)
        return 130
    _print_table(rows)
    print(f"wrote {len(rows)} segmentation(s) to {args.out}", file=sys.stderr)
    return 0


def _imagej_scale(size) -> dict:
    """tifffile arguments that record the pixel size the ImageJ way (read back by `grains`)."""
    if size is None:
        return {}
    return {"imagej": True, "resolution": (1 / size.value, 1 / size.value),
            "metadata": {"unit": size.unit}, "compression": "zlib"}
