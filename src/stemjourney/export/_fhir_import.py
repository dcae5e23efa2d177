"""FHIR back into a store: the Bundles the export wrote, read as patients and whole journeys.

:func:`read_fhir_bundle` maps a Bundle to :class:`~stemjourney.Patient` and
:class:`~stemjourney.Journey` values: each journey's moves from its EpisodeOfCare's
``journey`` extension, each record from the ``entry`` extension of its resource (a
score from its Observation, and its answers from the QuestionnaireResponse it is
derived from). :func:`import_fhir` writes them with ``Store.import_history`` in one
transaction, which replays each journey through the engine first. A Bundle the export
did not write, or that cannot be mapped, is refused with a :class:`FhirImportError`
naming the resource and the element; nothing is written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, Protocol

from stemjourney.clinical._codec import time_text
from stemjourney.clinical._instruments import INSTRUMENTS
from stemjourney.clinical._patient import Patient
from stemjourney.clinical._vocabulary import CellSource, Side
from stemjourney.exceptions import FhirImportError, StemJourneyError
from stemjourney.export import _fhir_terms as t
from stemjourney.export._fhir_resources import ENTRY_EXTENSION, JOURNEY_EXTENSION
from stemjourney.journey._history import HistoryFacts, MoveFacts, RecordFacts, journey_from_facts
from stemjourney.journey._journey import Journey

__all__ = ["HistoryImporter", "import_fhir", "read_fhir_bundle"]

_OURS = "a Bundle written by stemjourney's FHIR export"
_ENTRY_KINDS = frozenset(
    {
        "Observation",
        "ClinicalImpression",
        "Consent",
        "Procedure",
        "BiologicallyDerivedProduct",
        "Encounter",
        "AdverseEvent",
    }
)
_DERIVED = frozenset({"Condition", "QuestionnaireResponse", "Questionnaire"})


class HistoryImporter(Protocol):
    """A store that writes whole patients and journeys in one transaction (a store does)."""

    def import_history(
        self, patients: Iterable[Patient], journeys: Iterable[Journey], *, actor: str
    ) -> tuple[int, int]:
        """Write ``patients`` and ``journeys``; return how many of each were added."""
        ...


def _fail(where: str, problem: str, allowed: str = _OURS) -> FhirImportError:
    return FhirImportError(where, problem, allowed)


def _parts(ext: Mapping[str, Any], where: str) -> dict[str, list[Any]]:
    """The sub-extensions of a complex extension by url: their values, or their parts."""
    found: dict[str, list[Any]] = {}
    for part in ext.get("extension", ()):
        if not isinstance(part, Mapping) or not isinstance(part.get("url"), str):
            raise _fail(where, "has a sub-extension without a url")
        values = [v for k, v in part.items() if k.startswith("value")]
        found.setdefault(part["url"], []).append(values[0] if values else part)
    return found


def _one(
    parts: dict[str, list[Any]], name: str, where: str, kind: type, optional: bool = False
) -> Any:
    values = parts.get(name)
    if not values:
        if optional:
            return None
        raise _fail(f"{where}.{name}", "is missing")
    value = values[0]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _fail(f"{where}.{name}", f"is not a {kind.__name__}")
    return value


def _time(value: str, where: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        moment = None
    if moment is None or moment.tzinfo is None:
        raise _fail(
            where, "is not a time with an offset", "an ISO 8601 time such as 2026-03-02T09:30+00:00"
        )
    return time_text(moment)


def _extension(resource: Mapping[str, Any], url: str, where: str) -> Mapping[str, Any]:
    for ext in resource.get("extension", ()):
        if isinstance(ext, Mapping) and ext.get("url") == url:
            return ext
    raise _fail(f"{where}.extension", f"has no {url} extension")


def _identifier(resource: Mapping[str, Any], kind: str, where: str) -> str:
    system = f"{t.ID_SYSTEM}:{kind}"
    found = resource.get("identifier", ())
    for ident in [found] if isinstance(found, Mapping) else found:
        if isinstance(ident, Mapping) and ident.get("system") == system:
            value = ident.get("value")
            if isinstance(value, str):
                return value
    raise _fail(f"{where}.identifier", f"has no {system} identifier")


class _Reader:
    def __init__(self, bundle: object) -> None:
        if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
            raise _fail("Bundle.resourceType", "is not a Bundle", "a FHIR Bundle")
        if bundle.get("type") != "collection":
            raise _fail("Bundle.type", "is not 'collection'", "a collection Bundle")
        entries = bundle.get("entry")
        if not isinstance(entries, list):
            raise _fail("Bundle.entry", "is not a list of entries")
        self.by_url: dict[str, Mapping[str, Any]] = {}
        self.patients: dict[str, Patient] = {}
        self.episodes: list[tuple[str, Mapping[str, Any]]] = []
        self.records: list[tuple[str, Mapping[str, Any]]] = []
        for n, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, Mapping) else None
            if not isinstance(resource, Mapping):
                raise _fail(f"Bundle.entry[{n}].resource", "is missing")
            kind = resource.get("resourceType")
            where = f"{kind}/{resource.get('id')}"
            url = entry.get("fullUrl")
            if not isinstance(url, str) or url != f"urn:uuid:{resource.get('id')}":
                raise _fail(f"{where}.fullUrl", "is not urn:uuid:<id>")
            self.by_url[url] = resource
            if kind == "Patient":
                self.patients[url] = self._patient(resource, where)
            elif kind == "EpisodeOfCare":
                self.episodes.append((where, resource))
            elif kind in _ENTRY_KINDS:
                self.records.append((where, resource))
            elif kind == "Questionnaire":
                if not str(resource.get("url", "")).startswith(f"{t.QUESTIONNAIRE}/"):
                    raise _fail(f"{where}.url", "is not a stemjourney questionnaire")
            elif kind not in _DERIVED:
                raise _fail(
                    f"{where}.resourceType",
                    "is not a resource the export writes",
                    ", ".join(sorted({"Patient", "EpisodeOfCare", *_ENTRY_KINDS, *_DERIVED})),
                )

    def _patient(self, resource: Mapping[str, Any], where: str) -> Patient:
        pid = _identifier(resource, "patient", where)
        if resource.get("id") != t.uid(f"patient/{pid}"):
            raise _fail(f"{where}.id", "is not the id the export gives this patient")
        names = resource.get("name") or [{}]
        birth = resource.get("birthDate")
        try:
            born = None if birth is None else date.fromisoformat(birth)
        except (TypeError, ValueError):
            raise _fail(f"{where}.birthDate", "is not a date", "YYYY-MM-DD") from None
        try:
            return Patient(
                id=pid,
                external_id=_identifier(resource, "external-id", where),
                display_name=names[0].get("text"),
                birth_date=born,
            )
        except StemJourneyError as error:
            raise _fail(where, f"cannot be read as a patient ({error})") from None

    def journeys(self) -> list[Journey]:
        entries: dict[str, list[RecordFacts]] = {}
        for where, resource in self.records:
            jid, facts = self._entries(resource, where)
            entries.setdefault(jid, []).extend(facts)
        found = []
        seen: set[str] = set()
        for where, episode in self.episodes:
            jid = _identifier(episode, "journey", where)
            if jid in seen:
                raise _fail(f"{where}.identifier", f"repeats journey {jid}", "one per journey")
            seen.add(jid)
            history = self._journey(episode, where, entries.pop(jid, []))
            try:
                found.append(journey_from_facts(history))
            except (StemJourneyError, ValueError, KeyError, TypeError) as error:
                problem = f"cannot be read as a journey ({error})"
                raise _fail(f"{where}.extension", problem) from None
        if entries:
            jid = sorted(entries)[0]
            raise _fail(f"journey {jid}", "has records but no EpisodeOfCare in the Bundle")
        return found

    def _journey(
        self, episode: Mapping[str, Any], where: str, records: list[RecordFacts]
    ) -> HistoryFacts:
        jid = _identifier(episode, "journey", where)
        if episode.get("id") != t.uid(f"journey/{jid}"):
            raise _fail(f"{where}.id", "is not the id the export gives this journey")
        ext_where = f"{where}.extension[journey]"
        parts = _parts(_extension(episode, JOURNEY_EXTENSION, where), ext_where)
        patient_ref = (episode.get("patient") or {}).get("reference")
        patient = self.patients.get(patient_ref) if isinstance(patient_ref, str) else None
        if patient is None:
            raise _fail(f"{where}.patient", "is not a Patient of the Bundle")
        side = _one(parts, "side", ext_where, str)
        source = _one(parts, "cellSource", ext_where, str)
        if side not in {s.value for s in Side}:
            raise _fail(f"{ext_where}.side", "is not a side", ", ".join(s.value for s in Side))
        if source not in {c.value for c in CellSource}:
            raise _fail(
                f"{ext_where}.cellSource",
                "is not a cell source",
                ", ".join(c.value for c in CellSource),
            )
        moves = []
        for move in parts.get("move", ()):
            moves.append(self._move(_parts(move, f"{ext_where}.move"), f"{ext_where}.move"))
        if not moves:
            raise _fail(f"{ext_where}.move", "is missing", "the journey's moves, opening first")
        records.sort(key=lambda r: r.version)
        return HistoryFacts(
            jid,
            patient.id,
            _one(parts, "condition", ext_where, str),
            _one(parts, "site", ext_where, str),
            side,
            source,
            tuple(sorted(moves)),
            tuple(records),
        )

    def _move(self, parts: dict[str, list[Any]], where: str) -> MoveFacts:
        record = _one(parts, "reasonRecord", where, str, optional=True)
        try:
            reason_record = None if record is None else json.loads(record)
        except ValueError:
            raise _fail(f"{where}.reasonRecord", "is not JSON") from None
        return MoveFacts(
            _one(parts, "seq", where, int),
            _one(parts, "version", where, int),
            _one(parts, "source", where, str, optional=True),
            _one(parts, "target", where, str),
            _one(parts, "cycle", where, int),
            _time(_one(parts, "occurred", where, str), f"{where}.occurred"),
            _time(_one(parts, "recorded", where, str), f"{where}.recorded"),
            _one(parts, "actor", where, str),
            _one(parts, "reason", where, str, optional=True),
            _one(parts, "lateReason", where, str, optional=True),
            _one(parts, "overrideReason", where, str, optional=True),
            reason_record,
        )

    def _entries(self, resource: Mapping[str, Any], where: str) -> tuple[str, list[RecordFacts]]:
        ext_where = f"{where}.extension[entry]"
        parts = _parts(_extension(resource, ENTRY_EXTENSION, where), ext_where)
        jid = _one(parts, "journey", ext_where, str)
        found = [
            self._entry(_parts(p, f"{ext_where}.previous"), f"{ext_where}.previous", None)
            for p in parts.get("previous", ())
        ]
        found.append(self._entry(parts, ext_where, resource))
        return jid, found

    def _entry(
        self, parts: dict[str, list[Any]], where: str, resource: Mapping[str, Any] | None
    ) -> RecordFacts:
        text = _one(parts, "record", where, str, optional=True)
        if text is not None:
            try:
                data = json.loads(text)
            except ValueError:
                raise _fail(f"{where}.record", "is not JSON") from None
            if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
                raise _fail(f"{where}.record", "is not a stemjourney record")
        elif resource is not None and resource.get("resourceType") == "Observation":
            data = self._score(resource, where.split(".", 1)[0])
        else:
            raise _fail(f"{where}.record", "is missing", "the record as stemjourney encodes it")
        kind = data["kind"]
        return RecordFacts(
            _one(parts, "version", where, int),
            kind,
            data,
            _one(parts, "cycle", where, int),
            _one(parts, "stage", where, str),
            _one(parts, "stageSeq", where, int),
            _time(_one(parts, "recorded", where, str), f"{where}.recorded"),
            _one(parts, "actor", where, str),
            _one(parts, "amends", where, int, optional=True),
            _one(parts, "reason", where, str, optional=True),
        )

    def _score(self, obs: Mapping[str, Any], where: str) -> dict[str, Any]:
        """A score read from its Observation and the response it is derived from."""
        code = obs.get("code") or {}
        instrument = next(
            (
                c.get("code")
                for c in code.get("coding", ())
                if c.get("system") == f"{t.CODE_SYSTEM}/instrument"
            ),
            code.get("text"),
        )
        if not isinstance(instrument, str):
            raise _fail(f"{where}.code", "names no instrument")
        if "valueInteger" in obs:
            value = obs["valueInteger"]
        else:
            value = (obs.get("valueQuantity") or {}).get("value")
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _fail(f"{where}.value[x]", "is not a number")
        measured = obs.get("effectiveDateTime")
        if not isinstance(measured, str):
            raise _fail(f"{where}.effectiveDateTime", "is missing")
        answers = None
        derived = obs.get("derivedFrom") or ()
        if derived:
            answers = self._answers(instrument, derived[0].get("reference"), where)
        return {
            "answers": answers,
            "instrument": instrument,
            "kind": "score",
            "measured_at": _time(measured, f"{where}.effectiveDateTime"),
            "value": float(value),
        }

    def _answers(self, instrument: str, ref: object, where: str) -> list[Any]:
        response = self.by_url.get(ref) if isinstance(ref, str) else None
        if response is None or response.get("resourceType") != "QuestionnaireResponse":
            raise _fail(f"{where}.derivedFrom", "is not a QuestionnaireResponse of the Bundle")
        spec = INSTRUMENTS.get(instrument)
        if spec is None or not spec.items:
            raise _fail(f"{where}.code", f"instrument {instrument} has no items registered here")
        items = response.get("item") or []
        if t.questionnaire_code(instrument) != instrument:
            items = next((i.get("item") or [] for i in items if i.get("linkId") == instrument), [])
        given: dict[str, Any] = {}
        for item in items:
            answer = (item.get("answer") or [{}])[0]
            values = [v for k, v in answer.items() if k.startswith("value")]
            if values:
                given[item.get("linkId")] = values[0]
        unknown = sorted(set(given) - {i.code for i in spec.items})
        if unknown:
            raise _fail(
                f"QuestionnaireResponse/{response.get('id')}.item",
                f"has item {unknown[0]!r}, not one of {instrument}",
                ", ".join(i.code for i in spec.items),
            )
        return [given.get(i.code) for i in spec.items]


def read_fhir_bundle(bundle: Mapping[str, Any]) -> tuple[list[Patient], list[Journey]]:
    """The patients and whole journeys of a Bundle the FHIR export wrote.

    Raises :class:`~stemjourney.exceptions.FhirImportError` naming the resource and
    element that a Bundle of the export would not have, or that cannot be mapped.
    """
    reader = _Reader(bundle)
    return list(reader.patients.values()), reader.journeys()


def _load(bundle: object) -> Mapping[str, Any]:
    if isinstance(bundle, Mapping):
        return bundle
    if isinstance(bundle, str | os.PathLike):
        with open(bundle, encoding="utf-8") as handle:
            text = handle.read()
    elif hasattr(bundle, "read"):
        text = bundle.read()
    else:
        raise _fail("bundle", "is not a Bundle", "a Bundle (a dict), a path or a file")
    try:
        loaded: Mapping[str, Any] = json.loads(text)
    except ValueError:
        raise _fail("bundle", "is not JSON", "a FHIR Bundle in JSON") from None
    return loaded


def import_fhir(
    store: HistoryImporter, bundle: object, *, actor: str = "fhir-import"
) -> tuple[int, int]:
    """Read a Bundle the FHIR export wrote (a dict, a path or a file) into ``store``.

    Every patient and journey is written in one transaction, each journey replayed
    through the engine first (``Store.import_history``); a Bundle that cannot be
    mapped is refused before anything is written. Returns (patients, journeys) added.

    >>> from stemjourney.store import open_store
    >>> from stemjourney.testing import treated_journey
    >>> from stemjourney import Patient
    >>> from stemjourney.export import fhir_bundle
    >>> journey = treated_journey()
    >>> bundle = fhir_bundle(Patient(id=journey.patient_id, external_id="MRN-1"), [journey])
    >>> with open_store(":memory:") as store:
    ...     import_fhir(store, bundle, actor="it:import")
    ...     store.journey(journey.id) == journey
    (1, 1)
    True
    """
    patients, journeys = read_fhir_bundle(_load(bundle))
    return store.import_history(patients, journeys, actor=actor)
