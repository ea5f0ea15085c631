"""Generate `song_client/models.py` from docs/openapi.json (`make openapi` runs it).

datamodel-code-generator writes pydantic v2 models from the document's components; the project's
pinned ruff then sorts the imports and formats them under the repository's settings, so the file
is byte-for-byte reproducible. `--check` exits 1 when the committed file differs (the unit tests
do the same comparison).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

CLIENT_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = CLIENT_DIR.parents[1]
OPENAPI = REPO_ROOT / "docs" / "openapi.json"
MODELS = CLIENT_DIR / "src" / "song_client" / "models.py"

HEADER = (
    "# Generated from docs/openapi.json by datamodel-code-generator: do not edit.\n"
    "# `make openapi` regenerates it (clients/python/tools/generate_models.py)."
)
# Constrained optional fields become type aliases (`seed: Seed | None` takes a plain int) rather
# than RootModel wrappers; enums stay enums; request models keep `extra="forbid"` from the
# document's `additionalProperties: false`.
CODEGEN_ARGS = [
    "--input-file-type=openapi",
    "--output-model-type=pydantic_v2.BaseModel",
    "--target-python-version=3.11",
    "--use-annotated",
    "--field-constraints",
    "--use-standard-collections",
    "--use-union-operator",
    "--use-double-quotes",
    "--use-schema-description",
    "--use-type-alias",
    "--disable-timestamp",
    "--no-formatters",
    f"--custom-file-header={HEADER}",
]


def _ruff(*args: str, source: str) -> str:
    # --stdin-filename: ruff applies the repository's settings as for the real file.
    result = subprocess.run(  # noqa: S603 - the venv's own ruff, fixed arguments
        [sys.executable, "-m", "ruff", *args, "--stdin-filename", str(MODELS), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    return result.stdout


def generate(openapi: Path = OPENAPI) -> str:
    """The models module's text for `openapi`."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "models.py"
        command = [sys.executable, "-m", "datamodel_code_generator", f"--input={openapi}", f"--output={raw}"]
        subprocess.run(  # noqa: S603 - the venv's own generator, fixed arguments
            [*command, *CODEGEN_ARGS],
            check=True,
            capture_output=True,
            text=True,
        )
        source = raw.read_text()
    source = _ruff("check", "--fix-only", "--exit-zero", "--select=I,F401,UP", source=source)
    return _ruff("format", source=source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed models are stale")
    args = parser.parse_args(argv)
    fresh = generate()
    if args.check:
        if MODELS.read_text() != fresh:
            print(f"{MODELS.relative_to(REPO_ROOT)} is stale: run `make openapi`", file=sys.stderr)
            return 1
        return 0
    MODELS.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
