"""Label-free grain segmentation for micrographs (napari plugin and `labourfree` CLI).

The Python API, in three lines::

    import napari_labourfree as lf
    seg = lf.segment(image)                      # grains, boundaries, maps, quality
    table = lf.grain_table(seg.labels, lf.PixelSize(0.2252, "um"))

The names load on first use, so importing the package (as napari does for its manifest)
stays cheap. See docs/api.md.
"""

__version__ = "0.1.0"

__all__ = ["GrainTable", "GrowthParams", "PixelSize", "SegmentOptions", "grain_summary",
           "grain_table", "load_segmenter", "sample_micrograph", "segment", "simulate"]


def __getattr__(name: str):
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'napari_labourfree' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
