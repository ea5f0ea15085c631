"""REST API Lambda: routes (thin, lambdas/api/routes.py) -> services (logic) -> the store (data).

Handler path: `lambdas.api.handler.lambda_handler`. The caller's identity is only ever the user id
the authorizer passed on (lambdas/authorizer). Every request of a user spends one token of the
user's request rate, a song submission one of the submission rate too, before anything else runs.
No AWS call happens at import time: the settings, the stores and the resolver are built at the
first invocation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig
from aws_lambda_powertools.logging import correlation_paths

from lambdas.common.observability import logger, metrics, tracer
from lambdas.common.runtime import ColdStart
from lambdas.common.settings import ApiSettings
from lambdas.common.url_safety import http_loopback_allowed

from .app import cors, create_app, reject_before_routing, rejection
from .rate_limits import RateLimits
from .services import Services

# GET requests emit no business metric; Powertools would warn on every one of them.
warnings.filterwarnings("ignore", message="No application metrics to publish")


@dataclass(frozen=True)
class Api:
    settings: ApiSettings
    services: Services
    cors: CORSConfig
    app: APIGatewayRestResolver
    rate_limits: RateLimits


def build(settings: ApiSettings) -> Api:
    services = Services.from_settings(settings)
    cors_config = cors(settings.origins)
    app = create_app(cors_config, lambda: services)
    return Api(settings, services, cors_config, app, RateLimits.from_settings(settings))


cold_start = ColdStart(ApiSettings, build)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    api = cold_start.dependencies()
    metrics.set_default_dimensions(stage=api.settings.stage_name)
    rejected = api.rate_limits.check(event) or reject_before_routing(event)
    if rejected is not None:
        logger.info("request rejected before routing", extra={"error_code": rejected.code})
        return rejection(rejected, event, api.cors)
    with http_loopback_allowed(api.settings.webhook_allow_http_loopback):
        return api.app.resolve(event, context)
