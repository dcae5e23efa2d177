"""The pipeline as data: stages, outcomes and one frozen table of guarded transitions.

The engine, the diagrams, the docs and the Hypothesis machine all read this table.
A table is checked when it is built; one that breaks a rule is refused with a
:class:`~stemjourney.exceptions.PipelineDefinitionError` naming the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING

import attrs

from stemjourney.exceptions import PipelineDefinitionError

if TYPE_CHECKING:
    from stemjourney.journey._guards import GuardContext

__all__ = ["Guard", "Pipeline", "Stage", "Transition"]


class Stage(StrEnum):
    """The stages of the default pipeline, and the outcomes that end a journey."""

    CONSULTATION = "consultation"
    HARVEST = "harvest"
    PROCESSING = "processing"
    INJECTION = "injection"
    RECOVERY = "recovery"
    FOLLOW_UP = "follow_up"
    COMPLETED = "completed"
    INELIGIBLE = "ineligible"
    WITHDRAWN = "withdrawn"
    VOIDED = "voided"


@attrs.frozen
class Guard:
    """A named check a transition must pass.

    ``check`` returns every requirement that is missing, as short phrases
    ("a signed consent"); an empty list lets the move go ahead.
    """

    name: str
    description: str
    check: Callable[[GuardContext], list[str]] = attrs.field(eq=False, repr=False)


@attrs.frozen
class Transition:
    """One allowed move: from ``source`` to ``target`` when ``guard`` passes.

    ``starts_cycle`` marks the loops that begin a new treatment round;
    ``needs_reason`` marks the moves that must say why (the outcomes).
    """

    source: str = attrs.field(converter=str)
    target: str = attrs.field(converter=str)
    guard: Guard
    starts_cycle: bool = False
    needs_reason: bool = False


def _check_table(
    transitions: tuple[Transition, ...], initial: str, outcomes: frozenset[str]
) -> None:
    if not transitions:
        raise PipelineDefinitionError("not empty", "the table has no transitions")
    if not outcomes:
        raise PipelineDefinitionError("has outcomes", "no outcome stage was named")
    pairs = [(t.source, t.target) for t in transitions]
    for pair in pairs:
        if pairs.count(pair) > 1:
            raise PipelineDefinitionError(
                "one transition per pair", f"'{pair[0]}' -> '{pair[1]}' appears more than once"
            )
    stages = {s for pair in pairs for s in pair} | outcomes | {initial}
    targets = {t.target for t in transitions}
    entry = sorted(s for s in stages if s not in targets)
    if entry != [initial]:
        raise PipelineDefinitionError(
            "one initial stage",
            f"stages with no way in: {', '.join(entry) or 'none'}; only '{initial}' may have none",
        )
    leaving = sorted({t.source for t in transitions if t.source in outcomes})
    if leaving:
        raise PipelineDefinitionError(
            "nothing leaves an outcome", f"transitions leave {', '.join(leaving)}"
        )
    forward = _adjacency(pairs)
    unreachable = sorted(stages - _reach(initial, forward))
    if unreachable:
        raise PipelineDefinitionError(
            "every stage reachable", f"not reachable from '{initial}': {', '.join(unreachable)}"
        )
    backward = _adjacency([(b, a) for a, b in pairs])
    can_end: set[str] = set()
    for outcome in outcomes:
        can_end |= _reach(outcome, backward)
    stuck = sorted(stages - can_end)
    if stuck:
        raise PipelineDefinitionError(
            "an outcome reachable from every stage", f"no outcome reachable from {', '.join(stuck)}"
        )


def _adjacency(pairs: Iterable[tuple[str, str]]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for a, b in pairs:
        graph.setdefault(a, set()).add(b)
    return graph


def _reach(start: str, graph: Mapping[str, set[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _as_tuple(value: Iterable[Transition]) -> tuple[Transition, ...]:
    return tuple(value)


def _as_frozenset(value: Iterable[str]) -> frozenset[str]:
    return frozenset(str(v) for v in value)


@attrs.frozen
class Pipeline:
    """A checked, frozen transition table.

    ``outcomes`` are the stages that end a journey; ``void`` is the outcome that marks
    a journey opened by mistake (left out of every report), if the pipeline has one.

    >>> from stemjourney import DEFAULT_PIPELINE
    >>> DEFAULT_PIPELINE.targets("consultation")
    ('harvest', 'ineligible', 'withdrawn', 'voided')
    """

    transitions: tuple[Transition, ...] = attrs.field(converter=_as_tuple)
    initial: str = attrs.field(converter=str)
    outcomes: frozenset[str] = attrs.field(converter=_as_frozenset)
    void: str | None = attrs.field(default=None, converter=attrs.converters.optional(str))
    _by_source: Mapping[str, tuple[Transition, ...]] = attrs.field(init=False, eq=False, repr=False)
    _by_pair: Mapping[tuple[str, str], Transition] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        _check_table(self.transitions, self.initial, self.outcomes)
        if self.void is not None and self.void not in self.outcomes:
            raise PipelineDefinitionError(
                "the void stage is an outcome", f"'{self.void}' is not one of the outcomes"
            )
        by_source: dict[str, list[Transition]] = {}
        for t in self.transitions:
            by_source.setdefault(t.source, []).append(t)
        object.__setattr__(self, "_by_source", {k: tuple(v) for k, v in by_source.items()})
        object.__setattr__(self, "_by_pair", {(t.source, t.target): t for t in self.transitions})

    @property
    def stages(self) -> tuple[str, ...]:
        """Every stage and outcome, in the order the table first names them."""
        seen: dict[str, None] = {self.initial: None}
        for t in self.transitions:
            seen.setdefault(t.source)
            seen.setdefault(t.target)
        return tuple(seen)

    @property
    def open_stages(self) -> tuple[str, ...]:
        """The stages a journey can be in before it ends, in table order.

        >>> from stemjourney import DEFAULT_PIPELINE
        >>> DEFAULT_PIPELINE.open_stages[-1]
        'follow_up'
        """
        return tuple(s for s in self.stages if s not in self.outcomes)

    def is_outcome(self, stage: str) -> bool:
        """True when ``stage`` ends a journey."""
        return stage in self.outcomes

    def is_void(self, stage: str) -> bool:
        """True when ``stage`` is the pipeline's void outcome (a journey opened by mistake)."""
        return self.void is not None and stage == self.void

    def leaving(self, stage: str) -> tuple[Transition, ...]:
        """The transitions out of ``stage``, in table order."""
        return self._by_source.get(stage, ())

    def targets(self, stage: str) -> tuple[str, ...]:
        """The stages the table allows from ``stage``, guards aside."""
        return tuple(t.target for t in self.leaving(stage))

    def find(self, source: str, target: str) -> Transition | None:
        """The transition from ``source`` to ``target``, or ``None``."""
        return self._by_pair.get((source, target))
