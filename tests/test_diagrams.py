"""Diagrams drawn from the transition table: Mermaid and Graphviz DOT."""

from __future__ import annotations

from stemjourney import DEFAULT_PIPELINE, Pipeline, Transition, to_dot, to_mermaid
from stemjourney.guards import NONE, REST_OVER


def test_mermaid_has_one_line_per_transition() -> None:
    """The Mermaid diagram starts at the initial stage, draws every transition and outcome."""
    lines = to_mermaid().splitlines()
    assert lines[:2] == ["stateDiagram-v2", "    [*] --> consultation"]
    arrows = [x for x in lines[2:] if "[*]" not in x]
    assert len(arrows) == len(DEFAULT_PIPELINE.transitions)
    assert sorted(x for x in lines if x.endswith("--> [*]")) == [
        f"    {o} --> [*]" for o in sorted(DEFAULT_PIPELINE.outcomes)
    ]


def test_mermaid_labels_guards_reasons_and_cycles() -> None:
    """Labels name the guard, 'reason' for outcomes and 'new cycle' for loops; none for no guard."""
    text = to_mermaid()
    assert "    consultation --> harvest: eligible_consented_baseline\n" in text
    assert "    follow_up --> harvest: eligible_consented_baseline, new cycle\n" in text
    assert "    follow_up --> completed: reason\n" in text
    assert "    recovery --> follow_up: rest_over\n" in text


def test_dot_draws_outcomes_as_double_circles() -> None:
    """The DOT graph marks each outcome and draws every transition once."""
    text = to_dot()
    assert text.startswith("digraph pipeline {\n")
    assert text.endswith("}\n")
    for outcome in DEFAULT_PIPELINE.outcomes:
        assert f'"{outcome}" [shape=doublecircle];' in text
    assert text.count(" -> ") == len(DEFAULT_PIPELINE.transitions)
    assert '"processing" -> "harvest" [label="product_failed"];' in text


def test_diagrams_follow_a_custom_table() -> None:
    """A custom pipeline is drawn from its own table; an unguarded move has no label."""
    pipeline = Pipeline(
        [Transition("a", "b", REST_OVER), Transition("b", "end", NONE)], "a", {"end"}
    )
    assert to_mermaid(pipeline) == (
        "stateDiagram-v2\n    [*] --> a\n    a --> b: rest_over\n    b --> end\n    end --> [*]\n"
    )
    assert '    "b" -> "end";\n' in to_dot(pipeline)
