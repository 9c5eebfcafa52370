"""Batch work past one process: dask.distributed clusters (local or remote) and images
larger than memory (zarr). Nothing here is needed for the plain in-process run."""
