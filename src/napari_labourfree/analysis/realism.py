"""How real do synthetic images look? Intensity histograms, patch entropy, SSIM, t-SNE.

Everything works on groups of images (e.g. ``{"real": [...], "synthetic": [...],
"simulation": [...]}``) and returns arrays and small tables that a widget can plot.
Patch features are hand-made texture descriptors (intensity statistics, grey-level
co-occurrence, local binary patterns, gradients): nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

HIST_BINS = 64


def to_unit_range(image: np.ndarray) -> np.ndarray:
    """Grey image -> float32 in [0, 1], comparable across dtypes.

    Integers are divided by their dtype's maximum (8-bit /255, 16-bit /65535); floats
    already in [0, 1] are kept; other floats (e.g. a generator's [-1, 1]) are min-max
    scaled. NaN is refused.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D grey image, not shape {image.shape}")
    if np.issubdtype(image.dtype, np.integer):
        info = np.iinfo(image.dtype)
        if info.min < 0:
            return ((image.astype(np.float32) - info.min) / (info.max - info.min))
        return image.astype(np.float32) / info.max
    if image.dtype == bool:
        return image.astype(np.float32)
    image = image.astype(np.float32)
    if not np.isfinite(image).all():
        raise ValueError("the image contains NaN or infinite values")
    low, high = float(image.min()), float(image.max())
    if low >= 0 and high <= 1:
        return image
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


def intensity_histogram(images, bins: int = HIST_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Pooled intensity density of some images on [0, 1]: (bin_edges, density)."""
    counts = np.zeros(bins)
    for image in images:
        counts += np.histogram(to_unit_range(image), bins=bins, range=(0, 1))[0]
    edges = np.linspace(0, 1, bins + 1)
    total = counts.sum()
    return edges, counts / (total * (1 / bins)) if total else counts


def histogram_distance(density_a: np.ndarray, density_b: np.ndarray) -> dict[str, float]:
    """Earth mover's (Wasserstein-1, in intensity units) and Jensen-Shannon (bits) distances."""
    centres = (np.arange(len(density_a)) + 0.5) / len(density_a)
    if density_a.sum() == 0 or density_b.sum() == 0:
        return {"wasserstein": float("nan"), "jensen_shannon": float("nan")}
    return {
        "wasserstein": float(wasserstein_distance(centres, centres, density_a, density_b)),
        "jensen_shannon": float(jensenshannon(density_a, density_b, base=2)),
    }


def sample_patches(image: np.ndarray, size: int, count: int, rng: np.random.Generator
                   ) -> np.ndarray:
    """``count`` random square patches (count, size, size) of an image.

    An image smaller than ``size`` is refused: patches of other sizes are not comparable.
    """
    h, w = image.shape
    if h < size or w < size:
        raise ValueError(f"image of {h}x{w} px is smaller than the {size} px patch size")
    ys = rng.integers(0, h - size + 1, count)
    xs = rng.integers(0, w - size + 1, count)
    return np.stack([image[y:y + size, x:x + size] for y, x in zip(ys, xs)])


def patch_entropy(patches: np.ndarray, levels: int = 256) -> np.ndarray:
    """Shannon entropy (bits) of each patch's grey levels, quantised to ``levels``."""
    patches = np.asarray(patches)
    n = len(patches)
    q = np.clip((patches.reshape(n, -1) * levels).astype(np.int64), 0, levels - 1)
    counts = np.bincount((q + levels * np.arange(n)[:, None]).ravel(), minlength=n * levels)
    p = counts.reshape(n, levels) / q.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.nansum(np.where(p > 0, p * np.log2(p), 0.0), axis=1)


FEATURE_NAMES = (
    "mean", "std", "p10", "p50", "p90", "entropy", "gradient_mean", "gradient_std",
    "glcm_contrast", "glcm_homogeneity", "glcm_energy", "glcm_correlation",
) + tuple(f"lbp_{i}" for i in range(10))


def patch_features(patches: np.ndarray) -> np.ndarray:
    """Texture descriptors of each [0, 1] patch: (n, len(FEATURE_NAMES))."""
    from skimage.feature import graycomatrix, graycoprops, local_binary_pattern

    patches = np.asarray(patches, np.float32)
    n = len(patches)
    flat = patches.reshape(n, -1)
    gy, gx = np.gradient(patches, axis=(1, 2))
    gradient = np.hypot(gy, gx).reshape(n, -1)
    columns = [
        flat.mean(1), flat.std(1), *np.percentile(flat, [10, 50, 90], axis=1),
        patch_entropy(patches), gradient.mean(1), gradient.std(1),
    ]
    grey = np.clip(patches * 63, 0, 63).astype(np.uint8)  # 64 levels keep the GLCM dense
    glcm = np.empty((n, 4))
    lbp = np.empty((n, 10))
    for i, patch in enumerate(grey):
        matrix = graycomatrix(patch, [1, 2], [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4],
                              levels=64, symmetric=True, normed=True)
        glcm[i] = [graycoprops(matrix, prop).mean()
                   for prop in ("contrast", "homogeneity", "energy", "correlation")]
        codes = local_binary_pattern(patch, 8, 1, method="uniform")
        lbp[i] = np.bincount(codes.astype(np.int64).ravel(), minlength=10)[:10] / codes.size
    features = np.column_stack(columns + [glcm, lbp])
    return np.nan_to_num(features)  # GLCM correlation is NaN on a flat patch


def tsne_embedding(features: np.ndarray, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """2-D t-SNE (scikit-learn) of standardised features: (n, 2)."""
    from sklearn.manifold import TSNE

    features = np.asarray(features, np.float64)
    if len(features) < 3:
        raise ValueError("t-SNE needs at least 3 patches")
    std = features.std(0)
    z = (features - features.mean(0)) / np.where(std > 0, std, 1)
    perplexity = min(perplexity, (len(z) - 1) / 3)
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(z)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Structural similarity of two images of one scene (e.g. a simulation and its
    synthetic version: does the style transfer keep the grain structure?)."""
    from skimage.metrics import structural_similarity

    a, b = to_unit_range(a), to_unit_range(b)
    if a.shape != b.shape:
        raise ValueError(f"SSIM needs images of one size, not {a.shape} and {b.shape}")
    return float(structural_similarity(a, b, data_range=1.0))


@dataclass
class RealismReport:
    """What :func:`compare_groups` measured; every array is ready to plot."""

    groups: list[str]
    bin_edges: np.ndarray
    histograms: dict[str, np.ndarray]
    histogram_distances: dict[str, dict[str, float]]  # each group vs the reference group
    entropy: dict[str, np.ndarray]                     # one value per patch
    features: np.ndarray                               # (patches, FEATURE_NAMES)
    origin: np.ndarray                                 # group name of each patch
    embedding: np.ndarray | None = None                # t-SNE (patches, 2)
    table: list[dict] = field(default_factory=list)    # one row per group


def compare_groups(groups: dict[str, list[np.ndarray]], *, reference: str | None = None,
                   patch_size: int = 64, patches_per_image: int = 16, seed: int = 0,
                   tsne: bool = True) -> RealismReport:
    """Histograms, histogram distances to ``reference`` (default: the first group),
    patch entropies, patch features and their t-SNE, for each named group of grey images."""
    if not groups or any(len(images) == 0 for images in groups.values()):
        raise ValueError("every group needs at least one image")
    names = list(groups)
    reference = reference or names[0]
    if reference not in groups:
        raise ValueError(f"no group named {reference!r}")
    rng = np.random.default_rng(seed)
    edges, histograms, entropy, features, origin = None, {}, {}, [], []
    for name in names:
        images = [to_unit_range(image) for image in groups[name]]
        edges, histograms[name] = intensity_histogram(images)
        patches = np.concatenate([sample_patches(im, patch_size, patches_per_image, rng)
                                  for im in images])
        entropy[name] = patch_entropy(patches)
        features.append(patch_features(patches))
        origin += [name] * len(patches)
    distances = {name: histogram_distance(histograms[reference], histograms[name])
                 for name in names}
    features = np.concatenate(features)
    table = [{"group": name, "images": len(groups[name]), "patches": len(entropy[name]),
              "entropy_mean": float(entropy[name].mean()),
              "entropy_std": float(entropy[name].std()),
              **{f"{k}_to_{reference}": v for k, v in distances[name].items()}}
             for name in names]
    embedding = tsne_embedding(features, seed) if tsne else None
    return RealismReport(names, edges, histograms, distances, entropy, features,
                         np.array(origin), embedding, table)


COLOURS = {"real": "#ee6677", "synthetic": "#4477aa", "simulation": "#228833"}


def plot_realism(report: RealismReport, axes) -> None:
    """Draw the intensity histograms, patch entropies and t-SNE on three matplotlib axes."""
    ax_hist, ax_entropy, ax_tsne = axes
    centres = (report.bin_edges[:-1] + report.bin_edges[1:]) / 2
    for name in report.groups:
        colour = COLOURS.get(name)
        ax_hist.plot(centres, report.histograms[name], color=colour, label=name)
        ax_entropy.hist(report.entropy[name], bins=20, alpha=0.5, color=colour, label=name)
        if report.embedding is not None:
            points = report.embedding[report.origin == name]
            ax_tsne.scatter(points[:, 0], points[:, 1], s=6, color=colour, label=name)
    ax_hist.set_xlabel("intensity (0-1)")
    ax_hist.set_ylabel("density")
    ax_entropy.set_xlabel("patch entropy (bits)")
    ax_entropy.set_ylabel("patches")
    ax_tsne.set_title("t-SNE of patches", fontsize=9)
    ax_tsne.set_xticks([])
    ax_tsne.set_yticks([])
    ax_hist.legend(fontsize=7)
    ax_tsne.legend(fontsize=7, markerscale=2)
