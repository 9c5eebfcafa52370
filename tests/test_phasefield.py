"""Physics and bookkeeping of the phase-field engine, on small CPU-friendly cases."""

import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from napari_labourfree.jobs import run_job
from napari_labourfree.phasefield import colouring
from napari_labourfree.phasefield.reference import grow_dense
from napari_labourfree.phasefield.solver import (
    GrowthParams,
    grow,
    initial_labels,
    simulate,
)
from napari_labourfree.phasefield.voronoi import voronoi_structure


def run(params, seeds=(0,), **kw):
    kw.setdefault("compile", False)
    return run_job(simulate(params, seeds=seeds, **kw))


# ---------------------------------------------------------------------------------------
# Voronoi


def test_voronoi_is_deterministic_and_has_every_grain():
    a = voronoi_structure(40, (96, 128), seed=7)
    b = voronoi_structure(40, (96, 128), seed=7)
    c = voronoi_structure(40, (96, 128), seed=8)
    assert a.shape == (96, 128)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert set(np.unique(a)) == set(range(1, 41))


def test_lloyd_regularity_narrows_grain_areas():
    def area_cv(regularity):
        cvs = []
        for seed in range(4):
            areas = np.bincount(voronoi_structure(50, (128, 128), seed, regularity).ravel())[1:]
            cvs.append(areas.std() / areas.mean())
        return np.mean(cvs)

    assert area_cv(8) < 0.6 * area_cv(0)


# ---------------------------------------------------------------------------------------
# Colouring


@pytest.mark.parametrize("radius", [1, 2, 3, 8])
def test_circular_max_pool_matches_max_pool_on_a_tiled_grid(radius):
    x = torch.rand(2, 3, 20, 17)
    tiled = x.repeat(1, 1, 3, 3).reshape(6, 1, 60, 51)
    ref = F.max_pool2d(tiled, 2 * radius + 1, stride=1, padding=radius).reshape(2, 3, 60, 51)
    assert torch.equal(colouring.circular_max_pool(x, radius), ref[..., 20:40, 17:34])


@pytest.mark.parametrize("radius", [1, 4, 8])
def test_circular_min_pool_matches_the_max_pool_of_the_negation(radius):
    x = torch.randint(0, 30000, (2, 3, 20, 17), dtype=torch.int16)
    assert torch.equal(colouring.circular_min_pool(x, radius),
                       -colouring.circular_max_pool(-x, radius))


def test_owner_maps_use_the_smallest_integer_type_for_their_ids():
    assert colouring.id_dtype(255) == torch.uint8
    assert colouring.id_dtype(256) == torch.int16
    assert colouring.id_dtype(32767) == torch.int16
    assert colouring.id_dtype(32768) == torch.int32
    labels = voronoi_structure(300, (128, 128), seed=2)
    colours = colouring.greedy_colouring(300, colouring.adjacency_pairs(labels, gap=4))
    eta, owner = colouring.fields_from_labels(labels, colours, int(colours.max()) + 1)
    assert owner.dtype == np.int16 and eta.dtype == np.float32
    np.testing.assert_array_equal(owner.max(0), labels)


def _true_conflicts(eta, owner, gap):
    """Every (batch, a, b), a > b, of same-field bodies within ``gap`` px (periodic
    Chebyshev distance), by brute force."""
    found = set()
    batch, fields, h, w = eta.shape
    for b in range(batch):
        for k in range(fields):
            body = np.where(eta[b, k] > colouring.BODY, owner[b, k], 0)
            ys, xs = np.nonzero(body)
            for y, x in zip(ys, xs):
                rows = np.arange(y - gap, y + gap + 1) % h
                cols = np.arange(x - gap, x + gap + 1) % w
                for other in np.unique(body[np.ix_(rows, cols)]):
                    if other > body[y, x]:
                        found.add((b, int(other), int(body[y, x])))
    return found


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.float32])
def test_find_conflicts_reports_near_pairs_only_and_misses_no_conflict(dtype):
    rng = np.random.default_rng(4)
    for _ in range(40):
        gap = int(rng.integers(1, 5))
        shape = (2, 2, int(rng.integers(8, 20)), int(rng.integers(8, 20)))
        high = 250 if dtype == torch.uint8 else 20000
        owner = rng.integers(1, high, size=shape)
        owner[rng.random(shape) < 0.9] = 0  # a few scattered bodies
        eta = np.where(owner > 0, rng.uniform(0.3, 1.0, shape), 0.0).astype(np.float32)
        found = colouring.find_conflicts(torch.from_numpy(eta),
                                         torch.from_numpy(owner).to(dtype), gap)
        assert bool(found) == bool(_true_conflicts(eta, owner, gap))
        # a pixel's window holds the pair it reports: at most two gaps apart
        assert set(found) <= _true_conflicts(eta, owner, 2 * gap)


