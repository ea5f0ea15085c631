"""The image's two functions import from what its Dockerfile copies, and nothing more: the tests
put the whole model container folder on sys.path, the image holds three of its modules."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import IMAGE_DIR, MEASURING_DIR

HANDLERS = ("transcriber.handler", "transcriber.analyzer")


def _copied_measuring_modules() -> list[Path]:
    """song_model's files in the build context: the ignore file's allowlist (its `!` lines)."""
    lines = (IMAGE_DIR / "Dockerfile.dockerignore").read_text().splitlines()
    root = MEASURING_DIR.parents[1]
    return [root / line[1:] for line in lines if line.startswith("!sagemaker_containers/")]


def test_both_functions_import_with_only_the_images_files(tmp_path: Path) -> None:
    """A sibling import added to song_model's shared modules fails here, not at a cold start."""
    task_root = tmp_path / "task"
    shutil.copytree(
        IMAGE_DIR / "transcriber", task_root / "transcriber", ignore=shutil.ignore_patterns("__pycache__")
    )
    modules = _copied_measuring_modules()
    assert {m.name for m in modules} == {"__init__.py", "analysis.py", "schemas.py"}
    (task_root / "song_model").mkdir()
    for module in modules:
        shutil.copy(module, task_root / "song_model" / module.name)
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    imports = "; ".join(f"import {name}" for name in HANDLERS)
    run = subprocess.run(
        [sys.executable, "-B", "-c", f"{imports}; import song_model; print(song_model.__file__)"],
        cwd=task_root,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert Path(run.stdout.strip()).is_relative_to(task_root)
