"""The transition table: the rules every pipeline keeps, and the moves of the default one."""

from __future__ import annotations

import pytest

from stemjourney import DEFAULT_PIPELINE, Pipeline, Stage, Transition
from stemjourney.exceptions import PipelineDefinitionError
from stemjourney.guards import NONE

T = Transition

SMALL = [T("a", "b", NONE), T("b", "end", NONE), T("a", "end", NONE)]


def build(
    transitions: list[Transition], initial: str = "a", outcomes: set[str] | None = None
) -> Pipeline:
    """Build a pipeline from a table."""
    return Pipeline(transitions, initial, {"end"} if outcomes is None else outcomes)


def test_small_table_is_accepted() -> None:
    """A table that keeps every rule builds, and lists its stages in table order."""
    pipeline = build(SMALL)
    assert pipeline.stages == ("a", "b", "end")
    assert pipeline.targets("a") == ("b", "end")


def test_empty_table_is_refused() -> None:
    """A table with no transitions is refused, naming the rule."""
    with pytest.raises(PipelineDefinitionError, match="'not empty'") as info:
        build([])
    assert info.value.rule == "not empty"


def test_no_outcome_is_refused() -> None:
    """A pipeline with no outcome stage is refused."""
    with pytest.raises(PipelineDefinitionError, match="'has outcomes'"):
        build(SMALL, outcomes=set())


def test_duplicate_pair_is_refused() -> None:
    """The same (source, target) pair twice is refused, naming the pair."""
    with pytest.raises(PipelineDefinitionError, match="one transition per pair") as info:
        build([*SMALL, T("a", "b", NONE, starts_cycle=True)])
    assert "'a' -> 'b'" in str(info.value)


def test_second_initial_stage_is_refused() -> None:
    """A stage with no way in other than the initial one breaks 'one initial stage'."""
    with pytest.raises(PipelineDefinitionError, match="one initial stage") as info:
        build([*SMALL, T("orphan", "end", NONE)])
    assert "orphan" in str(info.value)


def test_initial_stage_with_a_way_in_is_refused() -> None:
    """An initial stage that is also a target leaves no stage without a way in."""
    with pytest.raises(PipelineDefinitionError, match="one initial stage"):
        build([*SMALL, T("b", "a", NONE)])


def test_transition_leaving_an_outcome_is_refused() -> None:
    """A transition out of an outcome breaks 'nothing leaves an outcome'."""
    with pytest.raises(PipelineDefinitionError, match="nothing leaves an outcome") as info:
        build([*SMALL, T("end", "b", NONE)])
    assert "end" in str(info.value)


def test_unreachable_stage_is_refused() -> None:
    """A stage only reachable from itself breaks 'every stage reachable'."""
    table = [*SMALL, T("island", "end", NONE), T("island2", "island", NONE)]
    table += [T("island", "island2", NONE)]
    with pytest.raises(PipelineDefinitionError, match="every stage reachable") as info:
        build(table)
    assert "island" in str(info.value)


def test_stage_with_no_way_to_an_outcome_is_refused() -> None:
    """A trap stage breaks 'an outcome reachable from every stage'."""
    table = [*SMALL, T("b", "trap", NONE), T("trap", "trap2", NONE), T("trap2", "trap", NONE)]
    with pytest.raises(PipelineDefinitionError, match="an outcome reachable") as info:
        build(table)
    assert "trap" in str(info.value)


def test_outcome_never_targeted_is_refused() -> None:
    """An outcome named but never targeted has no way in, so it breaks 'one initial stage'."""
    with pytest.raises(PipelineDefinitionError, match="one initial stage"):
        build(SMALL, outcomes={"end", "never"})


def test_find_and_leaving() -> None:
    """find returns the transition of a pair or None; leaving keeps table order."""
    pipeline = build(SMALL)
    assert pipeline.find("a", "b") is SMALL[0]
    assert pipeline.find("b", "a") is None
    assert pipeline.leaving("end") == ()
    assert pipeline.is_outcome("end")
    assert not pipeline.is_outcome("a")


ALL_STAGES = [s.value for s in Stage]

ALLOWED = {
    ("consultation", "harvest"),
    ("consultation", "ineligible"),
    ("harvest", "processing"),
    ("processing", "injection"),
    ("processing", "harvest"),
    ("injection", "recovery"),
    ("recovery", "follow_up"),
    ("follow_up", "completed"),
    ("follow_up", "harvest"),
    ("follow_up", "injection"),
} | {(s, end) for s in DEFAULT_PIPELINE.open_stages for end in ("withdrawn", "voided")}


@pytest.mark.parametrize(
    ("source", "target"), [(a, b) for a in ALL_STAGES for b in ALL_STAGES if (a, b) in ALLOWED]
)
def test_default_pipeline_allows(source: str, target: str) -> None:
    """Each move of the product's pipeline is in the default table."""
    assert DEFAULT_PIPELINE.find(source, target) is not None


@pytest.mark.parametrize(
    ("source", "target"),
    [(a, b) for a in ALL_STAGES for b in ALL_STAGES if (a, b) not in ALLOWED],
)
def test_default_pipeline_refuses(source: str, target: str) -> None:
    """Every other pair of stages is absent from the default table."""
    assert DEFAULT_PIPELINE.find(source, target) is None


def test_default_pipeline_shape() -> None:
    """Consultation is initial; the four outcomes end journeys; only loops start cycles."""
    p = DEFAULT_PIPELINE
    assert p.initial == "consultation"
    assert p.outcomes == {"completed", "ineligible", "withdrawn", "voided"}
    assert {(t.source, t.target) for t in p.transitions if t.starts_cycle} == {
        ("follow_up", "harvest"),
        ("follow_up", "injection"),
    }
    assert {t.target for t in p.transitions if t.needs_reason} == set(p.outcomes)
    assert len(p.transitions) == len(ALLOWED)


def test_open_stages_is_deprecated_and_equals_the_pipelines_open_stages() -> None:
    """stemjourney.OPEN_STAGES still answers, with a DeprecationWarning, as open_stages does."""
    import stemjourney

    with pytest.warns(DeprecationWarning, match="open_stages"):
        old = stemjourney.OPEN_STAGES
    assert old == DEFAULT_PIPELINE.open_stages == (
        "consultation", "harvest", "processing", "injection", "recovery", "follow_up"
    )  # fmt: skip


def test_void_is_a_role_of_the_pipeline() -> None:
    """The default pipeline names its void outcome; a void stage must be an outcome."""
    assert DEFAULT_PIPELINE.void == "voided"
    assert DEFAULT_PIPELINE.is_void("voided")
    assert not DEFAULT_PIPELINE.is_void("withdrawn")
    with pytest.raises(PipelineDefinitionError, match="void stage is an outcome"):
        Pipeline(DEFAULT_PIPELINE.transitions, "consultation", DEFAULT_PIPELINE.outcomes, "harvest")