def test_greedy_colouring_gives_neighbours_different_colours():
    labels = voronoi_structure(60, (128, 128), seed=1)
    pairs = colouring.adjacency_pairs(labels, gap=6)
    colours = colouring.greedy_colouring(60, pairs)
    assert len(pairs) > 60  # a tessellation has about 3 neighbours per grain
    assert all(colours[i] != colours[j] for i, j in pairs)
    assert colours[1:].max() + 1 <= 10


def test_conflicting_same_colour_grains_are_recoloured():
    labels = np.ones((32, 48), dtype=np.int64)
    labels[:, 16:32] = 2
    labels[:, 32:] = 3
    # Force grains 1 and 3 into one field although they touch across the periodic edge.
    colours = np.array([0, 0, 1, 0])
    eta, owner = (torch.from_numpy(a)[None] for a in colouring.fields_from_labels(labels, colours, 2))
    assert colouring.find_conflicts(eta, owner, gap=4)
    eta, owner, moves = colouring.resolve_conflicts(eta, owner, gap=4)
    assert moves == 1 and eta.shape[1] == 3  # no free field: one was added
    assert not colouring.find_conflicts(eta, owner, gap=4)
    grains = owner.gather(1, eta.argmax(1, keepdim=True))[0, 0].numpy()
    np.testing.assert_array_equal(grains, labels)


# ---------------------------------------------------------------------------------------
# Physics


@pytest.fixture(scope="module")
def coarsening():
    """Small grains grown long enough to coarsen, with snapshots."""
    params = GrowthParams(height=128, width=128, grains=60, steps=3000, dt=0.15)
    return params, run(params, seeds=(3,), snapshot_every=250, track_energy=True)


@pytest.mark.slow
def test_free_energy_never_increases(coarsening):
    _, result = coarsening
    energy = np.array([e[0] for _, e in result.energies])
    assert len(energy) > 20
    assert np.all(np.diff(energy) <= 1e-6 * abs(energy[0]))
    assert energy[-1] < energy[1]


def test_normal_grain_growth(coarsening):
    params, result = coarsening
    steps = np.array([s.step for s in result.snapshots])
    counts = np.array([len(np.unique(s.labels[0])) for s in result.snapshots])
    assert counts[0] == 60
    assert np.all(np.diff(counts) <= 0), "grain count never rises"
    assert counts[-1] < 0.6 * counts[0]
    mean_area = params.height * params.width / counts
    late = steps >= 1000  # after the initial transient
    slope, intercept = np.polyfit(steps[late], mean_area[late], 1)
    fit = slope * steps[late] + intercept
    r2 = 1 - np.sum((mean_area[late] - fit) ** 2) / np.sum((mean_area[late] - mean_area[late].mean()) ** 2)
    assert slope > 0 and r2 > 0.8, (slope, r2)


def test_grain_ids_stay_stable(coarsening):
    _, result = coarsening
    assert set(np.unique(result.snapshots[-1].labels)) <= set(np.unique(result.snapshots[0].labels))
    for before, after in zip(result.snapshots, result.snapshots[1:]):
        old, new = before.labels[0], after.labels[0]
        for g in np.unique(new):
            # A grain keeps its id: most of its pixels carried that id 250 steps earlier.
            assert (old[new == g] == g).mean() > 0.7, (after.step, g)


def test_phi_bounds_and_outputs():
    params = GrowthParams(height=96, width=80, grains=24, steps=200)
    r = run(params)
    assert r.phi.shape == (1, 96, 80) and r.phi.dtype == np.float32
    assert r.phi.min() > 0.3 and r.phi.max() <= 1 + 1e-3
    assert r.mask.dtype == np.uint8 and set(np.unique(r.mask)) == {0, 255}
    assert r.labels.dtype == np.uint16
    np.testing.assert_array_equal(r.mask > 0, r.phi < params.mask_threshold)
    assert 0.05 < (r.mask > 0).mean() < 0.4


