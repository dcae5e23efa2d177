"""Sphinx configuration: Markdown pages (MyST), reference pages from docstrings (autodoc),
Mermaid diagrams drawn (sphinxcontrib-mermaid).

``make docs`` installs the Mermaid command line (into ``.venv/node_modules``, with npm) and uses
the machine's Chromium, so each diagram is drawn into an SVG at build time; where either
is missing, the page carries the diagram for mermaid.js to draw in the browser.
"""

import json
import shutil
from pathlib import Path

_HERE = Path(__file__).resolve().parent

project = "stemjourney"
author = "The stemjourney developers"
copyright = "2026, The stemjourney developers"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinxcontrib.mermaid",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "conftest.py", "node_modules"]
myst_enable_extensions = ["colon_fence"]
# A ```mermaid block is drawn (as on GitHub), not shown as source.
myst_fence_as_directive = ["mermaid"]
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "description"
html_theme = "alabaster"
html_title = "stemjourney"

_MMDC = shutil.which("mmdc") or next(
    (str(p) for p in (_HERE.parent / ".venv" / "node_modules" / ".bin" / "mmdc",) if p.exists()),
    None,
)
_BROWSER = next(
    (b for b in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if b), None
)
if _MMDC and _BROWSER:
    _PUPPETEER = _HERE / "_build" / "puppeteer.json"
    _PUPPETEER.parent.mkdir(parents=True, exist_ok=True)
    _PUPPETEER.write_text(
        json.dumps({"executablePath": _BROWSER, "args": ["--no-sandbox", "--disable-gpu"]})
    )
    mermaid_output_format = "svg"
    mermaid_cmd = _MMDC
    mermaid_params = ["-p", str(_PUPPETEER), "-b", "white"]
