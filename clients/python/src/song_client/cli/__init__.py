"""The `songs` command line (typer + rich)."""

from .commands import app, main

__all__ = ["app", "main"]
