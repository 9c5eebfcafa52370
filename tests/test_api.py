"""The public API: the three-line use, its doctests, and a light import."""

import doctest
import subprocess
import sys

import numpy as np
import pytest

import napari_labourfree as lf
from napari_labourfree import api
from napari_labourfree.analysis import statistics


@pytest.mark.slow
@pytest.mark.parametrize("module", [api, statistics], ids=["api", "statistics"])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 1 and result.failed == 0


def test_three_lines_from_image_to_table():
    image = lf.sample_micrograph()
    seg = lf.segment(image, grain_size=45, min_area=30)
    table = lf.grain_table(seg.labels, lf.PixelSize(0.5, "um"))
    assert len(table["label"]) == seg.labels.max() > 50
    assert np.allclose(table["area_um2"], table["area_px"] * 0.25)
    assert seg.options.grain_size == 45 and seg.quality["scale_source"] == "user"
    summary = lf.grain_summary(seg.labels, table, lf.PixelSize(0.5, "um"))
    assert summary["grains_total"] == len(table["label"])


def test_a_loaded_model_is_reused_and_bad_options_are_named():
    model = lf.load_segmenter()
    with pytest.raises(ValueError, match="threshold"):
        lf.segment(np.zeros((64, 64)), model, threshold=2)
    with pytest.raises(FileNotFoundError, match="no such weights file"):
        lf.load_segmenter("missing.safetensors")
    with pytest.raises(AttributeError, match="no attribute 'segmentt'"):
        lf.segmentt  # noqa: B018


def test_simulate_gives_reproducible_structures_and_names_bad_parameters():
    a = lf.simulate(height=64, width=80, grains=8, steps=50, seeds=3, device="cpu")
    b = lf.simulate(lf.GrowthParams(height=64, width=80, grains=8, steps=50), seeds=[3])
    assert a.labels.shape == (1, 64, 80) and np.array_equal(a.labels, b.labels)
    assert 2 <= a.grain_counts()[0] <= 8
    with pytest.raises(TypeError, match="unknown simulation parameter.*grain; known"):
        lf.simulate(grain=8)
    with pytest.raises(ValueError, match="dt"):
        lf.simulate(dt=5.0)


def test_importing_the_package_loads_no_torch_or_qt():
    code = ("import sys, napari_labourfree as lf; "
            "print(sorted(m for m in ('torch', 'qtpy', 'napari') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
    assert set(lf.__all__) <= set(dir(lf))


def test_one_version_string():
    from importlib.metadata import version

    assert version("napari-labourfree") == lf.__version__
