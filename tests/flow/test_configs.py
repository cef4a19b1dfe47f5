"""`Config` and `config_expr`: read once, parsed by any parser, and fed to step decorators."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipyard import Config, FlowSpec, config_expr, environment, resources, step
from shipyard.exceptions import ConfigError, FlowLintErrors
from shipyard.flow.configs import ConfigValue, bind_configs, read_configs


class ConfiguredFlow(FlowSpec):
    cfg = Config("cfg", default="config.json")
    extra = Config("extra", default_value={"mode": "slow"})

    @resources(cpu=cfg.cpu, memory=config_expr("cfg.memory * 2"))
    @environment(vars={"MODE": config_expr("extra.mode.upper()")})
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_the_command_lines_value_comes_before_the_file_and_the_file_before_default_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"cpu": 2, "memory": 100}))
    (tmp_path / "other.toml").write_text("cpu = 4\nmemory = 10\n")
    from_files = read_configs(ConfiguredFlow, "ana")
    assert from_files == {"cfg": {"cpu": 2, "memory": 100}, "extra": {"mode": "slow"}}
    given = read_configs(ConfiguredFlow, "ana", texts={"cfg": '{"cpu": 1, "memory": 1}'})
    assert given["cfg"] == {"cpu": 1, "memory": 1}
    toml = Config("cfg", parser="tomllib.loads")
    assert toml.read("other.toml", None, _context()) == {"cpu": 4, "memory": 10}
    with pytest.raises(ConfigError, match="no Config named nope"):
        read_configs(ConfiguredFlow, "ana", texts={"nope": "{}"})


def test_a_config_that_does_not_parse_or_is_missing_says_which_and_how_to_give_it():
    with pytest.raises(ConfigError, match="from --config-value cfg does not parse"):
        Config("cfg").read(None, "{not json", _context())
    with pytest.raises(ConfigError, match=r"is required .* pass --config cfg PATH"):
        Config("cfg", default="absent.json", required=True).read(None, None, _context())


def test_decorator_arguments_are_evaluated_with_the_bound_configuration():
    bind_configs(ConfiguredFlow, {"cfg": {"cpu": 3, "memory": 50}, "extra": {"mode": "fast"}})
    decorators = {d.name: d for d in ConfiguredFlow.graph()["start"].definition.decorators}
    assert (decorators["resources"].cpu, decorators["resources"].memory) == (3, 100)
    assert decorators["environment"].vars == {"MODE": "FAST"}
    bind_configs(ConfiguredFlow, {"cfg": {"cpu": 0, "memory": 1}, "extra": {"mode": "x"}})
    with pytest.raises(FlowLintErrors, match="@resources takes its arguments from a Config"):
        ConfiguredFlow.graph()


def test_a_config_value_reads_with_dots_and_brackets_and_cannot_change():
    value = ConfigValue({"model": {"layers": [1, 2]}, "name": "m"})
    assert value.model.layers == [1, 2] and value["model"]["layers"] == [1, 2]
    assert value == {"model": {"layers": [1, 2]}, "name": "m"}
    with pytest.raises(TypeError, match="read-only"):
        value.name = "other"


def _context():
    from shipyard.flow.parameters import ParameterContext

    return ParameterContext("F", "ana", "cfg")
