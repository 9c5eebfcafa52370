"""The package's layers stay sealed: nothing imports from a layer above its own.

cli/ and _widgets/ (4) -> pipeline, api, scaleout, sample data (3) -> segmenter, style, analysis,
phasefield, appearance (2) -> io, jobs, units, checkpoints, ... (1). cli/ and _widgets/ do
not import each other, and nothing below them imports Qt, napari or magicgui.
"""

import ast
from pathlib import Path

import napari_labourfree

ROOT = Path(napari_labourfree.__file__).parent
LAYERS = {"cli": 4, "_widgets": 4, "_napari_io": 4, "pipeline": 3, "report": 3, "api": 3,
          "scaleout": 3, "_sample_data": 3, "particles": 2,
          "__init__": 3, "segmenter": 2, "style": 2, "analysis": 2, "phasefield": 2,
          "appearance": 2}
GUI = ("qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "napari", "magicgui")


def _layer(module: str) -> int:
    return LAYERS.get(module.split(".")[0], 1)


def _imports(path: Path, root: Path = ROOT):
    """(module inside the package or None, top-level name) for each import in a file."""
    rel = path.relative_to(root).with_suffix("")
    package = list(rel.parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield None, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                if node.module:
                    yield ".".join(base + [node.module]), None
                else:
                    for alias in node.names:
                        yield ".".join(base + [alias.name]), None
            elif (node.module or "").startswith("napari_labourfree."):
                yield node.module.split(".", 1)[1], None
            else:
                yield None, (node.module or "").split(".")[0]


def test_no_layer_reaches_upward():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        top = module.split(".")[0]
        for target, outside in _imports(path):
            if target:
                if _layer(target) > _layer(module):
                    wrong.append(f"{module} imports {target} (a higher layer)")
                if {top, target.split(".")[0]} == {"cli", "_widgets"}:
                    wrong.append(f"{module} imports {target} (cli and widgets stay apart)")
            elif outside in GUI and top not in ("_widgets", "_sample_data"):
                wrong.append(f"{module} imports {outside} (GUI outside the widget layer)")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_an_upward_import(tmp_path):
    # the check is not vacuous: a core module importing the CLI and Qt is caught
    probe = tmp_path / "analysis" / "probe.py"
    probe.parent.mkdir()
    probe.write_text("from ..cli import main\nfrom . import instances\nimport qtpy\n",
                     encoding="utf-8")
    imports = list(_imports(probe, tmp_path))
    assert imports == [("cli", None), ("analysis.instances", None), (None, "qtpy")]
    assert _layer("cli") > _layer("analysis.probe")
