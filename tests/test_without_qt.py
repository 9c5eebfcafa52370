"""The command line and the Python API work where Qt, napari and magicgui are missing
(a CLI-only install on a cluster node): each is made unimportable in a fresh interpreter."""

import subprocess
import sys
import textwrap

import pytest

BLOCK = textwrap.dedent("""
    import importlib.abc, sys
    GUI = {"qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "napari", "magicgui", "npe2",
           "vispy", "superqt"}
    class NoGui(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in GUI:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
    sys.meta_path.insert(0, NoGui())
""")


def _run(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK + textwrap.dedent(code)], cwd=cwd, check=False,
                          capture_output=True, text=True, timeout=300)


def test_the_blocker_blocks(tmp_path):
    done = _run("import qtpy", tmp_path)
    assert done.returncode != 0 and "blocked by the test" in done.stderr


@pytest.mark.slow
def test_segment_and_grains_commands_run_without_qt(tmp_path):
    done = _run("""
        from napari_labourfree.cli import main
        for command in ("segment", "grains", "evaluate", "simulate", "pipeline"):
            try:
                main([command, "--help"])
            except SystemExit as e:
                assert e.code == 0, command
        main(["segment", "sample", "--out", "demo", "--grain-size", "45"])
        main(["grains", "demo/sample_labels.tif", "--out", "stats", "--pixel-size", "0.5"])
        print("GUI modules loaded:", sorted(m for m in sys.modules if m.split(".")[0] in GUI))
    """, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "GUI modules loaded: []" in done.stdout
    assert (tmp_path / "demo" / "sample_grains.csv").stat().st_size > 100
    assert list((tmp_path / "stats").glob("*.csv"))


@pytest.mark.slow
def test_the_api_runs_without_qt(tmp_path):
    done = _run("""
        import napari_labourfree as lf
        seg = lf.segment(lf.sample_micrograph(), grain_size=45)
        assert len(lf.grain_table(seg.labels)["label"]) > 50
    """, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
