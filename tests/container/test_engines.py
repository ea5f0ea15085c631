from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from song_model.engines import MusicgenEngine, MusicJob, fit_length


def test_fit_length_trims_and_pads() -> None:
    audio = np.ones((10, 2), dtype=np.float32)
    assert fit_length(audio, 4).shape == (4, 2)
    padded = fit_length(audio, 12)
    assert padded.shape == (12, 2) and padded[10:].sum() == 0


@pytest.mark.parametrize("duration", [0.3, 2.0, 3.7])
def test_musicgen_windows_cover_long_songs_exactly(tiny_models: Any, duration: float) -> None:
    base = tiny_models.engine
    # A 1 s window with 0.5 s of context forces several continuation windows for 2-3.7 s songs.
    engine = MusicgenEngine(base.model, base.tokenizer, base.device, window_s=1.0, context_s=0.5)
    audio = engine.generate(MusicJob("pop", None, duration, 1, 3.0, seed=5))
    assert audio.sample_rate == 32000
    assert audio.samples.shape == (round(duration * 32000), 1)
    assert audio.samples.dtype == np.float32
    # Every window contributed sound (a zero-padded tail would mean a window came back short).
    tail = audio.samples[-3200:]
    assert np.abs(tail).max() > 0


def test_musicgen_rejects_a_context_longer_than_the_window(tiny_models: Any) -> None:
    base = tiny_models.engine
    with pytest.raises(ValueError, match="context_s"):
        MusicgenEngine(base.model, base.tokenizer, base.device, window_s=1.0, context_s=1.0)
