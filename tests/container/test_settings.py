from __future__ import annotations

from pathlib import Path

import pytest
from song_model.settings import SettingsError, load_settings


def test_defaults_are_the_production_setup() -> None:
    settings = load_settings({})
    assert settings.profile == "full"
    assert settings.engine == "acestep"
    assert settings.music_model_id == "ACE-Step/acestep-v15-xl-turbo-diffusers"
    assert settings.llm_model_id == "Qwen/Qwen2-7B-Instruct"
    # The commercially usable cover model (docs/container.md, "Model licences").
    assert settings.cover_model == "sdxl-lightning"
    assert settings.image_model_id == "stabilityai/stable-diffusion-xl-base-1.0"
    assert settings.cover_unet_id == "ByteDance/SDXL-Lightning"
    assert settings.model_dir == Path("/opt/ml/model")
    assert (settings.cover_size, settings.cover_steps) == (1024, 4)
    assert settings.gpu_offload == {"llm", "stems"}
    assert settings.stems and settings.music_base_model_id == "ACE-Step/acestep-v15-xl-base-diffusers"


def test_stems_can_be_switched_off_and_the_base_checkpoint_chosen() -> None:
    settings = load_settings({"STEMS_ENABLED": "False", "MUSIC_BASE_MODEL_ID": " /models/base "})
    assert not settings.stems and settings.music_base_model_id == "/models/base"


def test_tiny_profile_renders_with_acestep_and_small_covers() -> None:
    settings = load_settings({"MODEL_PROFILE": "tiny"})
    assert settings.engine == "acestep"
    assert settings.cover_size == 64
    assert load_settings({"MODEL_PROFILE": "tiny", "MUSIC_ENGINE": "musicgen"}).engine == "musicgen"


def test_values_are_trimmed_and_case_insensitive() -> None:
    settings = load_settings({"MODEL_PROFILE": " TINY ", "DEVICE": "cuda:1", "DTYPE": "BFloat16"})
    assert (settings.profile, settings.device, settings.dtype) == ("tiny", "cuda:1", "bfloat16")


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"MODEL_PROFILE": "huge"}, "MODEL_PROFILE"),
        ({"MUSIC_ENGINE": "jukebox"}, "MUSIC_ENGINE"),
        ({"DTYPE": "int8"}, "DTYPE"),
        ({"DEVICE": "tpu"}, "DEVICE"),
        ({"DEVICE": "cuda:x"}, "DEVICE"),
        ({"COVER_SIZE": "100"}, "COVER_SIZE"),
        ({"COVER_SIZE": "big"}, "COVER_SIZE"),
        ({"COVER_STEPS": "0"}, "COVER_STEPS"),
        ({"STEMS_ENABLED": "maybe"}, "STEMS_ENABLED"),
        ({"COVER_MODEL": "dall-e"}, "COVER_MODEL"),
        ({"COVER_STEPS": "2"}, "COVER_STEPS=2: sdxl_lightning_4step_unet"),
        ({"GPU_OFFLOAD": "llm,music"}, "GPU_OFFLOAD.*music"),
        ({"GPU_OFFLOAD": "everything"}, "GPU_OFFLOAD"),
        ({"SCORING_ENABLED": "yes"}, "SCORING_ENABLED"),
        ({"MEASURE_WORKERS": "-1"}, "MEASURE_WORKERS"),
        ({"MEASURE_WORKERS": "many"}, "MEASURE_WORKERS"),
    ],
)
def test_bad_values_fail_with_the_variable_named(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        load_settings(env)


def test_turbo_keeps_its_own_pipeline_steps_and_size() -> None:
    settings = load_settings({"COVER_MODEL": "SDXL-Turbo"})
    assert settings.image_model_id == "stabilityai/sdxl-turbo" and settings.cover_unet_id is None
    assert (settings.cover_size, settings.cover_steps) == (512, 2)
    assert load_settings({"COVER_MODEL": "sdxl-turbo", "COVER_STEPS": "1"}).cover_steps == 1


def test_the_cover_pipeline_and_unet_can_point_elsewhere() -> None:
    settings = load_settings({"IMAGE_MODEL_ID": "/models/sdxl", "COVER_UNET_ID": "me/lightning-fork"})
    assert (settings.image_model_id, settings.cover_unet_id) == ("/models/sdxl", "me/lightning-fork")


@pytest.mark.parametrize(
    ("value", "parts"),
    [
        ("", {"llm", "stems"}),
        ("none", set()),
        (" LLM , cover ", {"llm", "cover"}),
        ("stems", {"stems"}),
        ("llm,stems,scoring", {"llm", "stems", "scoring"}),
    ],
)
def test_gpu_offload_lists_the_parts_kept_in_host_memory(value: str, parts: set[str]) -> None:
    assert load_settings({"GPU_OFFLOAD": value}).gpu_offload == parts


def test_scoring_is_on_by_default_with_the_music_clap_and_whisper_turbo() -> None:
    settings = load_settings({})
    assert settings.scoring and settings.measure_workers is None
    assert (settings.clap_model_id, settings.whisper_model_id) == (
        "laion/larger_clap_music", "openai/whisper-large-v3-turbo",
    )  # fmt: skip
    custom = load_settings(
        {
            "SCORING_ENABLED": "FALSE",
            "CLAP_MODEL_ID": " /m/clap ",
            "WHISPER_MODEL_ID": "me/whisper",
            "MEASURE_WORKERS": "3",
        }
    )
    assert not custom.scoring and custom.measure_workers == 3
    assert (custom.clap_model_id, custom.whisper_model_id) == ("/m/clap", "me/whisper")
