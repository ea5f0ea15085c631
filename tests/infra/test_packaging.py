"""What gets shipped: the Lambda asset, the layers, and the staged model data the endpoint reads."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib.metadata import distributions
from pathlib import Path

import pytest
from aws_cdk.assertions import Template
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from stacks.api import AUTH_LAYER_DIR
from stacks.functions import REPO_ROOT
from stacks.uploads import AUDIO_LAYER_DIR
from stacks.webhooks import SIGNING_LAYER_DIR

# The service's own layers (by a fragment of their logical ids) and what `make install` builds.
LAYER_DIRS = {"AudioLayer": AUDIO_LAYER_DIR, "SigningLayer": SIGNING_LAYER_DIR, "AuthLayer": AUTH_LAYER_DIR}
# PEP 508 markers as the Lambda runtime (python3.12, x86_64) evaluates them.
LAMBDA_MARKERS = {
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "platform_python_implementation": "CPython",
    "implementation_name": "cpython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
}


def _lambda_asset_dirs(cloud_assembly: Path, template_json: dict) -> set[str]:
    hashes = {
        r["Properties"]["Code"]["S3Key"].removesuffix(".zip")
        for r in template_json["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler", "").startswith("lambdas.")
    }
    return {f"asset.{h}" for h in hashes}


def test_every_function_ships_only_the_lambdas_package(cloud_assembly: Path, template_json: dict) -> None:
    # One asset for every service function (CDK's own custom-resource provider ships its own).
    (asset,) = _lambda_asset_dirs(cloud_assembly, template_json)
    shipped = [p.relative_to(cloud_assembly / asset) for p in (cloud_assembly / asset).rglob("*")]
    assert {p.parts[0] for p in shipped} == {"lambdas"}
    assert not [p for p in shipped if "__pycache__" in p.parts]
    assert Path("lambdas/api/handler.py") in shipped


def _layer_modules(layer_dir: Path) -> set[str]:
    """The top-level names a layer puts on the path (python/ of the layer, as Lambda mounts it)."""
    site = layer_dir / "python"
    assert site.is_dir(), f"{layer_dir} is not built: run `make install`"
    return {p.name.split(".")[0] for p in site.iterdir() if not p.name.endswith(".dist-info")}


def _layer_ids(template_json: dict) -> dict[str, str]:
    """Logical id -> LAYER_DIRS key of each of the service's layers in the template."""
    found = {
        k: fragment
        for k, v in template_json["Resources"].items()
        if v["Type"] == "AWS::Lambda::LayerVersion"
        for fragment in LAYER_DIRS
        if fragment in k
    }
    assert sorted(found.values()) == sorted(LAYER_DIRS), found
    return found


def test_each_function_imports_with_only_its_own_layers(template_json: dict) -> None:
    """A handler (and all it imports) must not need a module that only another function's layer
    carries: on AWS it would fail at its first cold start. Each function's handler is imported with
    the other layers' modules made unimportable."""
    layers = _layer_ids(template_json)
    modules = {fragment: _layer_modules(directory) for fragment, directory in LAYER_DIRS.items()}
    everything = set().union(*modules.values())
    handlers_by_blocked: dict[frozenset[str], list[str]] = {}
    for resource in template_json["Resources"].values():
        props = resource["Properties"]
        # An image function (the transcriber) has no Handler: its image carries its own code.
        if resource["Type"] != "AWS::Lambda::Function" or not props.get("Handler", "").startswith("lambdas."):
            continue
        own = {layers[ref["Ref"]] for ref in props.get("Layers", []) if ref.get("Ref") in layers}
        blocked = frozenset(everything - set().union(*(modules[f] for f in own)))
        handlers_by_blocked.setdefault(blocked, []).append(props["Handler"].rsplit(".", 1)[0])
    assert len(handlers_by_blocked) >= 2  # the sender and the upload check differ from the rest
    for blocked, handlers in handlers_by_blocked.items():
        code = (
            "import importlib, sys\n"
            f"sys.modules.update(dict.fromkeys({sorted(blocked)!r}))\n"
            f"for name in {sorted(handlers)!r}:\n"
            "    importlib.import_module(name)\n"
        )
        run = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
        assert run.returncode == 0, f"{handlers} without {sorted(blocked)}:\n{run.stderr[-2000:]}"


