"""The metric table against what the classifier evaluator really returns on
real digits, and the report's quality table and runs.csv that read it."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.metrics import evaluate
from benchmark.metrics.table import CLASSIFIER, HIGHER, LOWER, METRICS, REPORTED, TAGGED, keys_of
from benchmark.report.results import Run
from benchmark.report.runs_csv import CSV_COLUMNS
from benchmark.report.sample_quality import quality_table


@pytest.fixture(scope="module")
def scored(test_subset, reference):
    """The evaluator's records of 200 real test digits: (conditional, unconditional)."""
    images, labels = test_subset[0][:200], test_subset[1][:200]
    return (evaluate(images, requested_labels=labels, reference=reference),
            evaluate(images, reference=reference))


def test_the_classifier_evaluator_fills_every_key_of_the_table_and_no_other(scored):
    conditional, unconditional = scored
    assert tuple(conditional) == keys_of(CLASSIFIER)
    assert tuple(unconditional) == tuple(metric.key for metric in METRICS
                                         if CLASSIFIER in metric.evaluators and not metric.conditional)


def test_the_report_shows_every_labelled_metric_in_table_order(scored):
    conditional, _ = scored
    # MNIST's Inception scores beside the classifier's, as benchmark.quality.inception_beside adds them
    beside = {"inception_fid": 21.5, "inception_kid_mean": 0.012, "inception_kid_std": 0.002, "inception_samples": 500}
    run = Run({"framework": "torch", "model": "cgan", "mode": "eager", "status": "ok", "config": {},
               "quality": {**conditional, **beside}}, Path("."))
    header = quality_table([run]).splitlines()[0]
    labels = [cell.strip() for cell in header.strip("|").split("|")][3:-1]  # after Framework, Mode, Samples
    assert labels == [metric.label for metric in REPORTED]
    assert conditional["kid_std"] > 0 and " ± " in quality_table([run]).splitlines()[2]
    table = quality_table([run])
    assert "| 21.50 | 0.0120 |" in table and "500 samples against as many real training images" in table
    assert all(metric.key in CSV_COLUMNS for metric in REPORTED)


def test_a_metrics_facts_agree_with_each_other():
    keys = [metric.key for metric in METRICS]
    assert len(set(keys)) == len(keys)
    assert len({metric.tag for metric in TAGGED}) == len(TAGGED)
    for metric in REPORTED:  # the report's arrow says the table's direction
        assert ("↓" in metric.label) == (metric.direction == LOWER)
        assert ("↑" in metric.label) <= (metric.direction == HIGHER)
        assert metric.fmt and (metric.spread is None or metric.spread in keys)
