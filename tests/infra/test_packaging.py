"""What gets shipped: the Lambda asset, and the staged model data the endpoint reads."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk

from app import build_app


def _lambda_asset_dirs(cloud_assembly: Path, template_json: dict) -> set[str]:
    hashes = {
        r["Properties"]["Code"]["S3Key"].removesuffix(".zip")
        for r in template_json["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and "S3Key" in r["Properties"]["Code"]
    }
    return {f"asset.{h}" for h in hashes}


def test_every_function_ships_only_the_lambdas_package(cloud_assembly: Path, template_json: dict) -> None:
    (asset,) = _lambda_asset_dirs(cloud_assembly, template_json)  # one asset for every function
    shipped = [p.relative_to(cloud_assembly / asset) for p in (cloud_assembly / asset).rglob("*")]
    assert {p.parts[0] for p in shipped} == {"lambdas"}
    assert not [p for p in shipped if "__pycache__" in p.parts]
    assert Path("lambdas/api/handler.py") in shipped


def test_staged_model_data_is_an_s3_prefix_readable_by_the_endpoint_only(tmp_path: Path) -> None:
    context = {"stage_name": "weights", "model_data_s3_uri": "s3://model-bucket/song-model/v1"}
    build_app(cdk.App(outdir=str(tmp_path), context=context)).synth()
    template = json.loads((tmp_path / "SongService-weights.template.json").read_text())
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
