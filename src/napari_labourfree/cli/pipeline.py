"""`labourfree pipeline`: the whole labour-free method on your micrographs, resumable."""

from __future__ import annotations

import sys
from pathlib import Path

from ..derived import TINT_CHOICES
from . import run_with_progress, user_pixel_size


def add_to(sub) -> None:
    p = sub.add_parser(
        "pipeline",
        help="simulate -> learn your images' style -> synthesize -> train -> segment -> report",
        description="Runs every stage into DIR (simulations/, style.safetensors, synthetic/, "
        "segmenter.safetensors, segmented/, report.md). Re-running skips finished stages and "
        "resumes interrupted training. The real images are used without labels; --truth "
        "only adds metrics to the report.",
    )
    p.add_argument("--real", type=Path, nargs="+", required=True,
                   help="your micrographs: files or folders")
    p.add_argument("--out", type=Path, required=True, help="working and output folder")
    p.add_argument("--preset", choices=("fast", "paper"), default="fast",
                   help="fast: about 15 min on a 2-core CPU; paper: the paper's sizes (GPU)")
    p.add_argument("--truth", type=Path, nargs="+", help="true boundary masks (files or "
                   "folders, named like the images) to score the result in the report")
    p.add_argument("--count", type=int, help="simulated structures (fast 40, paper 300)")
    p.add_argument("--iterations", type=int, help="style training iterations")
    p.add_argument("--epochs", type=int, help="segmenter epochs")
    p.add_argument("--close-gaps", type=float, default=0.0,
                   help="with a one-output segmenter: split grains joined through "
                        "boundary gaps (px, default off)")
    p.add_argument("--start-from", default="default", metavar="default|scratch|WEIGHTS",
                   help="the segmenter is fine-tuned from these weights, with appearance-engine "
                        "images beside the synthetic ones so it keeps what it knew (default: "
                        "the built-in model); 'scratch' trains a fresh U-Net")
    p.add_argument("--grain-size", default="auto", metavar="auto|PX|preset",
                   help="the mean grain diameter of your images, which the simulations take: "
                        "auto (estimated without labels by the built-in default), a number "
                        "of px, or preset (112 grains in 512 px)")
    p.add_argument("--particles", default="auto", metavar="auto|FRACTION",
                   help="second-phase particles the simulations carry: auto (found in your "
                        "images without labels; none when there are none) or an area "
                        "fraction such as 0.02 (0: none)")
    p.add_argument("--style-model", choices=("cyclegan", "cut", "fastcut"),
                   default="cyclegan", help="cyclegan (default, as in the paper) or the "
                   "one-sided contrastive cut / fastcut: about half the style training time")
    p.add_argument("--colour", choices=("auto", "rgb", "grey"), default="auto",
                   help="rgb: colour micrographs (tint etching) stay colour through the "
                        "style, the synthetic images and the segmenter; grey: colour is "
                        "reduced to grey along its strongest contrast; auto (default): rgb "
                        "when any image is colour")
    p.add_argument("--grain-tint", choices=TINT_CHOICES, default="auto",
                   help="each simulated grain gets a random colour before the style model "
                        "sees it, as tint etching colours grains by orientation: auto "
                        "(default: when the images are colour), on (also grey images whose "
                        "grains differ in brightness), off")
    p.add_argument("--seed", type=int, default=0,
                   help="random seed of the simulations and trainings (default 0): runs with "
                        "other seeds show how much a result varies")
    p.add_argument("--pixel-size", type=float, help="pixel size (default: from the files)")
    p.add_argument("--unit", default="um", help="unit of --pixel-size")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..devices import pick_device
    from ..pipeline import PipelinePlan, run_pipeline
    from ..segmenter.options import SegmentOptions

    plan = PipelinePlan(
        real=args.real, out=args.out, preset=args.preset, truth=args.truth, count=args.count,
        iterations=args.iterations, epochs=args.epochs,
        start_from=None if args.start_from == "scratch" else args.start_from,
        grain_size=args.grain_size, particles=args.particles, seed=args.seed,
        style_model=args.style_model, colour=args.colour, grain_tint=args.grain_tint,
        segment=SegmentOptions().with_(close_gaps=args.close_gaps),
        pixel_size=user_pixel_size(args))
    device = pick_device(args.device)
    job = run_pipeline(plan, device)
    print(f"labourfree pipeline: preset {args.preset}, {len(plan.real)} real image(s), "
          f"on {device}, into {args.out}", file=sys.stderr)
    try:
        report = run_with_progress(job, args.quiet)
    except KeyboardInterrupt:
        print(f"\ninterrupted: run the same command again to continue from {args.out}",
              file=sys.stderr)
        return 130
    print(f"wrote {report}", file=sys.stderr)
    return 0
