"""`python -m lambdas.api > docs/openapi.json` (`make openapi`): the API's OpenAPI document."""

from lambdas.api import openapi
from lambdas.api.app import openapi_document

print(openapi.text(openapi_document()), end="")
