"""`labourfree simulate`: phase-field polycrystals as a training data set."""

from __future__ import annotations

import sys
from pathlib import Path

from . import add_cluster_options, cluster_from, describe_cluster, run_with_progress, size_arg


def add_to(sub) -> None:
    from ..phasefield.params import GrowthParams

    d = GrowthParams()
    p = sub.add_parser(
        "simulate",
        help="grow phase-field polycrystals: images (phi), boundary masks, grain labels",
        description="Voronoi seeds + Allen-Cahn grain growth. Writes DIR/images/*.tif (phi, "
        "float32), DIR/masks/*.tif (uint8, 255 = boundary), DIR/labels/*.tif (grain ids) and "
        "DIR/meta.json.",
    )
    p.add_argument("--count", type=int, default=10, help="number of structures (default 10)")
    p.add_argument("--size", type=size_arg, default=(d.height, d.width),
                   help="N or HxW pixels (default 512)")
    p.add_argument("--grains", type=int, default=d.grains, help=f"initial grains (default {d.grains})")
    p.add_argument("--steps", type=int, default=d.steps, help=f"time steps (default {d.steps})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", type=Path, required=True, help="output folder (new or empty)")
    p.add_argument("--dt", type=float, default=d.dt, help=f"time step (default {d.dt})")
    p.add_argument("--mobility", type=float, default=d.mobility, help="kinetic coefficient L")
    p.add_argument("--kappa", type=float, default=d.kappa, help="gradient energy coefficient")
    p.add_argument("--spread", type=float, default=d.spread,
                   help="grain sizes side by side: std of the log seed density (0 = even, "
                        f"1 = fine and coarse grains; 0 to 3; default {d.spread:g})")
    p.add_argument("--regularity", type=int, default=d.regularity,
                   help=f"Lloyd iterations evening out grain areas (0 = random; default {d.regularity})")
    p.add_argument("--gap", type=int, default=d.gap,
                   help="px kept between grains sharing an order-parameter field")
    p.add_argument("--mask-threshold", type=float, default=d.mask_threshold,
                   help=f"phi below this is boundary (default {d.mask_threshold})")
    p.add_argument("--snapshot-every", type=int, default=0,
                   help="also write growth sequences, one frame every K steps")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, mps")
    p.add_argument("--batch-size", type=int, default=None,
                   help="structures grown at once (default: 1 on CPU, 16 on GPU)")
    p.add_argument("--no-compile", action="store_true",
                   help="skip torch.compile (slower, but needs no C compiler)")
    add_cluster_options(p, "structures (one task each)")
    p.add_argument("--overwrite", action="store_true",
                   help="allow writing into a non-empty folder, replacing an earlier simulation")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..devices import pick_device
    from ..phasefield.dataset import simulate_dataset
    from ..phasefield.params import GrowthParams

    params = GrowthParams(
        height=args.size[0], width=args.size[1], grains=args.grains, steps=args.steps,
        dt=args.dt, mobility=args.mobility, kappa=args.kappa, regularity=args.regularity,
        spread=args.spread,
        gap=args.gap, mask_threshold=args.mask_threshold,
    ).validate()
    if args.snapshot_every < 0:
        raise ValueError("--snapshot-every must not be negative")
    if args.batch_size is not None and (args.workers is not None or args.scheduler):
        raise ValueError("--batch-size is for the in-process run; with --workers or "
                         "--scheduler every structure is its own task")
    with cluster_from(args) as client:
        if client is None:
            device = pick_device(args.device)
            job = simulate_dataset(
                params, args.count, args.out, seed=args.seed, device=device,
                compile=False if args.no_compile else None, batch_size=args.batch_size,
                snapshot_every=args.snapshot_every, overwrite=args.overwrite,
            )
        else:
            from ..scaleout.simulate import simulate_dataset_on

            device = describe_cluster(client)
            job = simulate_dataset_on(
                client, params, args.count, args.out, seed=args.seed, device=args.device,
                compile=False if args.no_compile else None,
                snapshot_every=args.snapshot_every, overwrite=args.overwrite)
        print(f"labourfree simulate: {args.count} x {params.height}x{params.width} px, "
              f"{params.grains} grains, {params.steps} steps on {device}", file=sys.stderr)
        try:
            meta = run_with_progress(job, args.quiet,
                                     unit="step" if client is None else "structure")
        except KeyboardInterrupt:
            done = _completed(args.out)
            print(f"\ninterrupted: {done} complete structure(s) kept in {args.out}",
                  file=sys.stderr)
            return 130
    if meta.get("retried"):
        print(f"grown again after their worker died: structures {meta['retried']}",
              file=sys.stderr)
    for failure in meta.get("failed", []):
        print(f"labourfree simulate: error: structure {failure['index']}: "
              f"{failure['error']}", file=sys.stderr)
    grains = [s["grains_final"] for s in meta["structures"]] or [0]
    print(f"wrote {meta['completed']} structures to {args.out} "
          f"(grains per structure: {min(grains)}-{max(grains)})", file=sys.stderr)
    return 1 if meta.get("failed") else 0


def _completed(out: Path) -> int:
    import json

    try:
        return json.loads((Path(out) / "meta.json").read_text())["completed"]
    except (OSError, ValueError, KeyError):
        return 0
