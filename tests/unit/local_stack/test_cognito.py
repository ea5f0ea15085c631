"""Sign-in against the emulated pool and the `python -m local token` command."""

from __future__ import annotations

import json
import os

import jwt

from lambdas.authorizer.credentials import Authenticator
from lambdas.common.store.api_keys import ApiKeyStore
from local.__main__ import main
from local.cognito import CognitoSettings, sign_in
from local.resources import create_user_pool


def test_token_command_creates_the_user_once_and_prints_a_valid_token(
    emulator, names, tmp_path, capsys
) -> None:
    pool = create_user_pool(emulator.client("cognito-idp"), names)
    cognito = {"endpoint_url": emulator.url, "user_pool_id": pool.user_pool_id, "client_id": pool.client_id}
    (tmp_path / "stack.json").write_text(json.dumps({"pid": os.getpid(), "cognito": cognito}))  # alive

    assert main(["token", "carol", "--state-dir", str(tmp_path)]) == 0
    first = capsys.readouterr().out.strip()
    second = sign_in(CognitoSettings(**cognito), "carol")

    settings = CognitoSettings(**cognito)
    verifier = Authenticator(
        issuer=settings.issuer,
        client_id=settings.client_id,
        jwks_url=settings.jwks_url,
        keys=ApiKeyStore(names.api_keys_table),  # not read: tokens only
    )
    assert verifier.identify(first).user_id == verifier.identify(second).user_id
    assert jwt.get_unverified_header(first)["alg"] == "RS256"
    users = emulator.client("cognito-idp").list_users(UserPoolId=pool.user_pool_id)["Users"]
    assert [u["Username"] for u in users] == ["carol"]


def test_token_command_without_a_stack_says_so(tmp_path, capsys) -> None:
    assert main(["token", "carol", "--state-dir", str(tmp_path)]) == 1
    assert "python -m local up" in capsys.readouterr().err
