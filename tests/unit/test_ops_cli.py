"""The operator command: grant credits, show a user's balance and jobs."""

from __future__ import annotations

import json

import pytest

from ops.__main__ import main
from tests import factories


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_grant_adds_credits_to_an_existing_user(aws_env, capsys) -> None:
    factories.users().get_or_create("alice", signup_credits=2)
    result = _run(capsys, "grant", "alice", "5", "--reason", "support ticket 42")
    assert result["credits"] == 7
    assert factories.users().find("alice").credits == 7


def test_grant_to_unknown_user_needs_create(aws_env, capsys) -> None:
    with pytest.raises(SystemExit, match="not found"):
        main(["grant", "bob", "5", "--reason", "promo"])
    assert factories.users().find("bob") is None
    result = _run(capsys, "grant", "bob", "5", "--reason", "promo", "--create")
    assert result["credits"] == 10 + 5  # the configured sign-up credits (cdk.json) + the grant


def test_a_created_user_gets_the_stages_configured_signup_credits(aws_env, capsys, monkeypatch) -> None:
    """`--create` makes the user as the API would: with the deployment's sign-up credits, not a
    default of the tool's own."""
    import ops.__main__ as ops

    context = ops.cli_context()
    monkeypatch.setattr(
        ops, "cli_context", lambda: context | {"service": context["service"] | {"signup_credits": 3}}
    )
    result = _run(capsys, "grant", "erin", "5", "--reason", "promo", "--create")
    assert result["credits"] == 3 + 5


def test_revocation_cannot_go_negative(aws_env) -> None:
    factories.users().get_or_create("carol", signup_credits=3)
    with pytest.raises(SystemExit):
        main(["grant", "carol", "-4", "--reason", "chargeback"])
    assert factories.users().find("carol").credits == 3


@pytest.mark.parametrize("amount", ["0", "1000001"])
def test_amount_is_bounded(aws_env, amount: str) -> None:
    with pytest.raises(SystemExit):
        main(["grant", "alice", amount, "--reason", "x"])


def test_show_lists_balance_and_recent_jobs(aws_env, capsys) -> None:
    factories.users().get_or_create("dave", signup_credits=4)
    job = factories.put_job("dave", request={"mode": "description"})
    result = _run(capsys, "show", "dave")
    assert result["credits"] == 4
    assert [j["job_id"] for j in result["recent_jobs"]] == [job.job_id]
