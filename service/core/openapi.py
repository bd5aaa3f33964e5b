"""The OpenAPI document as a client generator needs it: every error response is
``application/problem+json`` with the ``Problem`` schema and an example of each ``type`` the
status can carry; nothing is left as an untyped bag."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.core.problems import MEDIA_TYPE, Problem, problem, problem_codes

_REF = "#/components/schemas/{model}"
ALWAYS = (500,)  # any operation may meet an unexpected error
GUARDED = (401, 503)  # an operation that reads the API key's row


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route for these error statuses (their content is filled in when
    the document is built)."""
    return {status: {"description": _description(status)} for status in statuses}


def _description(status: int) -> str:
    return "Problem types: " + ", ".join(f"`{code}`" for code in problem_codes().get(status, {}))


def _problem_content(status: int) -> dict[str, Any]:
    examples = {code: {"summary": meaning, "value": problem(status, code, meaning)}
                for code, meaning in problem_codes().get(status, {}).items()}  # fmt: skip
    return {MEDIA_TYPE: {"schema": {"$ref": _REF.format(model="Problem")}, "examples": examples}}


def _shape_errors(operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    for status in ALWAYS:
        responses.setdefault(str(status), {"description": _description(status)})
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            response["content"] = _problem_content(int(status))
            response.setdefault("description", _description(int(status)))


def _mark_binary(schemas: dict[str, Any]) -> None:
    """An uploaded file is ``contentMediaType`` in OpenAPI 3.1; generators (openapi-python-client,
    OpenAPI Generator) know it as ``format: binary`` and give the client a file type."""
    for schema in schemas.values():
        for prop in schema.get("properties", {}).values():
            if prop.get("type") == "string" and "contentMediaType" in prop:
                prop["format"] = "binary"


def _document(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes,
                      webhooks=app.webhooks.routes, description=app.description)  # fmt: skip
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template=_REF)
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    for item in doc.get("paths", {}).values():  # not the webhooks: their answers are the receiver's
        for operation in item.values():
            _shape_errors(operation)
    _mark_binary(schemas)
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422, replaced above
        schemas.pop(unused, None)
    app.openapi_schema = doc
    return doc


def install(app: FastAPI) -> None:
    app.openapi = lambda: _document(app)  # type: ignore[method-assign]
