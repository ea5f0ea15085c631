"""Run Lambda invokes made against moto with the real handlers, in this process, without Docker.

moto's Lambda backend runs functions in Docker containers. The workflow's Lambda tasks (and
anything else that calls `lambda:Invoke` against moto) are routed here instead: a registered
function name maps to a handler callable, which is called in-process with the JSON event and a
Lambda-like context. Unregistered functions still go to moto's own implementation.

Usage (tests, the local stack, the benchmark):

    from local.lambda_routing import route_lambda_invokes

    with route_lambda_invokes({"song-service-dev-start-inference": start_inference.lambda_handler}):
        ...  # Step Functions executions running in moto now invoke the handler in-process

- Keys are function names; `Invoke` with the name, the full ARN or a qualified ARN/name
  (`:alias`, `:$LATEST`) finds the same handler.
- The handler gets `json.loads(payload)` and a `LambdaContext`; its return value is
  JSON-encoded like the Lambda runtime does. An exception becomes a function error with the
  runtime's payload `{"errorType", "errorMessage", "stackTrace"}`, so Step Functions sees the
  exception class name as the error name (Retry/Catch work as on AWS).
- It patches moto's backends (the class, not an instance): it works with `mock_aws()` in-process
  and with a moto server running in this process (`ThreadedMotoServer`). Handlers share this
  process's environment variables; in server mode point their SDK at the server with
  `AWS_ENDPOINT_URL` (and `MOTO_PORT` for the ASL engine, see DESIGN.md).
- Contexts nest; the innermost registration of a name wins while it is active.
"""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from local.lambda_context import Handler, LambdaContext

__all__ = ["Handler", "LambdaContext", "function_name_of", "invoke_handler", "route_lambda_invokes"]

_lock = threading.Lock()
_routes: list[dict[str, Handler]] = []  # stack of active registrations, innermost last
_originals: dict[type, Callable[..., Any]] = {}


def function_name_of(name_or_arn: str) -> str:
    """`name`, `name:qualifier`, `arn:aws:lambda:r:a:function:name[:qualifier]` -> `name`."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn.split(":")[6]
    return name_or_arn.split(":")[0]


def find_handler(name_or_arn: str) -> Handler | None:
    name = function_name_of(name_or_arn)
    with _lock:
        for routes in reversed(_routes):
            if name in routes:
                return routes[name]
    return None


def invoke_handler(handler: Handler, function_name: str, payload: Any) -> tuple[bytes, bool]:
    """Call `handler` like the Lambda runtime; returns (response payload, is_function_error)."""
    event = _decode_event(payload)
    # Nothing times a routed function out here; the context reports a generous budget.
    context = LambdaContext(function_name=function_name, timeout_s=300)
    try:
        result = handler(event, context)
    except Exception as exc:  # the runtime turns any exception into a function error
        error = {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
        return json.dumps(error).encode(), True
    return json.dumps(result).encode(), False


def _decode_event(payload: Any) -> Any:
    if payload in (None, b"", ""):
        return {}
    if isinstance(payload, bytes | bytearray):
        payload = payload.decode()
    return json.loads(payload) if isinstance(payload, str) else payload


def _routed_invoke(original: Callable[..., Any]) -> Callable[..., Any]:
    def invoke(
        self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> Any:
        handler = find_handler(function_name)
        if handler is None:
            return original(self, function_name, qualifier, body, headers, response_headers)
        payload, errored = invoke_handler(handler, function_name_of(function_name), body)
        if errored:
            response_headers["x-amz-function-error"] = "Unhandled"
        response_headers["Content-Length"] = str(len(payload))
        return payload

    return invoke


def _install() -> None:
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda_simple.models import LambdaSimpleBackend

    for backend in (LambdaBackend, LambdaSimpleBackend):
        if backend not in _originals:
            # The subclass defines its own `invoke`; patch both so either config routes.
            original = backend.__dict__["invoke"]
            _originals[backend] = original
            backend.invoke = _routed_invoke(original)


def _uninstall() -> None:
    for backend, original in _originals.items():
        backend.invoke = original
    _originals.clear()


@contextmanager
def route_lambda_invokes(handlers: Mapping[str, Handler]) -> Iterator[dict[str, Handler]]:
    """While active, moto `Invoke` of a function named in `handlers` calls that handler in-process.

    Yields the live registration dict: adding to it registers more functions for this context.
    """
    routes = {function_name_of(name): handler for name, handler in handlers.items()}
    with _lock:
        _routes.append(routes)
        _install()
    try:
        yield routes
    finally:
        with _lock:
            # By identity: two contexts may register equal mappings.
            del _routes[next(i for i, r in enumerate(_routes) if r is routes)]
            if not _routes:
                _uninstall()
