"""The REST API's Lambda (REQUEST) authorizer: one for Cognito id tokens and personal API keys.

Handler path: `lambdas.authorizer.handler.lambda_handler`. A valid credential gets a policy that
allows the whole API stage (API Gateway caches the answer per Authorization header for
`authorizer_cache_ttl_s` and reuses it for every method) and a context the API function reads:
the user id as `sub`, as the Cognito authorizer passed it, and how the caller signed in
(lambdas/common/contract.py, AUTH_*). Anything else raises "Unauthorized", which API Gateway
answers with 401 (the UNAUTHORIZED gateway response, in the API's error shape).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)

from lambdas.common.contract import API_KEY_ID_KEY, AUTH_METHOD_KEY, AUTH_USER_KEY
from lambdas.common.observability import logger, tracer
from lambdas.common.runtime import ColdStart
from lambdas.common.settings import AuthorizerSettings
from lambdas.common.store.api_keys import ApiKeyStore

from .credentials import Authenticator, Identity, Unauthorized

# API Gateway maps exactly this exception message to 401; any other error is a 500.
UNAUTHORIZED = "Unauthorized"


def build(settings: AuthorizerSettings) -> Authenticator:
    return Authenticator(
        issuer=settings.user_pool_issuer,
        client_id=settings.user_pool_client_id,
        jwks_url=settings.jwks_url,
        # Without the users table: creating keys (which counts them there) is the API's.
        keys=ApiKeyStore(settings.api_keys_table_name),
    )


cold_start = ColdStart(AuthorizerSettings, build)


def context_of(identity: Identity) -> dict[str, str]:
    """What the API function finds in requestContext.authorizer (besides principalId)."""
    context = {AUTH_USER_KEY: identity.user_id, AUTH_METHOD_KEY: identity.method}
    if identity.api_key_id:
        context[API_KEY_ID_KEY] = identity.api_key_id
    return context


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    authenticator = cold_start.dependencies()
    request = APIGatewayAuthorizerRequestEvent(event)
    headers = request.headers if event.get("headers") else {}  # case-insensitive
    try:
        identity = authenticator.identify(headers.get("Authorization"))
    except Unauthorized as exc:
        logger.info("request not authorized", extra={"reason": str(exc)})
        raise Exception(UNAUTHORIZED) from None
    logger.append_keys(user_id=identity.user_id, auth_method=identity.method)
    response = APIGatewayAuthorizerResponse.from_route_arn(
        request.method_arn, principal_id=identity.user_id, context=context_of(identity)
    )
    # Cached per credential and reused for every route: the policy must cover the whole stage.
    response.allow_all_routes()
    return response.asdict()
