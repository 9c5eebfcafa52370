"""Make docs/images/appearance_gallery.png: one simulated structure painted with each factor
of the appearance engine, plus a row of fully random looks at random grain sizes.

    pip install matplotlib && python docs/figures/appearance_gallery.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from napari_labourfree.appearance import AppearanceConfig, paint, periodic_view  # noqa: E402
from napari_labourfree.appearance.geometry import mean_diameter, structure_view  # noqa: E402
from napari_labourfree.appearance.paint import gallery_factors  # noqa: E402
from napari_labourfree.jobs import run_job  # noqa: E402
from napari_labourfree.phasefield.params import GrowthParams  # noqa: E402
from napari_labourfree.phasefield.solver import simulate  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "images" / "appearance_gallery.png"

structure = run_job(simulate(GrowthParams(height=256, width=256, grains=40, steps=400), [5],
                             compile=False)).labels[0]
view = periodic_view(structure, (192, 192), 1.0, np.random.default_rng(0))
panels = [(name, paint(view, 3, AppearanceConfig(**changes)))
          for name, changes in gallery_factors().items()]
plain = gallery_factors()["plain dark lines"]
for name, changes in (("elongated grains (aspect 3)", {"p_elongation": 1, "elongation": (3, 3)}),
                      ("wavy boundaries (0.12 D)", {"p_waviness": 1, "waviness": (0.12, 0.12)})):
    config = AppearanceConfig(**plain, **changes)
    labels, _ = structure_view(structure, (192, 192), 1.0, mean_diameter(structure),
                               np.random.default_rng(0), config)
    panels.append((name, paint(labels, 3, config)))
config = AppearanceConfig(grain_diameter=(12, 100))
rng = np.random.default_rng(8)
for k in range(5):
    diameter = float(np.exp(rng.uniform(*np.log(config.grain_diameter))))
    labels = periodic_view(structure, (192, 192), diameter / mean_diameter(structure), rng)
    panels.append((f"random look, grains {diameter:.0f} px", paint(labels, rng, config,
                                                                    diameter)))
cols = 4
rows = -(-len(panels) // cols)
fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 3.15 * rows))
for ax in axes.ravel():
    ax.axis("off")
for ax, (name, painted) in zip(axes.ravel(), panels):
    ax.imshow(painted.image, cmap="gray")
    ax.set_title(name, fontsize=9)
fig.suptitle("The appearance engine: the truth (grain boundaries) is the same under every "
             "look", fontsize=11)
fig.tight_layout()
fig.savefig(OUT, dpi=64)
print(f"wrote {OUT}")
