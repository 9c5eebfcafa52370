"""Label-free grain segmentation for micrographs (napari plugin and `labourfree` CLI)."""

__version__ = "0.1.0"
