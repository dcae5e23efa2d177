"""The README's shell lines work as typed after ``make demo`` (on a demo built here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def shell_blocks(text: str, section: str) -> list[str]:
    """The ```sh blocks of the Markdown ``section`` (up to the next heading)."""
    start = text.index(f"## {section}\n")
    end = text.find("\n## ", start + 1)
    part = text[start : end if end != -1 else None]
    return re.findall(r"```sh\n(.*?)```", part, re.S)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out as a checkout after ``make demo``: .venv, examples/, demo-output/."""
    here = tmp_path_factory.mktemp("checkout")
    (here / ".venv").symlink_to(Path(sys.prefix))  # the environment these tests run in
    (here / "examples").symlink_to(ROOT / "examples")
    done = subprocess.run(
        [".venv/bin/stemjourney", "demo"],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return here


def test_the_readme_shell_lines_run_as_typed(checkout: Path) -> None:
    """Every line of the README's 'From the shell' blocks exits 0, in order, as one script."""
    blocks = shell_blocks((ROOT / "README.md").read_text(encoding="utf-8"), "From the shell")
    assert blocks
    script = "set -e\n" + "".join(blocks)
    done = subprocess.run(
        ["bash", "-c", script], cwd=checkout, capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    assert (checkout / "demo-output" / "bundle.json").exists()


def test_the_demo_says_how_to_run_the_command_line(checkout: Path) -> None:
    """The demo writes the database the README points at, and names the command to try."""
    assert (checkout / "demo-output" / "clinic.db").exists()
    assert "make demo" in (ROOT / "README.md").read_text(encoding="utf-8")
