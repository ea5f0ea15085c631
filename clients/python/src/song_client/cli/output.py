"""Exit codes, results (human or `--json`) and errors in the API's words."""

from __future__ import annotations

import json
import sys
from enum import IntEnum
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape

from ..errors import (
    ApiConnectionError,
    ApiError,
    AuthenticationError,
    ConfigurationError,
    DownloadError,
    InsufficientCreditsError,
    SongNotReadyError,
    UploadError,
    UploadRejectedError,
    WaitTimeoutError,
)
from .config import ConfigFileError


class ExitCode(IntEnum):
    """What `songs` exits with; scripts can rely on these."""

    OK = 0
    API_ERROR = 1  # the API refused the request or failed (after retries), or is unreachable
    USAGE = 2  # bad arguments, no API URL, an unreadable file or config
    SONG_FAILED = 3  # the song ended failed or canceled, or the upload was rejected
    AUTH = 4  # no credential, or the API did not accept it (401/403)
    NO_CREDITS = 5  # 402: the available credits do not cover the price
    TIMEOUT = 6  # --timeout passed before the song finished (it keeps rendering)
    INTERRUPTED = 130  # Ctrl-C (songs already submitted keep rendering)


class CliError(Exception):
    """An error the command line reports itself (not the API's)."""

    def __init__(self, message: str, exit_code: ExitCode, code: str = "UsageError") -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.code = code


def exit_code_for(exc: BaseException) -> ExitCode:
    if isinstance(exc, CliError):
        return exc.exit_code
    if isinstance(exc, AuthenticationError):
        return ExitCode.AUTH
    if isinstance(exc, InsufficientCreditsError):
        return ExitCode.NO_CREDITS
    if isinstance(exc, UploadRejectedError):
        return ExitCode.SONG_FAILED
    if isinstance(exc, WaitTimeoutError):
        return ExitCode.TIMEOUT
    if isinstance(exc, ConfigurationError | ConfigFileError | OSError):
        return ExitCode.USAGE
    return ExitCode.API_ERROR


def error_body(exc: BaseException) -> dict[str, Any]:
    """`{"error": {"code", "message", "details"?}}`: the API's own for API errors, the same shape
    for the command line's."""
    if isinstance(exc, ApiError):
        return exc.to_dict()
    message = exc.message if isinstance(exc, UploadRejectedError | CliError) else str(exc)
    return {"error": {"code": _code(exc), "message": message}}


def _code(exc: BaseException) -> str:
    if isinstance(exc, CliError | UploadRejectedError | UploadError | DownloadError):
        return exc.code
    for kind, code in (
        (ApiConnectionError, "ConnectionError"),
        (ConfigurationError, "NotConfigured"),
        (ConfigFileError, "BadConfigFile"),
        (WaitTimeoutError, "Timeout"),
        (SongNotReadyError, "SongNotReady"),
        (OSError, "FileError"),
    ):
        if isinstance(exc, kind):
            return code
    return type(exc).__name__


class Output:
    """Results to stdout (a table or JSON), progress and errors to stderr."""

    def __init__(self, json_mode: bool, quiet: bool = False) -> None:
        self.json_mode = json_mode
        self.quiet = quiet
        # Not a terminal (a pipe, a file): no 80-column default that would cut tables.
        self.out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
        self.err = Console(
            stderr=True, highlight=False, soft_wrap=True, width=None if sys.stderr.isatty() else 200
        )

    def json(self, data: Any) -> None:
        """One JSON document on stdout, exactly (no wrapping or colour)."""
        if isinstance(data, BaseModel):
            data = data.model_dump(mode="json")
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        sys.stdout.flush()

    def result(self, data: Any, line: str) -> None:
        """A command's result: `data` as JSON with --json, else the human `line` on stdout."""
        if self.json_mode:
            self.json(data)
        else:
            self.out.print(line)

    def note(self, message: str) -> None:
        """A human line on stderr (never in --json's stdout; suppressed by --quiet)."""
        if not self.quiet:
            self.err.print(message)

    def error(self, exc: BaseException) -> ExitCode:
        code = exit_code_for(exc)
        body = error_body(exc)
        if self.json_mode:
            self.json(body)
            return code
        error = body["error"]
        self.err.print(f"[bold red]error:[/] {_escape(error['message'])} [dim]({error['code']})[/]")
        for line in _detail_lines(exc):
            self.err.print(f"  {_escape(line)}")
        if code is ExitCode.AUTH:
            self.err.print("  check the API key: --api-key, SONG_API_KEY or `songs configure`")
        return code


def _detail_lines(exc: BaseException) -> list[str]:
    """422 field errors one per line; other details as key: value."""
    if not isinstance(exc, ApiError) or exc.details is None:
        return []
    details = exc.details
    if isinstance(details, list):
        return [
            f"{item.get('field', '?')}: {item.get('message', '')}" if isinstance(item, dict) else str(item)
            for item in details
        ]
    if isinstance(details, dict):
        return [f"{key}: {value}" for key, value in details.items()]
    return [str(details)]


def _escape(text: str) -> str:
    return escape(str(text))
