"""The architecture as docs/architecture.md draws it: layers that import only downwards,
every package and table on the page, and diagrams whose pictures match their source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from balmon.storage.schema import metadata

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "balmon"
DOC = ROOT / "docs" / "architecture.md"

# Lowest first. A module may import from its own package or from a lower layer only.
LAYERS: list[set[str]] = [
    {"limits", "clock", "aio", "money", "crashpoints", "lazy", "children"},
    {"errors"},
    {"config", "storage"},
    {"audit"},
    {"logs", "retry", "source", "banksim", "lifecycle", "triage"},
    {"rules"},
    {"engine", "alerts"},
    {"retention", "scaleout", "quality"},
    {"scheduling"},
    {"compliance"},
    {"dashboard"},
    {"service"},
    {"cli"},
    {"__main__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _package(path: Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".py")


def _imported(node: ast.AST) -> list[str]:
    """The balmon packages one import statement names."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        if node.module == "balmon":
            names = [f"balmon.{alias.name}" for alias in node.names]
        else:
            names = [node.module]
    else:
        return []
    return [n.split(".")[1] for n in names if n.startswith("balmon.") and n != "balmon"]


def _imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        own = _package(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _imported(node):
                if target != own and target != "__version__":
                    found.setdefault(own, set()).add(target)
    return found


def test_every_package_has_a_layer() -> None:
    packages = {_package(p) for p in SRC.glob("*") if p.suffix == ".py" or p.is_dir()}
    packages -= {"__init__", "py", "__pycache__"}
    assert packages - RANK.keys() == set()


def test_imports_only_run_down_the_layers() -> None:
    upward = [
        f"{source} imports {target}"
        for source, targets in _imports().items()
        for target in targets
        if RANK[target] >= RANK[source]
    ]
    assert upward == []


def test_the_page_names_every_package_and_every_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [f"`{name}`" for name in RANK if name != "__main__" and f"`{name}" not in text]
    missing += [t for t in metadata.tables if f"`{t}`" not in text]
    assert missing == []


def test_each_diagram_picture_matches_its_source() -> None:
    sources = sorted((ROOT / "docs" / "diagrams").glob("*.dot"))
    assert sources
    for source in sources:
        picture = source.with_suffix(".svg")
        assert picture.exists(), f"{picture.name}: run `make diagrams`"
        nodes = set(re.findall(r"^\s*(\w+)\s*\[label=", source.read_text(), re.MULTILINE))
        drawn = set(re.findall(r"<title>(\w+)</title>", picture.read_text()))
        assert nodes and nodes <= drawn, f"{picture.name} is older than {source.name}"
        assert f"]({picture.relative_to(ROOT / 'docs').as_posix()})" in DOC.read_text()


def test_the_layers_diagram_names_every_package() -> None:
    """Each box's first line names its packages ("service + lifecycle", "limits, clock")."""
    source = (ROOT / "docs" / "diagrams" / "layers.dot").read_text(encoding="utf-8")
    named: set[str] = set()
    for label in re.findall(r'\[label="([^\\"]+)', source):
        named |= {part.strip() for part in re.split(r"[,+]", label) if part.strip()}
    packages = set(RANK) - {"__main__"}
    assert packages - named == set(), "missing from docs/diagrams/layers.dot"
    assert named - packages == set(), "no such package"
