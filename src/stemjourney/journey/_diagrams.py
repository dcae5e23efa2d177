"""Diagrams of a pipeline, drawn from its transition table: Mermaid and Graphviz DOT."""

from __future__ import annotations

from stemjourney.journey._pipeline import Pipeline, Transition
from stemjourney.journey._table import DEFAULT_PIPELINE

__all__ = ["to_dot", "to_mermaid"]


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
