"""The transcriber (audio to MIDI) as synthesized: a container image function sized for basic-pitch,
invoked by the state machine only, reading the sources and writing the scratch MIDI prefix only."""

from __future__ import annotations

import json
import sys

import pytest
from aws_cdk.assertions import Template

from lambdas.common import contract
from local.functions import environments, local_values
from local.paths import MEASURING_DIR, TRANSCRIBE_IMAGE_DIR
from local.resources import ResourceNames
from stacks.config import ServiceConfig

from .test_workflow import _actions, _logical_id, _one, _policy_statements


def _image_function(template_json: dict, handler: str) -> tuple[str, dict]:
    found = [
        (k, v)
        for k, v in template_json["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function"
        and v["Properties"].get("PackageType") == "Image"
        and v["Properties"]["ImageConfig"]["Command"] == [handler]
    ]
    assert len(found) == 1, found
    return found[0]


def _transcriber(template_json: dict) -> tuple[str, dict]:
    return _image_function(template_json, contract.TRANSCRIBER_HANDLER)


def _local_environment(function: str) -> dict[str, str]:
    """What the local stack gives `function` (the same variables as on AWS, other values)."""
    config = ServiceConfig()
    names = ResourceNames.for_config(config)
    return environments(local_values(config, names, state_machine_arn="a", api_origins="*"))[function]


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
    assert set(_local_environment(contract.TRANSCRIBER)) == set(deployed)


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

    from stacks.transcription import ImageFunction

    stack = Stack(App(), "ImageHash")
    ImageFunction(stack, "Transcriber", name=contract.TRANSCRIBER, log_retention=logs.RetentionDays.ONE_WEEK)
    (resource,) = Template.from_stack(stack).find_resources("AWS::Lambda::Function").values()
    return json.dumps(resource["Properties"]["Code"]["ImageUri"])  # its tag is the asset's hash


@pytest.mark.parametrize("package", [TRANSCRIBE_IMAGE_DIR / "transcriber", MEASURING_DIR / "song_model"])
def test_the_image_hash_ignores_python_bytecode(package) -> None:
    """The tests import the transcriber from its image folder and song_model from the model
    container's: the bytecode they leave must not change the asset (CI's CLI synth runs before
    them, the in-process synth after)."""
    before = _transcriber_image_hash()
    cache = package / "__pycache__"
    stray = cache / "stray_test_only.cpython-311.pyc"
    cache.mkdir(exist_ok=True)
    stray.write_bytes(b"bytecode")
    try:
        assert _transcriber_image_hash() == before
    finally:
        stray.unlink()


def test_the_image_is_built_from_its_folder_and_the_measuring_module_only(cloud_assembly) -> None:
    """The build context is the repository narrowed by Dockerfile.dockerignore: what the Dockerfile
    copies, nothing else (no other code, no .venv, no web app)."""
    assets = json.loads((cloud_assembly / "SongService-dev.assets.json").read_text())["dockerImages"]
    (image,) = [
        a for a in assets.values() if a["source"].get("dockerFile") == "lambda_images/transcribe/Dockerfile"
    ]
    staged = cloud_assembly / image["source"]["directory"]
    files = {str(p.relative_to(staged)) for p in staged.rglob("*") if p.is_file()}
    measuring = {
        "sagemaker_containers/music/song_model/__init__.py",
        "sagemaker_containers/music/song_model/analysis.py",
        "sagemaker_containers/music/song_model/schemas.py",
    }
    assert measuring <= files
    assert {f for f in files - measuring if not f.startswith("lambda_images/transcribe/")} == set()
    assert "lambda_images/transcribe/transcriber/analyzer.py" in files
    assert not any("__pycache__" in f for f in files)


# --- the upload analyzer: the same image, another CMD, invoked by the upload check only ------------


def _analyzer(template_json: dict) -> tuple[str, dict]:
    return _image_function(template_json, contract.UPLOAD_ANALYZER_HANDLER)


def test_the_upload_analyzer_is_the_same_image_with_its_own_command(template_json: dict) -> None:
    _, transcriber = _transcriber(template_json)
    _, analyzer = _analyzer(template_json)
    props = analyzer["Properties"]
    assert props["Code"] == transcriber["Properties"]["Code"]  # one image asset, built once
    assert props["Architectures"] == ["x86_64"]
    assert props["MemorySize"] == contract.UPLOAD_ANALYZER_MEMORY_MB
    assert props["Timeout"] == contract.UPLOAD_ANALYZER_TIMEOUT_S
    assert props["EphemeralStorage"] == {"Size": contract.UPLOAD_ANALYZER_EPHEMERAL_MB}
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    # The check waits for it: the check's own timeout leaves room for the analysis and its own work.
    assert contract.UPLOAD_CHECK.function_timeout_s >= 2 * contract.UPLOAD_ANALYZER_TIMEOUT_S


def test_the_upload_analyzers_environment_is_exactly_what_its_settings_read(template_json: dict) -> None:
    sys.path.insert(0, str(TRANSCRIBE_IMAGE_DIR))
    from transcriber.settings import AnalyzerSettings

    _, analyzer = _analyzer(template_json)
    deployed = analyzer["Properties"]["Environment"]["Variables"]
    assert set(deployed) == set(AnalyzerSettings.variables())
    assert deployed["UPLOADS_BUCKET_NAME"] == {
        "Ref": _logical_id(template_json, "AWS::S3::Bucket", "UploadsBucket")
    }
    assert deployed["MAX_DURATION_S"] == str(ServiceConfig().upload_max_duration_s)
    assert set(_local_environment(contract.UPLOAD_ANALYZER)) == set(deployed)


def test_the_upload_analyzer_reads_uploads_only(template_json: dict) -> None:
    statements = _policy_statements(template_json, "UploadsAnalyzerRole")
    objects = [s for s in statements if not all(a.startswith(("logs:", "xray:")) for a in _actions([s]))]
    read, listing = sorted(objects, key=lambda s: sorted(_actions([s])))
    assert _actions([read]) == {"s3:GetObject"}
    uploads = _logical_id(template_json, "AWS::S3::Bucket", "UploadsBucket")
    assert read["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [uploads, "Arn"]}, "/uploads/*"]]}
    # An upload deleted meanwhile reads as missing (404), not denied: ListBucket on its prefix only.
    assert _actions([listing]) == {"s3:ListBucket"}
    assert listing["Resource"] == {"Fn::GetAtt": [uploads, "Arn"]}
    assert listing["Condition"]["StringLike"]["s3:prefix"] == ["uploads/*"]


def test_only_the_upload_check_invokes_the_analyzer_and_on_exactly_that_function(template_json: dict) -> None:
    analyzer, _ = _analyzer(template_json)
    arn = {"Fn::GetAtt": [analyzer, "Arn"]}
    invokes = [
        s
        for s in _policy_statements(template_json, "UploadsCheckRole")
        if "lambda:InvokeFunction" in _actions([s])
    ]
    assert [(s["Action"], s["Resource"]) for s in invokes] == [("lambda:InvokeFunction", arn)]
    check = next(
        v
        for v in template_json["Resources"].values()
        if v["Properties"].get("Handler") == "lambdas.upload_check.handler.lambda_handler"
    )
    assert check["Properties"]["Environment"]["Variables"]["UPLOAD_ANALYZER_FUNCTION_NAME"] == {
        "Ref": analyzer
    }
    for logical_id, resource in template_json["Resources"].items():
        if resource["Type"] == "AWS::IAM::Policy" and analyzer in json.dumps(resource):
            roles = resource["Properties"]["Roles"]
            assert roles == [{"Ref": _logical_id(template_json, "AWS::IAM::Role", "UploadsCheckRole")}], (
                logical_id
            )
    permissions = template_json["Resources"].values()
    assert not [
        r for r in permissions if r["Type"] == "AWS::Lambda::Permission" and analyzer in json.dumps(r)
    ]


def test_the_image_functions_have_error_alarms(template_json: dict) -> None:
    """The check swallows the analyzer's failures (the upload is ready without an analysis), so its
    own error alarm is what says the analysis keeps failing."""
    alarms = [
        r["Properties"] for r in template_json["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"
    ]
    for function, _ in (_analyzer(template_json), _transcriber(template_json)):
        (alarm,) = [
            a
            for a in alarms
            if a.get("MetricName") == "Errors"
            and {"Name": "FunctionName", "Value": {"Ref": function}} in a["Dimensions"]
        ]
        assert alarm["Threshold"] >= 1
