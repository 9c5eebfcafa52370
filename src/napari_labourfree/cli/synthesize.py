"""`labourfree synthesize`: restyle simulations into synthetic micrographs with their masks."""

from __future__ import annotations

import sys
from pathlib import Path

from . import run_with_progress


def add_to(sub) -> None:
    p = sub.add_parser(
        "synthesize",
        help="apply a trained style to every simulation: (synthetic image, mask, labels)",
        description="Writes DIR/images/*.tif (uint8 synthetic micrographs), DIR/masks and "
        "DIR/labels (copied from the simulation, never re-derived) and DIR/meta.json.",
    )
    p.add_argument("--sim", type=Path, required=True, help="a `labourfree simulate` folder")
    p.add_argument("--style", type=Path, required=True, help="weights from train-style")
    p.add_argument("--out", type=Path, required=True, help="output folder (new or empty)")
    p.add_argument("--tile", type=int, default=1024,
                   help="images larger than this are styled in overlapping tiles (default 1024)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--overwrite", action="store_true",
                   help="write into a non-empty folder, replacing an earlier synthesis")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..devices import pick_device
    from ..style.model import synthesize

    device = pick_device(args.device)
    job = synthesize(args.sim, args.style, args.out, device=device, overwrite=args.overwrite,
                     tile=args.tile)
    try:
        meta = run_with_progress(job, args.quiet, unit="image")
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished images are kept in {args.out}", file=sys.stderr)
        return 130
    print(f"wrote {meta['completed']} synthetic images to {args.out} on {device}",
          file=sys.stderr)
    return 0
