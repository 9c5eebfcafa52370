"""What every field of the dock widgets means (tooltips) and where each widget's page is."""

from __future__ import annotations

DOCS = "https://github.com/napari-labourfree/napari-labourfree/blob/main/docs/widgets.md"

# field name -> tooltip, shared where widgets use the same name for the same thing
COMMON = {
    "device": "where to compute: auto (CUDA, then Apple MPS, then CPU), cpu, cuda, mps",
    "unit": "length unit of the pixel size you type",
    "weights": "a .safetensors weights file",
    "resume": "continue training the chosen weights file from its last checkpoint",
    "preset": "fast: minutes on a laptop CPU; paper: the paper's sizes (meant for a GPU)",
    "crop": "side of the random training crops in px (typically 128-256)",
}
TOOLTIPS = {
    "Microstructure generator": {
        "image_height": "structure height in px (16-16384; 512 in the paper)",
        "image_width": "structure width in px (16-16384; 512 in the paper)",
        "grains": "Voronoi seeds at the start (112 in 512x512 px in the paper); grains "
                  "then coarsen",
        "steps": "Allen-Cahn time steps: more steps, larger and rounder grains (1000 typical)",
        "seed": "random seed: the same seed gives the same structure",
        "dt": "time step (stable up to 2 / (L (8 kappa + 4)); 0.1 typical)",
        "snapshot_every": "keep a frame every N steps for a grain-growth movie (0 = final "
                          "state only)",
        "fast": "compile the solver with torch.compile: about 3x faster after ~10 s of "
                "compiling",
        "count": "structures to write into the data set",
        "folder": "new or empty folder for images/, masks/, labels/ and meta.json",
        "overwrite": "replace an earlier simulation's files in that folder (nothing else)",
    },
    "Segment": {
        "image": "the micrograph layer to segment (grey, RGB or a (frames, y, x) stack)",
        "use_default": "the built-in generalist model (no training needed)",
        "min_area": "grains smaller than this (px) are merged into their neighbours "
                    "(typically 10-50)",
        "tta": "average the network over 8 flips and turns: smoother, 8x slower",
        "replace_results": "allow replacing the results of an earlier run in the results "
                           "folder (the micrographs are never touched)",
    },
    "Grain statistics": {
        "grains": "the grains layer to measure (Segment's output, or your own labels)",
        "include_border": "count grains cut by the image edge in the summary (ASTM E112 "
                          "leaves them out)",
        "csv": "where to write the grain table (a _summary.json goes beside it)",
    },
    "Compare synthetic vs real": {
        "real": "your real micrographs (image layers; select several with Ctrl)",
        "synthetic": "synthetic images made by the style (image layers)",
        "patch": "side of the patches compared, in px (typically 32-128)",
        "per_image": "patches drawn from each image for the entropy and t-SNE",
    },
    "Segmenter (U-Net)": {
        "epochs": "passes over the training data (fast 8, paper 200)",
        "steps": "batches per epoch",
        "batch": "crops per batch (2-8 on a CPU)",
    },
    "Style (CycleGAN)": {
        "model": "cyclegan: two generators and a cycle (the paper); cut / fastcut: one "
                 "generator and a contrastive patch loss, about half the time, but no "
                 "translation of real images back",
        "sim": "a `labourfree simulate` folder (or the generator's output folder)",
        "real_folder": "a folder of your micrographs (no labels needed)",
        "iterations": "style training iterations (fast 2000, paper 40000)",
        "out": "new or empty folder for the synthetic training set",
        "layer": "an image layer to restyle with the trained style",
    },
}


def tooltip_for(title: str, name: str) -> str | None:
    return TOOLTIPS.get(title, {}).get(name) or COMMON.get(name)


def help_url(title: str) -> str:
    """The widget's section in docs/widgets.md (GitHub's heading anchors)."""
    anchor = "".join(c for c in title.lower() if c.isalnum() or c in " -").replace(" ", "-")
    return f"{DOCS}#{anchor}"
