"""The image's numba cache (transcriber/numba_cache.py, Dockerfile): kernels compiled at build time
are what a cold start uses, from a writable copy in /tmp, with nothing left to compile.

Two fresh interpreters, as `docker build` and a Lambda cold start run them, on a small cached
kernel of the test's own: compiling librosa's kernels takes about 15 s of CPU (the cost the image
saves on every cold start; docs/benchmarks.md), the mechanism is the same for any cached kernel.
The Dockerfile's build-time warm-up compiles librosa's.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

from .conftest import IMAGE_DIR

KERNEL = """
import numba

@numba.njit(cache=True)
def peak(values):
    best = values[0]
    for value in values:
        best = max(best, value)
    return best
"""

BUILD = "import numpy as np, kernel; print(kernel.peak(np.arange(5.0)))"
COLD_START = """
import json
from transcriber import numba_cache
numba_cache.use_image_cache()  # what transcriber.handler does first
import numpy as np, numba, kernel
print(json.dumps({"cache": numba.config.CACHE_DIR, "peak": kernel.peak(np.arange(7.0))}))
"""


def _files(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in folder.rglob("*")
        if path.is_file()
    }


def _index_keys(cache: Path) -> list[tuple]:
    """The keys of numba's cache indexes: (signature, (triple, CPU name, features), hashes)."""
    import numba  # noqa: F401  (the pickled signatures are numba types)

    keys = []
    for index in cache.rglob("*.nbi"):
        with index.open("rb") as file:
            pickle.load(file)  # numba's version
            _stamp, overloads = pickle.loads(file.read())
        keys.extend(overloads)
    return keys


def _python(code: str, env: dict[str, str], kernel_dir: Path) -> str:
    base = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": f"{IMAGE_DIR}{os.pathsep}{kernel_dir}",
        "NUMBA_CPU_NAME": "generic",  # as the Dockerfile sets it, at build and at run time
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_a_cold_start_uses_the_kernels_compiled_at_build_time(tmp_path: Path) -> None:
    kernel_dir, image_cache, lambda_tmp = tmp_path / "src", tmp_path / "opt-numba-cache", tmp_path / "tmp"
    kernel_dir.mkdir()
    lambda_tmp.mkdir()
    (kernel_dir / "kernel.py").write_text(KERNEL)

    assert _python(BUILD, {"NUMBA_CACHE_DIR": str(image_cache)}, kernel_dir).strip() == "4.0"
    built = _files(image_cache)
    assert any(name.endswith(".nbc") for name in built), "the build compiled nothing into the cache"
    # Compiled for a generic x86-64 CPU: numba keys cached code by the CPU it targets, and the
    # function's hosts are not the build machine.
    assert {key[1][1] for key in _index_keys(image_cache)} == {"generic"}

    env = {"NUMBA_IMAGE_CACHE": str(image_cache), "TMPDIR": str(lambda_tmp)}
    cold = json.loads(_python(COLD_START, env, kernel_dir))
    copy = lambda_tmp / "numba-cache"
    assert cold == {"cache": str(copy), "peak": 6.0}
    # The kernel came from the copy: numba compiled nothing new into it (a miss would add an overload).
    assert _files(copy) == built


def test_without_an_image_cache_numba_keeps_its_own(monkeypatch) -> None:
    from transcriber import numba_cache

    monkeypatch.delenv(numba_cache.IMAGE_CACHE_ENV, raising=False)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    assert numba_cache.use_image_cache() is None
    assert "NUMBA_CACHE_DIR" not in os.environ
