"""Entry point: `python -m song_model.serve [--host H] [--port P]` (the `serve` script runs this).

The port is --port, else $SAGEMAKER_BIND_TO_PORT (set by SageMaker for some setups), else 8080.
The server answers /ping (503) at once and loads the models in the background; /ping turns 200
when they are ready. If loading fails the process exits non-zero, so the endpoint (or the local
stack) sees a dead container rather than one that never gets ready.

SIGTERM (what `docker stop` and SageMaker send) stops the server with status 0. The handler is
installed explicitly because the image runs this process as PID 1 (`serve` execs it), and the
kernel drops signals to PID 1 that have no handler: without it the container would hang until
SIGKILL.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from types import FrameType

from .models import load_models
from .server import App, AppServer
from .settings import Settings, SettingsError, load_settings

log = logging.getLogger("song_model")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Song generation model server (SageMaker contract)")
    parser.add_argument("--host", default=os.environ.get("SERVER_HOST", "0.0.0.0"))  # noqa: S104
    parser.add_argument("--port", type=int, default=int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080")))
    return parser.parse_args(argv)


def _load_in_background(app: App, settings: Settings) -> None:
    try:
        app.set_models(load_models(settings))
        log.info("ready")
    except Exception:
        log.exception("model loading failed; exiting")
        logging.shutdown()
        os._exit(1)


def _stop(signum: int, frame: FrameType | None) -> None:
    log.info("received %s; stopping", signal.Signals(signum).name)
    # Raised in the main thread, inside serve_forever: unwinds to main's `finally`.
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    args = parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        log.error("bad setting: %s", exc)
        sys.exit(2)
    app = App(max_body_bytes=settings.max_body_bytes)
    # The handler is in place before the port opens, and everything after it runs inside the try:
    # a SIGTERM at any moment a client could know of us unwinds through `finally`.
    signal.signal(signal.SIGTERM, _stop)
    server: AppServer | None = None
    try:
        server = AppServer((args.host, args.port), app)
        log.info(
            "listening on %s:%d (profile=%s, engine=%s)",
            args.host,
            server.server_port,
            settings.profile,
            settings.engine,
        )
        threading.Thread(target=_load_in_background, args=(app, settings), daemon=True).start()
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.server_close()
        log.info("stopped")


if __name__ == "__main__":
    main()