def _stripe_width(kappa):
    labels = np.ones((32, 96), dtype=np.int64)
    labels[:, 48:] = 2
    params = GrowthParams(height=32, width=96, grains=2, steps=600, dt=0.05, kappa=kappa)
    phi = run_job(grow(labels, params, compile=False)).phi[0]
    row = phi.mean(0)
    # Integral width of the two (stationary, flat) interfaces: sum of (1 - phi) / depth.
    return (1 - row).sum() / 2 / (1 - row.min())


def test_boundary_width_scales_with_sqrt_kappa():
    w1, w4 = _stripe_width(1.0), _stripe_width(4.0)
    assert 2 < w1 < 8
    assert w4 / w1 == pytest.approx(2.0, rel=0.2)


def test_coloured_solver_matches_dense_reference():
    params = GrowthParams(height=64, width=80, grains=20, steps=400)
    labels = initial_labels(params, [5])
    fast = run_job(grow(labels, params, compile=False))
    phi, mask, grains = grow_dense(labels[0], params)
    assert (fast.labels[0] == grains).mean() >= 0.99
    assert np.abs(fast.phi[0] - phi).max() < 0.02
    assert fast.fields < 20


def test_deterministic_for_a_seed_and_non_square():
    params = GrowthParams(height=48, width=112, grains=16, steps=60)
    a, b = run(params, seeds=(11,)), run(params, seeds=(11,))
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.phi, b.phi)
    assert a.labels.shape == (1, 48, 112)


def test_batch_equals_one_by_one():
    params = GrowthParams(height=48, width=48, grains=12, steps=100)
    both = run(params, seeds=(1, 2))
    one = run(params, seeds=(2,))
    np.testing.assert_array_equal(both.labels[1], one.labels[0])
    np.testing.assert_allclose(both.phi[1], one.phi[0], atol=1e-6)


@pytest.mark.slow
def test_compiled_step_matches_eager():
    pytest.importorskip("torch._inductor")
    params = GrowthParams(height=48, width=64, grains=12, steps=100)
    eager = run(params, seeds=(4,), compile=False)
    compiled = run(params, seeds=(4,), compile=True)
    np.testing.assert_allclose(compiled.phi, eager.phi, atol=1e-4)
    assert (compiled.labels == eager.labels).mean() > 0.999


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_matches_cpu():
    params = GrowthParams(height=64, width=64, grains=16, steps=200)
    cpu = run(params, seeds=(4,))
    gpu = run(params, seeds=(4,), device="cuda")
    np.testing.assert_allclose(gpu.phi, cpu.phi, atol=1e-3)
    assert (gpu.labels == cpu.labels).mean() > 0.99


# ---------------------------------------------------------------------------------------
# Parameters


@pytest.mark.parametrize(
    "change, words",
    [
        (dict(grains=1), "grains must be at least 2"),
        (dict(height=64, width=64, grains=112), "do not fit"),
        (dict(steps=-5), "steps must not be negative"),
        (dict(dt=0.5), "stability limit"),
        (dict(kappa=0), "kappa must be positive"),
        (dict(height=8), "too small"),
    ],
)
def test_bad_parameters_are_named(change, words):
    with pytest.raises(ValueError, match=words):
        GrowthParams(**change).validate()


def test_stability_limit_follows_kappa_and_mobility():
    assert GrowthParams(kappa=1, mobility=1).dt_max == pytest.approx(1 / 6)
    assert GrowthParams(kappa=2, mobility=2).dt_max == pytest.approx(1 / 20)


def test_seeds_never_land_on_the_edge_of_the_periodic_box():
    # `seeds %= box` once rounded -1e-17 up to exactly 64.0 (structure 18 of
    # `simulate --count 19 --size 64 --grains 8 --seed 0`), which the k-d tree refuses.
    from napari_labourfree.phasefield.dataset import structure_seed
    from napari_labourfree.phasefield.voronoi import wrap

    assert wrap(np.array([[-1e-17, 63.9]]), np.array([64.0, 64.0])).tolist() == [[0.0, 63.9]]
    for shape in ((64, 64), (17, 33), (48, 80)):
        for index in range(120):
            labels = voronoi_structure(8, shape, structure_seed(0, index), regularity=5)
            assert labels.shape == shape and labels.min() == 1


