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
