"""How the scoring service fails: error types with their HTTP status, and the handlers that
turn every failure into a JSON `{"error": "..."}` body.

A client that sends bad input must learn what is wrong from the response alone, and a bad
request must never take the server down or show up as a 500 that pages someone. So each
expected failure is a type carrying its status code, FastAPI's own validation errors are
rewritten into one readable sentence, and anything unexpected becomes a 500 with a message
while the server keeps serving.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shipyard.exceptions import ShipyardError

logger = logging.getLogger("shipyard.serving")

# Where the request metrics middleware finds the name of the error a request ended with.
ERROR_TYPE_KEY = "shipyard_error_type"


class ServingError(ShipyardError):
    """An expected failure of a scoring request; `status_code` is what the client gets."""

    status_code = 500


class InvalidInput(ServingError):
    """The body parsed but cannot be scored: wrong columns or types, empty, wrong shape."""

    status_code = 422


class MalformedBody(ServingError):
    """The body is not JSON at all."""

    status_code = 400


class BodyTooLarge(ServingError):
    """The body is over the server's limit; rejected before it is read in full."""

    status_code = 413


class ModelNotServed(ServingError):
    """No model of that name is served by this server."""

    status_code = 404


class ModelNotReady(ServingError):
    """The model is served but its first version has not loaded yet (or failed to)."""

    status_code = 503


class FeaturesNotMaterialized(ServingError):
    """Entities were sent for a model whose feature set version the online store does not
    hold: the state of the store conflicts with the request until it is materialized."""

    status_code = 409


class OnlineStoreDown(ServingError):
    """The online store cannot be reached (Redis down): retry once it is back."""

    status_code = 503


class PredictionFailed(ServingError):
    """The model raised on input that passed validation: a bug in the model, not the client."""

    status_code = 500


def error_response(
    request: Request,
    status_code: int,
    message: str,
    kind: str,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The one shape of every error body, with its kind noted for the metrics."""
    request.scope.setdefault("state", {})[ERROR_TYPE_KEY] = kind
    return JSONResponse({"error": message}, status_code=status_code, headers=headers)


def describe_validation_errors(errors: Sequence[Any]) -> tuple[int, str]:
    """FastAPI's validation errors as a status and one sentence naming what is wrong.

    Malformed JSON is a 400 (the client sent something that is not JSON); everything else
    parsed but has the wrong shape, a 422.
    """
    for error in errors:
        if error.get("type") == "json_invalid":
            detail = (error.get("ctx") or {}).get("error", "invalid JSON")
            position = error["loc"][-1] if error.get("loc") else "?"
            return 400, f"malformed JSON body: {detail} at character {position}"
    parts = []
    for error in errors[:5]:
        location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        message = str(error.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        if error.get("type") == "missing" and not location:
            message = "the request has no body; send a JSON object with 'records' or 'columns'"
        elif error.get("type") in {"dict_type", "model_attributes_type"} and not location:
            message = (
                "the body must be a JSON object with 'records' or 'columns' "
                "(sent with Content-Type: application/json)"
            )
        parts.append(f"{location}: {message}" if location else message)
    more = f" (and {len(errors) - 5} more problems)" if len(errors) > 5 else ""
    return 422, "; ".join(parts) + more


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure of `app` to a JSON error body with the right status."""

    async def on_serving_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServingError)
        if exc.status_code == 500:  # a 503 (still loading) is expected, not worth a log line
            logger.error("request %s failed: %s", request.url.path, exc)
        return error_response(request, exc.status_code, str(exc), type(exc).__name__)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        status, message = describe_validation_errors(exc.errors())
        kind = "MalformedBody" if status == 400 else "InvalidInput"
        return error_response(request, status, message, kind)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind = "BodyTooLarge" if exc.status_code == 413 else f"HTTP{exc.status_code}"
        # The headers are part of the answer: a 405 says which methods are allowed.
        return error_response(request, exc.status_code, str(exc.detail), kind, exc.headers)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error serving %s", request.url.path, exc_info=exc)
        message = f"internal error: {type(exc).__name__}: {exc}"
        return error_response(request, 500, message, type(exc).__name__)

    app.add_exception_handler(ServingError, on_serving_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
