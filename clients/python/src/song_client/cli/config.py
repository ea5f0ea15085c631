"""Where the command line finds the API URL and the credential.

In order: `--api-url` / `--api-key`, then $SONG_API_URL / $SONG_API_KEY, then the config file
(`songs configure` writes it): $SONG_CONFIG, else `config.toml` in the user's config directory
(~/.config/songs/ on Linux, honouring $XDG_CONFIG_HOME).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w
import typer

CONFIG_ENV = "SONG_CONFIG"
APP_NAME = "songs"


def default_config_path() -> Path:
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override)
    return Path(typer.get_app_dir(APP_NAME)) / "config.toml"


@dataclass(frozen=True)
class Settings:
    api_url: str | None
    api_key: str | None
    config_path: Path


class ConfigFileError(Exception):
    """The config file exists but cannot be read as TOML with string settings."""


def read_config(path: Path) -> dict[str, str]:
    """The file's `api_url` / `api_key` (missing file: nothing)."""
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigFileError(f"{path}: {exc}") from exc
    settings = {key: data[key] for key in ("api_url", "api_key") if key in data}
    for key, value in settings.items():
        if not isinstance(value, str):
            raise ConfigFileError(f"{path}: {key} must be a string")
    return settings


def resolve(api_url: str | None, api_key: str | None, config_path: Path | None) -> Settings:
    """Flags and environment (already merged by the option parser) win over the file."""
    path = config_path or default_config_path()
    if api_url and api_key:
        return Settings(api_url, api_key, path)
    stored = read_config(path)
    return Settings(api_url or stored.get("api_url"), api_key or stored.get("api_key"), path)


def write_config(path: Path, api_url: str, api_key: str) -> None:
    """Write the file readable by its owner only: it holds a credential."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = tomli_w.dumps({"api_url": api_url, "api_key": api_key})
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    path.chmod(0o600)  # an existing file keeps its old mode through O_CREAT
