"""A kept baseline: encoded and decoded bit for bit, and monitoring with it gives the same rows."""

from __future__ import annotations

import base64
import json
import zlib
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest
from test_monitor_spark import SPEC, frame

from churn_monitoring import Baseline, monitor, summarise_baseline
from churn_monitoring import baseline as baseline_module
from churn_monitoring.aggregate import with_windows
from churn_monitoring.baseline import FORMAT, decode, encode, fingerprint
from churn_monitoring.histograms import NumericHistogram
from churn_monitoring.tables import baseline_table_name, keep_baseline, read_kept_baseline


def assert_same_baseline(a: Baseline, b: Baseline) -> None:
    assert a.grids.keys() == b.grids.keys()
    for name, grid in a.grids.items():
        assert np.array_equal(grid, b.grids[name])
    assert list(a.summaries) == list(b.summaries)
    for key, summary in a.summaries.items():
        other = b.summaries[key]
        for field in ("row_count", "predicted_positive_rate", "probability_x_charges"):
            np.testing.assert_equal(getattr(summary, field), getattr(other, field), err_msg=field)
        assert summary.columns.keys() == other.columns.keys()
        for name, column in summary.columns.items():
            decoded = other.columns[name]
            if isinstance(column, NumericHistogram):
                for part in ("grid", "points", "cells", "cell_sums"):
                    assert np.array_equal(getattr(column, part), getattr(decoded, part)), part
                for part in ("nulls", "sum_squares", "minimum", "maximum"):
                    np.testing.assert_equal(getattr(column, part), getattr(decoded, part))
            else:
                assert column == decoded, (key, name)


def test_monitoring_with_a_decoded_baseline_gives_the_same_rows(spark) -> None:
    training = spark.createDataFrame(frame(3000, 1).drop(columns=["churn_probability"]))
    held_out = spark.createDataFrame(frame(800, 2))
    windows = pd.concat(
        [frame(900, 10, day=date(2026, 1, 1)), frame(900, 11, shift=0.6, day=date(2026, 1, 2))]
    )
    scored = with_windows(spark.createDataFrame(windows), "scoring_date", "1 day")
    args = {"granularity": "1 day", "model_version": "3"}

    from_rows = monitor(training, scored, SPEC, prediction_baseline=held_out, **args)
    baseline = summarise_baseline(training, SPEC, held_out)
    text = encode(baseline)
    assert text.isascii()
    kept = decode(text)
    assert_same_baseline(baseline, kept)
    from_kept = monitor(kept, scored, SPEC, **args)

    pd.testing.assert_frame_equal(from_rows.profile, from_kept.profile, check_exact=True)
    pd.testing.assert_frame_equal(from_rows.drift, from_kept.drift, check_exact=True)
    assert from_kept.baseline.keys() == from_rows.baseline.keys()

    other_spec = replace(SPEC, numeric=(*SPEC.numeric, "senior_citizen"))
    with pytest.raises(ValueError, match="no grid of \\['senior_citizen'\\]"):
        monitor(kept, scored, other_spec, **args)


def test_a_kept_baseline_is_found_by_its_fingerprint_newest_first(spark) -> None:
    spark.sql("CREATE DATABASE IF NOT EXISTS kept")
    table = baseline_table_name("kept.predictions")
    assert table == "kept.predictions_monitor_baseline"
    assert read_kept_baseline(spark, table, "f1") is None  # no table yet
    keep_baseline(spark, table, "f1", "3", "first")
    keep_baseline(spark, table, "f2", "4", "other")
    keep_baseline(spark, table, "f1", "3", "second")
    assert read_kept_baseline(spark, table, "f1") == "second"
    assert read_kept_baseline(spark, table, "f3") is None


def test_the_fingerprint_covers_the_spec_the_sources_and_the_format(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = fingerprint(SPEC, model="m", version="1", tables={"features": 3})
    assert key == fingerprint(SPEC, model="m", version="1", tables={"features": 3})
    assert key != fingerprint(SPEC, model="m", version="2", tables={"features": 3})
    assert key != fingerprint(SPEC, model="m", version="1", tables={"features": 4})
    assert key != fingerprint(replace(SPEC, max_grid=500), model="m", version="1", tables={})
    assert key != fingerprint(
        replace(SPEC, threshold=0.4), model="m", version="1", tables={"features": 3}
    )
    monkeypatch.setattr(baseline_module, "FORMAT", FORMAT + 1)
    assert key != fingerprint(SPEC, model="m", version="1", tables={"features": 3})


def test_text_that_is_not_a_baseline_of_this_format_is_refused() -> None:
    with pytest.raises(ValueError, match="not an encoded baseline"):
        decode("not base64 at all!")

    def text(document: object) -> str:
        return base64.b64encode(zlib.compress(json.dumps(document).encode())).decode()

    with pytest.raises(ValueError, match=f"format {FORMAT + 1}, not {FORMAT}"):
        decode(text({"format": FORMAT + 1, "grids": {}, "summaries": []}))
    damaged = {"format": FORMAT, "grids": {}, "summaries": [{"slice_key": None}]}
    with pytest.raises(ValueError, match="not an encoded baseline: KeyError"):
        decode(text(damaged))
