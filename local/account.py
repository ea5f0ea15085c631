"""The AWS account and region the local stack answers as (moto's defaults); no heavy imports here."""

REGION = "us-east-1"
ACCOUNT = "123456789012"


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
