"""The public namespaces: every exported name exists and __all__ is sorted."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = ["stemjourney", "stemjourney.testing", "stemjourney.exceptions"]


def _order(name: str) -> tuple[int, str]:
    # Constants (ALL_CAPS) first, then classes, then functions, as ruff's isort-style sort does.
    if name.isupper():
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


@pytest.mark.parametrize("module", PUBLIC)
def test_every_exported_name_exists(module: str) -> None:
    """Every name in __all__ can be imported from the module."""
    mod = importlib.import_module(module)
    missing = [name for name in mod.__all__ if not hasattr(mod, name)]
    assert missing == []


@pytest.mark.parametrize("module", PUBLIC)
def test_all_is_sorted_and_unique(module: str) -> None:
    """__all__ is sorted (constants, classes, functions) with no repeats."""
    names = list(importlib.import_module(module).__all__)
    assert len(set(names)) == len(names)
    assert names == sorted(names, key=_order)


def test_testing_exports_its_helpers() -> None:
    """stemjourney.testing exports the clock, the machine, the player and the strategies."""
    from stemjourney import testing

    for name in ("ManualClock", "JourneyMachine", "move_sequences", "play", "pain_scores"):
        assert name in testing.__all__


def test_version_is_a_string() -> None:
    """The package has a version string."""
    import stemjourney

    assert isinstance(stemjourney.__version__, str)
