"""The appearance engine: config checks, periodic rescaling, painting, the data-set job."""

import json
from dataclasses import replace

import numpy as np
import pytest
import tifffile

from napari_labourfree.appearance import (
    AppearanceConfig,
    mean_diameter,
    paint,
    periodic_view,
    render_dataset,
)
from napari_labourfree.appearance.paint import gallery_factors, interface_distance
from napari_labourfree.jobs import run_job
from napari_labourfree.normalise import colour_to_grey

PLAIN = gallery_factors()["plain dark lines"]


@pytest.fixture(scope="module")
def structure(tiny_sims):
    return tifffile.imread(sorted((tiny_sims / "labels").glob("*.tif"))[0])


@pytest.mark.parametrize("changes, words", [
    ({"grain_diameter": (50, 10)}, "low <= high"),
    ({"grain_diameter": (2, 10)}, ">= 4 px"),
    ({"p_twins": 1.5}, "probability"),
    ({"noise": (0, float("nan"))}, "finite"),
    ({"line_width": (-1, 2)}, ">= 0"),
    ({"polarity": (0, 0, 0)}, "not all 0"),
    ({"jpeg_quality": (10, 120)}, "0..100"),
    ({"grain_diameter": (12.0,)}, "low <= high"),
    ({"blur": (0, 1, 2)}, "low <= high"),
    ({"scratch_width": (4, 1)}, "scratch_width must be"),
    ({"scratch_width": (0, float("inf"))}, "finite"),
    ({"p_mottling": 1.5}, "probability"),
    ({"mottling_scale": (0.5, 0.1)}, "mottling_scale must be"),
    ({"mottling": (float("nan"), 0.1)}, "finite"),
    ({"p_elongation": -0.1}, ">= 0"),
    ({"elongation": (0.5, 2)}, "elongation .* 1..10"),
    ({"elongation": (2, 50)}, "elongation .* 1..10"),
    ({"elongation": (3, 2)}, "elongation must be"),
    ({"waviness": (0.1, 0.5)}, "waviness must stay <= 0.25"),
    ({"waviness": (float("nan"), 0.1)}, "finite"),
])
def test_bad_config_is_refused_by_name(changes, words):
    with pytest.raises(ValueError, match=words):
        replace(AppearanceConfig(), **changes).validate()


def test_config_round_trips_through_json():
    config = AppearanceConfig(grain_diameter=(20, 60), p_colour=0.5)
    again = AppearanceConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    with pytest.raises(ValueError, match="unknown appearance settings: colour_space"):
        AppearanceConfig.from_dict({"colour_space": 1})


@pytest.mark.parametrize("zoom", [0.25, 0.5, 2.0, 3.0])
def test_periodic_view_scales_grains(structure, zoom):
    rng = np.random.default_rng(0)
    view = periodic_view(structure, (192, 192), zoom, rng)
    assert view.shape == (192, 192) and view.min() >= 1
    # grains read at `zoom` are `zoom` times larger (edge grains make this approximate)
    ratio = mean_diameter(view) / mean_diameter(structure)
    assert ratio == pytest.approx(zoom, rel=0.3)
    with pytest.raises(ValueError, match="zoom"):
        periodic_view(structure, (10, 10), 0, rng)


def test_interface_distance_is_zero_on_the_line():
    labels = np.ones((20, 20), np.int32)
    labels[:, 10:] = 2
    d = interface_distance(labels)
    assert d[5, 9] == 0 and d[5, 5] == 4 and d[5, 15] == 6


def test_truth_does_not_depend_on_the_look(structure):
    view = periodic_view(structure, (128, 128), 1.0, np.random.default_rng(1))
    # random looks; scan-line jitter is left out: it moves the structure, and its truth
    config = AppearanceConfig(p_scan_lines=0)
    masks = [paint(view, seed, config).mask for seed in range(6)]
    assert all((m == masks[0]).all() for m in masks)
    # the truth is a thin band around every interface
    assert 0.02 < masks[0].mean() < 0.4


