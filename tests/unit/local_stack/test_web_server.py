"""The local web front: the built app as CloudFront serves it, config.json for this stack, same headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local.web import WebServer, WebSettings

SETTINGS = WebSettings(
    api_url="http://127.0.0.1:9001/v1",
    region="us-east-1",
    user_pool_id="us-east-1_pool",
    client_id="client123",
    cognito_endpoint="http://127.0.0.1:9002",
)


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>app</title>")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log('app')")
    (tmp_path.parent / "secret.txt").write_text("not for the web")
    return tmp_path


def serve(dist: Path) -> Iterator[str]:
    server = WebServer(SETTINGS, dist=dist)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def web(dist: Path) -> Iterator[str]:
    yield from serve(dist)


def test_config_json_points_the_app_at_this_stack(web: str) -> None:
    response = requests.get(f"{web}config.json", timeout=5)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json() == {
        "apiUrl": "http://127.0.0.1:9001/v1/",
        "region": "us-east-1",
        "userPoolId": "us-east-1_pool",
        "userPoolClientId": "client123",
        "userPoolEndpoint": "http://127.0.0.1:9002",
        "authFlow": "USER_PASSWORD_AUTH",
        "confirmationHint": response.json()["confirmationHint"],
    }


def test_files_hashed_assets_and_client_routes(web: str) -> None:
    asset = requests.get(f"{web}assets/index-abc.js", timeout=5)
    assert asset.text == "console.log('app')"
    assert "immutable" in asset.headers["Cache-Control"]
    assert asset.headers["Content-Type"] in ("text/javascript", "application/javascript")
    for route in ("songs/1234", "no/such/file.txt", "../secret.txt", "%2e%2e/secret.txt"):
        response = requests.get(f"{web}{route}", timeout=5)
        assert response.status_code == 200, route
        assert response.text == "<!doctype html><title>app</title>", route  # the app shell


def test_security_headers_and_a_csp_naming_only_this_stacks_origins(web: str) -> None:
    headers = requests.get(web, timeout=5).headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    directives = dict(d.split(" ", 1) for d in headers["Content-Security-Policy"].split("; "))
    assert directives["connect-src"] == "'self' http://127.0.0.1:9001 http://127.0.0.1:9002"
    assert directives["script-src"] == "'self'"
    assert directives["media-src"] == "http://127.0.0.1:9002"


def test_an_unbuilt_app_says_how_to_build_it(tmp_path: Path) -> None:
    for url in serve(tmp_path):
        response = requests.get(url, timeout=5)
        assert response.status_code == 503
        assert "make web" in response.text
