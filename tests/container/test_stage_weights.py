"""The weight-staging command against moto S3, with the hub download replaced by local files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import BUCKET
from song_model.stage_weights import IMAGE_WITHOUT_UNET, PATTERNS, Part, main, plan

downloads: list[Part] = []


def fake_download(part: Part, target: Path) -> str:
    """Writes what the hub would for this part (a config and a weights file per folder)."""
    downloads.append(part)
    folder = target / "transformer" if part.name in ("acestep", "acestep_base") else target
    folder.mkdir(parents=True, exist_ok=True)
    if part.name == "image_unet":  # one weights file, named by the pattern
        (folder / part.allow[0]).write_bytes(b"\0" * 2048)
    else:
        (folder / "config.json").write_text(json.dumps({"repo": part.repo_id}))
        (folder / "model.safetensors").write_bytes(b"\0" * 1024)
    (target / ".cache").mkdir(exist_ok=True)
    (target / ".cache" / "lock").write_text("hub bookkeeping")
    return f"sha-{part.name}"


def test_plan_stages_the_llm_the_engine_and_the_image_model() -> None:
    parts = plan("q", "img", ["acestep"], "ace", "mg")
    assert [(p.name, p.repo_id) for p in parts] == [("llm", "q"), ("acestep", "ace"), ("image", "img")]
    assert parts[1].allow == PATTERNS["acestep"]
    both = plan("q", "img", ["acestep", "musicgen"], "ace", "mg")
    assert [p.name for p in both] == ["llm", "acestep", "musicgen", "image"]


def test_plan_stages_the_base_checkpoint_beside_acestep_only() -> None:
    parts = plan("q", "img", ["acestep", "musicgen"], "ace", "mg", acestep_base="base")
    assert [(p.name, p.repo_id) for p in parts] == [
        ("llm", "q"), ("acestep", "ace"), ("acestep_base", "base"), ("musicgen", "mg"), ("image", "img"),
    ]  # fmt: skip
    assert parts[2].allow == PATTERNS["acestep_base"]
    # MusicGen has no extract task: no base checkpoint without ACE-Step.
    assert [p.name for p in plan("q", "img", ["musicgen"], "ace", "mg", acestep_base="base")] == [
        "llm", "musicgen", "image",
    ]  # fmt: skip


def test_staging_uploads_the_server_layout_and_a_record(s3: Any, tmp_path: Path) -> None:
    downloads.clear()
    args = ["--bucket", BUCKET, "--prefix", "models/v1", "--work-dir", str(tmp_path)]
    record = main(args, s3=s3, download=fake_download)
    assert [p.repo_id for p in downloads] == [
        "Qwen/Qwen2-7B-Instruct", "ACE-Step/acestep-v15-xl-turbo-diffusers",
        "ACE-Step/acestep-v15-xl-base-diffusers", "stabilityai/stable-diffusion-xl-base-1.0",
        "ByteDance/SDXL-Lightning", "laion/larger_clap_music", "openai/whisper-large-v3-turbo",
    ]  # fmt: skip
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {
        "models/v1/llm/config.json",
        "models/v1/llm/model.safetensors",
        "models/v1/acestep/transformer/config.json",
        "models/v1/acestep/transformer/model.safetensors",
        "models/v1/acestep_base/transformer/config.json",
        "models/v1/acestep_base/transformer/model.safetensors",
        "models/v1/image/config.json",
        "models/v1/image/model.safetensors",
        "models/v1/image_unet/sdxl_lightning_4step_unet.safetensors",
        "models/v1/clap/config.json",
        "models/v1/clap/model.safetensors",
        "models/v1/whisper/config.json",
        "models/v1/whisper/model.safetensors",
        "models/v1/staging.json",
    }
    stored = json.loads(s3.get_object(Bucket=BUCKET, Key="models/v1/staging.json")["Body"].read())
    assert stored == record
    assert stored["parts"]["llm"] == {
        "repo_id": "Qwen/Qwen2-7B-Instruct", "revision": "sha-llm", "files": 2, "uploaded": 2, "skipped": 0,
        "bytes": 1024 + len(json.dumps({"repo": "Qwen/Qwen2-7B-Instruct"})),
    }  # fmt: skip


def test_an_empty_base_checkpoint_skips_it(s3: Any, tmp_path: Path) -> None:
    """`--acestep-base ''` for endpoints that run with STEMS_ENABLED=false."""
    downloads.clear()
    args = ["--bucket", BUCKET, "--prefix", "m/", "--acestep-base", "", "--work-dir", str(tmp_path)]
    record = main(args, s3=s3, download=fake_download)
    assert [p.name for p in downloads] == ["llm", "acestep", "image", "image_unet", "clap", "whisper"]
    assert "acestep_base" not in record["parts"]


def test_empty_scoring_models_skip_them(s3: Any, tmp_path: Path) -> None:
    """`--clap '' --whisper ''` for endpoints that run with SCORING_ENABLED=false."""
    downloads.clear()
    args = ["--bucket", BUCKET, "--prefix", "m/", "--clap", "", "--whisper", "", "--work-dir", str(tmp_path)]
    record = main(args, s3=s3, download=fake_download)
    assert not {"clap", "whisper"} & {p.name for p in downloads} and "clap" not in record["parts"]


def test_the_scoring_patterns_take_the_transformers_folders() -> None:
    from fnmatch import fnmatch

    clap = ["config.json", "preprocessor_config.json", "pytorch_model.bin", "merges.txt", "vocab.json"]
    whisper = ["config.json", "generation_config.json", "model.safetensors", "normalizer.json", "merges.txt"]
    for name, files in (("clap", clap), ("whisper", whisper)):
        for path in files:
            assert any(fnmatch(path, p) for p in PATTERNS[name]), (name, path)
    assert not any(fnmatch("flax_model.msgpack", p) for p in PATTERNS["clap"] + PATTERNS["whisper"])


def test_the_cover_model_decides_what_image_weights_are_staged(s3: Any, tmp_path: Path) -> None:
    # SDXL-Lightning (the default): SDXL base 1.0 without its UNet weights, plus Lightning's one file.
    parts = plan("q", "base", ["acestep"], "ace", "mg", image_unet=("lightning", "unet4.safetensors"))
    assert [(p.name, p.repo_id, p.allow) for p in parts[-2:]] == [
        ("image", "base", IMAGE_WITHOUT_UNET),
        ("image_unet", "lightning", ("unet4.safetensors",)),
    ]
    # SDXL-Turbo: its own folders, UNet included, and nothing else.
    downloads.clear()
    args = ["--bucket", BUCKET, "--prefix", "t/", "--cover-model", "sdxl-turbo", "--work-dir", str(tmp_path)]
    record = main(args, s3=s3, download=fake_download)
    (image,) = [p for p in downloads if p.name == "image"]
    assert image.repo_id == "stabilityai/sdxl-turbo"
    assert image.allow == PATTERNS["image"] and "image_unet" not in record["parts"]


def test_the_image_patterns_leave_out_only_the_unet_weights_for_lightning() -> None:
    from fnmatch import fnmatch

    folders = ["text_encoder", "text_encoder_2", "vae", "unet"]
    fp16 = [f"{f}/model.fp16.safetensors" for f in folders]
    configs = [f"{f}/config.json" for f in folders] + ["model_index.json", "scheduler/scheduler_config.json"]
    for path in configs + fp16[:3]:
        assert any(fnmatch(path, p) for p in IMAGE_WITHOUT_UNET), path
    assert not any(fnmatch("unet/diffusion_pytorch_model.fp16.safetensors", p) for p in IMAGE_WITHOUT_UNET)
    assert not any(fnmatch("sd_xl_base_1.0.safetensors", p) for p in IMAGE_WITHOUT_UNET)


def test_a_second_run_skips_what_is_already_there(s3: Any, tmp_path: Path) -> None:
    args = ["--bucket", BUCKET, "--prefix", "m/", "--engine", "musicgen", "--work-dir", str(tmp_path)]
    main(args, s3=s3, download=fake_download)
    again = main(args, s3=s3, download=fake_download)
    assert {p["uploaded"] for p in again["parts"].values()} == {0}
    assert all(p["skipped"] == p["files"] > 0 for p in again["parts"].values())


def test_dry_run_uploads_nothing(s3: Any, tmp_path: Path) -> None:
    args = ["--bucket", BUCKET, "--prefix", "m/", "--dry-run", "--work-dir", str(tmp_path)]
    record = main(args, s3=s3, download=fake_download)
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    assert record["parts"]["llm"]["uploaded"] == 2


def test_the_acestep_patterns_select_a_diffusers_pipeline_folder() -> None:
    """What AceStepPipeline.from_pretrained reads (the official conversion's layout), nothing else."""
    from fnmatch import fnmatch

    wanted = [
        "model_index.json", "transformer/config.json",
        "transformer/diffusion_pytorch_model-00001-of-00003.safetensors",
        "transformer/diffusion_pytorch_model.safetensors.index.json", "condition_encoder/config.json",
        "vae/diffusion_pytorch_model.safetensors", "text_encoder/model.safetensors",
        "tokenizer/tokenizer.json",
        "tokenizer/merges.txt", "scheduler/scheduler_config.json", "audio_tokenizer/config.json",
        "audio_token_detokenizer/diffusion_pytorch_model.safetensors",
    ]  # fmt: skip
    unwanted = ["README.md", ".gitattributes", "transformer/diffusion_pytorch_model.bin", "assets/demo.mp3"]
    patterns = PATTERNS["acestep"]
    assert all(any(fnmatch(path, p) for p in patterns) for path in wanted)
    assert not any(any(fnmatch(path, p) for p in patterns) for path in unwanted)
    # The base checkpoint: its own DiT and condition encoder; the VAE, text encoder and tokenizer
    # come from turbo at load time (AceStepEngine.from_pretrained(share=...)), so none are staged.
    base = PATTERNS["acestep_base"]
    own = [p for p in wanted if p.split("/")[0] not in ("vae", "text_encoder", "tokenizer")]
    assert all(any(fnmatch(path, p) for p in base) for path in own)
    shared = [p for p in wanted if p.split("/")[0] in ("vae", "text_encoder", "tokenizer")]
    assert not any(any(fnmatch(path, p) for p in base) for path in shared + unwanted)


def test_printed_model_data_uri_is_what_the_stack_accepts(s3: Any, tmp_path: Path, capsys: Any) -> None:
    from stacks.config import load_config

    args = ["--bucket", BUCKET, "--prefix", "song-model/v2", "--work-dir", str(tmp_path)]
    main(args, s3=s3, download=fake_download)
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("Deploy with:")]
    uri = line.split("model_data_s3_uri=", 1)[1]
    assert uri == f"s3://{BUCKET}/song-model/v2/"
    assert load_config({"model_data_s3_uri": uri}).model_data_s3_uri == uri
