"""Every benchmark under bench/ runs, at its smallest size, as its docs/benchmarks.md command runs it.

Smoke tests: a benchmark that no longer matches the code (a canned AWS answer the handler stopped
expecting, a moved helper) fails here instead of rotting. The numbers are printed, never judged: a
shared CI machine's timings say nothing (docs/benchmarks.md records real runs). Each runs in a
shell with no AWS configuration, as a newcomer's would be.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from local.paths import REPO_ROOT
from tests.newcomer import run_as_newcomer

pytestmark = pytest.mark.slow

# bench module -> (command arguments after the interpreter, extra environment).
SMOKE_RUNS: dict[str, tuple[list[str], dict[str, str]]] = {
    "api_bench": (["-m", "bench.api_bench", "--imports", "1", "--requests", "5", "--warmup", "2"], {}),
    "workflow_bench": (
        ["-m", "bench.workflow_bench", "--songs", "1", "--queued", "2", "--inference-s", "0.05"],
        {},
    ),
    "container_bench": (
        [
            "bench/container_bench.py",
            "--profile",
            "tiny",
            "--duration",
            "10",
            "--steps",
            "1",
            "--formats",
            "wav",
        ],
        {"PYTHONPATH": "sagemaker_containers/music"},
    ),
    "local_e2e_bench": (["-m", "bench.local_e2e_bench", "--runs", "1", "--warmup", "0"], {}),
    "reference_clip_bench": (["-m", "bench.reference_clip_bench", "--minutes", "0.5", "--repeat", "1"], {}),
    "measure_bench": (["bench/measure_bench.py", "--duration", "5", "--takes", "2"], {}),
    "quality_bench": (
        ["bench/quality_bench.py", "--profile", "tiny", "--limit", "1", "--duration", "3", "--steps", "1"],
        {"PYTHONPATH": "sagemaker_containers/music"},
    ),
    "transcribe_bench": (["-m", "bench.transcribe_bench", "--seconds", "3"], {}),
}


def test_every_benchmark_has_a_smoke_run() -> None:
    modules = {path.stem for path in (REPO_ROOT / "bench").glob("*.py") if path.stem != "__init__"}
    assert modules == set(SMOKE_RUNS), "add the new benchmark's smallest run to SMOKE_RUNS"


def test_no_benchmark_imports_the_tests() -> None:
    for path in (REPO_ROOT / "bench").glob("*.py"):
        assert "from tests" not in path.read_text() and "import tests" not in path.read_text(), path.name


def _run(name: str, tmp_path: Path) -> str:
    argv, extra = SMOKE_RUNS[name]
    run = run_as_newcomer([sys.executable, *argv], tmp_path, timeout_s=300, **extra)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-6000:]
    assert "Traceback" not in run.stderr
    return run.stdout


def test_api_bench(tmp_path) -> None:
    out = _run("api_bench", tmp_path)
    assert "cold import lambdas.api.handler" in out
    for route in ("GET /me", "POST /songs", "GET /songs/{id}"):
        assert f"warm {route}" in out
    assert "1 StartExecution" in out  # POST /songs reached the workflow (every call answered)


def test_workflow_bench(tmp_path) -> None:
    report = json.loads(_run("workflow_bench", tmp_path))
    assert report["songs"] == 1 and report["queued_user"]["songs"] == 2
    assert report["state_transitions_per_song"] > 0


def test_container_bench(tmp_path) -> None:
    report = json.loads(_run("container_bench", tmp_path))
    assert report["song"]["duration_s"] == 10.0 and report["song"]["takes"] == 1
    assert {"music", "cover"} <= set(report["stages"])


def test_local_e2e_bench(tmp_path) -> None:
    out = _run("local_e2e_bench", tmp_path)
    assert "stack start-up" in out and "median" in out


def test_measure_bench(tmp_path) -> None:
    report = json.loads(_run("measure_bench", tmp_path))
    processing = report["signal_processing"]
    assert processing["duration_s"] == 5.0 and processing["takes"]["count"] == 2
    assert sorted(processing["takes"]["ranks"]) == [1, 2]
    one = processing["one_take"]
    assert one["delivered"]["loudness_lufs"] is not None
    # A take's cost is what the container runs for it: the meters mastering already ran are apart.
    assert set(one["steps"]) == {"master", "downmix_22k", "tempo", "key"}
    assert set(one["meters_alone"]) == {"loudness", "true_peak"}


def test_quality_bench(tmp_path) -> None:
    out = _run("quality_bench", tmp_path)
    assert "profile tiny, 1 takes of 3.0 s" in out
    for row in (
        "CLAP text-audio",
        "lyrics accuracy, en",
        "tempo within 4 %",
        "key MIREX score",
        "loudness LUFS",
    ):
        assert f"| {row}" in out


def test_transcribe_bench(tmp_path) -> None:
    report = json.loads(_run("transcribe_bench", tmp_path))
    assert report["audio_s"] == 3.0 and report["notes"] > 0
    assert report["cpu_s_per_audio_minute"] > 0
