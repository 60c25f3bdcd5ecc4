"""The input-throughput measurement: its plan, its clock, and the command in its
own process (figures are printed by the script, never asserted)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.data import throughput
from tests.datasets import write_image_folder


def test_plan_is_the_drivers_shape_and_each_pass_a_permutation() -> None:
    plan = throughput.epoch_plan(10, batch_size=3, steps=5, seed=1)
    assert plan.shape == (5, 1, 3)
    first_pass = plan[:3].reshape(-1)
    assert len(set(first_pass.tolist())) == 9  # 3 steps of 3 from one permutation of 10
    with pytest.raises(ValueError, match="batch size 11 is larger than the 10 images"):
        throughput.epoch_plan(10, batch_size=11, steps=1)


def test_clock_leaves_out_the_warmup() -> None:
    batches = [(np.zeros((4, 2)), None)] * 5
    result = throughput.time_batches(batches, lambda x: x, batch_size=4, warmup=2)
    assert result["steps"] == 3 and result["images_per_s"] > 0
    with pytest.raises(ValueError, match="leave none after 5 warm-up steps"):
        throughput.time_batches(batches, lambda x: x, batch_size=4, warmup=5)


def test_command_measures_in_its_own_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    write_image_folder(tmp_path / "faces", corrupt=False)
    result = throughput.input_throughput("torch", f"folder:{tmp_path / 'faces'}", "native", batch_size=2,
                                         steps=3, warmup=1, workers=1, image_size=16, timeout_s=300)
    assert result["framework"] == "torch" and result["pipeline"] == "native" and result["steps"] == 3
    assert result["images_per_s"] > 0
