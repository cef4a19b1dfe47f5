"""The request and response bodies of the scoring API, as pydantic models.

They are the published contract (`/openapi.json`) and the first line of input checking:
shape errors (neither records nor columns, nested values, ragged columns, no rows) are
caught here, before a request costs the model anything, and reported as one sentence.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    kind = "an object" if isinstance(value, dict) else "a list"
    raise ValueError(f"must be a number, string, boolean or null, not {kind}")


Scalar = Annotated[
    Any,
    AfterValidator(_scalar),
    WithJsonSchema(
        {"anyOf": [{"type": t} for t in ("number", "string", "boolean", "null")]},
    ),
]

_SHAPE_HINT = (
    "the body must be a JSON object with either 'records' (a list of objects, one per row) "
    "or 'columns' (an object mapping each column to a list of values), or, for a model "
    "trained on a feature set, 'entities' (a list of objects such as {\"member_id\": 42})"
)
_SHAPES = ("records", "columns", "entities")


class PredictRequest(BaseModel):
    """Rows to score, as records or as columns, or the entities whose online vectors to
    score (exactly one of the three)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"records": [{"age": 41, "income": 52000.0}, {"age": 29, "income": 31000.0}]},
                {"columns": {"age": [41, 29], "income": [52000.0, 31000.0]}},
                {"entities": [{"member_id": 42}, {"member_id": 7}]},
            ]
        },
    )

    records: list[dict[str, Scalar]] | None = Field(
        default=None, description="One object per row, mapping column names to values."
    )
    columns: dict[str, list[Scalar]] | None = Field(
        default=None, description="Column names mapped to equal-length lists of values."
    )
    entities: list[dict[str, Scalar]] | None = Field(
        default=None,
        description="For a model trained on a feature set: one object per entity naming its "
        'id by the feature set\'s entity column, e.g. {"member_id": 42}; the server looks '
        "its features up in the online store and encodes them as at training.",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_shape(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data  # pydantic reports "should be a valid dictionary"
        given = [key for key in _SHAPES if data.get(key) is not None]
        if len(given) > 1:
            both = f"both {given[0]!r} and {given[1]!r}" if len(given) == 2 else "all three"
            raise ValueError(f"send one of 'records', 'columns' or 'entities', not {both}")
        if not given:
            keys = ", ".join(repr(k) for k in data) or "none"
            raise ValueError(f"{_SHAPE_HINT}; got keys: {keys}")
        return data

    @model_validator(mode="after")
    def _has_rows(self) -> PredictRequest:
        if self.records is not None:
            if not self.records:
                raise ValueError("empty input: 'records' holds no rows")
            # A key missing from one record would silently become a null in the table.
            first = self.records[0].keys()
            for index, record in enumerate(self.records):
                if record.keys() != first:
                    missing = sorted(first - record.keys())
                    extra = sorted(record.keys() - first)
                    raise ValueError(
                        f"record {index} does not have the columns of record 0 "
                        f"(missing: {', '.join(missing) or 'none'}; "
                        f"extra: {', '.join(extra) or 'none'})"
                    )
        if self.columns is not None:
            if not self.columns:
                raise ValueError("empty input: 'columns' holds no columns")
            lengths = {name: len(values) for name, values in self.columns.items()}
            if len(set(lengths.values())) > 1:
                listed = ", ".join(f"{name!r} has {n}" for name, n in lengths.items())
                raise ValueError(f"columns must have the same length: {listed}")
            if not next(iter(lengths.values())):
                raise ValueError("empty input: the columns hold no rows")
        if self.entities is not None:
            if not self.entities:
                raise ValueError("empty input: 'entities' holds no entities")
            for index, entity in enumerate(self.entities):
                if len(entity) != 1:
                    raise ValueError(
                        f'entity {index} must name exactly one id, e.g. {{"member_id": 42}}'
                        f"; it has {len(entity)} keys"
                    )
        return self


class PredictResponse(BaseModel):
    """One prediction per input row, in order, and the version that made them."""

    model: str = Field(description="The served model's name.")
    version: int = Field(description="The model version that scored this request.")
    predictions: list[Any]


class ErrorResponse(BaseModel):
    """Every error: a sentence naming what is wrong."""

    error: str


class ModelInfo(BaseModel):
    """A served model: the reference it follows and the version it answers with now."""

    name: str
    ref: str = Field(description="The reference followed, e.g. ranker@production.")
    version: int | None = Field(description="The version serving now; null before the load.")
    flavor: str | None
    signature: Any | None = Field(description="Input columns and types, if the model has one.")
    ready: bool
    last_error: str | None = Field(
        default=None, description="Why the latest resolve or load failed, if it did."
    )


class ModelList(BaseModel):
    models: list[ModelInfo]


class Readiness(BaseModel):
    """Whether every served model has loaded (HTTP 200) or not yet (HTTP 503)."""

    ready: bool
    models: dict[str, int | None] = Field(description="Each model's loaded version, or null.")


Unit = Annotated[
    str | int,
    Field(description="The unit the experiment allocates (a member id); compared as text."),
]


class ExperimentPredictRequest(PredictRequest):
    """A unit and its rows to score with the model version of the unit's cell."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"unit": "member-7", "records": [{"age": 41}]}]},
    )

    unit: Unit


class ExperimentPredictResponse(BaseModel):
    """The predictions, and which cell and version made them."""

    experiment: str
    unit: str
    cell: str | None = Field(description="The unit's cell; null when it is not in the experiment.")
    model: str
    version: int
    predictions: list[Any]


class ExperimentAssignment(BaseModel):
    """Where a unit's requests go, without scoring anything (nor logging an exposure)."""

    experiment: str
    unit: str
    cell: str | None = Field(description="The unit's cell; null when it is not in the experiment.")
    model: str
    version: int
    state: str = Field(description="running, or stopped (then every unit gets the control).")
