"""The transcription image's packages: they resolve for the Lambda base image's Python and platform
(a pip resolver dry run against PyPI, the way `docker build` will install them), basic-pitch goes in
with --no-deps in the image and in the test environment alike, and the pins shared with
pyproject.toml's `transcribe` group (what these tests run) are the same versions.

The dry run needs PyPI (reachable in CI); it fails, loudly, when it is not.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from .conftest import IMAGE_DIR

ROOT = IMAGE_DIR.parents[1]
# The base image -> its Python and glibc. Changing the FROM line fails test_the_base_image_is_known
# until this table says what the new base runs. AWS's python:3.12 image is Amazon Linux 2023.
BASE_IMAGES = {"public.ecr.aws/lambda/python:3.12": ("3.12", 34)}
_PIN = re.compile(r"^([A-Za-z0-9_.\[\]-]+)==([^\s;#]+)")


def _lines(name: str) -> list[str]:
    text = (IMAGE_DIR / name).read_text().splitlines()
    return [line.strip() for line in text if line.strip() and not line.startswith("#")]


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        match = _PIN.match(line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1).lower())] = match.group(2)
    return pins


def _base_image() -> str:
    return re.search(r"^FROM\s+(\S+)", (IMAGE_DIR / "Dockerfile").read_text(), re.MULTILINE).group(1)


def test_the_base_image_is_known() -> None:
    assert _base_image() in BASE_IMAGES


def test_every_requirement_is_pinned_and_the_test_environment_runs_the_same() -> None:
    image = _pins(_lines("requirements.txt"))
    assert len(image) == len(_lines("requirements.txt")), "every image requirement is pinned with =="
    assert not {"tensorflow", "tensorflow-cpu", "tflite-runtime", "basic-pitch"} & set(image)
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    tests = _pins([item for item in groups["transcribe"] if isinstance(item, str)])
    assert set(tests) <= set(image), "the test environment pins nothing the image lacks"
    assert {name: image[name] for name in tests} == tests
    assert {"onnxruntime", "librosa", "pretty-midi", "numba", "soundfile", "soxr"} <= set(tests)
    # ...and runs them: the versions installed here are the pins.
    for name, version in tests.items():
        assert importlib.metadata.version(name) == version, name


def test_the_measuring_packages_are_the_model_containers_versions() -> None:
    """The upload analyzer runs the model container's measuring module (song_model/analysis.py):
    with the same versions, an upload and a take are measured alike."""
    image = _pins(_lines("requirements.txt"))
    container_lines = (ROOT / "sagemaker_containers" / "music" / "requirements.txt").read_text().splitlines()
    container = _pins([line.strip() for line in container_lines if not line.startswith("#")])
    measuring = ("numpy", "scipy", "soxr", "pyloudnorm", "librosa", "numba", "soundfile")
    assert {name: image[name] for name in measuring} == {name: container[name] for name in measuring}


def test_basic_pitch_is_installed_without_its_dependencies_everywhere() -> None:
    assert _pins(_lines("requirements-no-deps.txt")) == {"basic-pitch": "0.4.0"}
    assert len(_lines("requirements-no-deps.txt")) == 1
    dockerfile = (IMAGE_DIR / "Dockerfile").read_text()
    assert "--no-deps -r /tmp/requirements-no-deps.txt" in dockerfile
    makefile = (ROOT / "Makefile").read_text()
    assert "TRANSCRIBE_NO_DEPS := lambda_images/transcribe/requirements-no-deps.txt" in makefile
    assert "pip install -q --no-deps -r $(TRANSCRIBE_NO_DEPS)" in makefile
    assert importlib.metadata.version("basic-pitch") == "0.4.0"
    import basic_pitch

    model = Path(basic_pitch.__file__).parent / "saved_models" / "icassp_2022" / "nmp.onnx"
    assert model.is_file() and model.stat().st_size > 100_000  # the model ships in the wheel


def _dry_run(tmp_path: Path, *args: str) -> dict[str, str]:
    python, glibc = BASE_IMAGES[_base_image()]
    platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(17, glibc + 1)] + ["manylinux2014_x86_64"]
    report = tmp_path / "report.json"
    command = [
        sys.executable, "-m", "pip", "--isolated", "install", "--dry-run", "--ignore-installed",
        "--only-binary=:all:", "--python-version", python, "--implementation", "cp",
        *[arg for platform in platforms for arg in ("--platform", platform)],
        "--quiet", "--report", str(report), *args,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"the image's requirements do not resolve:\n{result.stderr[-3000:]}"
    return {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }


def test_the_pinned_set_resolves_for_the_image_python_and_platform(tmp_path: Path) -> None:
    resolved = _dry_run(tmp_path, "-r", str(IMAGE_DIR / "requirements.txt"))
    assert resolved["onnxruntime"] == "1.32.0" and resolved["numba"] == "0.68.1"
    assert not any(name.startswith("tensorflow") for name in resolved)
    no_deps = _dry_run(tmp_path, "--no-deps", "-r", str(IMAGE_DIR / "requirements-no-deps.txt"))
    assert no_deps == {"basic-pitch": "0.4.0"}
