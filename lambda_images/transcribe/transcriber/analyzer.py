"""Lambda entry point of the upload analyzer (`transcriber.analyzer.lambda_handler`): one uploaded
track in S3 -> its length, loudness, true peak, tempo and key.

The same image as the transcriber (librosa, numba, scipy, soxr are already there), another CMD. The
measuring is the GPU container's own module, `song_model.analysis` (copied into the image by its
Dockerfile from sagemaker_containers/music/song_model/): a take and an upload are measured by one
implementation, so an upload's tempo and key mean what a take's do.

The upload check (lambdas/upload_check) invokes it synchronously once it has accepted a file:

Event:  {"key": "uploads/{user_id}/{upload_id}"}   (always in UPLOADS_BUCKET_NAME)
Result: {"key": ..., "analysis": {"duration_s", "loudness_lufs", "true_peak_dbtp", "bpm", "key",
         "key_confidence"}, "seconds": 4.2}

Errors are the classes of errors.py (the caller records no analysis whatever the error).
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from . import numba_cache

numba_cache.use_image_cache()  # before anything imports numba (librosa)

from song_model import analysis as measuring  # noqa: E402

from .audio import decode  # noqa: E402
from .errors import InvalidRequest  # noqa: E402
from .objects import download  # noqa: E402
from .schemas import parse_event  # noqa: E402
from .settings import AnalyzerSettings, ColdStart  # noqa: E402

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)

# The uploads bucket's key layout (lambdas/common/contract.UPLOADS_PREFIX): the only keys read.
UPLOADS_PREFIX = "uploads/"
# Uploads are measured at the rate takes are (the model container's 48 kHz), whatever their own:
# a 192 kHz upload would hold four times the memory for nothing a meter of music needs.
ANALYSIS_RATE = 48_000
# An upload is at most upload_max_mb (50 MB by default); this bounds /tmp whatever the setting.
MAX_INPUT_BYTES = 256 * 1024 * 1024

cold_start = ColdStart(AnalyzerSettings)


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str = Field(min_length=len(UPLOADS_PREFIX) + 1, max_length=1024)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.perf_counter()
    request = parse_event(AnalyzeRequest, event, "an analysis request")
    if not request.key.startswith(UPLOADS_PREFIX) or ".." in request.key:
        raise InvalidRequest(f"only uploads ({UPLOADS_PREFIX}...) are analyzed, not {request.key}")
    settings = cold_start.settings()
    with tempfile.TemporaryDirectory() as folder:
        path = download(
            settings.uploads_bucket_name,
            request.key,
            Path(folder),
            max_bytes=MAX_INPUT_BYTES,
            purpose="analyzed",
        )
        samples = decode(path, ANALYSIS_RATE, mono=False, max_duration_s=settings.max_duration_s)
    measured = measuring.analyze(samples, ANALYSIS_RATE)
    seconds = round(time.perf_counter() - started, 3)
    log.info("%s analyzed in %.1f s: %s", request.key, seconds, measured)
    return {"key": request.key, "analysis": dataclasses.asdict(measured), "seconds": seconds}
