"""Users are created on first use, once: a concurrent first use never resets or doubles credits."""

from __future__ import annotations

from lambdas.common.store.users import UserStore
from tests import factories


def test_signup_race_keeps_the_winners_row(aws_env, monkeypatch) -> None:
    users = factories.users()
    winner = users.get_or_create("dana", signup_credits=10)
    factories.ledger().add_credits("dana", -3)  # the winner's request already spent some

    # The loser read "no such user" just before the winner wrote the row.
    real_find = UserStore.find
    calls = {"n": 0}

    def stale_first_read(self, user_id):
        calls["n"] += 1
        return None if calls["n"] == 1 else real_find(self, user_id)

    monkeypatch.setattr(UserStore, "find", stale_first_read)
    loser = factories.users().get_or_create("dana", signup_credits=10)
    assert loser.credits == 7
    assert loser.created_at == winner.created_at
    monkeypatch.undo()
    assert users.find("dana").credits == 7


def test_me_after_a_lost_race_reports_the_stored_credits(api, monkeypatch) -> None:
    factories.users().get_or_create("erin", signup_credits=2)
    monkeypatch.setattr(UserStore, "find", _none_then_real())
    result = api.call("GET", "/me", user="erin")
    assert result.body == {"user_id": "erin", "credits": 2, "reserved_credits": 0, "available_credits": 2}


def _none_then_real():
    real_find = UserStore.find
    state = {"first": True}

    def find(self, user_id):
        if state["first"]:
            state["first"] = False
            return None
        return real_find(self, user_id)

    return find
