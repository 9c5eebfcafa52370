"""The whole method as one resumable job: simulate -> style -> synthesize -> segmenter ->
segment -> grain tables -> report. Each stage is skipped when its output is complete, and
training stages resume from their last checkpoint."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from .derived import grain_tint_for
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
    # the real images' mean grain diameter, which the simulations take: 'auto' (estimated
    # without labels by the built-in default), a number of px, or 'preset' (the preset's
    # 112 grains in 512 px); size/grains overrides win over it
    grain_size: str | float = "auto"
    # second-phase particles the simulations carry (marked in phi for the style model):
    # 'auto' (found in the real images without labels) or an area fraction (0: none)
    particles: str | float = "auto"
    seed: int = 0  # simulations, particles, engine images and both trainings
    style_model: str = "cyclegan"  # or "cut" / "fastcut" (style/cut.py)
    # 'rgb': colour micrographs stay colour through the style, the synthetic images and
    # the segmenter; 'grey': colour is reduced to grey; 'auto': rgb when any image is colour
    colour: str = "auto"
    # each simulated grain gets a random colour before the style model sees it, as tint
    # etching colours grains by orientation: 'auto' (when the images are colour), 'on'
    # (also for grey images whose grains differ in brightness), 'off'
    grain_tint: str = "auto"

    @property
    def found_file(self) -> Path:
        """What the pipeline found in the real images and grew from it."""
        return self.out / "real-images.json"

    @property
    def content(self) -> Path:
        return self.out / "simulations-with-particles"

    @property
    def tinted(self) -> Path:
        return self.out / "simulations-tinted"

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
    from .matching import check_grain_size
    from .normalise import check_image, is_colour
    from .particles import check_particles

    # everything is checked here, before minutes of simulation
    if plan.preset not in PRESETS:
        raise ValueError(f"unknown preset {plan.preset!r}; choose one of {', '.join(PRESETS)}")
    unknown = sorted(set(plan.overrides or {}) - set(OVERRIDES))
    if unknown:
        raise ValueError(f"unknown pipeline override(s) {', '.join(unknown)}; "
                         f"known: {', '.join(OVERRIDES)}")
    plan.grain_size = check_grain_size(plan.grain_size)
    plan.particles = check_particles(plan.particles)
    from .style.train import MODELS

    if plan.style_model not in MODELS:
        raise ValueError(f"style model must be one of {', '.join(MODELS)}, not "
                         f"{plan.style_model!r}")
    from .training_data import COLOUR_CHOICES

    if plan.colour not in COLOUR_CHOICES:
        raise ValueError(f"colour must be one of {', '.join(COLOUR_CHOICES)}, not "
                         f"{plan.colour!r}")
    grain_tint_for(plan.grain_tint, 1)  # refuses an unknown choice now
    if isinstance(plan.seed, bool) or not isinstance(plan.seed, int) or plan.seed < 0:
        raise ValueError(f"seed must be a whole number of at least 0, not {plan.seed!r}")
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
    found_colour = False
    for path in plan.real:  # unreadable, NaN, stacks: refused now, with the file's name
        image = check_image(read_image(path, colour=True).data, name=str(path), colour=True)
        found_colour = found_colour or is_colour(image)
    if plan.colour == "auto":  # resolved from the images just read
        plan.colour = "rgb" if found_colour else "grey"
    if plan.truth is not None:
        plan.truth = list_images(truth)
    lock = FolderLock(plan.out, "pipeline")
    return locked(_pipeline_job(plan, device), lock)


STAGES = ("look", "simulate", "train style", "synthesize", "train segmenter", "segment",
          "report")


def _pipeline_job(plan: PipelinePlan, device):
    from . import checkpoints
    from .appearance.dataset import render_dataset
    from .derived import tint_simulations
    from .io.atomic import write_text
    from .particles import NONE, Particles, find_in_files, mark_simulations
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
    style_extra = {k: extra[k] for k in STYLE_OVERRIDES if k in extra}
    seg_extra = {k: extra[k] for k in SEGMENTER_OVERRIDES if k in extra}
    timings = _load_timings(plan.out)
    n = len(STAGES)

    def tag(k):
        return lambda e: Progress(e.step, e.total, f"[{k + 1}/{n}] {STAGES[k]}: {e.message}",
                                  e.losses, e.preview)

    # 1. look at the real images with the built-in default: its segmentation is the
    # report's baseline, and its grain-size estimate sizes the simulations
    start = time.perf_counter()
    baseline, _ = yield from relay(segment_files(
        Segmenter.load(default_weights(), device), plan.real, plan.baseline,
        options=plan.segment, pixel_size=plan.pixel_size, skip_done=True,
        weights_name="default"), tag(0))
    timings.setdefault("look", time.perf_counter() - start)
    grain_size = _grain_size(plan, baseline, set(plan.overrides or {}))
    size, grains, count, regularity, spread = _growth(plan, preset, grain_size)
    images = [p.name for p in plan.real]
    channels = 3 if plan.colour == "rgb" else 1  # 'auto' was resolved by run_pipeline
    tint = grain_tint_for(plan.grain_tint, channels)
    found = _read_json(plan.found_file)
    if plan.particles != "auto":
        particles = replace(NONE, fraction=plan.particles, radius=4.0, on_boundaries=1.0,
                            source="user")
    elif found.get("images") == images and found["particles"]["source"] == "auto":
        particles = Particles.from_dict(found["particles"])  # looked at these already
    else:
        particles = yield from relay(find_in_files(
            plan.real, grain_size.diameter, plan.baseline), tag(0))
    write_text(plan.found_file, json.dumps(
        {"images": images, "colour": "rgb" if channels == 3 else "grey",
         "grain_tint": tint,
         "grain_size": grain_size.to_dict(), "particles": particles.to_dict(),
         "simulations": {"size": size, "grains": grains, "count": count,
                         "regularity": regularity, "spread": round(spread, 3)}}, indent=2))
    # 2. simulate
    params = GrowthParams(height=size, width=size, grains=grains, steps=preset["steps"],
                          regularity=regularity, spread=round(spread, 3))
    made = _meta(plan.sims)
    same = made.get("parameters") == params.to_dict() and made.get("seed") == plan.seed
    if made and not same and plan.style.exists():
        before = made["parameters"]
        raise ValueError(f"{plan.out} holds a run on other simulations ({before['grains']} "
                         f"grains in {before['height']} px, seed {made.get('seed')}; now "
                         f"{grains} in {size} px, seed {plan.seed}); use a new --out folder")
    if made.get("completed") != count or not same:
        start = time.perf_counter()
        yield from relay(simulate_dataset(params, count, plan.sims, seed=plan.seed, device=device,
                                          overwrite=True), tag(1))
        timings["simulate"] = time.perf_counter() - start
    content = plan.sims
    if particles.fraction > 0:  # the style model sees particles where the real images have
        content = plan.content
        done = _meta(content)
        if (done.get("completed") != count or done.get("particles") != particles.to_dict()
                or done.get("parameters") != params.to_dict()):
            yield from relay(mark_simulations(plan.sims, content, particles, plan.seed),
                             tag(1))
    if tint:  # grains of random colours, for the style to turn into your images' colours
        done = _meta(plan.tinted)
        if (done.get("completed") != count or done.get("simulations") != str(content)
                or done.get("parameters") != params.to_dict() or done.get("seed") != plan.seed
                or done.get("particles") != _meta(content).get("particles")):
            yield from relay(tint_simulations(content, plan.tinted, plan.seed), tag(1))
        content = plan.tinted
    # 3. style
    config = style_config(plan.preset, iterations=plan.iterations, seed=plan.seed,
                          model=plan.style_model, channels=channels, **style_extra)
    if _iteration(plan.style, "iteration") < config.iterations:
        start = time.perf_counter()
        yield from relay(train_style(content, plan.real, plan.style, config, device=device,
                                     resume=plan.style.exists()), tag(2))
        timings["train style"] = timings.get("train style", 0) + time.perf_counter() - start
    # 4. synthesize
    done = _meta(plan.synthetic)
    if done.get("completed") != count or done.get("style_weights") != str(plan.style):
        start = time.perf_counter()
        yield from relay(synthesize(content, plan.style, plan.synthetic, device=device,
                                    overwrite=True), tag(3))
        timings["synthesize"] = time.perf_counter() - start
    # 5. segmenter
    if plan.start_from is not None:  # the same U-Net as the starting weights
        arch = checkpoints.read_header(plan.start_from)["config"]["architecture"]
        seg_extra.update(depth=arch["depth"], base=arch["base"],
                         outputs=arch.get("outputs", 1))
    seg_config = segmenter_config(plan.preset, epochs=plan.epochs, seed=plan.seed,
                                  channels=channels, **seg_extra)
    total = seg_config.epochs * seg_config.steps_per_epoch
    if _iteration(plan.segmenter, "step") < total:
        start = time.perf_counter()
        data = [plan.synthetic]
        if plan.start_from is not None:  # generic looks beside the learned one: no forgetting
            if _meta(plan.engine).get("count") != count:
                yield from relay(render_dataset(plan.sims, plan.engine, count,
                                                size=preset["size"], seed=plan.seed,
                                                overwrite=True), tag(4))
            data.append(plan.engine)
        yield from relay(train_segmenter(data, plan.segmenter, seg_config, device=device,
                                         resume=plan.segmenter.exists(),
                                         init=plan.start_from), tag(4))
        timings["train segmenter"] = (timings.get("train segmenter", 0)
                                      + time.perf_counter() - start)
    # 6. segment the real images
    start = time.perf_counter()
    model = Segmenter.load(plan.segmenter, device)
    rows, failures = yield from relay(segment_files(
        model, plan.real, plan.segmented, options=plan.segment,
        pixel_size=plan.pixel_size, skip_done=True, weights_name=str(plan.segmenter)), tag(5))
    timings.setdefault("segment", time.perf_counter() - start)
    _save_timings(plan.out, timings)
    # 7. report, with the built-in default's result beside the pipeline's: what the
    # training bought
    yield Progress(0, 1, f"[{n}/{n}] report")
    from .report import write_report

    history = checkpoints.read_header(plan.segmenter)["config"]["training"]["history"]
    report = write_report(plan, rows, timings, history, failures, baseline)
    yield Progress(1, 1, f"[{n}/{n}] report: {report}")
    return report


def _grain_size(plan: PipelinePlan, baseline, overridden: set):
    """The GrainSize the simulations take (see :mod:`.matching`): the default's estimate
    of the mean, and the spread of the diameters of the grains it found inside the images."""
    from .analysis.statistics import inner_diameters
    from .io.tables import read_csv
    from .matching import GrainSize, diameter_cv, estimate_from_quality

    estimate = estimate_from_quality({name: quality for name, _, _, quality, _ in baseline})
    tables = [read_csv(plan.baseline / f"{Path(name).stem}_grains.csv")
              for name, *_ in baseline]
    cv = diameter_cv(inner_diameters(tables))
    if {"size", "grains"} & overridden or plan.grain_size == "preset":
        return GrainSize(None, "preset", estimate.per_image, cv)
    if plan.grain_size != "auto":
        return GrainSize(float(plan.grain_size), "user", estimate.per_image, cv)
    return replace(estimate, cv=cv)


def _growth(plan: PipelinePlan, preset: dict, grain_size):
    """(size, grains, count, regularity, spread) of the simulations: the preset's even
    grains, or matched to the real grains' mean and spread; a --count the user gave is
    kept."""
    from .matching import MATCHED_REGULARITY, matched_growth, spread_for
    from .phasefield.params import GrowthParams

    count = plan.count or preset["count"]
    if grain_size.diameter is None:
        return preset["size"], preset["grains"], count, GrowthParams.regularity, 0.0
    size, grains, matched_count = matched_growth(grain_size.diameter, preset["size"],
                                                 preset["grains"], count)
    return (size, grains, plan.count or matched_count, MATCHED_REGULARITY,
            spread_for(grain_size.cv))


def _meta(folder: Path) -> dict:
    return _read_json(folder / "meta.json")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
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
    return _read_json(out / "timings.json")


def _save_timings(out: Path, timings: dict) -> None:
    from .io.atomic import write_text

    write_text(out / "timings.json", json.dumps(timings, indent=2))
