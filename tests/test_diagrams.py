"""Diagrams drawn from the transition table: Mermaid and Graphviz DOT."""

from __future__ import annotations

from pathlib import Path

from stemjourney import (
    DEFAULT_PIPELINE,
    Pipeline,
    Transition,
    requirements_table,
    to_dot,
    to_mermaid,
)
from stemjourney.guards import NONE, REST_OVER

DOCS = Path(__file__).resolve().parent.parent / "docs"


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


def test_the_pipeline_page_carries_the_requirements_table_of_today() -> None:
    """docs/pipeline.md holds exactly the table requirements_table() writes from the guards."""
    page = (DOCS / "pipeline.md").read_text(encoding="utf-8")
    start = page.index("<!-- requirements-table:start -->\n") + len(
        "<!-- requirements-table:start -->\n"
    )
    end = page.index("<!-- requirements-table:end -->")
    assert page[start:end] == requirements_table()


def test_the_requirements_table_is_written_from_the_guards_descriptions() -> None:
    """One row per transition: its guard's description, a reason where one is needed."""
    rows = requirements_table().splitlines()[2:]
    assert len(rows) == len(DEFAULT_PIPELINE.transitions)
    for row, t in zip(rows, DEFAULT_PIPELINE.transitions, strict=True):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[:2] == [t.source, t.target]
        assert cells[3] == ("yes" if t.starts_cycle else "")
        if t.guard is not NONE:
            assert cells[2] == f"`{t.guard.name}`"
            assert cells[4].startswith(t.guard.description)
        else:
            assert cells[4] == ("a reason" if t.needs_reason else "nothing")
    mini = Pipeline([Transition("a", "b", NONE)], "a", {"b"})
    assert requirements_table(mini).splitlines()[2] == "| a | b |  |  | nothing |"
