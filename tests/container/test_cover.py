"""The cover models as the endpoint loads them (`models.load_image`), from the layout the staging
command writes, with the tiny SDXL architecture saved to disk: SDXL-Lightning (SDXL base 1.0's
folders plus Lightning's UNet file, Euler with trailing timesteps) and SDXL-Turbo."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from diffusers import EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, UNet2DConditionModel
from huggingface_hub.errors import LocalEntryNotFoundError
from PIL import Image
from safetensors.torch import save_file
from song_model import tiny
from song_model.cover import CoverArtist
from song_model.models import load_image
from song_model.settings import COVER_MODELS, load_settings

CPU = torch.device("cpu")


def _stage_lightning(model_dir: Path) -> dict[str, torch.Tensor]:
    """What stage_weights writes for Lightning: image/ without UNet weights, image_unet/<file>."""
    base = tiny.build_sdxl("sdxl-lightning")
    base.save_pretrained(model_dir / "image")
    for weights in (model_dir / "image" / "unet").glob("*.safetensors"):
        weights.unlink()
    torch.manual_seed(9)  # weights unlike the base's: the loaded UNet must be the file's
    lightning = UNet2DConditionModel.from_config(base.unet.config).state_dict()
    (model_dir / "image_unet").mkdir()
    save_file(lightning, model_dir / "image_unet" / COVER_MODELS["sdxl-lightning"].unet_file)
    return lightning


def _settings(model_dir: Path, **env: str) -> object:
    return load_settings({"MODEL_DIR": str(model_dir), "COVER_SIZE": "64", **env})


def test_lightning_runs_sdxl_base_with_its_unet_file_and_trailing_euler(tmp_path: Path) -> None:
    lightning = _stage_lightning(tmp_path)
    pipe = load_image(_settings(tmp_path), torch.float32)
    loaded = pipe.unet.state_dict()
    assert loaded.keys() == lightning.keys()
    assert all(torch.equal(loaded[name], value) for name, value in lightning.items())
    assert not any(p.device.type == "meta" for p in pipe.unet.parameters())
    assert isinstance(pipe.scheduler, EulerDiscreteScheduler)
    assert pipe.scheduler.config.timestep_spacing == "trailing"
    cover = CoverArtist(pipe, CPU, size=64, steps=4).paint("album cover art, synthwave", seed=3)
    image = Image.open(io.BytesIO(cover.png))
    assert image.size == (64, 64) and (cover.width, cover.height) == (64, 64)
    again = CoverArtist(pipe, CPU, size=64, steps=4).paint("album cover art, synthwave", seed=3)
    assert again.png == cover.png


def test_lightning_without_its_unet_file_asks_the_hub_and_fails_offline(tmp_path: Path) -> None:
    _stage_lightning(tmp_path)
    (tmp_path / "image_unet" / COVER_MODELS["sdxl-lightning"].unet_file).unlink()
    # HF_HUB_OFFLINE=1 (as on the endpoint with staged weights): a missing part fails at once.
    with pytest.raises(LocalEntryNotFoundError):
        load_image(_settings(tmp_path), torch.float32)


def test_turbo_loads_its_own_folder_and_scheduler(tmp_path: Path) -> None:
    tiny.build_sdxl("sdxl-turbo").save_pretrained(tmp_path / "image")
    pipe = load_image(_settings(tmp_path, COVER_MODEL="sdxl-turbo"), torch.float32)
    assert isinstance(pipe.scheduler, EulerAncestralDiscreteScheduler)
    assert pipe.scheduler.config.timestep_spacing == "trailing"
    cover = CoverArtist(pipe, CPU, size=64, steps=2).paint("album cover art, jazz", seed=1)
    assert Image.open(io.BytesIO(cover.png)).size == (64, 64)


def test_the_tiny_profile_builds_the_configured_cover_model() -> None:
    assert isinstance(tiny.build_sdxl("sdxl-lightning").scheduler, EulerDiscreteScheduler)
    assert isinstance(tiny.build_sdxl("sdxl-turbo").scheduler, EulerAncestralDiscreteScheduler)