def test_polarity_darkens_or_brightens_the_boundary(structure):
    view = periodic_view(structure, (128, 128), 1.0, np.random.default_rng(1))
    line = interface_distance(view) < 1
    inner = interface_distance(view) > 4
    for polarity, sign in (((1, 0, 0), -1), ((0, 1, 0), 1)):
        config = AppearanceConfig(**{**PLAIN, "polarity": polarity})
        image = paint(view, 3, config).image.astype(float)
        assert sign * (image[line].mean() - image[inner].mean()) > 30


def test_particles_scratches_twins_are_not_boundaries(structure):
    view = periodic_view(structure, (128, 128), 1.0, np.random.default_rng(1))
    plain = paint(view, 4, AppearanceConfig(**PLAIN))
    busy = paint(view, 4, AppearanceConfig(**gallery_factors()["particles, pits, scratches"]))
    assert (plain.mask == busy.mask).all()
    assert np.abs(plain.image.astype(int) - busy.image.astype(int)).max() > 60
    assert busy.factors["interior_particles"] and busy.factors["scratches"] >= 1


def test_every_gallery_factor_paints_and_is_reproducible(structure):
    view = periodic_view(structure, (96, 96), 1.0, np.random.default_rng(2))
    for name, changes in gallery_factors().items():
        a = paint(view, 7, AppearanceConfig(**changes))
        b = paint(view, 7, AppearanceConfig(**changes))
        assert (a.image == b.image).all(), name
        assert a.image.dtype in (np.uint8, np.uint16) and a.image.std() > 0, name
    sixteen = paint(view, 7, AppearanceConfig(**{**PLAIN, "p_16bit": 1}))
    assert sixteen.image.dtype == np.uint16


def test_colour_to_grey_keeps_contrast_between_isoluminant_grains():
    # red and a green of the same luminance: luminance sees one grain, the principal
    # colour axis sees two
    red = np.array([0.9, 0.1, 0.1])
    lum = 0.2125 * red[0] + 0.7154 * red[1] + 0.0721 * red[2]
    green = np.array([0.0, (lum - 0.0721 * 0.1) / 0.7154, 0.1])
    image = np.zeros((20, 20, 3))
    image[:, :10], image[:, 10:] = red, green
    grey = colour_to_grey(image)
    assert abs(grey[:, :10].mean() - grey[:, 10:].mean()) > 0.3
    assert 0 <= grey.min() and grey.max() <= 1
    # a colour image that is really grey comes out as its luminance (up to the weights' sum)
    ramp = np.repeat(np.linspace(0, 1, 50)[None, :, None], 3, axis=2) * [1.0, 0.98, 0.96]
    assert np.corrcoef(colour_to_grey(ramp).ravel(), ramp.mean(-1).ravel())[0, 1] > 0.999
    with pytest.raises(ValueError, match="RGB"):
        colour_to_grey(np.zeros((4, 4)))


def test_render_dataset_writes_a_training_set(tiny_sims, tmp_path):
    out = tmp_path / "looks"
    config = AppearanceConfig(grain_diameter=(10, 30))
    events = []
    meta = run_job(render_dataset(tiny_sims, out, 5, size=64, config=config, seed=1),
                   events.append)
    assert [e.step for e in events] == [1, 2, 3, 4, 5]
    names = sorted(p.name for p in (out / "images").glob("*.tif"))
    assert names == [f"look_{i:04d}.tif" for i in range(5)]
    for name in names:
        image = tifffile.imread(out / "images" / name)
        mask = tifffile.imread(out / "masks" / name)
        labels = tifffile.imread(out / "labels" / name)
        assert image.shape == mask.shape == labels.shape == (64, 64)
        assert set(np.unique(mask)) <= {0, 255}
    saved = json.loads((out / "meta.json").read_text())
    assert saved["config"]["grain_diameter"] == [10, 30] and len(saved["images"]) == 5
    assert all(10 <= im["diameter"] <= 30 for im in meta["images"])
    with pytest.raises(ValueError, match="not empty"):
        render_dataset(tiny_sims, out, 2)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"count": 0}, ValueError, "count"),
    ({"count": 2, "size": 8}, ValueError, "size"),
    ({"count": 2.5}, ValueError, "count"),
])
def test_render_dataset_checks_its_arguments(tiny_sims, tmp_path, kwargs, error, words):
    with pytest.raises(error, match=words):
        render_dataset(tiny_sims, tmp_path / "x", **kwargs)


