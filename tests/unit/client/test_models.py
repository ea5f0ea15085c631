"""The client's models are generated from docs/openapi.json and must not go stale."""

from __future__ import annotations

import importlib.util
import json
import typing
from pathlib import Path
from types import ModuleType

import pytest
from song_client import SongRequest

ROOT = Path(__file__).resolve().parents[3]
TOOL = ROOT / "clients" / "python" / "tools" / "generate_models.py"


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_models", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_models_match_openapi_json(generator: ModuleType) -> None:
    assert generator.MODELS.read_text() == generator.generate(), (
        "clients/python/src/song_client/models.py is stale against docs/openapi.json: run `make openapi`"
    )


def test_a_changed_document_changes_the_models(generator: ModuleType, tmp_path: Path) -> None:
    """The check above can fail: a new response field shows up in the generated code."""
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    document["components"]["schemas"]["MeResponse"]["properties"]["plan"] = {
        "type": "string",
        "title": "Plan",
    }
    changed = tmp_path / "openapi.json"
    changed.write_text(json.dumps(document))
    regenerated = generator.generate(changed)
    assert regenerated != generator.MODELS.read_text()
    assert "plan: Annotated[str | None" in regenerated


def test_song_request_covers_every_mode_of_post_songs() -> None:
    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    body = document["paths"]["/songs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    documented = {ref.rsplit("/", 1)[-1] for ref in body["discriminator"]["mapping"].values()}
    union, _field = typing.get_args(SongRequest)
    assert {model.__name__ for model in typing.get_args(union)} == documented


def test_shared_fields_move_into_bases_and_every_model_keeps_its_fields_in_order() -> None:
    """share_fields writes the fields models share once, in a base class; each model still has
    exactly the document's properties, in the document's order, with their own constraints."""
    from song_client import models

    document = json.loads((ROOT / "docs" / "openapi.json").read_text())
    for name, schema in document["components"]["schemas"].items():
        model = getattr(models, name, None)
        if isinstance(model, type) and issubclass(model, models.BaseModel):
            assert list(model.model_fields) == list(schema.get("properties", {})), name
    assert (
        models.CoverRequest.__mro__[1].__name__ == "_PersonaIdToMastering"
    )  # persona_id .. mastering, shared with the text modes
    assert issubclass(models.ApiKeyCreated, models.ApiKeyDetail)
    with pytest.raises(ValueError, match="extra"):
        models.TranscribeRequest.model_validate(
            {"mode": "transcribe", "source": {"upload_id": "x"}, "nope": 1}
        )


def test_share_fields_makes_a_base_of_a_shared_run_of_fields(generator: ModuleType) -> None:
    source = (
        "class A(BaseModel):\n    x: int\n    y: int\n    z: int\n    a: int\n\n\n"
        "class B(BaseModel):\n    x: int\n    y: int\n    z: int\n    b: str\n\n\n"
        "class C(BaseModel):\n    x: int\n    y: str\n"
    )
    shared = generator.share_fields(source)
    assert "class _XToZ(BaseModel):\n    x: int\n    y: int\n    z: int\n" in shared
    assert "class A(_XToZ):\n    a: int\n" in shared and "class B(_XToZ):\n    b: str\n" in shared
    assert "class C(BaseModel):\n    x: int\n    y: str\n" in shared  # two shared fields: too few
