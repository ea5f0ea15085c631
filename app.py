#!/usr/bin/env python3
"""CDK entry point: `python app.py` or `npx cdk synth` (no AWS credentials needed)."""

from __future__ import annotations

import aws_cdk as cdk

from stacks.config import config_from_app
from stacks.nag import add_checks
from stacks.service_stack import SongServiceStack


def build_app(app: cdk.App | None = None) -> cdk.App:
    app = app or cdk.App()
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
    build_app().synth()
