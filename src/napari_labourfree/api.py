"""The public Python API: plain functions that return results.

The generator jobs (for progress bars, cancelling and napari workers) stay beside them:
:meth:`Segmenter.segment` is the job that :func:`segment` runs to completion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .analysis.statistics import GrainTable, grain_summary, grain_table
from .jobs import run_job
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
        A 2-D grey image of any numeric dtype (convert colour with
        :func:`napari_labourfree.normalise.colour_to_grey`).
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


__all__ = ["GrainTable", "PixelSize", "SegmentOptions", "grain_summary", "grain_table",
           "load_segmenter", "sample_micrograph", "segment"]
