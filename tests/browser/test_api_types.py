"""The web app's API types come from docs/openapi.json at every build (web/README.md): a document
the app's code disagrees with fails the type check, so the app cannot drift from the API. Needs the
web app's node_modules, as the rest of this suite does (`make web`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from local.paths import REPO_ROOT

WEB = REPO_ROOT / "web"


def _typecheck(root: Path, document: dict) -> subprocess.CompletedProcess[str]:
    """`npm run typecheck` (generate the types, then tsc) of a copy of the app against `document`."""
    (root / "docs").mkdir(exist_ok=True)
    (root / "docs" / "openapi.json").write_text(json.dumps(document))
    return subprocess.run(
        ["npm", "run", "--silent", "typecheck"], cwd=root / "web", capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def app_copy(tmp_path: Path) -> Path:
    if not (WEB / "node_modules" / ".bin" / "openapi-typescript").exists():
        pytest.fail("the web app's dependencies are missing: run `make web`")
    web = tmp_path / "web"
    shutil.copytree(WEB / "src", web / "src", ignore=shutil.ignore_patterns("api-schema.d.ts"))
    for name in ("package.json", "tsconfig.json"):
        shutil.copy(WEB / name, web / name)
    (web / "node_modules").symlink_to(WEB / "node_modules")
    return tmp_path


def test_the_type_check_fails_when_the_api_document_changes_under_the_app(app_copy: Path) -> None:
    document = json.loads((REPO_ROOT / "docs" / "openapi.json").read_text())
    agreed = _typecheck(app_copy, document)
    assert agreed.returncode == 0, agreed.stdout + agreed.stderr

    # The API renames a field the app reads: the same build now fails, naming it.
    detail = document["components"]["schemas"]["SongDetail"]
    detail["properties"]["song_id"] = detail["properties"].pop("job_id")
    detail["required"] = ["song_id" if name == "job_id" else name for name in detail["required"]]
    drifted = _typecheck(app_copy, document)
    assert drifted.returncode != 0
    assert "job_id" in drifted.stdout + drifted.stderr
