"""`labourfree train-segmenter`: train the U-Net on synthetic (image, mask) pairs."""

from __future__ import annotations

import sys
from pathlib import Path

from . import run_with_progress
from .train_style import add_colour, add_device_and_flags


def add_to(sub) -> None:
    p = sub.add_parser(
        "train-segmenter",
        help="train the U-Net on a synthesized (or simulated) folder of images and masks",
        description="Trains on DIR/images + DIR/masks with flips, turns, zoom, brightness, "
        "contrast, gamma, blur and noise; holds out a validation split and reports its "
        "interior IoU and boundary F1 after every epoch. Writes one .safetensors file after "
        "every epoch; Ctrl-C saves before stopping.",
    )
    p.add_argument("--data", type=Path, nargs="+", required=True,
                   help="`synthesize`, `simulate` or `paint` folder(s); crops are drawn from "
                        "all of them in proportion to their images' areas")
    p.add_argument("--start-from", metavar="default|WEIGHTS",
                   help="fine-tune these weights (the built-in 'default', or a file) instead "
                        "of starting from random weights; the U-Net's shape is theirs")
    p.add_argument("--out", type=Path, required=True, help="weights file (.safetensors)")
    p.add_argument("--preset", choices=("fast", "paper"), default="fast",
                   help="fast: depth 3, width 16, 128 px; paper: depth 4, width 64, 200 epochs")
    add_colour(p, "the --data images (or the --start-from model)")
    p.add_argument("--epochs", type=int, help="epochs (fast 8, paper 200)")
    p.add_argument("--steps-per-epoch", type=int, help="batches per epoch (fast 50)")
    p.add_argument("--crop-size", type=int, help="crop size in px (fast 128, paper 256)")
    p.add_argument("--batch-size", type=int, help="crops per batch (fast 4, paper 2)")
    p.add_argument("--depth", type=int, help="U-Net poolings")
    p.add_argument("--base", type=int, help="U-Net base width")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 1e-4)")
    p.add_argument("--dice", action="store_true", default=None, help="add a Dice loss term")
    p.add_argument("--val-fraction", type=float, help="share of images held out (default 0.1)")
    p.add_argument("--augment", type=float, help="appearance augmentation strength (0 = off)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    add_device_and_flags(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..devices import pick_device
    from ..segmenter.train import segmenter_config, train_segmenter
    from ..training_data import channels_for

    extra, start = {"depth": args.depth, "base": args.base}, None
    channels = channels_for(args.data, args.colour)
    if args.start_from is not None:  # the U-Net of the starting weights
        from ..checkpoints import read_header
        from ..segmenter.default import resolve_weights

        if args.depth is not None or args.base is not None:
            raise ValueError("--depth and --base are those of the --start-from weights; "
                             "leave them out to fine-tune")
        start = resolve_weights(args.start_from)
        arch = read_header(start)["config"]["architecture"]
        extra = {"depth": arch["depth"], "base": arch["base"],
                 "outputs": arch.get("outputs", 1)}
        if args.colour == "auto":  # a colour model stays colour
            channels = max(channels, arch.get("channels", 1))
    config = segmenter_config(
        args.preset, **extra, channels=channels, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
        crop_size=args.crop_size, batch_size=args.batch_size, lr=args.lr, dice=args.dice, val_fraction=args.val_fraction,
        augment=args.augment, seed=args.seed)
    device = pick_device(args.device)
    job = train_segmenter(args.data, args.out, config, device=device, resume=args.resume,
                          overwrite=args.overwrite, init=start)
    print(f"labourfree train-segmenter: preset {config.preset}, "
          f"{'RGB' if config.channels == 3 else 'grey'}, {config.epochs} epochs x "
          f"{config.steps_per_epoch} batches of {config.batch_size} on {device}",
          file=sys.stderr)
    try:
        out = run_with_progress(job, args.quiet, unit="batch")
    except KeyboardInterrupt:
        print(f"\ninterrupted: the weights so far are in {args.out} (--resume continues)",
              file=sys.stderr)
        return 130
    from ..checkpoints import read_header

    history = read_header(out)["config"]["training"]["history"]
    if history and "val_boundary_f1" in history[-1]:
        last = history[-1]
        print(f"validation after epoch {last['epoch']}: interior IoU {last['val_iou']:.3f}, "
              f"boundary F1 {last['val_boundary_f1']:.3f}", file=sys.stderr)
    print(f"wrote {out}", file=sys.stderr)
    return 0
