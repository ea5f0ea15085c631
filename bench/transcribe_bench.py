"""The transcription image's benchmark (lambda_images/transcribe): CPU time and memory per minute
of audio, for audio to MIDI or (`--analysis`) the upload analyzer.

    .venv/bin/python -m bench.transcribe_bench                # 60 s of synthesized music
    .venv/bin/python -m bench.transcribe_bench --seconds 300
    .venv/bin/python -m bench.transcribe_bench --analysis --seconds 600

A four-voice piece (melody, chords, bass: tones with overtones, a note every 0.25-1 s) is written as
44.1 kHz stereo 16-bit WAV (block by block: the peak memory reported is the transcription's and the
libraries'), then transcribed through the function's own path (decode, resample,
basic-pitch on ONNX Runtime, MIDI), or with `--analysis` through the upload analyzer's (decode to
stereo 48 kHz, then song_model.analysis: loudness, true peak, tempo, key). CPU time is the
process's (all threads): on a Lambda function with about one vCPU (1,769 MB) the billed duration is
close to it. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lambda_images" / "transcribe"))
sys.path.append(str(ROOT / "sagemaker_containers" / "music"))  # song_model, as the image has it

RATE = 44_100


def notes(seconds: float, seed: int = 0) -> list[tuple[float, float, float]]:
    """Deterministic four-voice music (melody, two chord voices, bass): (start_s, length_s, hz) of
    random C-major notes, a note every 0.25 to 1 s per voice."""
    rng = np.random.default_rng(seed)
    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    voices = ((5, 7, (0.25, 0.5)), (4, 6, (0.5, 1.0)), (4, 6, (0.5, 1.0)), (2, 4, (1.0,)))  # octaves, lengths
    events = []
    for low, high, lengths in voices:
        start = 0.0
        while start < seconds:
            length = float(rng.choice(lengths))
            pitch = 12 * int(rng.integers(low, high)) + int(rng.choice(scale))
            events.append((start, min(length, seconds - start), 440.0 * 2 ** ((pitch - 69) / 12)))
            start += length
    return events


def write_piece(path: Path, seconds: float, block_s: float = 10.0) -> None:
    """The piece as 44.1 kHz stereo 16-bit WAV, rendered block by block (tones with 3 overtones and
    short envelopes), so the benchmark's own audio never sits in memory whole."""
    events = notes(seconds)
    with sf.SoundFile(path, "w", RATE, 2, subtype="PCM_16") as out:
        for block_start in np.arange(0.0, seconds, block_s):
            frames = round(min(block_s, seconds - block_start) * RATE)
            block = np.zeros(frames)
            times = block_start + np.arange(frames) / RATE
            for start, length, hz in events:
                first = max(0, round((start - block_start) * RATE))
                last = min(frames, round((start + length - block_start) * RATE))
                if first >= last:
                    continue
                t = times[first:last] - start
                envelope = np.minimum(1.0, np.minimum(t / 0.01, (length - t) / 0.05)).clip(0)
                tone = sum(np.sin(2 * np.pi * k * hz * t) / k**2 for k in range(1, 5))
                block[first:last] += 0.15 * envelope * tone
            out.write(np.stack([block, 0.9 * block], axis=1).astype(np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the piece to transcribe")
    parser.add_argument("--analysis", action="store_true", help="the upload analyzer instead")
    args = parser.parse_args()
    if args.analysis:
        _report(args.seconds, *_analysis(args.seconds))
        return

    started, cpu = time.perf_counter(), time.process_time()
    from transcriber.transcribe import transcribe, transcribe_file
    from transcriber.warm_up import ARPEGGIO, tone_sequence

    transcribe(tone_sequence(ARPEGGIO, 22_050))  # imports, model load, numba kernels (cached or not)
    first = {"wall_s": round(time.perf_counter() - started, 2), "cpu_s": round(time.process_time() - cpu, 2)}

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "piece.wav"
        write_piece(path, args.seconds)
        started, cpu = time.perf_counter(), time.process_time()
        result = transcribe_file(path)
        wall, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    _report(args.seconds, first, {"notes": len(result.notes), "midi_bytes": len(result.midi)}, wall, cpu_s)


def _analysis(seconds: float) -> tuple[dict, dict, float, float]:
    """The upload analyzer's path (transcriber/analyzer.py without S3): decode, then measure."""
    started, cpu = time.perf_counter(), time.process_time()
    from song_model import analysis
    from transcriber.analyzer import ANALYSIS_RATE
    from transcriber.audio import decode

    analysis.warm_up()  # imports, numba kernels (cached or not)
    first = {"wall_s": round(time.perf_counter() - started, 2), "cpu_s": round(time.process_time() - cpu, 2)}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "piece.wav"
        write_piece(path, seconds)
        started, cpu = time.perf_counter(), time.process_time()
        measured = analysis.analyze(decode(path, ANALYSIS_RATE, mono=False), ANALYSIS_RATE)
        wall, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    return first, {"analysis": measured.__dict__}, wall, cpu_s


def _report(seconds: float, first: dict, result: dict, wall: float, cpu_s: float) -> None:
    print(
        json.dumps(
            {
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "load_average": [round(x, 1) for x in os.getloadavg()],
                },
                "first_call_in_process": first,
                "audio_s": seconds,
                **result,
                "wall_s": round(wall, 2),
                "cpu_s": round(cpu_s, 2),
                "cpu_s_per_audio_minute": round(cpu_s / (seconds / 60), 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
