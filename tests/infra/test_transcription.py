"""The transcriber (audio to MIDI) as synthesized: a container image function sized for basic-pitch,
invoked by the state machine only, reading the sources and writing the scratch MIDI prefix only."""

from __future__ import annotations

import json
import sys

from aws_cdk.assertions import Template

from lambdas.common import contract
from local.functions import TRANSCRIBE_IMAGE_DIR, environments, local_values
from local.resources import ResourceNames
from stacks.config import ServiceConfig

from .test_workflow import _actions, _logical_id, _one, _policy_statements


def _transcriber(template_json: dict) -> tuple[str, dict]:
    found = [
        (k, v)
        for k, v in template_json["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function" and v["Properties"].get("PackageType") == "Image"
    ]
    assert len(found) == 1, found
    return found[0]


def test_the_transcriber_is_a_container_image_function_sized_for_a_long_song(template_json: dict) -> None:
    _, function = _transcriber(template_json)
    props = function["Properties"]
    assert props["ImageConfig"] == {"Command": [contract.TRANSCRIBER_HANDLER]}
    assert props["Architectures"] == ["x86_64"]  # the image's wheels and numba's kernels
    assert props["MemorySize"] == 2048 and props["Timeout"] == 900
    assert props["EphemeralStorage"] == {"Size": contract.TRANSCRIBER_EPHEMERAL_MB}
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert "Fn::Sub" in json.dumps(props["Code"]["ImageUri"])  # the image asset, built by cdk deploy


def test_its_environment_is_exactly_what_its_settings_read(template_json: dict) -> None:
    sys.path.insert(0, str(TRANSCRIBE_IMAGE_DIR))
    from transcriber.settings import Settings

    _, function = _transcriber(template_json)
    deployed = function["Properties"]["Environment"]["Variables"]
    assert set(deployed) == set(Settings.variables())
    buckets = {
        "MEDIA_BUCKET_NAME": "StorageMedia",
        "UPLOADS_BUCKET_NAME": "UploadsBucket",
        "INFERENCE_BUCKET_NAME": "StorageInference",
    }
    for variable, fragment in buckets.items():
        assert deployed[variable] == {"Ref": _logical_id(template_json, "AWS::S3::Bucket", fragment)}
    assert deployed["MAX_DURATION_S"] == "600"
    config = ServiceConfig()
    local = environments(
        local_values(config, ResourceNames.for_config(config), state_machine_arn="a", api_origins="*")
    )
    assert set(local[contract.TRANSCRIBER]) == set(deployed)


def test_it_reads_sources_and_writes_the_scratch_midi_prefix_only(template_json: dict) -> None:
    statements = _policy_statements(template_json, "TranscriberRole")
    assert {a for a in _actions(statements) if not a.startswith(("logs:", "xray:"))} == {
        "s3:GetObject",
        "s3:ListBucket",  # a deleted source reads as missing (404), not denied
        "s3:PutObject",
    }
    granted: dict[str, list[str]] = {}  # action -> each resource it is allowed on (JSON)
    for statement in statements:
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for action in _actions([statement]):
            granted.setdefault(action, []).extend(json.dumps(r) for r in resources)
    media = _logical_id(template_json, "AWS::S3::Bucket", "StorageMedia")
    uploads = _logical_id(template_json, "AWS::S3::Bucket", "UploadsBucket")
    scratch = _logical_id(template_json, "AWS::S3::Bucket", "StorageInference")
    reads = granted["s3:GetObject"]
    assert len(reads) == 2
    assert any(uploads in r and "/uploads/*" in r for r in reads)
    assert any(media in r and "/songs/*" in r for r in reads)
    (writes,) = granted["s3:PutObject"]
    assert scratch in writes and "/media/*" in writes
    listing = [s for s in statements if "s3:ListBucket" in _actions([s])]
    assert sorted(s["Condition"]["StringLike"]["s3:prefix"][0] for s in listing) == ["songs/*", "uploads/*"]


def test_only_the_state_machine_invokes_it(template: Template, template_json: dict) -> None:
    transcriber, _ = _transcriber(template_json)
    invoke = [
        s
        for s in _policy_statements(template_json, "StateMachineRole")
        if "lambda:InvokeFunction" in _actions([s]) and transcriber in json.dumps(s["Resource"])
    ]
    assert invoke
    _, machine = _one(template_json, "AWS::StepFunctions::StateMachine")
    substitutions = machine["Properties"]["DefinitionSubstitutions"]
    assert substitutions["TranscriberFunctionArn"] == {"Fn::GetAtt": [transcriber, "Arn"]}
    assert substitutions["ScratchMediaPrefix"] == contract.SCRATCH_MEDIA_PREFIX
    for role in ("ApiHandlerRole", "WorkflowPublishRole", "WorkflowFinalizeRole"):
        statements = json.dumps(_policy_statements(template_json, role))
        assert transcriber not in statements, role


def _transcriber_image_hash() -> str:
    from aws_cdk import App, Stack
    from aws_cdk import aws_logs as logs

    from stacks.transcription import Transcriber

    stack = Stack(App(), "ImageHash")
    Transcriber(stack, "Transcriber", log_retention=logs.RetentionDays.ONE_WEEK)
    (resource,) = Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()
    return json.dumps(resource["Properties"]["Code"]["ImageUri"])  # its tag is the asset's hash


def test_the_image_hash_ignores_python_bytecode(tmp_path) -> None:
    """The tests import the transcriber from its image folder: the bytecode they leave must not change
    the asset (CI's CLI synth runs before them, the in-process synth after)."""
    before = _transcriber_image_hash()
    cache = TRANSCRIBE_IMAGE_DIR / "transcriber" / "__pycache__"
    stray = cache / "stray_test_only.cpython-311.pyc"
    cache.mkdir(exist_ok=True)
    stray.write_bytes(b"bytecode")
    try:
        assert _transcriber_image_hash() == before
    finally:
        stray.unlink()
