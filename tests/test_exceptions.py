"""Every stemjourney error crosses a process boundary as it was raised (pickled by
``multiprocessing`` and ``concurrent.futures``): the same class, message and attributes."""

from __future__ import annotations

import pickle

import pytest

from stemjourney import exceptions as e

EXAMPLES = [
    e.ValidationError("value", "is 11", "0 to 10"),
    e.FhirImportError("Observation/o-1.code", "is unknown", "a code the export writes"),
    e.PipelineDefinitionError("reachable", "stage x cannot be reached"),
    e.MoveError("j-1", "harvest", "processing", ["a harvest record"], ["withdrawn"]),
    e.GuardError("j-1", "consultation", "harvest", ["a consent"], []),
    e.IllegalMoveError("j-1", "recovery", "harvest", ["no such transition"], ["follow_up"]),
    e.TimeOrderError("j-1", "harvest", "processing", ["before the last move"], ["processing"]),
    e.NotFoundError("journey", "j-9"),
    e.DuplicateError("patient_id p-1 is taken; allowed: a new id"),
    e.ConflictError("j-1", 4, 5),
    e.SerializationError("move"),
    e.IntegrityError("record: the database refused the write"),
    e.SchemaError("newer"),
    e.StorageError("failed"),
    e.BusyError("busy"),
    e.ConnectionLostError("lost"),
    e.DiskFullError("full"),
    e.ReadOnlyError("read-only"),
    e.CorruptDatabaseError("damaged"),
    e.NotADatabaseError("not a database"),
]


def test_every_error_class_has_an_example() -> None:
    classes = {
        c for c in vars(e).values() if isinstance(c, type) and issubclass(c, e.StemJourneyError)
    }
    assert classes - {type(x) for x in EXAMPLES} == {e.StemJourneyError}


@pytest.mark.parametrize("error", EXAMPLES, ids=lambda x: type(x).__name__)
def test_an_error_pickles_with_its_message_and_attributes(error: e.StemJourneyError) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert back.args == error.args
    assert vars(back) == vars(error)
