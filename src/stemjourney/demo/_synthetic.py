"""The synthetic clinic: made-up patients with varied, realistic journeys, from a fixed seed.

Everything is drawn from one ``random.Random(seed)``, so a seed and a "today" give the
same clinic every time. No real person is in it: external ids are ``DEMO-0001`` and up,
and names are built from small lists of obviously invented words.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import attrs

from stemjourney.clinical._protocol import DEFAULT_PROTOCOL, Protocol
from stemjourney.clinical._records import (
    AdverseEvent,
    Consent,
    EligibilityAssessment,
    FollowUpVisit,
    Harvest,
    IneligibilityReason,
    Injection,
    Processing,
    Record,
    VoidReason,
    WithdrawalReason,
)
from stemjourney.clinical._scores import Score, nrs, vas
from stemjourney.clinical._vocabulary import (
    AEOutcome,
    CellSource,
    ConsentScope,
    Guidance,
    Initiator,
    Manipulation,
    Relatedness,
    Side,
)
from stemjourney.demo._questionnaires import questionnaire_scores
from stemjourney.demo._script import (
    AddStep,
    AmendStep,
    JourneyScript,
    MoveStep,
    PatientScript,
    Reason,
    Step,
)

__all__ = ["CONDITIONS", "Condition", "synthetic_clinic"]

_FIRST = (
    "Avery", "Blake", "Casey", "Dana", "Eden", "Finley", "Gray", "Harper", "Indigo", "Jules",
    "Kai", "Lane", "Morgan", "Noor", "Oakley", "Parker", "Quinn", "Reese", "Sage", "Tatum",
)  # fmt: skip
_LAST = (
    "Testwell", "Sampleton", "Demoford", "Mockridge", "Placeholm", "Fictara", "Dummett",
    "Exampleby", "Synthwood", "Trialson", "Notreal", "Pretendo", "Madeupson", "Fauxley",
)  # fmt: skip

_CLINICIANS = ("dr.demo.ames", "dr.demo.ikeda", "dr.demo.okafor")
_NURSES = ("rn.demo.lund", "rn.demo.patel")
_LAB = "lab.demo"

QuestionnaireMaker = Callable[[random.Random, str, float, datetime], list[Score]]
"""Make questionnaire scores: (rng, instrument, severity 0-1, when) -> scores."""


@attrs.frozen
class Condition:
    """A condition the demo treats: where, on which sides, and which questionnaires fit."""

    name: str
    sites: tuple[str, ...]
    sides: tuple[str, ...]
    instruments: tuple[str, ...]
    weight: int


CONDITIONS: tuple[Condition, ...] = (
    Condition("osteoarthritis of knee", ("knee",), ("left", "right"), ("koos",), 30),
    Condition("osteoarthritis of hip", ("hip",), ("left", "right"), (), 14),
    Condition(
        "osteoarthritis of shoulder", ("shoulder",), ("left", "right"), ("ases", "quickdash"), 10
    ),
    Condition("spinal disc degeneration", ("lumbar spine",), ("midline",), ("odi",), 18),
    Condition(
        "tendon injury",
        ("achilles tendon", "lateral elbow", "rotator cuff"),
        ("left", "right"),
        ("quickdash",),
        14,
    ),
    Condition("chronic neck and shoulder pain", ("cervical spine",), ("midline",), ("ndi",), 14),
)
"""The conditions of the product, with the questionnaires collected for each."""


def _clinic_time(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(8 + rng.randrange(9), 5 * rng.randrange(12)), UTC)


@attrs.define
class _Trajectory:
    """How a patient's pain moves after an injection: a fraction of baseline gone, by month."""

    kind: str
    gain: float
    tau: float
    relapse_at: float

    def relief(self, months: float) -> float:
        base = self.gain * (1 - math.exp(-months / self.tau))
        if self.kind == "relapse" and months > self.relapse_at:
            fade = min(1.0, (months - self.relapse_at) / 8)
            return base * (1 - 0.85 * fade)
        return base


