"""The personas table (lambdas/common/store/personas.py) and the jobs a persona is sung in."""

from __future__ import annotations

import os
import uuid

import pytest

from lambdas.common.errors import InvalidRequest, NotFound
from lambdas.common.models import JobPersona, JobStatus
from lambdas.common.personas import Persona, PersonaSource, ReferenceClip, reference_key
from lambdas.common.store.personas import PersonaStore
from tests import factories


def _store() -> PersonaStore:
    return PersonaStore(os.environ["PERSONAS_TABLE_NAME"])


def _persona(user_id: str, created_at: str) -> Persona:
    persona_id = str(uuid.uuid4())
    clip = ReferenceClip(
        bucket="media",
        key=reference_key(user_id, persona_id),
        sha256="ab" * 32,
        duration_s=30.0,
        sample_rate=48_000,
        channels=2,
        size_bytes=5_760_044,
    )
    return Persona(
        persona_id=persona_id,
        user_id=user_id,
        name="Alto",
        source=PersonaSource(upload_id=str(uuid.uuid4())),
        start_s=1.5,
        reference=clip,
        created_at=created_at,
    )


def test_round_trip_isolation_and_delete(aws_env) -> None:
    store = _store()
    persona = store.create(_persona("alice", "2026-01-01T00:00:00.000Z"))
    assert store.get_for_user(persona.persona_id, "alice") == persona
    with pytest.raises(NotFound):
        store.get_for_user(persona.persona_id, "mallory")
    assert not store.delete(persona.persona_id, "mallory")
    assert store.delete(persona.persona_id, "alice")
    assert not store.delete(persona.persona_id, "alice")
    with pytest.raises(NotFound):
        store.get_for_user(persona.persona_id, "alice")


def test_list_pages_newest_first_and_count_is_per_user(aws_env) -> None:
    store = _store()
    made = [store.create(_persona("alice", f"2026-01-0{i}T00:00:00.000Z")) for i in range(1, 6)]
    store.create(_persona("bob", "2026-01-09T00:00:00.000Z"))
    seen, token = store.list_for_user("alice", limit=2)
    while token:
        page, token = store.list_for_user("alice", limit=2, next_token=token)
        seen += page
    assert [p.persona_id for p in seen] == [p.persona_id for p in reversed(made)]
    assert (store.count_for_user("alice"), store.count_for_user("bob"), store.count_for_user("eve")) == (
        5,
        1,
        0,
    )
    _, token = store.list_for_user("alice", limit=1)
    with pytest.raises(InvalidRequest):
        store.list_for_user("bob", limit=1, next_token=token)


def test_unfinished_songs_with_a_persona(aws_env) -> None:
    jobs = factories.jobs()
    persona = JobPersona(
        persona_id=str(uuid.uuid4()), bucket="media", key="personas/a/p/reference.wav", sha256="ab" * 32
    )
    other = persona.model_copy(update={"persona_id": str(uuid.uuid4())})
    queued = factories.put_job("alice", JobStatus.QUEUED, persona=persona)
    processing = factories.put_job("alice", JobStatus.PROCESSING, persona=persona)
    factories.put_job("alice", JobStatus.PROCESSED, persona=persona)
    factories.put_job("alice", JobStatus.QUEUED, persona=other)
    factories.put_job("alice", JobStatus.QUEUED)
    factories.put_job("bob", JobStatus.QUEUED, persona=persona)
    found = jobs.unfinished_with_persona("alice", persona.persona_id, "2000-01-01T00:00:00.000Z")
    assert sorted(found) == sorted([queued.job_id, processing.job_id])
    # Older than the workflow's timeout: no execution can still need the clip.
    assert jobs.unfinished_with_persona("alice", persona.persona_id, "2999-01-01T00:00:00.000Z") == []