def test_render_dataset_needs_simulations(tmp_path):
    with pytest.raises(FileNotFoundError, match="labourfree simulate"):
        render_dataset(tmp_path, tmp_path / "x", 2)


def test_scan_line_jitter_moves_the_truth_with_the_image(structure):
    view = periodic_view(structure, (128, 128), 1.0, np.random.default_rng(1))
    config = AppearanceConfig(**{**PLAIN, "p_scan_lines": 1, "scan_lines": (0.06, 0.06),
                                 "noise": (0, 0), "blur": (0, 0)})
    painted = paint(view, 5, config)
    image = painted.image.astype(float)
    # dark lines stay on the (moved) truth
    assert image[painted.mask].mean() < image[~painted.mask].mean() - 40
    assert (painted.labels != view).any()


def test_scratch_width_sets_how_wide_scratches_are(structure):
    view = periodic_view(structure, (128, 128), 1.0, np.random.default_rng(1))
    quiet = {**PLAIN, "noise": (0, 0)}  # so that only the scratches differ
    plain = paint(view, 5, AppearanceConfig(**quiet)).image.astype(int)
    marked = {}
    for half in (1.0, 5.0):
        config = AppearanceConfig(**{**quiet, "p_scratches": 1, "scratches": (3, 3),
                                     "scratch_width": (half, half)})
        painted = paint(view, 5, config)
        marked[half] = (np.abs(painted.image.astype(int) - plain) > 10).mean()
    # the same three scratches (same random draws), five times wider: far more pixels
    assert marked[1.0] > 0.005 and marked[5.0] > 3 * marked[1.0]


def test_mottling_patches_are_not_boundaries_and_scale_with_the_grains(structure):
    from scipy import ndimage as ndi

    view = periodic_view(structure, (160, 160), 1.0, np.random.default_rng(1))
    quiet = {**PLAIN, "noise": (0, 0)}  # so that only the patches differ
    plain = paint(view, 6, AppearanceConfig(**quiet))
    patches = {}
    for scale in (0.1, 0.5):
        config = AppearanceConfig(**{**quiet, "p_mottling": 1, "mottling": (0.15, 0.15),
                                     "mottling_scale": (scale, scale)})
        painted = paint(view, 6, config)
        assert (painted.mask == plain.mask).all() and painted.factors["mottling"] == 0.15
        changed = np.abs(painted.image.astype(int) - plain.image.astype(int)) > 8
        _, n = ndi.label(changed)
        patches[scale] = (n, changed.sum() / max(n, 1))
    # patches a fifth of the size: more of them, each smaller
    assert patches[0.1][0] > 2 * patches[0.5][0]
    assert patches[0.5][1] > 2 * patches[0.1][1]


def test_mottling_without_a_line_stays_weaker_than_the_grains(structure):
    view = periodic_view(structure, (96, 96), 1.0, np.random.default_rng(1))
    quiet = {**PLAIN, "noise": (0, 0), "grain_contrast": (0.1, 0.1)}
    shifts = {}
    for name, polarity, amount in (("no line", (0, 0, 1), 0.075), ("lined", (1, 0, 0), 0.3)):
        base = {**quiet, "polarity": polarity}
        mottled = paint(view, 2, AppearanceConfig(**{**base, "p_mottling": 1,
                                                     "mottling": (0.3, 0.3)}))
        assert mottled.factors["mottling"] == amount  # capped at 0.75 of the contrast
        plain = paint(view, 2, AppearanceConfig(**base)).image.astype(float)
        shifts[name] = np.abs(mottled.image.astype(float) - plain).sum()
    # the same patches (same draws), painted with a quarter of the shift (a little more
    # than a quarter of the change: the stronger one is clipped at black and white)
    assert 0.2 < shifts["no line"] / shifts["lined"] < 0.45


