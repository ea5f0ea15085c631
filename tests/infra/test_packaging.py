"""What gets shipped: the Lambda asset, and the staged model data the endpoint reads."""

from __future__ import annotations

import json
from pathlib import Path


def _lambda_asset_dirs(cloud_assembly: Path, template_json: dict) -> set[str]:
    hashes = {
        r["Properties"]["Code"]["S3Key"].removesuffix(".zip")
        for r in template_json["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Handler"].startswith("lambdas.")
    }
    return {f"asset.{h}" for h in hashes}


def test_every_function_ships_only_the_lambdas_package(cloud_assembly: Path, template_json: dict) -> None:
    # One asset for every service function (CDK's own custom-resource provider ships its own).
    (asset,) = _lambda_asset_dirs(cloud_assembly, template_json)
    shipped = [p.relative_to(cloud_assembly / asset) for p in (cloud_assembly / asset).rglob("*")]
    assert {p.parts[0] for p in shipped} == {"lambdas"}
    assert not [p for p in shipped if "__pycache__" in p.parts]
    assert Path("lambdas/api/handler.py") in shipped


def test_staged_model_data_is_an_s3_prefix_readable_by_the_endpoint_only(staged_template: dict) -> None:
    template = staged_template
    (model,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"]
    assert model["Properties"]["PrimaryContainer"]["ModelDataSource"] == {
        "S3DataSource": {
            "S3Uri": "s3://model-bucket/song-model/v1/",
            "S3DataType": "S3Prefix",
            "CompressionType": "None",
        }
    }
    statements = [
        s
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if "model-bucket" in json.dumps(s)
    ]
    actions = sorted(
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    )
    assert actions == ["s3:GetObject", "s3:ListBucket"]
    assert all("song-model/v1/" in json.dumps(s) for s in statements)
