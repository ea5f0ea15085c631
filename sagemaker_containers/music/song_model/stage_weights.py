"""Ops command: stage the real weights from the Hugging Face Hub into S3 as the endpoint's model data.

    python -m song_model.stage_weights --bucket my-models --prefix song-model/v1/

Each model goes under `{prefix}{part}/` in the layout the server reads from /opt/ml/model
(llm/, acestep/, acestep_base/, musicgen/, image/ and, for the SDXL-Lightning cover model,
image_unet/; clap/ and whisper/ for the scoring models), pinned to the commit the hub served, and
`{prefix}staging.json` records what was staged. acestep/ is the diffusers-format ACE-Step 1.5
checkpoint (MIT licence): ACE-Step/acestep-v15-xl-turbo-diffusers by default,
`--acestep ACE-Step/acestep-v15-xl-base-diffusers` for the base model. Point the SageMaker model
at the prefix as *uncompressed* model data
(ModelDataSource.S3DataSource: S3DataType=S3Prefix, CompressionType=None): ~34-45 GB of weights
(README "Model data") download in parallel at start-up instead of being untarred. Re-running
skips files already in S3 with the same size, so an interrupted run resumes. Needs network access
to the hub and S3 write access; run it from an ops machine or a CodeBuild job, not the endpoint.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .settings import (
    ACESTEP_BASE,
    COVER_MODELS,
    DEFAULT_ACESTEP,
    DEFAULT_CLAP,
    DEFAULT_COVER,
    DEFAULT_LLM,
    DEFAULT_MUSICGEN,
    DEFAULT_WHISPER,
)

log = logging.getLogger("song_model.stage_weights")


@dataclass(frozen=True)
class Part:
    name: str  # a key of PATTERNS, and the part's folder under MODEL_DIR
    repo_id: str
    allow: tuple[str, ...]


# The files each repo needs at inference (allow patterns): safetensors weights and configs, no
# duplicate formats.
PATTERNS: dict[str, tuple[str, ...]] = {
    "llm": ("*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken"),
    # A diffusers pipeline folder: model_index.json plus one folder per part (transformer,
    # condition_encoder, vae, text_encoder, tokenizer, scheduler, audio_tokenizer,
    # audio_token_detokenizer); AceStepPipeline.from_pretrained reads exactly this.
    "acestep": ("model_index.json", "*/*.json", "*/*.safetensors", "tokenizer/*"),
    # The base checkpoint for stems, minus what it shares with turbo (vae, text_encoder,
    # tokenizer: the server passes turbo's to from_pretrained): the DiT and the condition encoder.
    "acestep_base": (
        "model_index.json",
        *(
            f"{folder}/*.{ext}"
            for folder in (
                "transformer",
                "condition_encoder",
                "scheduler",
                "audio_tokenizer",
                "audio_token_detokenizer",
            )
            for ext in ("json", "safetensors")
        ),
    ),
    "musicgen": ("*.json", "*.safetensors", "*.model", "*.txt"),
    # sdxl-turbo: the diffusers folders in fp16 only (the server loads variant="fp16"), not the
    # single-file checkpoints at the root or the fp32 copies (halves the download).
    "image": (
        "model_index.json",
        "*/config.json",
        "scheduler/*",
        "tokenizer/*",
        "tokenizer_2/*",
        "*/*.fp16.safetensors",
    ),
    # The scoring models (song_model/scoring.py), each a transformers folder: config, weights and
    # processor files. laion/larger_clap_music publishes only pytorch_model.bin (transformers loads
    # it with torch.load(weights_only=True)); safetensors is taken wherever a repo has it.
    "clap": ("*.json", "*.txt", "*.safetensors", "pytorch_model.bin"),
    "whisper": ("*.json", "*.txt", "*.safetensors"),
}
# SDXL base 1.0 under SDXL-Lightning: the same fp16 folders without the UNet's weights (Lightning's
# file replaces them; unet/config.json stays, the server builds the architecture from it).
IMAGE_WITHOUT_UNET = (
    "model_index.json",
    "*/config.json",
    "scheduler/*",
    "tokenizer/*",
    "tokenizer_2/*",
    "text_encoder/*.fp16.safetensors",
    "text_encoder_2/*.fp16.safetensors",
    "vae/*.fp16.safetensors",
)

Downloader = Callable[[Part, Path], str]


def plan(
    llm: str,
    image: str,
    engines: Iterable[str],
    acestep: str,
    musicgen: str,
    acestep_base: str | None = None,
    image_unet: tuple[str, str] | None = None,
    clap: str | None = None,
    whisper: str | None = None,
) -> list[Part]:
    """The parts to stage; `acestep_base` (stems) is staged beside acestep when given;
    `image_unet` (repo, file) replaces the image pipeline's UNet weights (SDXL-Lightning);
    `clap` and `whisper` (the scoring models) come last when given."""
    repos = {
        "llm": llm,
        "image": image,
        "acestep": acestep,
        "musicgen": musicgen,
        "acestep_base": acestep_base,
    }
    engines = list(engines)
    if acestep_base and "acestep" in engines:
        engines.insert(engines.index("acestep") + 1, "acestep_base")
    names = ["llm", *engines, "image"]
    parts = [Part(name, repos[name], PATTERNS[name]) for name in names]
    if image_unet:
        repo, file = image_unet
        parts[-1] = Part("image", image, IMAGE_WITHOUT_UNET)
        parts.append(Part("image_unet", repo, (file,)))
    parts += [
        Part(name, repo, PATTERNS[name]) for name, repo in (("clap", clap), ("whisper", whisper)) if repo
    ]
    return parts


def hub_download(part: Part, target: Path) -> str:
    """Download one repo at its current commit into `target`; returns the commit sha."""
    from huggingface_hub import HfApi, snapshot_download

    sha = HfApi().model_info(part.repo_id).sha
    snapshot_download(
        part.repo_id,
        revision=sha,
        local_dir=target,
        allow_patterns=list(part.allow),
    )
    return str(sha)


def _files(folder: Path) -> list[Path]:
    # huggingface_hub keeps its bookkeeping in .cache/ inside local_dir; that is not model data.
    return sorted(p for p in folder.rglob("*") if p.is_file() and ".cache" not in p.relative_to(folder).parts)


def _remote_size(s3: Any, bucket: str, key: str) -> int | None:
    from botocore.exceptions import ClientError

    try:
        return int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def upload_folder(s3: Any, folder: Path, bucket: str, prefix: str, dry_run: bool) -> dict[str, int]:
    """Upload every file; returns counts of uploaded and skipped files and total bytes."""
    counts = {"files": 0, "uploaded": 0, "skipped": 0, "bytes": 0}
    for path in _files(folder):
        key = prefix + path.relative_to(folder).as_posix()
        size = path.stat().st_size
        counts["files"] += 1
        counts["bytes"] += size
        if _remote_size(s3, bucket, key) == size:
            counts["skipped"] += 1
            continue
        log.info("%s s3://%s/%s (%.1f MB)", "would upload" if dry_run else "upload", bucket, key, size / 1e6)
        if not dry_run:
            # upload_file switches to parallel multipart for large files (safetensors shards).
            s3.upload_file(str(path), bucket, key)
        counts["uploaded"] += 1
    return counts


def stage(
    parts: list[Part],
    bucket: str,
    prefix: str,
    s3: Any,
    work_dir: Path,
    download: Downloader = hub_download,
    dry_run: bool = False,
) -> dict[str, Any]:
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    record: dict[str, Any] = {"bucket": bucket, "prefix": prefix, "parts": {}}
    for part in parts:
        local = work_dir / part.name
        log.info("downloading %s -> %s", part.repo_id, local)
        revision = download(part, local)
        counts = upload_folder(s3, local, bucket, f"{prefix}{part.name}/", dry_run)
        record["parts"][part.name] = {"repo_id": part.repo_id, "revision": revision, **counts}
    if not dry_run:
        body = json.dumps(record, indent=2).encode()
        s3.put_object(Bucket=bucket, Key=f"{prefix}staging.json", Body=body, ContentType="application/json")
    return record


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", required=True, help="S3 key prefix, e.g. song-model/v1/")
    parser.add_argument(
        "--engine",
        choices=["acestep", "musicgen", "both"],
        default="acestep",
        help="which music engine's weights to stage (default acestep)",
    )
    parser.add_argument("--llm", default=DEFAULT_LLM)
    parser.add_argument("--acestep", default=DEFAULT_ACESTEP)
    parser.add_argument("--musicgen", default=DEFAULT_MUSICGEN)
    parser.add_argument(
        "--acestep-base",
        default=ACESTEP_BASE,
        help="the base checkpoint for stems, staged as acestep_base/ ('' to skip: stems_enabled false)",
    )
    parser.add_argument(
        "--cover-model",
        choices=sorted(COVER_MODELS),
        default=DEFAULT_COVER,
        help=f"the cover model the endpoint runs (cdk.json cover_model; default {DEFAULT_COVER})",
    )
    parser.add_argument("--image", help="the cover pipeline's hub id (default: the cover model's)")
    parser.add_argument("--image-unet", help="SDXL-Lightning's UNet repo (default: the cover model's)")
    parser.add_argument(
        "--clap",
        default=DEFAULT_CLAP,
        help="the CLAP checkpoint for text-audio scores ('' to skip: scoring off)",
    )
    parser.add_argument(
        "--whisper", default=DEFAULT_WHISPER, help="the Whisper checkpoint for lyrics scores ('' to skip)"
    )
    parser.add_argument("--work-dir", type=Path, help="local download folder (default: a temp dir)")
    parser.add_argument("--dry-run", action="store_true", help="download and list, upload nothing")
    return parser.parse_args(argv)


def main(
    argv: list[str] | None = None, s3: Any = None, download: Downloader = hub_download
) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = parse_args(argv)
    engines = ["acestep", "musicgen"] if args.engine == "both" else [args.engine]
    recipe = COVER_MODELS[args.cover_model]
    unet = (args.image_unet or recipe.unet_repo, recipe.unet_file) if recipe.unet_file else None
    parts = plan(
        args.llm,
        args.image or recipe.pipeline_id,
        engines,
        args.acestep,
        args.musicgen,
        args.acestep_base or None,
        image_unet=unet,
        clap=args.clap or None,
        whisper=args.whisper or None,
    )
    if s3 is None:
        import boto3

        s3 = boto3.client("s3")
    with tempfile.TemporaryDirectory(prefix="stage-weights-") as tmp:
        work_dir = args.work_dir or Path(tmp)
        record = stage(parts, args.bucket, args.prefix, s3, work_dir, download, args.dry_run)
    json.dump(record, sys.stdout, indent=2)
    print()
    uri = f"s3://{args.bucket}/{record['prefix']}"
    # Uncompressed weights under a prefix (not a model.tar.gz): the value cdk.json's
    # `model_data_s3_uri` takes (stacks/config.py validates it).
    print(f"Model data: {uri} (S3DataType=S3Prefix, CompressionType=None)", file=sys.stderr)
    print(f"Deploy with: npx cdk deploy -c model_data_s3_uri={uri}", file=sys.stderr)
    return record


if __name__ == "__main__":
    main()
