"""Phase-field speed: coloured solver vs the dense one-field-per-grain reference.

    python benchmarks/bench_phasefield.py [--size 512] [--grains 112] [--steps 1000]

Prints, for this machine: seconds per structure (median of 3, after a warm-up that
includes torch.compile), the dense reference's seconds (extrapolated from --dense-steps),
their ratio, each part's peak memory (process RSS, each part in its own process), and on a
GPU the batched throughput in structures per second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def part_coloured(args) -> dict:
    import torch

    from napari_labourfree.jobs import run_job
    from napari_labourfree.phasefield.params import GrowthParams
    from napari_labourfree.phasefield.solver import simulate

    params = GrowthParams(height=args.size, width=args.size, grains=args.grains, steps=args.steps)
    compile = not args.no_compile
    t0 = time.perf_counter()
    run_job(simulate(params, seeds=(100,), device=args.device, compile=compile))
    warmup = time.perf_counter() - t0
    times, fields = [], []
    for seed in range(3):
        t0 = time.perf_counter()
        result = run_job(simulate(params, seeds=(seed,), device=args.device, compile=compile))
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        fields.append(result.fields)
    return {"seconds": statistics.median(times), "all": times, "warmup_s": warmup,
            "fields": fields, "grains_final": result.grain_counts()[0],
            "peak_rss_mb": _peak_rss_mb()}


def part_dense(args) -> dict:
    from napari_labourfree.phasefield.params import GrowthParams
    from napari_labourfree.phasefield.reference import grow_dense
    from napari_labourfree.phasefield.solver import initial_labels

    params = GrowthParams(height=args.size, width=args.size, grains=args.grains, steps=args.steps)
    labels = initial_labels(params, [0])[0]
    grow_dense(labels, params, steps=1, device=args.device)  # warm-up
    t0 = time.perf_counter()
    grow_dense(labels, params, steps=args.dense_steps, device=args.device)
    per_step = (time.perf_counter() - t0) / args.dense_steps
    return {"seconds": per_step * args.steps, "steps_measured": args.dense_steps,
            "peak_rss_mb": _peak_rss_mb()}


def part_batched(args) -> dict:
    import torch

    from napari_labourfree.jobs import run_job
    from napari_labourfree.phasefield.params import GrowthParams
    from napari_labourfree.phasefield.solver import simulate

    params = GrowthParams(height=args.size, width=args.size, grains=args.grains, steps=args.steps)
    batch = args.batch
    run_job(simulate(params, seeds=range(batch), device=args.device))
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    run_job(simulate(params, seeds=range(batch, 2 * batch), device=args.device))
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    return {"batch": batch, "structures_per_s": batch / seconds,
            "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20}


def run_part(name: str, argv: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, "--part", name, *argv],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--grains", type=int, default=112)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--dense-steps", type=int, default=20,
                   help="steps actually run by the dense reference (extrapolated to --steps)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=32, help="structures per GPU batch")
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--part", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.part:
        print(json.dumps(globals()[f"part_{args.part}"](args)))
        return

    import torch

    argv = [a for a in sys.argv[1:]]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), device {args.device}")
    print(f"case: {args.size}x{args.size} px, {args.grains} grains, {args.steps} steps")
    col = run_part("coloured", argv)
    print(f"coloured solver : {col['seconds']:.2f} s/structure (median of 3: "
          f"{', '.join(f'{t:.2f}' for t in col['all'])}); first run incl. compile "
          f"{col['warmup_s']:.1f} s; fields {col['fields']}; peak RSS {col['peak_rss_mb']:.0f} MB")
    den = run_part("dense", argv)
    print(f"dense reference : {den['seconds']:.1f} s/structure (extrapolated from "
          f"{den['steps_measured']} steps); peak RSS {den['peak_rss_mb']:.0f} MB")
    print(f"speed-up        : {den['seconds'] / col['seconds']:.0f}x")
    if args.device.startswith("cuda") and torch.cuda.is_available():
        bat = run_part("batched", argv)
        print(f"GPU batched     : {bat['structures_per_s']:.2f} structures/s "
              f"(batch {bat['batch']}, peak GPU memory {bat['peak_gpu_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
