"""The analysis over the fact store: exposures joined to outcomes after each unit's first
exposure, compared per cell with an independent computation, the SRM check first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

from shipyard.cli.main import cli
from shipyard.experiments import SampleRatioMismatch, api
from shipyard.experiments.exposures import EXPOSURES, ExposureLog
from shipyard.experiments.statistics import cuped, welch
from shipyard.features import facts
from shipyard.registry import models

from ..conftest import Home
from .constant import constant_model

START = datetime(2026, 3, 1, tzinfo=UTC)
OUTCOME_SCHEMA = {
    "member_id": "int",
    "ts": "timestamp",
    "conversions": "int",
    "watch_minutes": "float",
    "pre_watch_minutes": "float",
}


def run_experiment(units: int, effect: float, skew: float = 0.0) -> pd.DataFrame:
    """Start `ranker-v4`, log one exposure per unit (dropping `skew` of the treatment's) and
    outcomes before and after it; return the outcomes after exposure with each unit's cell."""
    models.register("ranker", constant_model(1.0))
    models.register("ranker", constant_model(2.0))
    api.create("ranker-v4", {"control": "ranker/1", "treatment": "ranker/2"}, unit="member_id")
    api.start("ranker-v4")
    rng = np.random.default_rng(5)
    members = np.arange(units)
    cells = np.array(api.allocation("ranker-v4").assign_many(members.tolist()))
    kept = ~((cells == "treatment") & (rng.random(units) < skew))
    exposed = pd.DataFrame(
        {
            "unit": members[kept].astype(str),
            "ts": [START + timedelta(seconds=int(m)) for m in members[kept]],
            "experiment": "ranker-v4",
            "cell": cells[kept],
            "model": "ranker",
            "version": np.where(cells[kept] == "treatment", 2, 1),
        }
    )
    log = ExposureLog(facts.store(create=True))
    log.close()  # declares the table
    facts.ingest(EXPOSURES, exposed)
    pre = rng.normal(30, 8, units)
    treated = (cells == "treatment").astype(float)
    after = pd.DataFrame(
        {
            "member_id": members,
            "ts": [START + timedelta(seconds=int(m), minutes=5) for m in members],
            "conversions": rng.binomial(1, 0.2 + 0.05 * treated),
            "watch_minutes": pre + rng.normal(0, 4, units) + effect * treated,
            "pre_watch_minutes": pre,
        }
    )
    before = after.assign(  # before the exposure: never counted
        ts=[START - timedelta(days=1)] * units, conversions=5, watch_minutes=1e6
    )
    facts.table("outcomes", entity="member_id", event_time="ts", schema=OUTCOME_SCHEMA)
    facts.ingest("outcomes", pd.concat([before, after.iloc[: units - 10]]))  # 10 without any
    return after.assign(cell=cells, exposed=kept)


def test_the_analysis_matches_an_independent_computation(home: Home) -> None:
    truth = run_experiment(2_000, effect=1.5)

    analysis = api.analyze("ranker-v4", ["conversions:sum", "watch_minutes:mean"])
    frame = analysis.frame.set_index(["metric", "cell"])
    assert not analysis.srm.mismatch
    assert analysis.srm.observed == truth["cell"].value_counts().to_dict()

    conversions = truth.assign(conversions=truth["conversions"].where(truth.index < 1_990, 0))
    by_cell = conversions.groupby("cell")["conversions"]
    expected = stats.ttest_ind(
        by_cell.get_group("treatment"), by_cell.get_group("control"), equal_var=False
    )
    row = frame.loc[("conversions:sum", "treatment")]
    assert row["units"] == (truth["cell"] == "treatment").sum()  # units without outcomes: 0
    assert row["mean"] == pytest.approx(by_cell.get_group("treatment").mean())
    assert row["diff"] == pytest.approx(by_cell.mean().diff().iloc[-1])
    assert row["p_value"] == pytest.approx(expected.pvalue)
    assert np.isnan(row["variance_reduction"])  # no covariate, no CUPED

    minutes = frame.loc[("watch_minutes:mean", "treatment")]
    assert minutes["units"] == (truth.iloc[:1_990]["cell"] == "treatment").sum()
    assert frame.loc[("watch_minutes:mean", "control"), "mean"] < 100  # never the 1e6 before

    adjusted = api.analyze("ranker-v4", ["watch_minutes:mean"], covariate="pre_watch_minutes")
    cuped = adjusted.frame.set_index("cell").loc["treatment"]
    assert cuped["variance_reduction"] > 0.5  # the pre-period explains most of the variance
    assert cuped["diff_low"] <= 1.5 <= cuped["diff_high"]
    assert cuped["diff_high"] - cuped["diff_low"] < minutes["diff_high"] - minutes["diff_low"]


def test_a_skewed_split_warns_loudly_and_the_cli_prints_json(home: Home) -> None:
    run_experiment(2_000, effect=0.0, skew=0.2)
    with pytest.warns(SampleRatioMismatch, match="SAMPLE RATIO MISMATCH"):
        assert api.analyze("ranker-v4", ["conversions:sum"]).srm.mismatch

    result = CliRunner().invoke(
        cli, ["experiments", "analyze", "ranker-v4", "--metric", "conversions:sum", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["srm"]["mismatch"] is True
    assert [row["cell"] for row in report["results"]] == ["control", "treatment"]
    assert "SAMPLE RATIO MISMATCH" in result.stderr

    table = CliRunner().invoke(
        cli, ["experiments", "analyze", "ranker-v4", "--metric", "conversions:sum"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert table.exit_code == 0, table.output
    assert "treatment" in table.stdout and "SAMPLE RATIO MISMATCH" in table.output


def test_an_unknown_metric_column_names_the_columns(home: Home) -> None:
    run_experiment(50, effect=0.0)
    with pytest.raises(ValueError, match="has no column 'revenue'; its columns: member_id"):
        api.analyze("ranker-v4", ["revenue:sum"])


def test_text_units_are_analysed_bucket_by_bucket_with_restatements_resolved(home: Home) -> None:
    """Outcomes keyed by text units (bucketed like the exposures), one of them restated: the
    per-cell moments from DuckDB give what CUPED and Welch give on the per-unit arrays."""
    truth = run_experiment(400, effect=2.0)
    outcomes = truth.assign(unit=truth["member_id"].astype(str))[
        ["unit", "ts", "watch_minutes", "pre_watch_minutes"]
    ]
    schema = {
        "unit": "str",
        "ts": "timestamp",
        "watch_minutes": "float",
        "pre_watch_minutes": "float",
    }
    facts.table("by_text", entity="unit", event_time="ts", schema=schema)
    no_pre = (outcomes.index >= 25) & (outcomes.index < 30)  # a value, but no covariate
    outcomes["pre_watch_minutes"] = outcomes["pre_watch_minutes"].mask(no_pre)
    facts.ingest("by_text", outcomes.iloc[20:])  # 20 units without any outcome
    facts.ingest("by_text", outcomes.iloc[20:25].assign(watch_minutes=100.0))  # restated
    expected = truth.assign(
        watch_minutes=truth["watch_minutes"].where(truth.index >= 25, 100.0),
        pre_watch_minutes=outcomes["pre_watch_minutes"].where(truth.index >= 20),
    )

    analysis = api.analyze(
        "ranker-v4", ["watch_minutes:mean"], outcomes="by_text", covariate="pre_watch_minutes"
    )

    seen = expected.iloc[20:]
    covariate = expected["pre_watch_minutes"]
    covariate = covariate.fillna(covariate.mean()).iloc[20:].to_numpy()
    adjusted, reduction = cuped(seen["watch_minutes"].to_numpy(), covariate)
    treated = (seen["cell"] == "treatment").to_numpy()
    comparison = welch(adjusted[treated], adjusted[~treated])
    row = analysis.frame.set_index("cell").loc["treatment"]
    assert row["units"] == treated.sum()
    assert row["mean"] == pytest.approx(seen.loc[treated, "watch_minutes"].mean())
    assert row["variance_reduction"] == pytest.approx(reduction)
    assert row["diff"] == pytest.approx(comparison.diff)
    assert row["diff_low"] == pytest.approx(comparison.diff_low)
    assert row["p_value"] == pytest.approx(comparison.p_value, rel=1e-4)
