"""Audio to MIDI through the real ASL: a transcribe song goes to the transcriber (the real
basic-pitch function, in-process) instead of the GPU; stems with "mid" are transcribed after they
are published; every failure leaves the job failed, uncharged, its slot free and nothing published."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import numpy as np
import pretty_midi
import soundfile as sf

from lambdas.common import contract
from lambdas.common.models import JobSource, JobStatus, Reservation
from local.lambda_routing import route_lambda_invokes
from local.placeholder_model import PLACEHOLDER_PITCHES
from stacks.config import ServiceConfig
from tests.workflow.harness import Workflow

TRANSCRIBE_CREDITS = ServiceConfig().transcribe_credits
MELODY = [(0.0, 62), (0.5, 66), (1.0, 69)]  # (start_s, MIDI pitch): D4 F#4 A4, 0.45 s each


def _melody_wav() -> bytes:
    rate = 22_050
    out = np.zeros(int(1.6 * rate))
    for start_s, pitch in MELODY:
        t = np.arange(int(0.45 * rate)) / rate
        envelope = np.minimum(1.0, np.minimum(t / 0.01, (0.45 - t) / 0.05))
        begin = int(start_s * rate)
        out[begin : begin + len(t)] += 0.3 * envelope * np.sin(2 * np.pi * 440 * 2 ** ((pitch - 69) / 12) * t)
    buffer = io.BytesIO()
    sf.write(buffer, out.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _upload(flow: Workflow, key: str, body: bytes) -> JobSource:
    bucket = flow.resources.uploads_bucket
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return JobSource(
        upload_id="0" * 8 + "-0000-4000-8000-" + "0" * 12, bucket=bucket, key=key, duration_s=1.6
    )


def _transcribe(flow: Workflow, user: str, source: JobSource) -> Any:
    request = {
        "mode": "transcribe",
        "source": {"upload_id": source.upload_id},
        "duration_s": source.duration_s,
    }
    return flow.submit(user, request, source=source)


def _submit_stems_with_midi(flow: Workflow, tracks: list[str]) -> Any:
    """Alice (40 credits) asks for `tracks` as stems of an uploaded melody, in WAV and MIDI."""
    flow.user("alice", credits=40)
    source = _upload(flow, "uploads/alice/song.wav", _melody_wav())
    request = {
        "mode": "stems",
        "source": {"upload_id": source.upload_id},
        "tracks": tracks,
        "formats": ["wav", "mid"],
        "duration_s": 60,
        "variants": 1,
    }
    return flow.submit("alice", request, source=source)


def _states(flow: Workflow, job_id: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"] for e in flow.history(job_id) if "stateEnteredEventDetails" in e
    ]


def _notes(flow: Workflow, key: str) -> list[tuple[float, int]]:
    body = boto3.client("s3").get_object(Bucket=flow.resources.media_bucket, Key=key)["Body"].read()
    midi = pretty_midi.PrettyMIDI(io.BytesIO(body))
    return sorted((round(n.start, 2), n.pitch) for i in midi.instruments for n in i.notes)


def _assert_failed_uncharged(flow: Workflow, job_id: str, user: str, credits: int, code: str) -> None:
    described = flow.wait(job_id, timeout_s=120)
    assert described["status"] == "FAILED" and described["error"] == code
    job = flow.job(job_id)
    assert job.status == JobStatus.FAILED and job.error is not None and job.error.code == code
    assert job.charged is False and job.reservation == Reservation.RELEASED
    assert flow.credits(user) == credits and flow.reserved(user) == 0
    assert flow.slots(user) == set()
    assert flow.media_keys(f"songs/{user}/{job_id}/") == []
    assert flow.scratch_keys(f"media/{job_id}/") == []


def test_a_transcription_skips_the_gpu_publishes_the_midi_and_charges_its_flat_price(
    workflow: Workflow,
) -> None:
    workflow.user("alice", credits=5)
    job = _transcribe(workflow, "alice", _upload(workflow, "uploads/alice/melody.wav", _melody_wav()))
    assert job.price_credits == TRANSCRIBE_CREDITS
    assert workflow.wait(job.job_id, timeout_s=180)["status"] == "SUCCEEDED"

    states = _states(workflow, job.job_id)
    assert "Transcribe" in states and "PublishMidi" in states and "Generate" not in states
    assert workflow.endpoint.invocations == []  # no GPU
    key = f"songs/alice/{job.job_id}/audio.mid"
    assert workflow.media_keys(f"songs/alice/{job.job_id}/") == [key]
    notes = _notes(workflow, key)
    assert [pitch for _, pitch in notes] == [pitch for _, pitch in MELODY]
    assert all(abs(start - expected) < 0.1 for (start, _), (expected, _) in zip(notes, MELODY, strict=True))

    done = workflow.job(job.job_id)
    assert done.status == JobStatus.PROCESSED and done.charged
    assert done.result is not None and done.result.audio == []
    assert [(m.key, m.track, m.notes) for m in done.result.midi] == [(key, None, 3)]
    assert workflow.credits("alice") == 5 - TRANSCRIBE_CREDITS and workflow.reserved("alice") == 0
    assert workflow.slots("alice") == set()
    assert workflow.scratch_keys(f"media/{job.job_id}/") == []  # the scratch MIDI was moved


def test_stems_with_mid_are_transcribed_after_publishing_each_track(workflow: Workflow) -> None:
    job = _submit_stems_with_midi(workflow, ["vocals", "bass"])
    stems_price = 2 * 2  # one started minute per track at the sandbox's 2 credits a minute
    assert job.price_credits == stems_price + TRANSCRIBE_CREDITS
    workflow.endpoint.wait_for_invocation(job.job_id)
    request_key = f"requests/{job.job_id}.json"
    sent = boto3.client("s3").get_object(Bucket=workflow.resources.inference_bucket, Key=request_key)
    assert json.loads(sent["Body"].read())["formats"] == ["wav"]  # the GPU renders audio only
    workflow.endpoint.succeed(job.job_id)
    assert workflow.wait(job.job_id, timeout_s=180)["status"] == "SUCCEEDED"

    prefix = f"songs/alice/{job.job_id}/"
    stems = [f"{prefix}stem-{t}.{ext}" for t in ("vocals", "bass") for ext in ("wav", "mid")]
    assert workflow.media_keys(prefix) == sorted([*stems, f"{prefix}cover.png"])
    for track in ("vocals", "bass"):
        assert [p for _, p in _notes(workflow, f"{prefix}stem-{track}.mid")] == [PLACEHOLDER_PITCHES[track]]
    done = workflow.job(job.job_id)
    assert sorted((m.track, m.key) for m in done.result.midi) == [
        ("bass", f"{prefix}stem-bass.mid"),
        ("vocals", f"{prefix}stem-vocals.mid"),
    ]
    assert sorted(a.track for a in done.result.audio) == ["bass", "vocals"]
    assert workflow.credits("alice") == 40 - job.price_credits and workflow.reserved("alice") == 0


def test_audio_the_transcriber_refuses_fails_the_job_uncharged(workflow: Workflow) -> None:
    workflow.user("alice", credits=5)
    job = _transcribe(workflow, "alice", _upload(workflow, "uploads/alice/noise.wav", b"RIFF not a wav" * 50))
    _assert_failed_uncharged(workflow, job.job_id, "alice", 5, "AudioRejected")
    failed = [e for e in workflow.history(job.job_id) if e["type"] == "TaskFailed"]
    assert failed[0]["taskFailedEventDetails"]["error"] == "AudioRejected"


def test_a_source_deleted_after_submission_fails_the_job_uncharged(workflow: Workflow) -> None:
    workflow.user("alice", credits=5)
    source = JobSource(bucket=workflow.resources.uploads_bucket, key="uploads/alice/gone.wav", duration_s=3)
    job = _transcribe(
        workflow, "alice", source.model_copy(update={"upload_id": "1" * 8 + "-0000-4000-8000-" + "0" * 12})
    )
    _assert_failed_uncharged(workflow, job.job_id, "alice", 5, "SourceMissing")


def test_a_transcriber_failure_after_stems_removes_the_published_stems(workflow: Workflow) -> None:
    """The stems were already copied into the media bucket when the transcriber fails: the failed
    job keeps none of them and charges nothing."""

    def refuses(event: dict[str, Any], context: Any) -> dict[str, Any]:
        from transcriber.errors import AudioRejected

        raise AudioRejected("the track is 0 s long")

    with route_lambda_invokes({workflow.resources.function(contract.TRANSCRIBER): refuses}):
        job = _submit_stems_with_midi(workflow, ["vocals"])
        workflow.endpoint.wait_for_invocation(job.job_id)
        workflow.endpoint.succeed(job.job_id)
        _assert_failed_uncharged(workflow, job.job_id, "alice", 40, "AudioRejected")


def test_a_transcription_lacking_a_track_is_not_published_nor_charged(workflow: Workflow) -> None:
    """A faulty transcriber answer (one MIDI file for two stems) fails the job like an incomplete
    manifest: what was not delivered is never charged."""
    from local.functions import load

    transcriber = load("transcriber")

    def drops_a_track(event: dict[str, Any], context: Any) -> dict[str, Any]:
        result = transcriber(event, context)
        return {**result, "midi": result["midi"][:1]}

    with route_lambda_invokes({workflow.resources.function(contract.TRANSCRIBER): drops_a_track}):
        job = _submit_stems_with_midi(workflow, ["vocals", "bass"])
        workflow.endpoint.wait_for_invocation(job.job_id)
        workflow.endpoint.succeed(job.job_id)
        _assert_failed_uncharged(workflow, job.job_id, "alice", 40, "GenerationFailed")
