"""The published API (`/openapi.json`), with each served model's rows typed to its columns.

FastAPI describes `POST /v1/models/{name}/predict` once, for any model, so its rows can only
be "objects of scalars". Once a model has loaded, its signature says more: which columns,
of which types, and whether a float may be missing (and, for a version trained on a
feature set, that it also takes `entities`). Each loaded model with a signature gets
its own path, `/v1/models/<name>/predict`, whose body schema says exactly that, so clients
and generated tests (schemathesis) see what the server accepts; the `{name}` of the generic
paths lists the served models. The document is rebuilt only when a served version changes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI

from shipyard.serving.types import ServableModel, fitted_features

__all__ = ["typed_openapi"]

_GENERIC_PATH = "/v1/models/{name}/predict"
#: The entities of a model trained on a feature set: each names one id by the entity column.
_ENTITIES = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
    },
    "description": "One object per entity, naming its id by the feature set's entity column, "
    'e.g. {"member_id": 42}.',
}


def typed_openapi(
    app: FastAPI, models: Callable[[], Mapping[str, ServableModel | None]]
) -> Callable[[], dict[str, Any]]:
    """A replacement for `app.openapi` adding a typed path per loaded model of `models()`."""
    generate = app.openapi
    cached: dict[Any, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        loaded = {name: model for name, model in models().items() if model is not None}
        key = tuple(sorted((name, model.version) for name, model in loaded.items()))
        if key not in cached:
            document = copy.deepcopy(generate())
            _name_served_models(document, sorted(models()))
            generic = document["paths"][_GENERIC_PATH]["post"]
            for name, model in sorted(loaded.items()):
                if model.signature is not None:
                    path = _GENERIC_PATH.replace("{name}", name)
                    document["paths"][path] = {"post": _typed(generic, name, model)}
            cached.clear()
            cached[key] = document
        return cached[key]

    return openapi


def _name_served_models(document: dict[str, Any], names: list[str]) -> None:
    """Say which values the `{name}` of a path can take (any other is a 404)."""
    for path in document["paths"].values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") == "name":
                    parameter["schema"] = {**parameter["schema"], "enum": names}


def _typed(generic: dict[str, Any], name: str, model: ServableModel) -> dict[str, Any]:
    assert model.signature is not None
    row = model.signature.row_schema()
    operation = copy.deepcopy(generic)
    operation["operationId"] = f"predict_{name}"
    operation["summary"] = f"Score rows with {name}"
    operation["parameters"] = []
    columns = {
        "type": "object",
        "properties": {
            column: {"type": "array", "minItems": 1, "items": value}
            for column, value in row["properties"].items()
        },
        "required": row["required"],
        "additionalProperties": False,
    }
    shapes: dict[str, Any] = {
        "records": {"type": "array", "minItems": 1, "items": row},
        "columns": columns,
    }
    if fitted_features(model) is not None:
        shapes["entities"] = _ENTITIES
    body = {
        "type": "object",
        "properties": shapes,
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": False,
    }
    operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation
