"""numba's compiled kernels for a read-only image.

librosa (basic-pitch's audio loader) compiles numba kernels the first time they run: about 15 s
of CPU. numba caches them only in a directory it can write to, and the only writable directory of a
Lambda function is /tmp, empty at every cold start. So the image compiles them once, at build time,
into IMAGE_CACHE_ENV's directory (Dockerfile: `python -m transcriber.warm_up`), and each cold start
copies that directory to /tmp and points numba at the copy, before numba is first imported.
Source stamps are content hashes of librosa's files, which the copy does not change.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

IMAGE_CACHE_ENV = "NUMBA_IMAGE_CACHE"


def use_image_cache() -> Path | None:
    """Copy the image's cache to a writable directory and set NUMBA_CACHE_DIR to it (once)."""
    image_cache = os.environ.get(IMAGE_CACHE_ENV)
    if not image_cache or not Path(image_cache).is_dir():
        return None  # tests and local runs: numba's own cache (beside the installed modules)
    target = Path(tempfile.gettempdir()) / "numba-cache"
    if not target.is_dir():
        shutil.copytree(image_cache, target)
    os.environ["NUMBA_CACHE_DIR"] = str(target)
    return target