def test_seed_density_spread_gives_fine_and_coarse_grains_side_by_side():
    from napari_labourfree.phasefield.voronoi import voronoi_structure

    def cv(labels):
        d = np.sqrt(np.bincount(labels.ravel())[1:])
        return d.std() / d.mean()

    even = [cv(voronoi_structure(144, (256, 256), s, 1)) for s in range(3)]
    spread = [cv(voronoi_structure(144, (256, 256), s, 1, spread=1.0)) for s in range(3)]
    assert np.mean(spread) > 1.8 * np.mean(even)
    # no spread draws nothing extra: the structures of earlier versions are unchanged
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    from napari_labourfree.phasefield.voronoi import random_seeds

    assert np.array_equal(random_seeds(20, (64, 64), rng_a, 0),
                          random_seeds(20, (64, 64), rng_b, 0, spread=0.0))


def test_spread_for_the_measured_cv():
    from napari_labourfree.matching import diameter_cv, spread_for

    assert spread_for(None) == 0.0 and spread_for(0.1) == 0.0
    assert spread_for(0.5) == pytest.approx(1.0) and spread_for(2.0) == 1.5
    assert diameter_cv([10.0] * 19) is None  # too few grains to say
    assert diameter_cv([10.0, 30.0] * 10) == pytest.approx(0.5)


@pytest.mark.slow
def test_ahead_of_time_step_is_built_once_then_loaded(tmp_path, monkeypatch):
    """The step compiled ahead of time gives the eager step's numbers; a new process loads
    the package from disk without building it again or importing dynamo; an unloadable
    package is built again; and a failing build warns and falls back."""
    pytest.importorskip("torch._inductor")
    import subprocess
    import sys

    from napari_labourfree.phasefield import aot, solver

    cache = tmp_path / "cache"
    monkeypatch.setenv("LABOURFREE_CACHE", str(cache))
    built = []
    real_build = aot.build
    monkeypatch.setattr(aot, "build", lambda *a: (built.append(a[1].shape), real_build(*a)))
    eta = torch.rand(1, 3, 40, 48) * 0.9
    eager = solver.allen_cahn_step(eta.clone(), 0.1, 1.0)
    step = aot.compiled_step(solver.allen_cahn_step, lambda: pytest.fail("fell back"))
    np.testing.assert_allclose(step(eta.clone(), 0.1, 1.0), eager, atol=1e-6)
    x, y = eta.clone(), eta.clone()
    for _ in range(50):  # kappa and dt are inputs, not baked in
        x, y = step(x, 0.05, 2.0), solver.allen_cahn_step(y, 0.05, 2.0)
    np.testing.assert_allclose(x, y, atol=1e-5)
    assert built == [(1, 3, 40, 48)]
    package = aot.package_path(eta.device, solver.allen_cahn_step, eta.shape)
    assert [p.name for p in cache.iterdir()] == [package.name]  # no temporary file left

    # a new process: loaded from disk, dynamo never imported
    code = ("import sys, torch; from napari_labourfree.phasefield import aot, solver; "
            "s = aot.compiled_step(solver.allen_cahn_step, lambda: sys.exit(3)); "
            "s(torch.rand(1, 3, 40, 48), 0.1, 1.0); print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "LABOURFREE_CACHE": str(cache)})
    assert out.stdout.strip() == "False", out.stderr

    # a package cut short (a crash while it was written) is built again
    package.write_bytes(b"PK\x03\x04 not a package")
    again = aot.compiled_step(solver.allen_cahn_step, lambda: pytest.fail("fell back"))
    np.testing.assert_allclose(again(eta.clone(), 0.1, 1.0), eager, atol=1e-6)
    assert len(built) == 2

    def broken(*a):
        raise OSError("No space left on device")

    monkeypatch.setattr(aot, "build", broken)
    fallback = aot.compiled_step(solver.allen_cahn_step, lambda: solver.allen_cahn_step)
    with pytest.warns(UserWarning, match="No space left on device"):
        out = fallback(torch.rand(1, 2, 40, 48), 0.1, 1.0)
    assert out.shape == (1, 2, 40, 48)
