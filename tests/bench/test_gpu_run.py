"""The GPU run (bench/gpu_run.sh, docs/benchmarks.md "GPU run"): the script end to end on the CPU
with the tiny profile, the stage suite's bookkeeping, and the wheels it brings along.

A GPU machine is lent for minutes, once: the tiny run goes through every step and stage the GPU run
takes (random weights staged to disk, loaded by the server's own loader, every song stage, the
merge into one JSON), so the GPU run cannot fail on a typo. The numbers are never judged.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest
import torch

from bench import container_bench  # puts the container's song_model on the path
from local.paths import REPO_ROOT
from tests.newcomer import run_as_newcomer

STAGES = ["stage_weights", "load", "song", "takes_1", "takes_2", "takes_4", "stems", "song_long"]


@pytest.mark.slow
def test_the_tiny_run_reports_every_stage_with_numbers(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = ["bash", "bench/gpu_run.sh", "--profile", "tiny", str(out)]
    run = run_as_newcomer(command, tmp_path, timeout_s=600, PYTHON=sys.executable)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-6000:]
    assert sorted(p.name for p in out.iterdir()) == ["gpu_run.json", "gpu_run.log"]
    report = json.loads((out / "gpu_run.json").read_text())
    assert report["steps"]["container"] == {"exit": "0", "seconds": report["steps"]["container"]["seconds"]}
    assert report["steps"]["wheels"]["exit"] == "not_run"  # tiny: this interpreter's own packages

    container = report["container"]
    assert container["profile"] == "tiny" and container["machine"]["packages"]["diffusers"]
    stages = container["stages"]
    assert list(stages) == STAGES
    for name, stage in stages.items():
        assert stage["ok"] is True, (name, stage)
        assert stage["seconds"] > 0 and stage["peak_rss_gib"] > 0, name
    assert set(stages["stage_weights"]["gb"]) == {
        "llm",
        "acestep",
        "acestep_base",
        "image",
        "image_unet",
        "clap",
        "whisper",
    }
    assert stages["load"]["gpu_offload"] == ["llm", "stems"]
    assert set(stages["load"]["offloaded_gib"]) == {"llm", "stems"}
    assert stages["load"]["cover"]["model"] == "sdxl-lightning"
    for name, duration in (("song", 4.0), ("song_long", 6.0)):
        song = stages[name]
        assert song["duration_s"] == duration and song["lyrics_chars"] > 0
        assert song["timings"]["music_s"] > 0 and song["timings"]["upload_s"] > 0
        assert {"move_in.llm", "llm.lyrics", "music", "cover"} <= set(song["parts"])
    for k in (1, 2, 4):
        assert stages[f"takes_{k}"]["takes"] == k and stages[f"takes_{k}"]["parts"]["music"]["seconds"] > 0
    assert {"move_in.stems", "stems", "cover"} <= set(stages["stems"]["parts"])
    assert stages["stems"]["tracks"] == ["vocals", "drums"]
    assert container["summary"]["failed"] == []
    assert set(container["summary"]["music_seconds_per_take"]) == {"1", "2", "4"}

    assert report["steps"]["quality"]["exit"] == "0"
    assert report["quality"]["summary"]["takes"] >= 1
    log = (out / "gpu_run.log").read_text()
    assert "container: exit 0" in log and "Traceback" not in log


def test_a_failing_stage_is_recorded_and_the_next_one_runs(tmp_path: Path) -> None:
    from song_model.errors import OutOfMemory

    report: dict = {"profile": "tiny", "stages": {}}
    rss = container_bench.PeakRss()
    suite = container_bench.Suite(report, tmp_path / "report.json", time.monotonic() + 600, rss)

    def out_of_memory(entry: dict) -> None:
        entry["duration_s"] = 600.0
        try:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        except torch.OutOfMemoryError as exc:
            raise OutOfMemory("out of GPU memory during music") from exc

    assert suite.run("song_long", out_of_memory) is None
    written = json.loads((tmp_path / "report.json").read_text())  # written after the failed stage
    failed = written["stages"]["song_long"]
    assert failed["ok"] is False and failed["duration_s"] == 600.0 and failed["seconds"] >= 0
    assert failed["error"] == "OutOfMemory: out of GPU memory during music"
    assert failed["cause"].startswith("OutOfMemoryError: CUDA out of memory")

    assert suite.run("takes_1", lambda entry: entry.update(takes=1) or "rendered") == "rendered"
    assert json.loads((tmp_path / "report.json").read_text())["stages"]["takes_1"]["ok"] is True
    rss.stop()


def test_a_stage_that_would_start_too_late_is_skipped(tmp_path: Path) -> None:

    report: dict = {"profile": "gpu-random", "stages": {}}
    rss = container_bench.PeakRss()
    # 10 s left: less than a GPU song stage's minimum, more than a single take's.
    suite = container_bench.Suite(report, None, time.monotonic() + 10, rss)
    ran = []
    suite.run("song_long", ran.append)
    suite.run("takes_1", ran.append)
    rss.stop()
    assert report["stages"]["song_long"] == {"ok": False, "skipped": "time budget: under 50 s left"}
    assert report["stages"]["takes_1"]["ok"] is True and len(ran) == 1


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
        if match:
            name = re.sub(r"[-_.]+", "-", match[1]).lower()
            assert name not in pins, f"{name} pinned twice in {path.name}"
            pins[name] = match[2]
    return pins


def test_the_wheels_carry_the_versions_the_image_pins() -> None:
    wheels = _pins(REPO_ROOT / "bench" / "gpu_wheels.txt")
    image = _pins(REPO_ROOT / "sagemaker_containers" / "music" / "requirements.txt")
    assert {"transformers", "diffusers", "soundfile", "soxr", "pydantic", "boto3", "moto"} <= set(wheels)
    assert "torch" not in wheels  # GBs: the GPU machine's own CUDA build runs the benchmark
    assert {name: wheels[name] for name in wheels.keys() & image.keys()} == {
        name: image[name] for name in wheels.keys() & image.keys()
    }


def test_the_random_llm_writes_to_its_token_limit_in_the_tokenizers_ids() -> None:
    """The real-size random LLM has Qwen2's 152,064 ids and the tiny tokenizer's few hundred: left
    alone it samples ids the tokenizer cannot decode, and the lyrics come out empty (the song fails).
    Here at toy width, with a vocabulary past the tokenizer's too, and the benchmark's settings."""
    from song_model import tiny
    from song_model.songwriter import Songwriter
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = tiny.build_qwen2_tokenizer()
    config = Qwen2Config(
        vocab_size=4096, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=False,
    )  # fmt: skip
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).eval()
    model.generation_config = container_bench.worst_case_generation(tokenizer, config.vocab_size)
    writer = Songwriter(model, tokenizer, torch.device("cpu"))
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Write lyrics"}], add_generation_prompt=True, return_tensors="pt",
        return_dict=True,
    )  # fmt: skip
    output = model.generate(**inputs, do_sample=True, top_p=0.9, max_new_tokens=48)
    new = output[0, inputs["input_ids"].shape[1] :]
    ends = {tokenizer.convert_tokens_to_ids("<|im_end|>"), tokenizer.eos_token_id}
    assert len(new) == 48 and int(new.max()) < len(tokenizer) and not ends & set(new.tolist())
    assert writer.lyrics("a road trip", "pop", duration_s=8.0, seed=1).strip()


@pytest.mark.slow
def test_the_real_size_models_build_at_their_published_sizes() -> None:
    """Every real-size architecture the GPU run builds, on the meta device (no memory): a config
    typo fails here, not on the lent GPU. Sizes from docs/container.md, "GPU memory"."""
    bench = container_bench

    meta = torch.device("meta")

    def billions(*modules: torch.nn.Module) -> float:
        return sum(p.numel() for m in modules for p in m.parameters()) / 1e9

    with bench.default_dtype(torch.bfloat16):
        llm, _ = bench.qwen2_7b_random(meta)
        turbo = bench.acestep_xl_turbo_random(meta)
        base = bench.acestep_xl_turbo_random(meta, turbo=False, share=turbo)
        cover = bench.sdxl_random(meta, "sdxl-lightning")
    assert billions(llm) == pytest.approx(7.62, rel=0.01)
    assert turbo.is_turbo and not base.is_turbo
    assert base.vae is turbo.vae and base.text_encoder is turbo.text_encoder
    assert billions(turbo.text_encoder) == pytest.approx(0.6, rel=0.02)  # Qwen3-Embedding-0.6B
    assert billions(base.condition_encoder) == pytest.approx(0.61, rel=0.02)  # 1.22 GB in bf16
    assert billions(cover.unet) == pytest.approx(2.57, rel=0.01)
    assert billions(cover.text_encoder, cover.text_encoder_2, cover.vae) == pytest.approx(0.9, rel=0.02)
    assert cover.scheduler.config.timestep_spacing == "trailing"  # Lightning's sampler
    assert llm.generation_config.suppress_tokens  # worst_case_generation
