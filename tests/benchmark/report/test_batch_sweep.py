"""A batch-size sweep's report compares the frameworks at one batch size,
chosen so that the headline never rests on the sweep's extremes, and says which."""

from pathlib import Path

from benchmark.report.results import Run, Suite
from benchmark.report.speed import primary_batch_size


def runs(batch_sizes):
    return [Run({"framework": framework, "model": "dcgan", "mode": "eager", "status": "ok",
                 "config": {"batch_size": size, "profile": "quick"}}, Path("."))
            for size in batch_sizes for framework in ("torch", "tf")]


def test_the_most_used_batch_size_is_primary():
    assert primary_batch_size(runs([64, 64, 256]), 256) == 64
    assert primary_batch_size([], 128) is None


def test_a_sweep_compares_at_the_profiles_recorded_batch_size():
    assert primary_batch_size(runs([32, 128, 512]), 128) == 128
    assert primary_batch_size(runs([256, 128, 32]), 256) == 256  # as recorded, not the middle one


def test_a_sweep_without_the_profiles_size_compares_at_its_middle_one():
    assert primary_batch_size(runs([32, 64, 512]), 128) == 64
    assert primary_batch_size(runs([512, 32, 64, 256]), 128) == 64  # the lower of the two middle ones
    assert primary_batch_size(runs([32, 512]), None) == 32  # results from before profile_settings


def test_the_suite_reads_the_profiles_batch_size_from_results_json():
    recorded = Suite({"suite": {"profile": "quick", "profile_settings": {"name": "quick", "batch_size": 256}}},
                     (), (), ())
    assert recorded.profile_batch_size == 256
    assert Suite({"suite": {"profile": "quick"}}, (), (), ()).profile_batch_size is None  # older results
