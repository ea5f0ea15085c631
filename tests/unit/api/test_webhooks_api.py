"""GET /me/webhook-secret, POST /me/webhook-secret/rotate, and `webhook_url` on POST /songs."""

from __future__ import annotations

import pytest

from lambdas.webhooks.secret import secret_key
from tests import factories


def test_the_secret_is_created_on_first_use_and_then_stable(api) -> None:
    first = api.call("GET", "/me/webhook-secret")
    assert first.status == 200
    secret = first.body["secret"]
    assert secret.startswith("whsec_") and len(secret_key(secret)) == 32
    assert api.call("GET", "/me/webhook-secret").body == {"secret": secret}
    assert api.call("GET", "/me/webhook-secret", user="bob").body["secret"] != secret


def test_rotate_replaces_the_secret(api) -> None:
    old = api.call("GET", "/me/webhook-secret").body["secret"]
    rotated = api.call("POST", "/me/webhook-secret/rotate")
    assert rotated.status == 200 and rotated.body["secret"] != old
    assert api.call("GET", "/me/webhook-secret").body == rotated.body


def test_the_secret_is_not_in_me(api) -> None:
    api.call("GET", "/me/webhook-secret")
    assert "secret" not in str(api.call("GET", "/me").body)


def test_a_song_keeps_its_webhook_url(api, song_body) -> None:
    url = "https://hooks.example.com/songs?user=1"
    result = api.post_song(song_body | {"webhook_url": url})
    assert result.status == 202, result.body
    assert factories.jobs().get(result.body["job_id"]).request["webhook_url"] == url


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/",
        "https://169.254.169.254/",
        "https://2130706433/",
        "https://localhost/x",
        "https://a..b.com/",
        "https://hooks\u2028example.com/",
        "https://%31%32%37.0.0.1/",
        "https://hooks.example.com/a\u00a0b",
        "https://hooks.example.com:22/",  # only 443 and 8443
    ],
)
def test_an_unsafe_webhook_url_is_a_422(api, song_body, url) -> None:
    result = api.post_song(song_body | {"webhook_url": url})
    assert (result.status, result.error_code) == (422, "ValidationError")
    assert result.body["error"]["details"][0]["field"] == "body.webhook_url"


def test_the_container_never_sees_the_webhook(api, song_body) -> None:
    from lambdas.common.inference import build_request

    job_id = api.post_song(song_body | {"webhook_url": "https://hooks.example.com/"}).body["job_id"]
    assert "webhook_url" not in build_request(factories.jobs().get(job_id), "bucket")


def test_a_webhook_port_other_than_https_says_which_are_allowed(api, song_body) -> None:
    result = api.post_song(song_body | {"webhook_url": "https://hooks.example.com:22/hook"})
    assert result.status == 422
    assert "port 443 (the default) or 8443, not 22" in result.body["error"]["details"][0]["message"]
