"""The persona routes (POST/GET /personas, GET/DELETE /personas/{persona_id}): thin, HTTP in and
out; the work is PersonaService's (lambdas/api/services/personas.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from lambdas.common.personas import PersonaRequest
from lambdas.common.request_fields import UUID_PATTERN

from .route_docs import (
    SECURITY,
    NextToken,
    PageSize,
    created_response,
    error_responses,
    no_content,
    ok_response,
)
from .schemas import PersonaDetail, PersonaPage
from .services import Services

PersonaId = Annotated[str, Path(pattern=UUID_PATTERN, description="The persona's id (a UUID)")]


def register_personas(
    app: APIGatewayRestResolver, services: Callable[[], Services], user: Callable[[], str]
) -> None:
    """Add the persona routes to `app` (routes.register calls this, with its `user()`)."""

    @app.post(
        "/personas",
        summary="Make a persona: a reference clip (and style) to sing new songs with",
        operation_id="createPersona",
        description=(
            "Cuts up to 30 s of the source (a ready upload, or a take of one of your processed songs) from "
            "`start_s` and keeps it with its SHA-256, so the source may be deleted afterwards. Songs in "
            "the text modes and covers name it as `persona_id`. The source is 404 when missing or not "
            "yours, 409 while it is still being checked or made, 422 when it cannot be used (rejected, "
            "expired or failed, or under 5 s of sound from `start_s`, or silent there). At most "
            "`persona_max_per_user` personas per user (409 `PersonaQuotaExceeded`)."
        ),
        tags=["personas"],
        status_code=201,
        security=SECURITY,
        responses={
            **created_response(
                201,
                "Created",
                PersonaDetail,
                id_parameter="persona_id",
                id_field="persona_id",
                follow=("getPersona", "deletePersona"),
            ),
            **error_responses(400, 401, 404, 409, 413, 415, 422, 429, 500),
        },
    )
    def create_persona(
        request: Annotated[PersonaRequest, Body(description="The persona's name, source and window")],
    ) -> PersonaDetail:
        return services().personas.create(user(), request)

    @app.get(
        "/personas",
        summary="List my personas, newest first",
        operation_id="listPersonas",
        tags=["personas"],
        security=SECURITY,
        responses={
            **ok_response(200, "One page of personas", PersonaPage),
            **error_responses(400, 401, 429, 500),
        },
    )
    def list_personas(
        limit: PageSize = 20,
        next_token: NextToken = None,
    ) -> PersonaPage:
        return services().personas.list(user(), limit, next_token)

    @app.get(
        "/personas/<persona_id>",
        summary="One persona, with a URL of its reference clip (valid 1 h)",
        operation_id="getPersona",
        tags=["personas"],
        security=SECURITY,
        responses={
            **ok_response(200, "The persona", PersonaDetail),
            **error_responses(400, 401, 404, 429, 500),
        },
    )
    def get_persona(persona_id: PersonaId) -> PersonaDetail:
        return services().personas.get(user(), persona_id)

    @app.delete(
        "/personas/<persona_id>",
        summary="Delete a persona and its reference clip",
        operation_id="deletePersona",
        description=(
            "Songs already made with it keep their audio and their `persona_id`. While a song sung with it "
            "is still queued or processing, the answer is 409 `PersonaInUse`."
        ),
        tags=["personas"],
        status_code=204,
        security=SECURITY,
        responses={**ok_response(204, "Deleted"), **error_responses(400, 401, 404, 409, 429, 500)},
    )
    def delete_persona(persona_id: PersonaId):  # no return annotation: see no_content
        services().personas.delete(user(), persona_id)
        return no_content()
