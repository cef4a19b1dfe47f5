"""Parameters are typed, validated before anything runs, and read-only inside steps."""

from __future__ import annotations

import pytest

from shipyard import JSONType, Parameter
from shipyard.exceptions import ParameterError
from shipyard.flow.parameters import resolve_parameters


def test_type_is_inferred_from_the_default():
    assert Parameter("alpha", default=0.5).type is float
    assert Parameter("n", default=3).type is int
    assert Parameter("flag", default=False).type is bool
    assert Parameter("name", default="x").type is str
    assert Parameter("grid", default=[1, 2]).type is JSONType


def test_cli_strings_are_converted_to_the_declared_type():
    params = {
        "alpha": Parameter("alpha", default=0.5),
        "n": Parameter("n", type=int, default=1),
        "flag": Parameter("flag", type=bool, default=False),
        "grid": Parameter("grid", type=JSONType, default=None),
    }
    values = resolve_parameters(
        params, {"alpha": "0.25", "n": "7", "flag": "yes", "grid": '{"a": [1, 2]}'}
    )
    assert values == {"alpha": 0.25, "n": 7, "flag": True, "grid": {"a": [1, 2]}}


def test_defaults_fill_missing_values():
    values = resolve_parameters({"alpha": Parameter("alpha", default=0.5)}, {"alpha": None})
    assert values == {"alpha": 0.5}


def test_missing_required_parameter_is_refused_with_the_option_name():
    with pytest.raises(ParameterError, match=r"missing required parameter '--size'"):
        resolve_parameters({"size": Parameter("size", type=int, required=True)}, {})


def test_badly_typed_value_is_refused_with_the_value_and_type():
    with pytest.raises(ParameterError, match=r"'abc' is not a valid int"):
        resolve_parameters({"n": Parameter("n", default=1)}, {"n": "abc"})


def test_bad_json_is_refused():
    with pytest.raises(ParameterError, match="not a valid JSON"):
        resolve_parameters({"grid": Parameter("grid", type=JSONType)}, {"grid": "{oops"})


def test_every_problem_is_reported_together():
    params = {"a": Parameter("a", type=int, required=True), "b": Parameter("b", default=1.0)}
    with pytest.raises(ParameterError) as info:
        resolve_parameters(params, {"b": "x"})
    assert "--a" in str(info.value) and "'x'" in str(info.value)


def test_unsupported_type_is_rejected_at_definition():
    with pytest.raises(ParameterError, match="not supported"):
        Parameter("when", type=list)


def test_unknown_parameter_is_refused():
    with pytest.raises(ParameterError, match="unknown parameter"):
        resolve_parameters({"a": Parameter("a", default=1)}, {"b": 2})


def test_assigning_to_a_parameter_inside_a_flow_is_refused():
    from shipyard import FlowSpec, step

    class Tuned(FlowSpec):
        alpha = Parameter("alpha", default=0.5)

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    flow = Tuned(use_cli=False)
    with pytest.raises(AttributeError, match="parameter 'alpha' is read-only"):
        flow.alpha = 0.9


def test_a_dashed_name_is_the_option_and_the_artifact_takes_underscores():
    batch = Parameter("batch-size", default=8)
    assert (batch.name, batch.option) == ("batch_size", "batch-size")
    assert batch.cli_names() == ["--batch-size", "--batch_size"]
    assert resolve_parameters({"batch_size": batch}, {"batch_size": "16"}) == {"batch_size": 16}


def test_a_separator_splits_a_string_value_into_a_list_and_only_a_string_one():
    genres = Parameter("genres", default="a,b", separator=",")
    assert resolve_parameters({"genres": genres}, {}) == {"genres": ["a", "b"]}
    assert resolve_parameters({"genres": genres}, {"genres": "x"}) == {"genres": ["x"]}
    with pytest.raises(ParameterError, match="separator= is only allowed with type=str"):
        Parameter("sizes", type=int, separator=",")


def test_a_callable_default_is_called_once_with_the_runs_context():
    from shipyard.flow.parameters import ParameterContext

    calls = []

    def default(context: ParameterContext) -> str:
        calls.append(context)
        return f"{context.flow_name}:{context.user_name}:{context.parameter_name}"

    label = Parameter("label", default=default)
    values = resolve_parameters(
        {"label": label}, {}, lambda name: ParameterContext("TrainFlow", "ana", name)
    )
    assert values == {"label": "TrainFlow:ana:label"} and len(calls) == 1
    assert resolve_parameters({"label": label}, {"label": "given"}) == {"label": "given"}