def test_geometry_off_reads_the_same_view_and_on_reshapes_the_grains(structure):
    from skimage.measure import regionprops
    from skimage.segmentation import clear_border, find_boundaries

    from napari_labourfree.appearance.geometry import structure_view
    from napari_labourfree.phasefield.voronoi import smooth_field

    zoom = 30 / mean_diameter(structure)
    plain = periodic_view(structure, (192, 192), zoom, np.random.default_rng(4))
    same, factors = structure_view(structure, (192, 192), zoom, 30, np.random.default_rng(4),
                                   AppearanceConfig())  # both chances 0: not even drawn
    assert factors == {} and (same == plain).all()

    def grains(view):  # whole grains only: edges cut grains short
        return [r for r in regionprops(clear_border(view)) if r.area > 50]

    def ratio(view):
        return np.median([r.axis_major_length / r.axis_minor_length for r in grains(view)])

    config = replace(AppearanceConfig(), p_elongation=1, elongation=(3, 3))
    _, factors = structure_view(structure, (192, 192), zoom, 30, np.random.default_rng(4),
                                config)
    assert factors == {"elongation": 3.0}
    for angle in (0.0, np.pi / 2):  # skimage's orientation: from the rows' axis
        long = periodic_view(structure, (192, 192), zoom, np.random.default_rng(4),
                             elongation=3, angle=angle)
        assert ratio(long) > 1.8 * ratio(plain)
        assert np.median([abs(r.orientation) for r in grains(long)]) == pytest.approx(
            angle, abs=0.3)
        assert np.mean([r.area for r in grains(long)]) == pytest.approx(
            np.mean([r.area for r in grains(plain)]), rel=0.35)
        assert min(r.area for r in regionprops(long)) >= 4  # no 1 px crumbs of the reading

    config = replace(AppearanceConfig(), p_waviness=1, waviness=(0.12, 0.12))
    _, factors = structure_view(structure, (192, 192), zoom, 30, np.random.default_rng(4),
                                config)
    assert factors == {"waviness": 0.12}
    # bent, not broken: the same window, bent, moves the boundaries but keeps the grains
    lines = find_boundaries(plain)
    still = periodic_view(structure, (192, 192), zoom, np.random.default_rng(4),
                          displacement=np.zeros((2, 192, 192)))
    rng = np.random.default_rng(5)
    bend = np.stack([smooth_field((192, 192), 10, rng) for _ in range(2)]) * (0.12 * 30)
    bent = periodic_view(structure, (192, 192), zoom, np.random.default_rng(4),
                         displacement=bend)
    moved = (find_boundaries(bent) != lines).mean()
    assert moved > 0.05 and moved > 5 * (find_boundaries(still) != lines).mean()
    assert abs(int(bent.max()) - int(plain.max())) <= 0.1 * plain.max()
    assert min(r.area for r in regionprops(bent)) >= 4
    with pytest.raises(ValueError, match="elongation"):
        periodic_view(structure, (10, 10), 1.0, np.random.default_rng(0), elongation=0.5)
    with pytest.raises(ValueError, match="displacement must be finite and of shape"):
        periodic_view(structure, (10, 10), 1.0, np.random.default_rng(0),
                      displacement=np.zeros((2, 1, 10)))
    # a view too small for any whole piece keeps its grains rather than losing them all
    tiny = periodic_view(structure, (1, 1), 1.0, np.random.default_rng(0), elongation=2)
    assert tiny.min() >= 1
