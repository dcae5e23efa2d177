"""Diagrams of a pipeline, drawn from its transition table: Mermaid, Graphviz DOT, and the
table of what each transition needs, written from the guards' own descriptions."""

from __future__ import annotations

from stemjourney.journey._pipeline import Pipeline, Transition
from stemjourney.journey._table import DEFAULT_PIPELINE

__all__ = ["requirements_table", "to_dot", "to_mermaid"]


def _label(t: Transition) -> str:
    parts = [] if t.guard.name == "none" else [t.guard.name]
    if t.needs_reason:
        parts.append("reason")
    if t.starts_cycle:
        parts.append("new cycle")
    return ", ".join(parts)


def to_mermaid(pipeline: Pipeline = DEFAULT_PIPELINE) -> str:
    """The pipeline as a Mermaid ``stateDiagram-v2``.

    >>> print(to_mermaid().splitlines()[1])
        [*] --> consultation
    """
    lines = ["stateDiagram-v2", f"    [*] --> {pipeline.initial}"]
    for t in pipeline.transitions:
        label = _label(t)
        lines.append(f"    {t.source} --> {t.target}" + (f": {label}" if label else ""))
    lines.extend(f"    {o} --> [*]" for o in sorted(pipeline.outcomes))
    return "\n".join(lines) + "\n"


def to_dot(pipeline: Pipeline = DEFAULT_PIPELINE) -> str:
    """The pipeline as a Graphviz ``digraph``; outcomes are drawn as double circles."""
    lines = ["digraph pipeline {", "    rankdir=LR;", "    node [shape=box, style=rounded];"]
    lines.extend(f'    "{o}" [shape=doublecircle];' for o in sorted(pipeline.outcomes))
    for t in pipeline.transitions:
        label = _label(t)
        attr = f' [label="{label}"]' if label else ""
        lines.append(f'    "{t.source}" -> "{t.target}"{attr};')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _needs(t: Transition) -> str:
    parts = [] if t.guard.name == "none" else [t.guard.description]
    if t.needs_reason:
        parts.append("a reason")
    return "; ".join(parts) or "nothing"


def requirements_table(pipeline: Pipeline = DEFAULT_PIPELINE) -> str:
    """What each transition of ``pipeline`` needs, as a Markdown table, in table order.

    The "needs" column is the guard's own description (and "a reason" for the moves
    that must say why), so the table cannot drift from what the guards check.

    >>> print(requirements_table().splitlines()[0])
    | from | to | guard | new cycle | what the move needs |
    """
    lines = [
        "| from | to | guard | new cycle | what the move needs |",
        "|---|---|---|---|---|",
    ]
    for t in pipeline.transitions:
        guard = "" if t.guard.name == "none" else f"`{t.guard.name}`"
        cycle = "yes" if t.starts_cycle else ""
        lines.append(f"| {t.source} | {t.target} | {guard} | {cycle} | {_needs(t)} |")
    return "\n".join(lines) + "\n"
