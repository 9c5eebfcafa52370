"""The public Python API: plain functions that return results.

The generator jobs (for progress bars, cancelling and napari workers) stay beside them:
:meth:`Segmenter.segment` is the job that :func:`segment` runs to completion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .analysis.statistics import GrainTable, grain_summary, grain_table
from .jobs import run_job
from .phasefield.params import GrowthParams
from .segmenter.options import SegmentOptions
from .units import PixelSize


def load_segmenter(model: str | Path = "default", device: str = "auto"):
    """Load segmenter weights.

    Parameters
    ----------
    model : str or Path
        ``"default"`` for the built-in generalist model, or a ``.safetensors`` file made
        by ``labourfree train-segmenter``.
    device : str
        ``"auto"`` (CUDA, then Apple MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"mps"``.

    Returns
    -------
    Segmenter
        The model, ready for :func:`segment` (or its job, ``Segmenter.segment``).

    Examples
    --------
    >>> import napari_labourfree as lf
    >>> model = lf.load_segmenter()
    >>> model.grain_range is not None  # the grain sizes it was trained on, in px
    True
    """
    from .devices import pick_device
    from .segmenter.default import resolve_weights
    from .segmenter.model import Segmenter

    return Segmenter.load(resolve_weights(model), pick_device(device))


def segment(image: np.ndarray, model="default", options: SegmentOptions | None = None,
            **changes):
    """Segment a 2-D micrograph into grains.

    Parameters
    ----------
    image : ndarray
        A 2-D grey image of any numeric dtype, or an (H, W, 3) RGB one: a colour model
        (trained on colour micrographs, ``model.channels == 3``) reads its colours; a grey
        model reads it along its strongest colour contrast
        (:func:`napari_labourfree.normalise.colour_to_grey`).
    model : str, Path or Segmenter
        ``"default"``, a weights file, or a model from :func:`load_segmenter` (load it once
        when segmenting many images).
    options : SegmentOptions, optional
        How to segment; ``changes`` (e.g. ``grain_size=40``, ``min_area=30``) are applied
        on top and validated.

    Returns
    -------
    Segmentation
        ``labels`` (uint32 grains tiling the image), ``boundaries`` (bool),
        ``probability`` and ``distance`` (float32 maps), ``quality`` (a dict with
        ``warnings``) and the ``options`` used.

    Examples
    --------
    >>> import napari_labourfree as lf
    >>> image = lf.sample_micrograph()
    >>> seg = lf.segment(image)
    >>> 80 < seg.labels.max() < 130 and seg.quality["warnings"] == []
    True
    >>> table = lf.grain_table(seg.labels, lf.PixelSize(0.5, "um"))
    >>> round(float(table["area_um2"].mean()))  # doctest: +SKIP
    390
    """
    from .segmenter.model import Segmenter

    if not isinstance(model, Segmenter):
        model = load_segmenter(model)
    return run_job(model.segment(image, options, **changes))


def simulate(params=None, seeds=(0,), device: str = "auto", **changes):
    """Grow polycrystals: Voronoi seeds, then Allen-Cahn grain growth (one per seed).

    Parameters
    ----------
    params : GrowthParams, optional
        Size, grain count, steps and the physics (defaults: 512x512 px, 112 grains, 1000
        steps); ``changes`` (e.g. ``grains=40``, ``steps=300``) are applied on top and
        validated.
    seeds : int or sequence of int
        One structure per seed; the same seed gives the same structure.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.

    Returns
    -------
    GrowthResult
        ``phi`` (float32, about 0.5 on boundaries), ``mask`` (uint8, 255 = boundary) and
        ``labels`` (grain ids), each of shape (structures, height, width).

    Examples
    --------
    >>> import napari_labourfree as lf
    >>> result = lf.simulate(height=96, width=128, grains=12, steps=100, seeds=[1, 2])
    >>> result.labels.shape, result.mask.dtype.name
    ((2, 96, 128), 'uint8')
    >>> lf.simulate(grains=1)
    Traceback (most recent call last):
    ...
    ValueError: grains must be at least 2 (got 1)
    """
    import dataclasses

    from .devices import pick_device
    from .phasefield.solver import simulate as simulate_job

    params = params or GrowthParams()
    known = {f.name for f in dataclasses.fields(GrowthParams)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise TypeError(f"unknown simulation parameter(s) {', '.join(unknown)}; "
                        f"known: {', '.join(sorted(known))}")
    params = dataclasses.replace(params, **changes).validate()
    seeds = (seeds,) if isinstance(seeds, (int, np.integer)) else tuple(seeds)
    return run_job(simulate_job(params, seeds, pick_device(device)))


def sample_micrograph() -> np.ndarray:
    """The built-in sample: a 384x384 uint8 micrograph painted from a grown structure.

    Examples
    --------
    >>> import napari_labourfree as lf
    >>> lf.sample_micrograph().shape
    (384, 384)
    """
    from ._sample_data import synthetic_micrograph

    return synthetic_micrograph()[0][0]


__all__ = ["GrainTable", "GrowthParams", "PixelSize", "SegmentOptions", "grain_summary",
           "grain_table", "load_segmenter", "sample_micrograph", "segment", "simulate"]
