#!/usr/bin/env python3
"""CDK entry point: `npx cdk synth` or `python app.py` (no AWS credentials needed).

Both synthesize the same template: the App starts from the context the CLI passes (cdk.json's
feature flags and `service` settings, `stacks.config.cli_context`); under the CLI, the CLI's own
context (including `-c key=value`) takes precedence, as it does for `cdk deploy`.
"""

from __future__ import annotations

import sys
from typing import Any

import aws_cdk as cdk

from stacks.config import ConfigError, cli_context, config_from_app
from stacks.nag import add_checks
from stacks.service_stack import SongServiceStack


def new_app(outdir: str | None = None, **overrides: Any) -> cdk.App:
    """An App with the CLI's context; `overrides` act like `-c key=value` (tests use them)."""
    return cdk.App(outdir=outdir, context={**cli_context(), **overrides})


def build_app(app: cdk.App | None = None) -> cdk.App:
    app = app or new_app()
    config = config_from_app(app.node)
    SongServiceStack(
        app,
        f"SongService-{config.stage_name}",
        config=config,
        env=cdk.Environment(account=config.account, region=config.region),
        description=f"Song generation service ({config.stage_name})",
    )
    add_checks(app)
    return app


if __name__ == "__main__":
    try:
        build_app().synth()
    except ConfigError as exc:
        # A setting the deploy cannot work with: the message names the key and the fix.
        sys.exit(f"error: {exc}")
