"""Personas in the template: their table, the API's grants and decoder, the endpoint's read of the clips."""

from __future__ import annotations

from lambdas.common.contract import PERSONAS_BY_USER, PERSONAS_PREFIX
from tests.infra.test_uploads import _grants, _one_id, _statements


def test_personas_table_is_keyed_by_persona_with_the_owner_index(template_json: dict) -> None:
    table = template_json["Resources"][_one_id(template_json, "AWS::DynamoDB::Table", "DataPersonas")]
    assert table["Properties"]["KeySchema"] == [{"AttributeName": "persona_id", "KeyType": "HASH"}]
    (index,) = table["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == PERSONAS_BY_USER.name
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["user_id", "created_at"]
    assert index["Projection"] == {"ProjectionType": "ALL"}  # GET /personas reads whole items
    assert table["DeletionPolicy"] == "Retain"
    assert table["Properties"]["DeletionProtectionEnabled"] is True


def test_api_writes_signs_and_deletes_clips_under_personas_only(template_json: dict) -> None:
    grants = _grants(_statements(template_json, "ApiHandlerRole"))
    media = _one_id(template_json, "AWS::S3::Bucket", "StorageMedia")
    table = _one_id(template_json, "AWS::DynamoDB::Table", "DataPersonas")
    on_clips = {a for a, resources in grants.items() if any(f"/{PERSONAS_PREFIX}*" in r for r in resources)}
    assert on_clips == {"s3:PutObject", "s3:GetObject", "s3:DeleteObject"}
    assert [r for r in grants["s3:PutObject"] if media in r] == [
        f'{{"Fn::Join": ["", [{{"Fn::GetAtt": ["{media}", "Arn"]}}, "/{PERSONAS_PREFIX}*"]]}}'
    ]
    on_table = {a for a, resources in grants.items() if any(table in r for r in resources)}
    # No UpdateItem: a persona never changes once made.
    assert on_table == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Query"}
    assert all(f"/index/{PERSONAS_BY_USER.name}" in r for r in grants["dynamodb:Query"] if table in r)


def test_api_function_decodes_with_the_audio_layer_and_knows_the_table(template_json: dict) -> None:
    resources = template_json["Resources"]
    function = resources[_one_id(template_json, "AWS::Lambda::Function", "ApiHandler")]
    audio_layer = _one_id(template_json, "AWS::Lambda::LayerVersion", "AudioLayer")
    assert {"Ref": audio_layer} in function["Properties"]["Layers"]
    env = function["Properties"]["Environment"]["Variables"]
    table = _one_id(template_json, "AWS::DynamoDB::Table", "DataPersonas")
    assert env["PERSONAS_TABLE_NAME"] == {"Ref": table}
    assert int(env["PERSONA_MAX_PER_USER"]) >= 1


def test_endpoint_reads_the_clips_and_nothing_else_of_personas(template_json: dict) -> None:
    grants = _grants(_statements(template_json, "InferenceExecutionRole"))
    table = _one_id(template_json, "AWS::DynamoDB::Table", "DataPersonas")
    on_clips = {a for a, resources in grants.items() if any(f"/{PERSONAS_PREFIX}*" in r for r in resources)}
    assert on_clips == {"s3:GetObject"}
    assert not any(table in r for resources in grants.values() for r in resources)
