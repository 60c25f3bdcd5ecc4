"""A batch-size sweep's report compares the frameworks at one batch size,
chosen so that the headline never rests on the sweep's extremes, and says which."""

from pathlib import Path

from benchmark.report.results import Run
from benchmark.report.tables import primary_batch_size


def runs(batch_sizes, profile="quick"):
    return [Run({"framework": framework, "model": "dcgan", "mode": "eager", "status": "ok",
                 "config": {"batch_size": size, "profile": profile}}, Path("."))
            for size in batch_sizes for framework in ("torch", "tf")]


def test_the_most_used_batch_size_is_primary():
    assert primary_batch_size(runs([64, 64, 256])) == 64
    assert primary_batch_size([]) is None


def test_a_sweep_compares_at_the_profiles_batch_size():
    assert primary_batch_size(runs([32, 128, 512])) == 128  # quick's batch size
    assert primary_batch_size(runs([256, 128, 32], profile="full")) == 128


def test_a_sweep_without_the_profiles_size_compares_at_its_middle_one():
    assert primary_batch_size(runs([32, 64, 512])) == 64
    assert primary_batch_size(runs([512, 32, 64, 256])) == 64  # the lower of the two middle ones
    assert primary_batch_size(runs([32, 512], profile="unknown")) == 32
