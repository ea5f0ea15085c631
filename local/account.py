"""Who the local stack is on AWS's side: moto's account and region, and the local credentials.

Every boto3 client that talks to the local stack (the stack's own, the handlers' and the
container's, the demo's, `python -m local token`, `python -m ops --local`, the benchmarks') signs
with these fake credentials and reads nothing of the user's AWS configuration: no `~/.aws`, no
`AWS_*` variable, no profile. A machine with no AWS setup runs every local tool, and one with a
real account never sends its keys to moto. No heavy imports at module level (boto3 is imported
by `session` when a client is wanted).
"""

from __future__ import annotations

import os
import threading
from collections.abc import MutableMapping
from functools import cache
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"
# moto accepts any credentials; these only have to exist for SigV4 signing.
ACCESS_KEY_ID = "local"
SECRET_ACCESS_KEY = "local"  # noqa: S105 - a fixed fake for the local emulator, not a secret
_session_lock = threading.Lock()  # a boto3 Session is not thread-safe; clients made from it are


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def environment() -> dict[str, str]:
    """Variables that give boto3's default chain the local identity, for processes the stack runs."""
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        # The user's config and credentials files play no part (a profile there may not exist here).
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def use_local_identity(environ: MutableMapping[str, str], **extra: str) -> None:
    """Replace every `AWS_*` variable of `environ` (profile, session token, endpoints, ...) with the
    local identity and `extra` (e.g. `AWS_ENDPOINT_URL`)."""
    for name in [name for name in environ if name.startswith("AWS_")]:
        del environ[name]
    environ.update(environment(), **extra)


@cache
def session() -> Any:
    """A boto3 Session with the local identity that ignores the environment's AWS settings."""
    import boto3
    import botocore.session

    # Each setting below reads neither its environment variable nor the user's files.
    unset = {
        "profile": (None, None, None, None),
        "config_file": (None, None, os.devnull, None),
        "credentials_file": (None, None, os.devnull, None),
    }
    return boto3.session.Session(
        botocore_session=botocore.session.Session(session_vars=unset),
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        region_name=REGION,
    )


def client(service: str, endpoint_url: str, **kwargs: Any) -> Any:
    """A boto3 client of the local stack at `endpoint_url` (moto's URL: stack.json `aws_endpoint_url`)."""
    with _session_lock:
        return session().client(service, endpoint_url=endpoint_url, **kwargs)
