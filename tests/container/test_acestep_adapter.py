"""The ACE-Step adapter against ACEStepPipeline's call contract.

ACE-Step cannot be installed here (its PyPI upload is broken; the image installs it from git), so a
fake `acestep.pipeline_ace_step` module stands in for it. The fake behaves like the real pipeline at
the commit pinned in the Dockerfile: it writes the audio to `save_path` and returns
`[audio_path, input_params]`. The parameter names below are copied from that commit's
ACEStepPipeline.__init__ and __call__ so a renamed argument shows up here.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import soundfile as sf
import torch
from song_model.engines import AceStepEngine, MusicJob
from song_model.errors import ModelError
from song_model.models import ACESTEP_PARTS, acestep_checkpoint
from song_model.settings import load_settings

# acestep/pipeline_ace_step.py at d612523f50e252c0e138e68ae75b06223f96e934
REAL_INIT_PARAMS = {
    "checkpoint_dir", "device_id", "dtype", "text_encoder_checkpoint_path", "persistent_storage_path",
    "torch_compile", "cpu_offload", "quantized", "overlapped_decode",
}  # fmt: skip
REAL_CALL_PARAMS = {
    "format", "audio_duration", "prompt", "lyrics", "infer_step", "guidance_scale", "scheduler_type",
    "cfg_type", "omega_scale", "manual_seeds", "guidance_interval", "guidance_interval_decay",
    "min_guidance_scale", "use_erg_tag", "use_erg_lyric", "use_erg_diffusion", "oss_steps",
    "guidance_scale_text", "guidance_scale_lyric", "audio2audio_enable", "ref_audio_strength",
    "ref_audio_input", "lora_name_or_path", "lora_weight", "retake_seeds", "retake_variance", "task",
    "repaint_start", "repaint_end", "src_audio_path", "edit_target_prompt", "edit_target_lyrics",
    "edit_n_min", "edit_n_max", "edit_n_avg", "save_path", "batch_size", "debug",
}  # fmt: skip


class FakeACEStepPipeline:
    instances: ClassVar[list[FakeACEStepPipeline]] = []
    write_file = True

    def __init__(self, **kwargs: Any) -> None:
        assert set(kwargs) <= REAL_INIT_PARAMS, set(kwargs) - REAL_INIT_PARAMS
        self.init_kwargs = kwargs
        self.loaded_from: str | None = None
        self.calls: list[dict[str, Any]] = []
        FakeACEStepPipeline.instances.append(self)

    def load_checkpoint(self, checkpoint_dir: str | None = None) -> None:
        self.loaded_from = checkpoint_dir

    def __call__(self, **kwargs: Any) -> list[Any]:
        assert set(kwargs) <= REAL_CALL_PARAMS, set(kwargs) - REAL_CALL_PARAMS
        self.calls.append(kwargs)
        # Like ACE-Step: 48 kHz stereo, length from the latent grid (a little over the request).
        frames = int(kwargs["audio_duration"] * 48000) + 512
        rng = np.random.default_rng(kwargs["manual_seeds"][0])
        if self.write_file:
            # torchaudio.save of a float tensor (what ACE-Step does) writes 32-bit float WAV.
            samples = rng.uniform(-0.5, 0.5, (frames, 2)).astype(np.float32)
            sf.write(kwargs["save_path"], samples, 48000, subtype="FLOAT")
        return [kwargs["save_path"], {"actual_seeds": kwargs["manual_seeds"], "format": kwargs["format"]}]


@pytest.fixture
def fake_acestep(monkeypatch: pytest.MonkeyPatch) -> type[FakeACEStepPipeline]:
    package = types.ModuleType("acestep")
    module = types.ModuleType("acestep.pipeline_ace_step")
    module.ACEStepPipeline = FakeACEStepPipeline  # type: ignore[attr-defined]
    package.pipeline_ace_step = module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "acestep", package)
    monkeypatch.setitem(sys.modules, "acestep.pipeline_ace_step", module)
    FakeACEStepPipeline.instances.clear()
    FakeACEStepPipeline.write_file = True
    return FakeACEStepPipeline


def test_the_pipeline_is_built_and_loaded_at_start_up(fake_acestep: Any) -> None:
    AceStepEngine("/opt/ml/model/acestep", torch.device("cuda:1"), torch.bfloat16)
    (pipe,) = fake_acestep.instances
    assert pipe.init_kwargs["checkpoint_dir"] == "/opt/ml/model/acestep"
    assert pipe.init_kwargs["device_id"] == 1
    assert pipe.init_kwargs["dtype"] == "bfloat16"
    assert pipe.init_kwargs["cpu_offload"] is False
    assert pipe.loaded_from == "/opt/ml/model/acestep"


@pytest.mark.parametrize(("dtype", "expected"), [(torch.float32, "float32"), (torch.float16, "bfloat16")])
def test_dtypes_map_to_what_acestep_accepts(fake_acestep: Any, dtype: torch.dtype, expected: str) -> None:
    AceStepEngine("ckpt", torch.device("cuda"), dtype)
    assert fake_acestep.instances[0].init_kwargs["dtype"] == expected
    assert fake_acestep.instances[0].init_kwargs["device_id"] == 0


def test_a_song_passes_the_request_and_reads_back_the_file(fake_acestep: Any) -> None:
    engine = AceStepEngine("ckpt", torch.device("cuda"), torch.bfloat16)
    job = MusicJob("pop, upbeat", "[verse]\nhello", duration_s=2.5, steps=27, guidance_scale=15.0, seed=1234)
    audio = engine.generate(job)
    (call,) = fake_acestep.instances[0].calls
    assert call["format"] == "wav"
    assert call["audio_duration"] == 2.5
    assert call["prompt"] == "pop, upbeat"
    assert call["lyrics"] == "[verse]\nhello"
    assert call["infer_step"] == 27
    assert call["guidance_scale"] == 15.0
    assert call["manual_seeds"] == [1234]
    assert call["batch_size"] == 1
    assert call["save_path"].endswith(".wav")
    assert not os.path.exists(call["save_path"]), "the temporary file must be cleaned up"
    assert audio.sample_rate == 48000
    assert audio.samples.shape == (120000, 2)  # trimmed to exactly the requested duration
    expected = np.random.default_rng(1234).uniform(-0.5, 0.5, (120512, 2)).astype(np.float32)[:120000]
    assert np.allclose(audio.samples, expected, atol=1e-6)


def test_instrumental_songs_use_acesteps_instrumental_tag(fake_acestep: Any) -> None:
    engine = AceStepEngine("ckpt", torch.device("cuda"), torch.bfloat16)
    engine.generate(MusicJob("ambient", None, 1.0, 10, 15.0, 1))
    assert fake_acestep.instances[0].calls[0]["lyrics"] == "[instrumental]"


def test_no_audio_file_is_a_model_error(fake_acestep: Any) -> None:
    engine = AceStepEngine("ckpt", torch.device("cuda"), torch.bfloat16)
    fake_acestep.write_file = False
    with pytest.raises(ModelError, match="no audio file"):
        engine.generate(MusicJob("pop", None, 1.0, 10, 15.0, 1))


def test_checkpoint_comes_from_model_dir_when_it_has_all_parts(tmp_path: Path) -> None:
    folder = tmp_path / "acestep"
    for part in ACESTEP_PARTS:
        (folder / part).mkdir(parents=True)
    settings = load_settings({"MODEL_DIR": str(tmp_path)})
    assert acestep_checkpoint(settings) == str(folder)


def test_checkpoint_can_be_a_path_in_music_model_id(tmp_path: Path) -> None:
    for part in ACESTEP_PARTS:
        (tmp_path / "ckpt" / part).mkdir(parents=True)
    settings = load_settings({"MODEL_DIR": str(tmp_path / "empty"), "MUSIC_MODEL_ID": str(tmp_path / "ckpt")})
    assert acestep_checkpoint(settings) == str(tmp_path / "ckpt")
