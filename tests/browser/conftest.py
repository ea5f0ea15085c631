"""Browser tests: Debian's headless Chromium, driven by Playwright, against one local stack.

The stack serves the built app (web/dist) exactly as `make local` does; `make test` builds the app
and installs Chromium first (`make web browser`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local import account
from local.launcher import running_stack
from local.paths import REPO_ROOT
from tests.conftest import STACK_RATE_LIMIT_ARGS
from tests.permissions import StackCalls, fail_on

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
# `make screenshots` refreshes the images in docs/; a plain test run keeps its own in a temp dir.
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR") or REPO_ROOT / ".local" / "screenshots")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}  # a common phone's CSS viewport
PASSWORD = "Browser-test-pass-1"  # meets the pool's policy (12+ chars, classes)


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, stack_calls: Callable[[], StackCalls]
) -> Iterator[dict[str, Any]]:
    if not (REPO_ROOT / "web" / "dist" / "index.html").is_file():
        pytest.fail("the web app is not built: run `make web`")
    calls = stack_calls()
    args = [*STACK_RATE_LIMIT_ARGS, *calls.args()]
    with running_stack(tmp_path_factory.mktemp("browser-stack"), args, ready_timeout_s=300) as info:
        yield info
    fail_on(calls.check_new())  # what the functions did after the last test returned


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page_errors() -> list[str]:
    return []


@pytest.fixture
def new_page(browser: Any, stack: dict[str, Any], page_errors: list[str]) -> Iterator[Any]:
    """A fresh browser context (no stored session) per call; CSP violations and page errors are kept."""
    contexts = []

    def make(viewport: dict[str, int] = DESKTOP) -> Any:
        context = browser.new_context(viewport=viewport, base_url=stack["web_url"])
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: page_errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: (
                page_errors.append(msg.text)
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )
        return page

    yield make
    for context in contexts:
        context.close()


def aws_client(stack: dict[str, Any], service: str) -> Any:
    return account.client(service, stack["aws_endpoint_url"])


def user_sub(stack: dict[str, Any], email: str) -> str:
    user = aws_client(stack, "cognito-idp").admin_get_user(
        UserPoolId=stack["cognito"]["user_pool_id"], Username=email
    )
    return next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "sub")


def id_token(stack: dict[str, Any], email: str) -> str:
    """The same user's id token, signed in the way the app does it locally (USER_PASSWORD_AUTH)."""
    result = aws_client(stack, "cognito-idp").initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=stack["cognito"]["client_id"],
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    return result["AuthenticationResult"]["IdToken"]


AXE = REPO_ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"


def accessibility_violations(page: Any) -> list[str]:
    """axe-core's WCAG 2 A/AA checks (labels, contrast, roles, names) on the page as it is now.

    Injected through the DevTools protocol, which the page's CSP does not govern.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    result = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa']})).violations"
        ".map(v => `${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(' ')).join(', ')})`)"
    )
    return list(result)


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
