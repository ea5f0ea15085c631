"""Quality benchmark: render a fixed set of prompts and report what the service measures of them.

    # CPU smoke run, tiny random-weight models (numbers mean nothing; the code path is the real one):
    PYTHONPATH=sagemaker_containers/music python bench/quality_bench.py --profile tiny --limit 2
    # GPU, real-size random weights (cost and memory of measuring, not quality):
    PYTHONPATH=sagemaker_containers/music python bench/quality_bench.py --profile gpu-random
    # GPU, the real weights staged under MODEL_DIR (or the hub ids): the quality figures
    MODEL_DIR=/opt/ml/model PYTHONPATH=sagemaker_containers/music python bench/quality_bench.py --profile full

Every prompt of bench/quality_prompts.json (genres and languages spread; tempo and key asked for
where set; lyrics given, so no LLM writes them) renders as a `custom_lyrics` request through the
container's own pipeline (S3 in-process through moto), mastered to the default -14 LUFS / -1 dBTP.
Prints a table: mean CLAP text-audio score, lyrics accuracy (1 - WER, characters for Chinese and
Japanese) overall and per language, tempo adherence (share of takes within 4 % of the asked tempo,
half/double forgiven; mean error), key adherence (share exactly in key; mean MIREX score), and the
delivered loudness spread. `--json` prints every take's measurements instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # container_bench
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # local/ (the local identity)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sagemaker_containers" / "music"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from container_bench import gpu_random_models, machine
from song_model.models import Models, load_models
from song_model.pipeline import SongPipeline
from song_model.schemas import parse_request
from song_model.settings import load_settings

PROMPTS = Path(__file__).with_name("quality_prompts.json")
BUCKET = "quality-bench"
BPM_WITHIN = 0.04


def load(profile: str, engine: str) -> Models:
    if profile == "gpu-random":
        import torch

        if not torch.cuda.is_available():
            sys.exit("--profile gpu-random needs a CUDA GPU")
        return gpu_random_models(argparse.Namespace(engine=engine))
    env = {**os.environ, "MODEL_PROFILE": profile, "MUSIC_ENGINE": engine}
    return load_models(load_settings(env))


def request(prompt: dict[str, Any], index: int, args: argparse.Namespace) -> dict[str, Any]:
    instrumental = bool(prompt.get("instrumental"))
    return {
        "job_id": f"quality-{prompt['id']}",
        "mode": "custom_lyrics",
        "prompt": prompt["prompt"],
        "lyrics": "" if instrumental else prompt["lyrics"],
        "instrumental": instrumental,
        "vocal_language": prompt.get("vocal_language"),
        "bpm": prompt.get("bpm"),
        "key": prompt.get("key"),
        "duration_s": args.duration,
        "seed": args.seed + index,
        "variants": args.variants,
        "inference_steps": args.steps,
        "formats": ["wav"],
        "output": {"bucket": BUCKET, "prefix": f"quality/{prompt['id']}/"},
    }


def render(models: Models, prompts: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    from moto import mock_aws

    from local import account

    account.use_local_identity(os.environ)  # S3 is moto in-process: fake credentials, none of the user's
    rows = []
    with mock_aws():
        import boto3

        boto3.client("s3").create_bucket(Bucket=BUCKET)
        pipeline = SongPipeline(models)
        for index, prompt in enumerate(prompts):
            started = time.perf_counter()
            manifest = pipeline.run(parse_request(request(prompt, index, args)))
            for take in manifest.takes:
                rows.append(
                    {
                        "id": prompt["id"],
                        "language": prompt.get("vocal_language") or "instrumental",
                        "asked": {"bpm": prompt.get("bpm"), "key": prompt.get("key")},
                        "take": take.take,
                        "rank": take.rank,
                        "analysis": take.analysis.model_dump(),
                        "scores": take.scores.model_dump(),
                        "seconds": round(time.perf_counter() - started, 2),
                        "measure_s": manifest.timings.measure_s,
                    }
                )
            print(f"{prompt['id']}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return rows


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    scores = [row["scores"] for row in rows]
    analyses = [row["analysis"] for row in rows]
    bpm_errors = [s["bpm_error"] for s in scores if s["bpm_error"] is not None]
    key_matches = [s["key_match"] for s in scores if s["key_match"] is not None]
    loudness = [a["loudness_lufs"] for a in analyses if a["loudness_lufs"] is not None]
    peaks = [a["true_peak_dbtp"] for a in analyses if a["true_peak_dbtp"] is not None]
    by_language: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        if row["scores"]["lyrics_accuracy"] is not None:
            by_language[row["language"]].append(row["scores"]["lyrics_accuracy"])
    return {
        "takes": len(rows),
        "text_audio_mean": _mean([s["text_audio"] for s in scores if s["text_audio"] is not None]),
        "lyrics_accuracy_mean": _mean([v for values in by_language.values() for v in values]),
        "lyrics_accuracy_by_language": {lang: _mean(values) for lang, values in sorted(by_language.items())},
        "bpm_within_4pct": _mean([float(e <= BPM_WITHIN) for e in bpm_errors]),
        "bpm_error_mean": _mean(bpm_errors),
        "bpm_measured": len(bpm_errors),
        "key_exact": _mean([float(m == 1.0) for m in key_matches]),
        "key_mirex_mean": _mean(key_matches),
        "key_measured": len(key_matches),
        "loudness_lufs": {
            "mean": _mean(loudness),
            "stdev": round(statistics.pstdev(loudness), 2) if loudness else None,
            "min": min(loudness, default=None),
            "max": max(loudness, default=None),
        },
        "true_peak_dbtp_max": max(peaks, default=None),
        "measure_s_mean": _mean([row["measure_s"] for row in rows]),
    }


def table(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [
        f"profile {report['profile']}, {s['takes']} takes of {report['duration_s']} s",
        f"machine {report['machine']}",
        "",
        "| measure | value |",
        "|---|---|",
        f"| CLAP text-audio (mean cosine) | {s['text_audio_mean']} |",
        f"| lyrics accuracy, 1 - WER (mean, vocal takes) | {s['lyrics_accuracy_mean']} |",
    ]
    languages = s["lyrics_accuracy_by_language"].items()
    lines += [f"| lyrics accuracy, {lang} | {value} |" for lang, value in languages]
    loud = s["loudness_lufs"]
    lines += [
        f"| tempo within 4 % of the asked ({s['bpm_measured']} takes) | {s['bpm_within_4pct']} |",
        f"| tempo error (mean, relative) | {s['bpm_error_mean']} |",
        f"| key exactly as asked ({s['key_measured']} takes) | {s['key_exact']} |",
        f"| key MIREX score (mean) | {s['key_mirex_mean']} |",
        f"| loudness LUFS mean / stdev / min / max "
        f"| {loud['mean']} / {loud['stdev']} / {loud['min']} / {loud['max']} |",
        f"| highest true peak (dBTP) | {s['true_peak_dbtp_max']} |",
        f"| measure stage (mean s a song) | {s['measure_s_mean']} |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=["tiny", "gpu-random", "full"], default="tiny")
    parser.add_argument("--engine", choices=["acestep", "musicgen"], default="acestep")
    parser.add_argument("--limit", type=int, default=None, help="only the first N prompts")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--variants", type=int, default=1)
    parser.add_argument("--steps", type=int, default=None, help="diffusion steps (default: the checkpoint's)")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="print every take's measurements as JSON")
    args = parser.parse_args()

    prompts = json.loads(PROMPTS.read_text())["prompts"][: args.limit]
    models = load(args.profile, args.engine)
    rows = render(models, prompts, args)
    report = {
        "profile": args.profile,
        "duration_s": args.duration,
        "machine": machine(),
        "summary": summary(rows),
    }
    if args.json:
        print(json.dumps({**report, "takes": rows}, indent=2))
    else:
        print(table(report))


if __name__ == "__main__":
    main()
