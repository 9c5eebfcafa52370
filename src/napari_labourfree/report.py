"""The pipeline's report.md: timings, the grain size the simulations took, real vs
synthetic vs simulation (intensity, patch entropy, t-SNE), predicted boundaries, grain
statistics and grain-size distributions, and the built-in default's result beside the
pipeline's (with --truth, metrics of both)."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import numpy as np

PICTURES = 8  # images per group in the realism comparison


def write_report(plan, rows, timings: dict, history: list, failures=(), baseline=()) -> Path:
    """``plan.out``/report.md (and its pictures in report/) for a finished pipeline run.

    ``rows`` and ``baseline``: what :func:`.segmenter.batch.segment_files` returned for the
    pipeline's segmenter and for the built-in default."""
    from .analysis.statistics import inner_diameters
    from .io.atomic import write_text
    from .io.tables import read_csv

    pictures = plan.out / "report"
    pictures.mkdir(exist_ok=True)
    lines = ["# Labour-free segmentation report", "",
             (f"Preset `{plan.preset}`, seed {plan.seed}, style model `{plan.style_model}`; "
              f"{len(plan.real)} real image(s), used without labels."),
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
    lines += _grain_size_section(plan)
    lines += _realism_section(plan, pictures)
    lines += ["", "## Predicted boundaries", ""]
    for name, *_ in rows[:6]:
        lines += [f"![{name}](segmented/{Path(name).stem}_overlay.png)", ""]
    # grain statistics
    tables = [read_csv(plan.segmented / f"{Path(name).stem}_grains.csv") for name, *_ in rows]
    default_tables = [read_csv(plan.baseline / f"{Path(name).stem}_grains.csv")
                      for name, *_ in baseline]
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
    _size_distributions({"simulations": _simulated_diameters(plan.sims),
                         "this pipeline": inner_diameters(tables),
                         "default alone": inner_diameters(default_tables)},
                        pictures / "grain_sizes.png")
    lines += ["", ("Grain-size distributions: the simulations the segmenter learned from, and "
                   "the grains it found in your images (those not cut by an edge), beside the "
                   "built-in default's."), "",
              "![grain-size distributions](report/grain_sizes.png)"]
    if failures:
        lines += ["", "## Images that could not be segmented", ""]
        lines += [f"- {name}: {message}" for name, message in failures]
    if plan.truth is not None:
        lines += ["", "## Against the ground truth", ""] + _metrics_table(plan)
    report = plan.out / "report.md"
    write_text(report, "\n".join(lines) + "\n")
    return report


def _grain_size_section(plan) -> list[str]:
    """What grain size and particles the simulations took, and from where."""
    try:
        found = json.loads(plan.found_file.read_text())
        sims = json.loads((plan.sims / "meta.json").read_text())
    except (OSError, ValueError):
        return []
    size, particles = found["grain_size"], found["particles"]
    params, made = sims["parameters"], sims.get("grain_diameter")
    estimates = [d for d in size.get("per_image_px", {}).values() if d]
    lines = ["", "## What the simulations took from your images", ""]
    if estimates:
        spread = (f" (median of {len(estimates)} image(s); {min(estimates):.0f}-"
                  f"{max(estimates):.0f} px)" if len(estimates) > 1 else "")
        lines.append(f"The built-in default estimates your images' mean grain diameter, "
                     f"without labels, at {statistics.median(estimates):.0f} px{spread}.")
    else:
        lines.append("The built-in default found no grain size in your images.")
    source = size["source"] if size.get("diameter_px") else "preset"
    how = {"auto": "The simulations take this size",
           "user": f"The simulations take the size you gave, {size['diameter_px']:g} px"
           if source == "user" else "",
           "preset": "The simulations keep the preset's (or your) size and grain count"}
    made_text = "" if not made else (f", mean diameter {made[0]:.0f} px" if round(made[0])
                                     == round(made[1]) else
                                     f", mean diameter {made[0]:.0f}-{made[1]:.0f} px")
    lines.append(f"{how[source]}: {sims['count']} structures of {params['grains']} grains "
                 f"in {params['height']}x{params['width']} px{made_text}.")
    if size.get("cv") is not None:
        lines.append(f"The diameters of the grains it found inside your images spread by "
                     f"{size['cv']:.2f} (std / mean); the simulations' seeds are drawn from a "
                     f"random density of log-spread {params.get('spread', 0):.2f} "
                     f"({params['regularity']} Lloyd iteration(s)) to match.")
    lines.append("")
    auto = particles["source"] == "auto"
    if particles["fraction"] > 0:
        looks = (f", {particles['polarity']}, radius about {particles['radius_px']:.0f} px, "
                 f"{particles['on_boundaries']:.0%} on grain boundaries" if auto
                 else ", on grain boundaries")
        lines.append(f"Second-phase particles ({'found in your images' if auto else 'as you set'}"
                     f"): {particles['fraction']:.2%} of the area{looks}. The simulations the "
                     "style model learned from carry as many, marked in phi (they are not "
                     "boundaries).")
    else:
        lines.append(("No second-phase particles were found in your images" if auto
                      else "Particles were switched off") + "; the simulations carry none.")
    if found.get("colour") == "rgb":
        lines += ["", ("Your images are in colour: the style model learned them in RGB, the "
                       "synthetic images are RGB, and the segmenter (a grey starting model "
                       "gets its first layer split over the three channels) was trained on "
                       "RGB.")]
    if found.get("grain_tint"):
        lines += ["", ("Each simulated grain was given a random colour before the style "
                       "model saw it (`simulations-tinted/`), as tint etching colours grains "
                       "by their orientation; the style model learned to turn these into "
                       "your images' colours. The masks stay the phase field's.")]
    return lines


def _realism_section(plan, pictures: Path) -> list[str]:
    """Real vs synthetic vs simulation: one picture of each, and how alike they are."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from .analysis.realism import compare_groups, plot_realism
    from .io.images import read_image
    from .io.pictures import to_uint8, write_png

    files = {"real": plan.real[:PICTURES],
             "synthetic": sorted((plan.synthetic / "images").glob("*.tif"))[:PICTURES],
             "simulation": sorted((plan.sims / "images").glob("*.tif"))[:PICTURES]}
    files = {k: v for k, v in files.items() if v}
    if len(files) < 2:
        return []
    # compared in grey (colour along its strongest contrast); shown as they are
    groups = {k: [read_image(p).data for p in v] for k, v in files.items()}
    for name, paths in files.items():
        write_png(pictures / f"{name}.png", to_uint8(read_image(paths[0], colour=True).data))
    lines = ["", "## Real, synthetic and simulation", "",
             "| " + " | ".join(f"a {name} image" for name in groups) + " |",
             "|" + "---|" * len(groups),
             "| " + " | ".join(f"![](report/{name}.png)" for name in groups) + " |"]
    smallest = min(min(image.shape) for images in groups.values() for image in images)
    report = compare_groups(groups, patch_size=min(64, smallest), patches_per_image=16)
    figure = Figure(figsize=(11, 3.2), layout="constrained")
    plot_realism(report, figure.subplots(1, 3))
    figure.savefig(pictures / "realism.png", dpi=90)
    lines += ["", ("Intensity histograms, patch entropy and a t-SNE of patch features: the "
                   "synthetic images should sit with the real ones, not with the "
                   "simulations."), "",
              "![real vs synthetic vs simulation](report/realism.png)", "",
              "| images | patch entropy (bits) | histogram distance to real (Wasserstein) |",
              "|---|---|---|"]
    lines += [f"| {row['group']} | {row['entropy_mean']:.2f} ± {row['entropy_std']:.2f} | "
              f"{row['wasserstein_to_real']:.3f} |" for row in report.table]
    return lines


def _simulated_diameters(sims: Path) -> np.ndarray:
    """Equivalent diameters (px) of every simulated grain (the labels are periodic, so
    every id is one whole grain)."""
    from .io.images import read_image

    found = []
    for path in sorted((sims / "labels").glob("*.tif")):
        areas = np.bincount(read_image(path).data.ravel().astype(np.int64))[1:]
        found.append(np.sqrt(4 * areas[areas > 0] / np.pi))
    return np.concatenate(found) if found else np.zeros(0)


def _size_distributions(groups: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3), layout="constrained")
    ax = figure.subplots()
    present = {k: v[v > 0] for k, v in groups.items() if np.any(v > 0)}
    if present:
        every = np.concatenate(list(present.values()))
        bins = np.geomspace(max(every.min(), 1), every.max() * 1.01, 30)
        for (name, values), colour in zip(present.items(), ("#228833", "#4477aa", "#bbbbbb"),
                                          strict=False):
            ax.hist(values, bins=bins, density=True, histtype="step", lw=2, color=colour,
                    label=f"{name} ({len(values)}, median {np.median(values):.0f} px)")
        ax.set_xscale("log")
        ax.legend(fontsize=7)
    ax.set_xlabel("equivalent-circle diameter (px)")
    ax.set_ylabel("density")
    figure.savefig(path, dpi=90)


def _fmt(value, spec: str) -> str:
    """A number for a table cell; '-' for None/NaN (a summary read back from JSON)."""
    if value is None or math.isnan(value):
        return "-"
    return format(value, spec)


def _histograms(tables, area_key: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
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


def _metrics_table(plan) -> list[str]:
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