def _trajectory(rng: random.Random) -> _Trajectory:
    roll = rng.random()
    if roll < 0.58:
        return _Trajectory("responder", rng.uniform(0.3, 0.7), rng.uniform(0.8, 2.5), 99)
    if roll < 0.85:
        return _Trajectory("non_responder", rng.uniform(0.0, 0.2), 1.5, 99)
    return _Trajectory("relapse", rng.uniform(0.4, 0.65), 1.2, rng.uniform(6, 12))


class _JourneyWriter:
    """Builds one journey's steps in clinical order, stopping at the demo's today."""

    def __init__(
        self,
        rng: random.Random,
        key: str,
        condition: Condition,
        today: datetime,
        protocol: Protocol,
        questionnaire: QuestionnaireMaker | None,
    ) -> None:
        self.rng = rng
        self.key = key
        self.condition = condition
        self.today = today
        self.protocol = protocol
        self.questionnaire = questionnaire
        self.steps: list[Step] = []
        self.site = rng.choice(condition.sites)
        self.side = rng.choice(condition.sides)
        self.doctor = rng.choice(_CLINICIANS)
        self.nurse = rng.choice(_NURSES)
        self.cell_source = "bone_marrow" if rng.random() < 0.6 else "adipose"
        self.with_vas = rng.random() < 0.2
        self.products = 0
        self.product = ""
        self.doses_left = 0
        self.severe = False
        self.stopped = False

    # ---- low-level: nothing on or after the demo's "today" is written ----

    def _open(self, when: datetime) -> bool:
        if self.stopped or when >= self.today:
            self.stopped = True
            return False
        return True

    def add(self, record: Record | Score, actor: str) -> int | None:
        """Append a record; return its step index, or None when it falls after today."""
        if not self._open(record.occurred_at):
            return None
        self.steps.append(AddStep(record, actor))
        return len(self.steps) - 1

    def move(
        self, target: str, at: datetime, reason: Reason | None = None, override: str | None = None
    ) -> bool:
        """Append a move; False when it falls after today (the journey stops there)."""
        if not self._open(at):
            return False
        self.steps.append(MoveStep(target, at, reason, override, self.doctor))
        return True

    def pain(self, level: float, at: datetime) -> int | None:
        """Record an NRS pain score near ``level`` (and a VAS for clinics that use both)."""
        score = max(0, min(10, round(level + self.rng.gauss(0, 0.6))))
        index = self.add(nrs(score, at), self.nurse)
        if index is not None and self.with_vas:
            mm = max(0.0, min(100.0, float(round(level * 10 + self.rng.gauss(0, 6)))))
            self.add(vas(mm, at + timedelta(minutes=2)), self.nurse)
        return index

    def function(self, level: float, at: datetime) -> None:
        """Record the condition's questionnaires for a pain ``level`` (0-10)."""
        if self.questionnaire is None:
            return
        severity = max(0.0, min(1.0, level / 10 + self.rng.gauss(0, 0.05)))
        for n, instrument in enumerate(self.condition.instruments):
            for score in self.questionnaire(
                self.rng, instrument, severity, at + timedelta(minutes=5 + n)
            ):
                self.add(score, self.nurse)

    # ---- the clinical story ----

    def run(self, opened: datetime) -> JourneyScript:
        """Write the whole journey from its opening at ``opened``."""
        rng = self.rng
        fate = rng.random()
        if fate < 0.012:
            self.move("voided", opened + timedelta(minutes=30), VoidReason(code="duplicate"))
            return self._script(opened)
        level = float(rng.randint(5, 9))
        self.pain(level, opened + timedelta(minutes=10))
        self.function(level, opened + timedelta(minutes=10))
        assessed = opened + timedelta(minutes=20)
        if fate < 0.08:
            found = frozenset(rng.sample(sorted(_SCREEN_FAILS), rng.choice((1, 1, 2))))
            self.add(
                EligibilityAssessment(assessed_at=assessed, contraindications=found), self.doctor
            )
            self.move(
                "ineligible",
                opened + timedelta(minutes=40),
                IneligibilityReason(contraindications=found),
            )
            return self._script(opened)
        self.add(EligibilityAssessment(assessed_at=assessed, assessor=self.doctor), self.doctor)
        if fate < 0.11:
            self.move(
                "withdrawn",
                opened + timedelta(days=rng.randint(3, 20)),
                WithdrawalReason(initiated_by=Initiator.PATIENT, code="patient_choice"),
            )
            return self._script(opened)
        scope = rng.choice((ConsentScope.TREATMENT, ConsentScope.TREATMENT_AND_REGISTRY))
        self.add(
            Consent(signed_at=opened + timedelta(minutes=30), form_version="demo-v2", scope=scope),
            self.doctor,
        )
        start = _clinic_time((opened + timedelta(days=rng.randint(7, 21))).date(), rng)
        self._cycle(start, level, cycle=1, harvest=True)
        return self._script(opened)

    def _script(self, opened: datetime) -> JourneyScript:
        return JourneyScript(
            self.key,
            self.condition.name,
            self.site,
            self.side,
            self.cell_source,
            opened,
            tuple(self.steps),
        )

    def _harvest_and_process(self, start: datetime) -> datetime | None:
        """Harvest and process until a product is released; return when it was released."""
        rng = self.rng
        bone_marrow = self.cell_source == "bone_marrow"
        while True:
            self.add(
                Harvest(
                    harvested_at=start + timedelta(minutes=20),
                    source=CellSource(self.cell_source),
                    body_site="posterior iliac crest" if bone_marrow else "abdomen",
                    side=rng.choice((Side.LEFT, Side.RIGHT)) if bone_marrow else Side.BILATERAL,
                    volume_ml=float(rng.choice((30, 60, 60, 90))) if bone_marrow else 120.0,
                    guidance=Guidance.ULTRASOUND if rng.random() < 0.6 else None,
                ),
                self.doctor,
            )
            self.move("processing", start + timedelta(hours=1))
            self.products += 1
            failed = rng.random() < 0.04
            # Bone marrow is concentrated on the day; adipose cells are expanded in culture.
            lab_days = 0 if bone_marrow else rng.randint(14, 21)
            done = start + timedelta(days=lab_days, hours=2, minutes=rng.randint(0, 40))
            prefix = "bmac" if bone_marrow else "svf"
            self.add(
                Processing(
                    product_id=f"{prefix}-{self.key}-{self.products}",
                    started_at=start + timedelta(hours=1, minutes=5),
                    finished_at=done,
                    method="density gradient centrifugation"
                    if bone_marrow
                    else "enzymatic digestion and culture expansion",
                    manipulation=Manipulation.MINIMAL
                    if bone_marrow
                    else Manipulation.MORE_THAN_MINIMAL,
                    final_volume_ml=float(rng.choice((4, 6, 8))),
                    tnc_per_ml=rng.uniform(0.8e7, 6e7),
                    viability_pct=round(rng.uniform(55, 68) if failed else rng.uniform(76, 97), 1),
                    released=not failed,
                    aspirate_volume_ml=60.0 if bone_marrow else None,
                    cd34_per_ml=round(rng.uniform(1e4, 2e5)) if bone_marrow else None,
                    device=rng.choice(("DemoSpin 2", "CellPrep X")),
                    doses=2 if rng.random() < 0.3 else 1,
                ),
                _LAB,
            )
            if self.stopped:
                return None
            if not failed:
                return done
            self.move("harvest", done + timedelta(minutes=30))
            start = _clinic_time((done + timedelta(days=rng.randint(7, 14))).date(), rng)

    def _inject(self, at: datetime, product: str) -> bool:
        """Inject, rest, and reach follow-up; False when today comes first."""
        rng = self.rng
        self.move("injection", at)
        shot = at + timedelta(minutes=20)
        self.add(
            Injection(
                injected_at=shot,
                site=self.site,
                side=Side(self.side),
                guidance=Guidance.FLUOROSCOPY if "spine" in self.site else Guidance.ULTRASOUND,
                volume_ml=float(rng.choice((3, 4, 6))),
                product_id=product,
            ),
            self.doctor,
        )
        self.move("recovery", shot + timedelta(minutes=40))
        self._adverse_events(shot)
        if rng.random() < 0.04:
            override = "recovery judged complete at review"
            self.move("follow_up", shot + timedelta(days=5), override=override)
        else:
            rest = self.protocol.minimum_rest + timedelta(days=rng.randint(0, 7))
            self.move("follow_up", shot + rest)
        return not self.stopped

    def _adverse_events(self, shot: datetime) -> None:
        rng = self.rng
        if rng.random() < 0.05 and self.cell_source == "bone_marrow":
            self.add(_event(rng, shot + timedelta(hours=6), "posterior iliac crest", 1), self.nurse)
        if rng.random() < 0.2:
            roll = rng.random()
            grade = 1 if roll < 0.68 else 2 if roll < 0.97 else 3
            onset = shot + timedelta(hours=rng.randint(4, 72))
            self.add(_event(rng, onset, self.site, grade), self.nurse)
            self.severe = self.severe or grade >= 3

    def _prepare(self, start: datetime, level: float, *, harvest: bool) -> None:
        """Before another cycle, what a careful clinic records at a pre-treatment visit.

        A fresh baseline pain score, and for a new harvest a fresh eligibility
        assessment (contraindications arise between cycles) and a consent for the new
        treatment; for a stored dose a consent covering the repeat injection.
        """
        visit = start - timedelta(hours=2)
        if harvest:
            self.pain(level, visit)
            self.add(EligibilityAssessment(assessed_at=visit + timedelta(minutes=10)), self.doctor)
            scope = ConsentScope.TREATMENT
        else:
            self.add(nrs(max(0, min(10, round(level))), visit), self.nurse)
            scope = ConsentScope.REPEAT_INJECTION
        self.add(
            Consent(signed_at=visit + timedelta(minutes=20), form_version="demo-v2", scope=scope),
            self.doctor,
        )

    def _cycle(self, start: datetime, level: float, *, cycle: int, harvest: bool) -> None:
        """One treatment round from harvest (or a stored dose) to its last follow-up."""
        if cycle > 1:
            self._prepare(start, level, harvest=harvest)
        if harvest:
            if not self.move("harvest", start):
                return
            released = self._harvest_and_process(start)
            if released is None:
                return
            last = self._last_product()
            self.product, self.doses_left = last.product_id, last.doses
            at = released + timedelta(minutes=15)
        else:
            at = start
        self.doses_left -= 1
        if not self._inject(at, self.product):
            return
        self._follow_up(at + timedelta(minutes=20), level, cycle)

    def _last_product(self) -> Processing:
        return next(
            step.record
            for step in reversed(self.steps)
            if isinstance(step, AddStep) and isinstance(step.record, Processing)
        )

    def _follow_up(self, shot: datetime, baseline: float, cycle: int) -> None:
        rng = self.rng
        course = _trajectory(rng)
        for visit in self.protocol.schedule:
            due = visit.due(shot)
            spread = max(1, visit.window_days // 2)
            day = _clinic_time((due + timedelta(days=rng.randint(-spread, spread))).date(), rng)
            if day >= self.today:
                return
            recent = day >= self.today - timedelta(days=visit.window_days + 10)
            if rng.random() < (0.4 if recent else 0.07):
                if not recent and rng.random() < 0.15:
                    reason = WithdrawalReason(
                        initiated_by=Initiator.CLINICIAN, code="lost_to_follow_up"
                    )
                    self.move("withdrawn", day + timedelta(days=visit.window_days + 7), reason)
                    return
                continue
            level = baseline * (1 - course.relief(visit.nominal_days / 30.44))
            self.add(
                FollowUpVisit(
                    visited_at=day,
                    contact=rng.choice(("in_person", "in_person", "phone", "video")),
                    time_point=visit.label,
                ),
                self.nurse,
            )
            index = self.pain(level, day + timedelta(minutes=5))
            self.function(level, day + timedelta(minutes=5))
            if index is not None and rng.random() < 0.03:
                self._amend(index)
            if self._decide(visit.label, day, level, baseline, course, cycle):
                return

    def _amend(self, index: int) -> None:
        step = self.steps[index]
        assert isinstance(step, AddStep)
        assert isinstance(step.record, Score)
        old = step.record
        value = int(old.value) + (1 if old.value < 10 else -1)
        fixed = nrs(value, old.measured_at)
        self.steps.append(AmendStep(index, fixed, "transcription error corrected", self.doctor))

    def _decide(
        self,
        label: str,
        day: datetime,
        level: float,
        baseline: float,
        course: _Trajectory,
        cycle: int,
    ) -> bool:
        """After a visit: stop, withdraw, complete or start another cycle? True ends the round."""
        rng = self.rng
        later = day + timedelta(days=rng.randint(1, 10))
        poor = level > baseline * 0.8
        if self.severe and rng.random() < 0.5:
            reason = WithdrawalReason(initiated_by=Initiator.CLINICIAN, code="adverse_event")
            self.move("withdrawn", later, reason)
            return True
        if label in ("3m", "6m") and course.kind == "non_responder" and rng.random() < 0.2:
            reason = WithdrawalReason(initiated_by=Initiator.PATIENT, code="lack_of_efficacy")
            self.move("withdrawn", later, reason)
            return True
        if label in ("6m", "12m") and poor and cycle < 3 and rng.random() < 0.5:
            start = _clinic_time((day + timedelta(days=rng.randint(14, 40))).date(), rng)
            self._cycle(start, level, cycle=cycle + 1, harvest=self.doses_left < 1)
            return True
        if label == "12m" and course.kind == "responder" and rng.random() < 0.2:
            self.move("completed", later, "goals met at the 12-month visit; discharged")
            return True
        if label == "24m":
            self.move("completed", later, "discharged after the 24-month visit")
            return True
        return False


_SCREEN_FAILS = ("anticoagulation", "active_infection", "recent_intra_articular_injection",
                 "immunosuppression", "bleeding_disorder")  # fmt: skip


def _event(rng: random.Random, onset: datetime, site: str, grade: int) -> AdverseEvent:
    what = rng.choice(("post-procedure pain", "swelling", "bruising"))
    serious = grade >= 3 and rng.random() < 0.3
    return AdverseEvent(
        onset_at=onset,
        site=site,
        grade=grade,
        serious=serious,
        relatedness=rng.choice((Relatedness.PROBABLE, Relatedness.DEFINITE, Relatedness.POSSIBLE)),
        outcome=AEOutcome.RECOVERED if rng.random() < 0.9 else AEOutcome.RECOVERING,
        action_taken="rest, ice and simple analgesia" if grade < 3 else "reviewed in clinic",
        description=what,
    )


def synthetic_clinic(
    seed: int,
    patients: int,
    today: date,
    *,
    protocol: Protocol = DEFAULT_PROTOCOL,
    questionnaire: QuestionnaireMaker | None = questionnaire_scores,
    years: int = 3,
) -> list[PatientScript]:
    """Draw ``patients`` synthetic patients whose journeys start in the ``years`` before ``today``.

    Nothing is dated on or after ``today`` (midnight UTC), so follow-ups fall due and
    overdue around it.

    >>> clinic = synthetic_clinic(7, 5, date(2026, 11, 23))
    >>> [p.external_id for p in clinic]
    ['DEMO-0001', 'DEMO-0002', 'DEMO-0003', 'DEMO-0004', 'DEMO-0005']
    >>> clinic == synthetic_clinic(7, 5, date(2026, 11, 23))
    True
    """
    rng = random.Random(seed)
    cutoff = datetime.combine(today, time(0), UTC)
    weights = [c.weight for c in CONDITIONS]
    span = 365 * years
    people = []
    for n in range(1, patients + 1):
        first = today - timedelta(days=rng.randint(4, span))
        age = rng.randint(35, 84)
        born = first - timedelta(days=365 * age + rng.randint(0, 364))
        condition = rng.choices(CONDITIONS, weights)[0]
        openings = [(condition, _clinic_time(first, rng))]
        if rng.random() < 0.12:
            second = rng.choices(CONDITIONS, weights)[0]
            when = _clinic_time(first + timedelta(days=rng.randint(0, 200)), rng)
            if when < cutoff - timedelta(days=1):
                openings.append((second, when))
        journeys = []
        for k, (cond, opened) in enumerate(openings, start=1):
            writer = _JourneyWriter(rng, f"{n:04d}-{k}", cond, cutoff, protocol, questionnaire)
            journeys.append(writer.run(opened))
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        people.append(PatientScript(f"DEMO-{n:04d}", name, born, tuple(journeys)))
    return people
