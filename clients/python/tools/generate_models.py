"""Generate `song_client/models.py` from docs/openapi.json (`make openapi` runs it).

datamodel-code-generator writes pydantic v2 models from the document's components; the project's
pinned ruff then sorts the imports and formats them under the repository's settings, so the file
is byte-for-byte reproducible. `--check` exits 1 when the committed file differs (the unit tests
do the same comparison).

The document flattens the API's model hierarchy (each request schema lists all of its fields), so
the generator would write the fields that models share once per model. `share_fields` puts them
back in one place: fields that several models begin with, the same to the letter, move into a base
class (a model whose fields are all shared is the others' base itself, as `ApiKeyDetail` is
`ApiKeyCreated`'s). Pydantic puts a base's fields first, so every model keeps its field order.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

CLIENT_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = CLIENT_DIR.parents[1]
OPENAPI = REPO_ROOT / "docs" / "openapi.json"
# POST /songs takes one of several request models, chosen by `mode`: generated as `SongRequest`.
SONG_REQUEST = ("/songs", "post")
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


def _with_song_request(document: dict[str, Any]) -> dict[str, Any]:
    """The document with POST /songs's body schema also named, so that it is generated too."""
    path, method = SONG_REQUEST
    body = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    schemas = {**document["components"]["schemas"], "SongRequest": body}
    return {**document, "components": {**document["components"], "schemas": schemas}}


class _Model:
    """A generated `class X(BaseModel)`: its docstring and its members (config and fields) as text."""

    def __init__(self, node: ast.ClassDef, lines: list[str]) -> None:
        self.name, self.node = node.name, node
        body = node.body
        has_doc = isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
        self.doc = "".join(lines[body[0].lineno - 1 : body[0].end_lineno]) if has_doc else ""
        self.members = tuple("".join(lines[m.lineno - 1 : m.end_lineno]) for m in body[1 if has_doc else 0 :])


def _field_name(member: str) -> str:
    return member.strip().split(":")[0].split("=")[0].strip()


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def share_fields(source: str, min_shared: int = 3) -> str:
    """`source` with the runs of members that models begin with (at least `min_shared` members,
    the same to the letter) written once, in base classes."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    models = {
        node.name: _Model(node, lines)
        for node in tree.body
        if isinstance(node, ast.ClassDef) and [ast.unparse(b) for b in node.bases] == ["BaseModel"]
    }
    # Every run two models begin with is a node of the models' prefix tree where they part.
    shared: set[tuple[str, ...]] = set()
    for a in models.values():
        for b in models.values():
            if a.name < b.name:
                n = 0
                while n < min(len(a.members), len(b.members)) and a.members[n] == b.members[n]:
                    n += 1
                if n >= min_shared:
                    shared.add(a.members[:n])
    whole = {m.members: m.name for m in reversed(models.values())}  # the first model, if several

    def parent(members: tuple[str, ...]) -> tuple[str, ...] | None:
        candidates = [p for p in shared if len(p) < len(members) and members[: len(p)] == p]
        return max(candidates, key=len, default=None)

    names: dict[tuple[str, ...], str] = {}
    for prefix in sorted(shared, key=len):
        if prefix in whole:
            names[prefix] = whole[prefix]
            continue
        above = parent(prefix)
        # Named after its first and last field: `_TitleToWebhookUrl`.
        own = [
            _field_name(m) for m in prefix[len(above or ()) :] if not m.lstrip().startswith("model_config")
        ]
        first, last = _camel(own[0]), _camel(own[-1])
        names[prefix] = f"_{first}To{last}" if len(own) > 1 else f"_{first}Field"

    def class_text(name: str, members: tuple[str, ...], doc: str) -> str:
        above = parent(members)
        if name in models and members == models[name].members and above is None:
            return ""  # unchanged: keep the original text
        own = members[len(above or ()) :]
        base = names[above] if above is not None else "BaseModel"
        body = doc + ("\n" if doc and own else "") + "".join(own)
        return f"class {name}({base}):\n" + (body or "    pass\n") + "\n\n"

    out: list[str] = []
    written: set[str] = set()

    def write(name: str, members: tuple[str, ...]) -> None:
        # A base goes first: a model that is another's base moves up to the first one that needs it.
        if name in written:
            return
        above = parent(members)
        if above is not None:
            write(names[above], above)
        written.add(name)
        model = models.get(name)
        text = class_text(name, members, model.doc if model else "")
        out.append(text or "".join(lines[model.node.lineno - 1 : model.node.end_lineno]) + "\n\n")

    previous_end = 0
    for node in tree.body:
        out.append("".join(lines[previous_end : node.lineno - 1]))
        previous_end = node.end_lineno or node.lineno
        if isinstance(node, ast.ClassDef) and node.name in models:
            write(node.name, models[node.name].members)
        else:
            out.append("".join(lines[node.lineno - 1 : previous_end]))
    out.append("".join(lines[previous_end:]))
    return re.sub(r"\n{3,}(?=\S)", "\n\n\n", "".join(out))


def generate(openapi: Path = OPENAPI) -> str:
    """The models module's text for `openapi`."""
    with tempfile.TemporaryDirectory() as tmp:
        document = Path(tmp) / "openapi.json"
        document.write_text(json.dumps(_with_song_request(json.loads(openapi.read_text()))))
        raw = Path(tmp) / "models.py"
        command = [sys.executable, "-m", "datamodel_code_generator", f"--input={document}", f"--output={raw}"]
        subprocess.run(  # noqa: S603 - the venv's own generator, fixed arguments
            [*command, *CODEGEN_ARGS],
            check=True,
            capture_output=True,
            text=True,
        )
        source = raw.read_text()
    source = _ruff("check", "--fix-only", "--exit-zero", "--select=I,F401,UP", source=source)
    return _ruff("format", source=share_fields(source))


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
