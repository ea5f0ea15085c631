"""The GPU image's pinned packages: they resolve for the image's Python and platform (a pip
resolver dry run against PyPI, the way `docker build` will install them), and the pins shared with
the CPU test environment (pyproject.toml's `container` group) are the same versions.

The dry run needs PyPI (reachable in CI); it fails, loudly, when it is not: a gate that skips
itself proves nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib

from conftest import CONTAINER_DIR

from stacks.inference import GPU_AMIS, INFERENCE_AMI

ROOT = CONTAINER_DIR.parents[1]
REQUIREMENTS = CONTAINER_DIR / "requirements.txt"
# The base image -> its Python and glibc. Changing the FROM line fails test_the_base_image_is_known
# until this table says what the new base runs, so the dry run always targets the real image.
BASE_IMAGES = {"ubuntu:24.04": ("3.12", 39)}  # python3 3.12, glibc 2.39
_PIN = re.compile(r"^([A-Za-z0-9_.\[\]-]+)==([^\s;#]+)")


def _base_image() -> str:
    return re.search(r"^FROM\s+(\S+)", (CONTAINER_DIR / "Dockerfile").read_text(), re.MULTILINE).group(1)


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        match = _PIN.match(line.strip())
        if match:
            pins[re.sub(r"[-_.]+", "-", match.group(1).lower())] = match.group(2)
    return pins


def _requirement_lines() -> list[str]:
    lines = REQUIREMENTS.read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_the_base_image_is_known() -> None:
    assert _base_image() in BASE_IMAGES


def test_every_requirement_is_pinned_and_torch_matches_the_cpu_environment() -> None:
    lines = _requirement_lines()
    assert all(_PIN.match(line) for line in lines), "every image requirement is pinned with =="
    assert not any("git+" in line or "torchaudio" in line or "torchvision" in line for line in lines)
    image = _pins(lines)
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    cpu = _pins([item for item in groups["container"] if isinstance(item, str)])
    assert image["torch"] == cpu["torch"] == "2.13.0"
    shared = set(image) & set(cpu)
    assert {"torch", "transformers", "diffusers", "accelerate", "soundfile"} <= shared
    assert {name: image[name] for name in shared} == {name: cpu[name] for name in shared}
    # The Makefile installs the CPU torch first, from the same line.
    assert "requirements.txt" in (ROOT / "Makefile").read_text().split("torch", 1)[1].split("\n", 1)[0]


def test_the_pinned_set_resolves_for_the_image_python_and_platform(tmp_path) -> None:
    """...and the CUDA runtime it resolves to is one the endpoint host's driver runs: CUDA's minor
    version compatibility lets a 13.x runtime run on the 13.0 driver (R580) of INFERENCE_AMI, never a
    newer major or a minor above the driver's (stacks/inference.py, docs/container.md "Driver")."""
    python, glibc = BASE_IMAGES[_base_image()]
    # pip matches platform tags exactly: list every manylinux tag this glibc accepts, or wheels
    # tagged for an older glibc (nvidia-cudnn: manylinux_2_27) are "not found".
    platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(17, glibc + 1)] + ["manylinux2014_x86_64"]
    command = [
        sys.executable, "-m", "pip", "--isolated", "install", "--dry-run", "--ignore-installed",
        "--only-binary=:all:", "--python-version", python, "--implementation", "cp",
        *[arg for platform in platforms for arg in ("--platform", platform)],
        "--quiet", "--report", str(tmp_path / "report.json"), "-r", str(REQUIREMENTS),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"the image's requirements do not resolve:\n{result.stderr[-3000:]}"
    resolved = {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads((tmp_path / "report.json").read_text())["install"]
    }
    runtime = resolved.get("nvidia-cuda-runtime") or resolved.get("nvidia-cuda-runtime-cu12")
    assert runtime, "torch resolved without the CUDA runtime wheel: not the GPU build"
    image_cuda = tuple(int(part) for part in runtime.split(".")[:2])
    _, host_cuda = GPU_AMIS[INFERENCE_AMI]
    assert image_cuda[0] == host_cuda[0] and image_cuda <= host_cuda, (
        f"the image's CUDA {image_cuda} does not run on {INFERENCE_AMI} (CUDA {host_cuda})"
    )
