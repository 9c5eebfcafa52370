"""The whole method as one resumable job: simulate -> style -> synthesize -> segmenter ->
segment -> grain tables -> report. Each stage is skipped when its output is complete, and
training stages resume from their last checkpoint."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from .jobs import Job, Progress, relay
from .segmenter.options import SegmentOptions

PRESETS = {
    # about 15 minutes on a 2-core laptop CPU
    "fast": {"count": 40, "size": 512, "grains": 112, "steps": 1000},
    # the paper's sizes: 300 structures, ResNet-9 CycleGAN, 200 U-Net epochs (GPU)
    "paper": {"count": 300, "size": 512, "grains": 112, "steps": 1000},
}
STYLE_OVERRIDES = ("crop_size", "ngf", "ndf", "n_blocks")
SEGMENTER_OVERRIDES = ("crop_size", "depth", "base", "steps_per_epoch", "batch_size")
OVERRIDES = sorted({*PRESETS["fast"], *STYLE_OVERRIDES, *SEGMENTER_OVERRIDES})


@dataclass
class PipelinePlan:
    real: list[Path]
    out: Path
    preset: str = "fast"
    truth: list[Path] | None = None  # true boundary masks: files and/or folders
    count: int | None = None
    iterations: int | None = None
    epochs: int | None = None
    segment: SegmentOptions = field(default_factory=SegmentOptions)
    pixel_size: object = None
    overrides: dict | None = None  # any of OVERRIDES: size, grains, steps, crop_size, ...
    # the segmenter starts from these weights ("default": the built-in generalist) and is
    # fine-tuned on the synthetic pairs mixed with appearance-engine images, so it keeps
    # what it knew; None trains a fresh U-Net from random weights
    start_from: str | Path | None = "default"

    @property
    def sims(self) -> Path:
        return self.out / "simulations"

    @property
    def style(self) -> Path:
        return self.out / "style.safetensors"

    @property
    def synthetic(self) -> Path:
        return self.out / "synthetic"

    @property
    def baseline(self) -> Path:
        return self.out / "default-segmented"

    @property
    def engine(self) -> Path:
        return self.out / "engine"

    @property
    def segmenter(self) -> Path:
        return self.out / "segmenter.safetensors"

    @property
    def segmented(self) -> Path:
        return self.out / "segmented"


def run_pipeline(plan: PipelinePlan, device="cpu") -> Job[Path]:
    """Check the plan now; return the job (which returns the report's path)."""
    from . import checkpoints
    from .io.folders import FolderLock, check_apart, locked
    from .io.images import list_images, read_image
    from .normalise import check_image

    # everything is checked here, before minutes of simulation
    if plan.preset not in PRESETS:
        raise ValueError(f"unknown preset {plan.preset!r}; choose one of {', '.join(PRESETS)}")
    unknown = sorted(set(plan.overrides or {}) - set(OVERRIDES))
    if unknown:
        raise ValueError(f"unknown pipeline override(s) {', '.join(unknown)}; "
                         f"known: {', '.join(OVERRIDES)}")
    for name in ("count", "iterations", "epochs"):
        value = getattr(plan, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ValueError(f"{name} must be a whole number of at least 1, not {value!r}")
    if plan.start_from is not None:
        from .segmenter.default import resolve_weights

        clash = sorted({"depth", "base"} & set(plan.overrides or {}))
        if clash:
            raise ValueError(f"override(s) {', '.join(clash)} change the U-Net, which is "
                             "fine-tuned from its starting weights; start from scratch to "
                             "change them")
        plan.start_from = resolve_weights(plan.start_from)
        checkpoints.load(plan.start_from, checkpoints.SEGMENTER)  # a usable file, now
    truth = [] if plan.truth is None else (
        list(plan.truth) if isinstance(plan.truth, (list, tuple)) else [plan.truth])
    check_apart(plan.out, [*plan.real, *truth])
    plan.real = list_images(plan.real)
    for path in plan.real:  # unreadable, NaN, stacks: refused now, with the file's name
        check_image(read_image(path, grey=True).data, name=str(path))
    if plan.truth is not None:
        plan.truth = list_images(truth)
    lock = FolderLock(plan.out, "pipeline")
    return locked(_pipeline_job(plan, device), lock)


STAGES = ("simulate", "train style", "synthesize", "train segmenter", "segment", "report")


def _pipeline_job(plan: PipelinePlan, device):
    from . import checkpoints
    from .appearance.dataset import render_dataset
    from .phasefield.dataset import simulate_dataset
    from .phasefield.params import GrowthParams
    from .segmenter.batch import segment_files
    from .segmenter.default import default_weights
    from .segmenter.model import Segmenter
    from .segmenter.train import segmenter_config, train_segmenter
    from .style.model import synthesize
    from .style.train import style_config, train_style

    extra = dict(plan.overrides or {})
    preset = {**PRESETS[plan.preset], **{k: extra.pop(k) for k in list(extra)
                                        if k in PRESETS[plan.preset]}}
    count = plan.count or preset["count"]
    style_extra = {k: extra[k] for k in STYLE_OVERRIDES if k in extra}
    seg_extra = {k: extra[k] for k in SEGMENTER_OVERRIDES if k in extra}
    timings = _load_timings(plan.out)
    n = len(STAGES)

    def tag(k):
        return lambda e: Progress(e.step, e.total, f"[{k + 1}/{n}] {STAGES[k]}: {e.message}",
                                  e.losses, e.preview)

    # 1. simulate
    if _meta(plan.sims).get("completed") != count:
        params = GrowthParams(height=preset["size"], width=preset["size"],
                              grains=preset["grains"], steps=preset["steps"])
        start = time.perf_counter()
        yield from relay(simulate_dataset(params, count, plan.sims, seed=0, device=device,
                                          overwrite=True), tag(0))
        timings["simulate"] = time.perf_counter() - start
    # 2. style
    config = style_config(plan.preset, iterations=plan.iterations, **style_extra)
    if _iteration(plan.style, "iteration") < config.iterations:
        start = time.perf_counter()
        yield from relay(train_style(plan.sims, plan.real, plan.style, config, device=device,
                                     resume=plan.style.exists()), tag(1))
        timings["train style"] = timings.get("train style", 0) + time.perf_counter() - start
    # 3. synthesize
    done = _meta(plan.synthetic)
    if done.get("completed") != count or done.get("style_weights") != str(plan.style):
        start = time.perf_counter()
        yield from relay(synthesize(plan.sims, plan.style, plan.synthetic, device=device,
                                    overwrite=True), tag(2))
        timings["synthesize"] = time.perf_counter() - start
    # 4. segmenter
    if plan.start_from is not None:  # the same U-Net as the starting weights
        arch = checkpoints.read_header(plan.start_from)["config"]["architecture"]
        seg_extra.update(depth=arch["depth"], base=arch["base"],
                         outputs=arch.get("outputs", 1))
    seg_config = segmenter_config(plan.preset, epochs=plan.epochs, **seg_extra)
    total = seg_config.epochs * seg_config.steps_per_epoch
    if _iteration(plan.segmenter, "step") < total:
        start = time.perf_counter()
        data = [plan.synthetic]
        if plan.start_from is not None:  # generic looks beside the learned one: no forgetting
            if _meta(plan.engine).get("count") != count:
                yield from relay(render_dataset(plan.sims, plan.engine, count,
                                                size=preset["size"], overwrite=True), tag(3))
            data.append(plan.engine)
        yield from relay(train_segmenter(data, plan.segmenter, seg_config, device=device,
                                         resume=plan.segmenter.exists(),
                                         init=plan.start_from), tag(3))
        timings["train segmenter"] = (timings.get("train segmenter", 0)
                                      + time.perf_counter() - start)
    # 5. segment the real images
    start = time.perf_counter()
    model = Segmenter.load(plan.segmenter, device)
    rows, failures = yield from relay(segment_files(
        model, plan.real, plan.segmented, options=plan.segment,
        pixel_size=plan.pixel_size, skip_done=True, weights_name=str(plan.segmenter)), tag(4))
    timings.setdefault("segment", time.perf_counter() - start)
    _save_timings(plan.out, timings)
    # 6. report, with the built-in default's result beside the pipeline's: what the
    # training bought
    yield Progress(0, 1, f"[6/{n}] report")
    baseline, _ = yield from relay(segment_files(
        Segmenter.load(default_weights(), device), plan.real, plan.baseline,
        options=plan.segment, pixel_size=plan.pixel_size, skip_done=True,
        weights_name="default"), lambda e: Progress(e.step, e.total,
                                                    f"[6/{n}] report: the default alone, "
                                                    f"{e.message}"))
    history = checkpoints.read_header(plan.segmenter)["config"]["training"]["history"]
    report = write_report(plan, rows, timings, history, failures, baseline)
    yield Progress(1, 1, f"[6/{n}] report: {report}")
    return report


def _meta(folder: Path) -> dict:
    try:
        return json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError):
        return {}


def _iteration(weights: Path, key: str) -> int:
    from . import checkpoints

    if not weights.exists():
        return -1
    try:
        return int(checkpoints.read_header(weights)["config"]["training"][key])
    except (ValueError, KeyError):
        return -1


def _load_timings(out: Path) -> dict:
    try:
        return json.loads((out / "timings.json").read_text())
    except (OSError, ValueError):
        return {}


def _save_timings(out: Path, timings: dict) -> None:
    from .io.atomic import write_text

    write_text(out / "timings.json", json.dumps(timings, indent=2))


def write_report(plan: PipelinePlan, rows, timings: dict, history: list,
                 failures=(), baseline=()) -> Path:
    """report.md with sample pictures, grain-size histograms and (with a truth) metrics."""
    from .io.images import read_image
    from .io.pictures import to_uint8, write_png
    from .io.tables import read_csv

    pictures = plan.out / "report"
    pictures.mkdir(exist_ok=True)
    lines = ["# Labour-free segmentation report", "",
             f"Preset `{plan.preset}`; {len(plan.real)} real image(s), used without labels.",
             "", "The segmenter was " + (
                 f"fine-tuned from `{Path(plan.start_from).name}` on the synthetic pairs and "
                 "as many appearance-engine images." if plan.start_from is not None
                 else "trained from random weights on the synthetic pairs."), ""]
    lines += ["| stage | minutes |", "|---|---|"]
    lines += [f"| {k} | {v / 60:.1f} |" for k, v in timings.items()]
    if history:
        last = history[-1]
        lines += ["", (f"Segmenter validation on held-out synthetic images after epoch "
                  f"{last['epoch']}: interior IoU {last.get('val_iou', float('nan')):.3f}, "
                  f"boundary F1 {last.get('val_boundary_f1', float('nan')):.3f}.")]
    # real vs synthetic
    synthetic = sorted((plan.synthetic / "images").glob("*.tif"))[:1]
    if synthetic:
        real = read_image(plan.real[0]).data
        write_png(pictures / "real.png", to_uint8(real))
        write_png(pictures / "synthetic.png", to_uint8(read_image(synthetic[0]).data))
        lines += ["", "## Real and synthetic", "",
                  "| a real image | a synthetic image (simulation in the learned style) |",
                  "|---|---|", "| ![](report/real.png) | ![](report/synthetic.png) |"]
    lines += ["", "## Predicted boundaries", ""]
    for name, *_ in rows[:6]:
        lines += [f"![{name}](segmented/{Path(name).stem}_overlay.png)", ""]
    # grain statistics
    tables = [read_csv(plan.segmented / f"{Path(name).stem}_grains.csv") for name, *_ in rows]
    area_key = next((k for k in tables[0] if k.startswith("area_") and k != "area_px"),
                    "area_px") if tables else "area_px"
    default_grains = {name: summary["grains"] for name, summary, *_ in baseline}
    lines += ["## Grains", "", "| image | grains | mean ECD | ASTM G | grains, default alone |",
              "|---|---|---|---|---|"]
    for name, summary, *_ in rows:
        ecd = [v for k, v in summary.items() if k.startswith("mean_equivalent_diameter_")]
        lines.append(f"| {name} | {summary['grains']} | {_fmt(ecd[-1], '.3g')} | "
                     f"{_fmt(summary.get('astm_g_planimetric'), '.2f')} | "
                     f"{default_grains.get(name, '-')} |")
    _histograms(tables, area_key, pictures / "histograms.png")
    lines += ["", "![area and circularity of grains inside the images](report/histograms.png)"]
    if failures:
        lines += ["", "## Images that could not be segmented", ""]
        lines += [f"- {name}: {message}" for name, message in failures]
    if plan.truth is not None:
        lines += ["", "## Against the ground truth", ""] + _metrics_table(plan)
    from .io.atomic import write_text

    report = plan.out / "report.md"
    write_text(report, "\n".join(lines) + "\n")
    return report


def _fmt(value, spec: str) -> str:
    """A number for a table cell; '-' for None/NaN (a summary read back from JSON)."""
    if value is None or math.isnan(value):
        return "-"
    return format(value, spec)


def _histograms(tables, area_key: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib.figure import Figure

    inner = [t for t in tables if len(t.get("label", []))]
    area = np.concatenate([t[area_key][~t["touches_border"]] for t in inner]) if inner else []
    circ = np.concatenate([t["circularity"][~t["touches_border"]] for t in inner]) \
        if inner else []
    figure = Figure(figsize=(8, 3), layout="constrained")
    a, c = figure.subplots(1, 2)
    a.hist(area, bins=30, color="#4477aa")
    a.set_xlabel(area_key.replace("_", " "))
    c.hist(circ, bins=30, range=(0, 1), color="#66ccee")
    c.set_xlabel("circularity")
    figure.savefig(path, dpi=90)


def _metrics_table(plan: PipelinePlan) -> list[str]:
    """Mean metrics of the pipeline's segmentation and of the built-in default's."""
    lines = ["| segmenter | images | boundary F1 | AP | ARI | count error | interior IoU |",
             "|---|---|---|---|---|---|---|"]
    for label, folder in (("this pipeline", plan.segmented),
                          ("built-in default alone", plan.baseline)):
        scored = _scores(folder, plan.truth)
        if scored is None:
            continue
        count, m = scored
        lines.append(f"| {label} | {count} | {m['boundary_f1']:.3f} | {m['ap']:.3f} | "
                     f"{m['ari']:.3f} | {m['count_error']:.3f} | {m['iou']:.3f} |")
    if len(lines) == 2:
        return ["No prediction matched a truth file by name."]
    return lines


def _scores(folder: Path, truth_files):
    """(images, mean metrics) of a folder of segmentations against the truth, or None."""
    from .analysis.metrics import evaluate_pair, mean_over_images
    from .analysis.pairing import group_by_image, load_side

    pred = group_by_image(sorted(folder.glob("*_boundaries.tif"))
                          + sorted(folder.glob("*_labels.tif")))
    truth = group_by_image(truth_files)
    results = []
    for key in sorted(set(pred) & set(truth)):
        pb, pl = load_side(pred[key])
        tb, tl = load_side(truth[key])
        results.append(evaluate_pair(pb, tb, pl, tl))
    return (len(results), mean_over_images(results)) if results else None