def test_the_signing_layer_alone_serves_the_signer() -> None:
    """The layer carries the library and everything it imports: the signer runs on the standard
    library plus the layer (-S: no site-packages), and gives the spec's reference signature."""
    layer = SIGNING_LAYER_DIR / "python"
    code = (
        "import sys\n"
        f"sys.path[:0] = [{str(layer)!r}, {str(REPO_ROOT)!r}]\n"
        "import standardwebhooks\n"
        "from lambdas.webhooks import signing\n"
        "print(standardwebhooks.__file__)\n"
        "print(signing.signature('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek',"
        " 1614265330, b'{\"test\": 2432232314}'))\n"
    )
    # -I ignores PYTHONDONTWRITEBYTECODE: -B keeps this run's bytecode out of the layer's folder.
    run = subprocess.run([sys.executable, "-I", "-S", "-B", "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    library, signature = run.stdout.split()
    assert Path(library).is_relative_to(layer)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _layer_asset_key(name: str) -> str:
    from aws_cdk import App, Stack

    from stacks.functions import python_layer

    stack = Stack(App(), "LayerHash")
    python_layer(stack, "Layer", name, "bytecode check")
    (layer,) = Template.from_stack(stack).find_resources("AWS::Lambda::LayerVersion").values()
    return layer["Properties"]["Content"]["S3Key"]  # the asset's hash


@pytest.mark.parametrize("layer_dir", LAYER_DIRS.values(), ids=LAYER_DIRS.keys())
def test_a_layers_hash_ignores_python_bytecode(layer_dir: Path) -> None:
    """Importing a layer's packages outside `make` (or with -I) leaves bytecode in its folder: it
    must not ship nor change the asset's hash (CI's CLI synth runs before the tests)."""
    before = _layer_asset_key(layer_dir.name)
    package = next(p for p in (layer_dir / "python").iterdir() if p.is_dir() and not p.name.endswith("-info"))
    cache = package / "__pycache__"
    made = not cache.exists()
    stray = cache / "stray_test_only.cpython-312.pyc"
    cache.mkdir(exist_ok=True)
    stray.write_bytes(b"bytecode")
    try:
        assert _layer_asset_key(layer_dir.name) == before
    finally:
        stray.unlink()
        if made:
            cache.rmdir()


def test_the_signing_layer_pins_what_the_tests_run() -> None:
    """The layer's wheels and pyproject's runtime group name the same versions."""
    requirements = (REPO_ROOT / "layers" / "webhooks" / "requirements.txt").read_text().splitlines()
    pins = {line.strip() for line in requirements if line.strip() and not line.startswith("#")}
    runtime = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["dependency-groups"]["runtime"]
    assert pins and pins <= set(runtime)


def _pins(requirements_file: Path) -> dict[str, str]:
    lines = [line.strip() for line in requirements_file.read_text().splitlines()]
    reqs = [Requirement(line) for line in lines if line and not line.startswith("#")]
    return {canonicalize_name(r.name): str(r.specifier) for r in reqs}


def test_the_auth_layer_carries_everything_pyjwt_crypto_needs_on_lambda() -> None:
    """Every distribution PyJWT[crypto] requires on python3.12/x86_64 is in the layer, in a version
    the requirement allows; the compiled parts are built for that runtime. (This machine's Python
    cannot load them, so the walk follows the wheels' metadata.)"""
    site = AUTH_LAYER_DIR / "python"
    found = {canonicalize_name(d.metadata["Name"]): d for d in distributions(path=[str(site)])}
    pending, seen = [Requirement("pyjwt[crypto]")], set()
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        assert name in found, f"{requirement} is not in the auth layer"
        assert found[name].version in requirement.specifier, (requirement, found[name].version)
        for extra in requirement.extras or {""}:
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            for text in found[name].requires or []:
                needed = Requirement(text)
                if needed.marker is None or needed.marker.evaluate({**LAMBDA_MARKERS, "extra": extra}):
                    pending.append(needed)
    assert {"pyjwt", "cryptography", "cffi", "pycparser"} <= set(found)
    assert (site / "_cffi_backend.cpython-312-x86_64-linux-gnu.so").is_file()
    assert (site / "cryptography" / "hazmat" / "bindings" / "_rust.abi3.so").is_file()


def test_the_auth_layer_pins_what_the_tests_run() -> None:
    """The authorizer runs on AWS what it is tested with here: the same PyJWT and cryptography."""
    layer = _pins(REPO_ROOT / "layers" / "auth" / "requirements.txt")
    runtime = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["dependency-groups"]["runtime"]
    tested = {canonicalize_name(r.name): str(r.specifier) for r in map(Requirement, runtime)}
    assert layer["pyjwt"] == tested["pyjwt"] and layer["cryptography"] == tested["cryptography"]


def test_staged_model_data_is_an_s3_prefix_readable_by_the_endpoint_only(staged_template: dict) -> None:
    template = staged_template
    (model,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"]
    assert model["Properties"]["PrimaryContainer"]["ModelDataSource"] == {
        "S3DataSource": {
            "S3Uri": "s3://model-bucket/song-model/v1/",
            "S3DataType": "S3Prefix",
            "CompressionType": "None",
        }
    }
    statements = [
        s
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if "model-bucket" in json.dumps(s)
    ]
    actions = sorted(
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    )
    assert actions == ["s3:GetObject", "s3:ListBucket"]
    assert all("song-model/v1/" in json.dumps(s) for s in statements)
