"""Sphinx configuration: Markdown pages (MyST) and reference pages from docstrings (autodoc)."""

project = "stemjourney"
author = "The stemjourney developers"
copyright = "2026, The stemjourney developers"

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "conftest.py"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "description"
html_theme = "alabaster"
html_title = "stemjourney"
