"""The replies of the scoring endpoints, encoded here rather than by FastAPI.

An endpoint that returns a pydantic object has FastAPI validate it against the declared
`response_model` and encode it through `jsonable_encoder`, which costs more per request than
the rest of a single-record request's path in Python; the scoring endpoints return a
`JSONResponse` of plain values instead (their `response_model` still documents the reply).
"""

from __future__ import annotations

import math
from typing import Any

from fastapi.responses import JSONResponse

__all__ = ["prediction_response"]


def prediction_response(content: dict[str, Any]) -> JSONResponse:
    """`content` (holding `predictions`) as JSON; NaN and infinities (which JSON lacks)
    become null.

    Checked only when plain encoding fails, so the common case pays nothing for it.
    """
    try:
        return JSONResponse(content)
    except ValueError:
        return JSONResponse({**content, "predictions": _finite(content["predictions"])})


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    return value
