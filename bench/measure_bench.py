"""What measuring a song costs: the signal processing on CPU cores, the scoring models' compute.

    PYTHONPATH=sagemaker_containers/music python bench/measure_bench.py                 # 180 s, 4 takes
    PYTHONPATH=sagemaker_containers/music python bench/measure_bench.py --duration 600 --takes 4
    # CLAP and Whisper at their real sizes (random weights) on this CPU for a short clip, with their
    # floating-point operations counted (torch.utils.flop_counter) to estimate the GPU time:
    PYTHONPATH=sagemaker_containers/music python bench/measure_bench.py --models --clip 30

Signal processing (song_model/mastering.py + analysis.py) runs on synthesised stereo 48 kHz music
(a chord progression, kick drums, noise): per take, then `--takes` takes through the container's
own thread pool (song_model/measure.py), reporting wall and CPU seconds per minute of audio. With
`--models`, the real-size scoring models run once on `--clip` seconds; their measured FLOPs give
a GPU estimate at `--gpu-tflops` sustained (default: a third of an L40S's 362 dense bf16 TFLOPS)
plus Whisper's decoding, one step per token, bound by reading its decoder weights at
`--gpu-bandwidth` GB/s (L40S: 864). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sagemaker_containers" / "music"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from container_bench import machine, random_scorer
from song_model import analysis, mastering
from song_model.audio_in import Rendered
from song_model.engines import Audio
from song_model.measure import MeasureJob, Measurer

RATE = 48_000


def music(duration_s: float, seed: int) -> np.ndarray:
    """Stereo test music: plucked triads (Am F C G) every 2 s, a kick on every beat at 120 BPM,
    and a little noise; peaky enough that mastering to -14 LUFS needs the limiter."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(duration_s * RATE)) / RATE
    out = np.zeros_like(t)
    chords = [[57, 60, 64], [53, 57, 60], [48, 52, 55], [55, 59, 62]]
    for index, start in enumerate(np.arange(0, duration_s, 2.0)):
        span = slice(round(start * RATE), round(min(start + 2.0, duration_s) * RATE))
        local = t[span] - start
        for note in chords[index % 4]:
            out[span] += np.sin(2 * np.pi * 440 * 2 ** ((note - 69) / 12) * local) * np.exp(-1.5 * local)
    n = np.arange(round(0.08 * RATE))
    kick = np.sin(2 * np.pi * 55 * n / RATE * (1 + 2 * np.exp(-n / 300))) * np.exp(-n / (0.03 * RATE))
    for start in range(0, len(t) - len(n), RATE // 2):
        out[start : start + len(n)] += 4 * kick
    out = 0.05 * out + 0.005 * rng.standard_normal(len(t))
    return np.stack([out, 0.9 * out], axis=1).astype(np.float32)


def cpu_seconds() -> float:
    usage = os.times()
    return usage.user + usage.system


def timed(fn: Any, *args: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = fn(*args)
    return result, time.perf_counter() - wall, cpu_seconds() - cpu


def signal_processing(duration_s: float, takes: int, workers: int | None) -> dict[str, Any]:
    audio = [music(duration_s, seed) for seed in range(takes)]
    minutes = duration_s / 60
    analysis.warm_up()
    steps: dict[str, Any] = {}
    take = audio[0]
    result, wall, cpu = timed(mastering.master, take, RATE, mastering.Target())
    steps["master"] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "limited_db": result.limited_db}
    mono, wall, cpu = timed(analysis.analysis_mono, result.samples, RATE)
    steps["downmix_22k"] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}
    for name, fn in (("tempo", analysis.estimate_tempo), ("key", analysis.estimate_key)):
        _, wall, cpu = timed(fn, mono)
        steps[name] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}
    # What a take costs is the steps above (mastering reports the level it delivers); a meter's
    # own cost is shown beside them, outside the sum: the container does not run it again.
    meters: dict[str, Any] = {}
    for name, fn in (("loudness", analysis.integrated_loudness), ("true_peak", analysis.true_peak_dbtp)):
        _, wall, cpu = timed(fn, result.samples, RATE)
        meters[name] = {"wall_s": round(wall, 2), "cpu_s": round(cpu, 2)}
    one = sum(step["wall_s"] for step in steps.values())
    measured = analysis.analyze(result.samples, RATE)

    measurer = Measurer(None, workers)
    files = [Rendered(None, Audio(samples, RATE), k) for k, samples in enumerate(audio, start=1)]
    job = MeasureJob(prompt=None, lyrics=None, bpm=120, key="A minor")
    done, wall, cpu = timed(lambda: measurer.start(files, job).finish())
    return {
        "duration_s": duration_s,
        "one_take": {
            "steps": steps,
            "meters_alone": meters,
            "wall_s": round(one, 2),
            "wall_s_per_audio_minute": round(one / minutes, 2),
            "delivered": {k: v for k, v in measured.__dict__.items()},
        },
        "takes": {
            "count": takes,
            "workers": measurer.pool._max_workers,
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "cpu_s_per_audio_minute": round(cpu / (minutes * takes), 2),
            "ranks": [m.rank for m in done.takes],
        },
    }


