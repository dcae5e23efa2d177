"""The docs show what the code says: the diagram, the vocabularies, the commands."""

from __future__ import annotations

import ast
import enum
import re
import tomllib
from pathlib import Path

import pytest

import stemjourney
import stemjourney.outcomes
from stemjourney.cli import cli

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "paste the output of 'stemjourney diagram' (stemjourney.to_mermaid()) there"


def _mermaid_blocks(path: Path) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("page", ["README.md", "docs/pipeline.md"])
def test_the_drawn_diagram_is_to_mermaids_output(page: str) -> None:
    """The ```mermaid block of the page is exactly stemjourney.to_mermaid()."""
    blocks = _mermaid_blocks(ROOT / page)
    assert blocks, f"{page} has no mermaid block"
    assert blocks == [stemjourney.to_mermaid()], REGENERATE


def test_the_docs_build_draws_mermaid() -> None:
    """sphinxcontrib-mermaid is in the docs extra and draws ```mermaid fences."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    docs = project["project"]["optional-dependencies"]["docs"]
    assert any(d.startswith("sphinxcontrib-mermaid") for d in docs)
    tree = ast.parse((ROOT / "docs" / "conf.py").read_text(encoding="utf-8"))
    conf = {
        target.id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id in ("extensions", "myst_fence_as_directive")
    }
    assert "sphinxcontrib.mermaid" in conf["extensions"]
    assert "mermaid" in conf["myst_fence_as_directive"]


def _enums(module: object) -> list[str]:
    return [
        name
        for name in module.__all__  # type: ignore[attr-defined]
        if isinstance(getattr(module, name), type) and issubclass(getattr(module, name), enum.Enum)
    ]


@pytest.mark.parametrize("module", [stemjourney, stemjourney.outcomes], ids=lambda m: m.__name__)
def test_every_enum_is_in_the_reference_with_its_values(module: object) -> None:
    """Each exported enum has an autoclass with :undoc-members: (so its values are listed),
    and is left out of its module's member list (so it is described once)."""
    reference = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    name = module.__name__  # type: ignore[attr-defined]
    excluded = re.search(
        rf"\.\. automodule:: {re.escape(name)}\n   :members:\n   :exclude-members: ([^\n]*)",
        reference,
    )
    assert excluded, name
    for enum_name in _enums(module):
        assert enum_name in [n.strip() for n in excluded.group(1).split(",")], enum_name
        block = f".. autoclass:: {name}.{enum_name}\n   :members:\n   :undoc-members:\n"
        assert block in reference, enum_name


def test_the_reference_lists_every_command() -> None:
    """The reference's table of commands names every command the command line has."""
    reference = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    table = reference[reference.index("| command | what it does |") :]
    cells = " ".join(line.split("|")[1] for line in table.splitlines() if line.startswith("| `"))
    named = set(re.findall(r"`([a-z-]+)", cells))
    shown = {n for n, c in cli.commands.items() if not c.hidden}
    assert shown <= named, shown - named
