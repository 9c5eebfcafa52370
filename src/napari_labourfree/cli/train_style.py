"""`labourfree train-style`: learn the look of real micrographs (CycleGAN, no labels)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..derived import TINT_CHOICES
from . import run_with_progress


def add_to(sub) -> None:
    p = sub.add_parser(
        "train-style",
        help="train the CycleGAN between simulations and real (unlabeled) micrographs",
        description="Unpaired CycleGAN: F turns simulations into images that look like yours, "
        "G the reverse. Real images need no labels. Writes one .safetensors file (weights, "
        "optimizer state for --resume, config and provenance in its header), every "
        "--checkpoint-every iterations and at the end; Ctrl-C saves before stopping.",
    )
    p.add_argument("--sim", type=Path, required=True, help="a `labourfree simulate` folder")
    p.add_argument("--real", type=Path, nargs="+", required=True,
                   help="real micrographs: folders and/or files (grey or RGB, 8/16-bit, any size)")
    p.add_argument("--out", type=Path, required=True, help="weights file (.safetensors)")
    p.add_argument("--preset", choices=("fast", "paper"), default="fast",
                   help="fast: minutes on a laptop CPU; paper: ResNet-9, ngf 64, 256 px (GPU)")
    p.add_argument("--model", choices=("cyclegan", "cut", "fastcut"),
                   help="cyclegan (default): two generators and a cycle; cut / fastcut: one "
                        "generator and a contrastive patch loss, about half the time")
    add_colour(p, "the real images")
    p.add_argument("--grain-tint", choices=TINT_CHOICES, default="auto",
                   help="each simulated grain in a random colour before the model sees it, "
                        "as tint etching colours grains (synthesize then tints the same "
                        "way): auto (default) when the style is colour")
    p.add_argument("--iterations", type=int, help="training iterations (preset: fast 2000)")
    p.add_argument("--crop-size", type=int, help="random crop size in px (fast 128, paper 256)")
    p.add_argument("--batch-size", type=int, help="crops per iteration (default 1)")
    p.add_argument("--ngf", type=int, help="generator base width")
    p.add_argument("--ndf", type=int, help="discriminator base width")
    p.add_argument("--n-blocks", type=int, help="residual blocks in each generator")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 2e-4)")
    p.add_argument("--lambda-cycle", type=float, help="cycle-consistency weight (default 10)")
    p.add_argument("--lambda-identity", type=float,
                   help="identity weight, times the cycle weight (default 0.5)")
    p.add_argument("--checkpoint-every", type=int, help="iterations between checkpoints")
    p.add_argument("--pool-size", type=int, help="image pool size (default 50)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    add_device_and_flags(p)
    p.set_defaults(func=run)


def add_colour(p, what: str) -> None:
    p.add_argument("--colour", choices=("auto", "rgb", "grey"), default="auto",
                   help=f"rgb: learn and make colour images; grey: colour is reduced to grey "
                        f"along its strongest contrast; auto (default): rgb when any of {what} "
                        f"is colour")


def add_device_and_flags(p) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    p.add_argument("--resume", action="store_true", help="continue training the --out weights")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from ..devices import pick_device
    from ..style.train import choose_grain_tint, style_config, train_style
    from ..training_data import channels_for

    channels = channels_for(args.real, args.colour)
    config = style_config(
        args.preset, model=args.model, channels=channels, iterations=args.iterations,
        grain_tint=choose_grain_tint(args.grain_tint, channels, args.sim, args.out,
                                     args.resume),
        crop_size=args.crop_size,
        batch_size=args.batch_size, ngf=args.ngf, ndf=args.ndf, n_blocks=args.n_blocks,
        lr=args.lr, lambda_cycle=args.lambda_cycle, lambda_identity=args.lambda_identity,
        checkpoint_every=args.checkpoint_every, pool_size=args.pool_size, seed=args.seed)
    device = pick_device(args.device)
    job = train_style(args.sim, args.real, args.out, config, device=device, resume=args.resume,
                      overwrite=args.overwrite)
    print(f"labourfree train-style: {config.model}, preset {config.preset}, "
          f"{'RGB' if config.channels == 3 else 'grey'}"
          f"{' with grain tints' if config.grain_tint else ''}, "
          f"{config.iterations} iterations, "
          f"{config.crop_size} px crops on {device}", file=sys.stderr)
    try:
        out = run_with_progress(job, args.quiet, unit="it")
    except KeyboardInterrupt:
        print(f"\ninterrupted: the weights so far are in {args.out} (--resume continues)",
              file=sys.stderr)
        return 130
    print(f"wrote {out}", file=sys.stderr)
    return 0