def scoring_models(clip_s: float, whisper_tokens: int, tflops: float, bandwidth_gbs: float) -> dict[str, Any]:
    """Real-size CLAP and Whisper (random weights) on this CPU: seconds and counted FLOPs."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    device = torch.device("cpu")
    scorer = random_scorer(device, whisper_tokens)
    take = [music(clip_s, 7)]
    report: dict[str, Any] = {"clip_s": clip_s, "whisper_tokens_per_window": whisper_tokens}
    for name, call in (
        ("clap", lambda: scorer.text_audio(take, RATE, "pop, upbeat, female vocals")),
        ("whisper", lambda: scorer.transcribe(take, RATE, "en")),
    ):
        with FlopCounterMode(display=False) as counter:
            _, wall, cpu = timed(call)
        report[name] = {
            "cpu_wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "gflops": round(counter.get_total_flops() / 1e9, 1),
        }
    params = {
        name: sum(p.numel() for p in model.parameters())
        for name, model in (("clap", scorer.clap), ("whisper", scorer.whisper))
    }
    decoder = (
        sum(p.numel() for p in scorer.whisper.model.decoder.parameters())
        + scorer.whisper.proj_out.weight.numel()
    )
    windows = max(1, round(clip_s / 30))
    tokens = whisper_tokens * windows
    report["parameters_millions"] = {k: round(v / 1e6, 1) for k, v in params.items()}
    report["bf16_gib"] = round(sum(params.values()) * 2 / 2**30, 2)
    # GPU estimate for one minute of audio, one take: compute at `tflops`, plus Whisper's decoding
    # (one step per token, each reading the decoder's weights in bf16).
    per_minute = 60 / clip_s
    compute_s = (report["clap"]["gflops"] + report["whisper"]["gflops"]) * per_minute / (tflops * 1e3)
    decode_s = tokens * per_minute * (decoder * 2 / (bandwidth_gbs * 1e9))
    report["gpu_estimate_per_audio_minute"] = {
        "assumed_tflops": tflops,
        "assumed_bandwidth_gbs": bandwidth_gbs,
        "compute_s": round(compute_s, 3),
        "whisper_decode_s": round(decode_s, 3),
        "total_s": round(compute_s + decode_s, 3),
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of audio per take")
    parser.add_argument("--takes", type=int, default=4)
    parser.add_argument("--workers", type=int, default=None, help="CPU threads (default: the container's)")
    parser.add_argument("--models", action="store_true", help="also run CLAP and Whisper at real size")
    parser.add_argument("--clip", type=float, default=30.0, help="seconds of audio for --models")
    parser.add_argument(
        "--whisper-tokens", type=int, default=448, help="tokens per 30 s window (448: worst case)"
    )
    parser.add_argument("--gpu-tflops", type=float, default=120.0)
    parser.add_argument("--gpu-bandwidth", type=float, default=864.0)
    args = parser.parse_args()
    report: dict[str, Any] = {"machine": machine()}
    report["signal_processing"] = signal_processing(args.duration, args.takes, args.workers)
    if args.models:
        report["scoring_models"] = scoring_models(
            args.clip, args.whisper_tokens, args.gpu_tflops, args.gpu_bandwidth
        )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
