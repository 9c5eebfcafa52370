"""Make docs/images/grain_statistics.png: a simulated structure measured by the analysis library.

    pip install matplotlib && python docs/figures/grain_statistics.py
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from napari_labourfree.analysis.instances import grains_from_boundaries  # noqa: E402
from napari_labourfree.analysis.statistics import grain_summary, grain_table  # noqa: E402
from napari_labourfree.phasefield.params import GrowthParams  # noqa: E402
from napari_labourfree.phasefield.solver import simulate  # noqa: E402
from napari_labourfree.jobs import run_job  # noqa: E402
from napari_labourfree.units import PixelSize  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "images" / "grain_statistics.png"

result = run_job(simulate(GrowthParams(height=384, width=384, grains=90, steps=600), [3],
                           compile=False))
mask = result.mask[0]
labels = grains_from_boundaries(mask)
size = PixelSize(0.25, "um")
table = grain_table(labels, size)
summary = grain_summary(labels, table, size)
inner = ~table["touches_border"]

circ = np.full(labels.max() + 1, np.nan)
circ[table["label"]] = table["circularity"]
shown = np.where(labels > 0, circ[labels], np.nan)
shown[labels > 0] = np.where(np.isin(labels[labels > 0], table["label"][inner]),
                             shown[labels > 0], np.nan)

fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), gridspec_kw={"width_ratios": [1, 1, 1.1]})
axes[0].imshow(mask, cmap="gray_r")
axes[0].set_title("boundary mask")
im = axes[1].imshow(shown, cmap="viridis", vmin=0.6, vmax=1)
axes[1].set_title("grains by circularity (border grains blank)")
fig.colorbar(im, ax=axes[1], fraction=0.046)
for ax in axes[:2]:
    ax.set_axis_off()
axes[2].hist(table["area_um2"][inner], bins=20, color="#4477aa")
axes[2].set_xlabel("grain area (µm²)")
axes[2].set_ylabel("grains")
axes[2].set_title(f"{summary['grains']} grains, mean ECD "
                  f"{summary['mean_equivalent_diameter_um']:.1f} µm, "
                  f"G = {summary['astm_g_planimetric']:.1f}")
fig.tight_layout()
fig.savefig(OUT, dpi=80)
print(f"wrote {OUT}")
