"""The divergence trace: a log-spaced schedule, a sketch whose distances
estimate the weights' distances, traces that survive a save and a resume, and
the report's verdict on twins that did or did not start alike."""

import math

import numpy as np
import pytest

from benchmark.divergence import (NETWORKS, SKETCH_SIZE, CountSketch, Trace, Tracer, compare,
                                  first_step_beyond, trace_steps)
from benchmark.driver import Hooks, Seeds, train
from benchmark.registry import create_runner
from benchmark.report.divergence import TwinPair, divergence_section
from benchmark.runner import RunnerOptions
from benchmark.specs import get_spec
from benchmark.weights import initial_weights, nudged_by_one_ulp
from tests.benchmark.test_driver import config

# CountSketch: E||Sx||^2 = ||x||^2 and Var(||Sx||^2) = 2(||x||^4 - sum x_i^4) / k
# <= 2||x||^4 / k, so ||Sx|| / ||x|| has a standard deviation of at most
# 1 / sqrt(2k) (delta method). Six of them: the estimate may not stray further.
SKETCH_SD = 1 / math.sqrt(2 * SKETCH_SIZE)


def test_the_trace_is_log_spaced_from_the_start_to_the_last_step():
    assert trace_steps(20) == {0, 1, 2, 4, 8, 16, 20}
    assert trace_steps(16) == {0, 1, 2, 4, 8, 16}
    assert trace_steps(1) == {0, 1}


def test_identical_weights_sketch_identically_and_a_difference_is_estimated():
    spec = get_spec("dcgan")
    sketch = CountSketch()
    a, b = initial_weights(spec, 0), initial_weights(spec, 1)
    for network in NETWORKS:
        (sa, norm_a), (again, _) = sketch(a, network), sketch({k: v.copy() for k, v in a.items()}, network)
        assert np.array_equal(sa, again)  # bit for bit: the distance of a twin to itself is 0
        keys = [k for k in a if k.startswith(network + "/")]
        exact_norm = math.sqrt(sum(float(np.sum(a[k].astype(np.float64) ** 2)) for k in keys))
        assert norm_a == pytest.approx(exact_norm, rel=1e-12)
        sb, _ = sketch(b, network)
        exact = math.sqrt(sum(float(np.sum((a[k].astype(np.float64) - b[k]) ** 2)) for k in keys))
        assert np.linalg.norm(sa - sb) / exact == pytest.approx(1, abs=6 * SKETCH_SD)


def test_one_ulp_is_seen_at_its_own_size():
    """The first steps' differences are a few ulps: the sketch must resolve one."""
    spec = get_spec("dcgan")
    weights = initial_weights(spec, 0)
    nudged, key = nudged_by_one_ulp(weights)
    sketch = CountSketch()
    (sa, norm), (sb, _) = sketch(weights, "generator"), sketch(nudged, "generator")
    ulp = float(np.spacing(weights[key].flat[0]))
    # One weight moved: its bucket changes by exactly that amount (float64 sums of float32 values).
    assert np.linalg.norm(sa - sb) == pytest.approx(ulp, rel=1e-6)


def test_a_trace_survives_saving_and_a_resume(tmp_path, mnist_train):
    images, labels = mnist_train
    spec = get_spec("dcgan")
    cfg = config(epochs=2, train_size=64, batch_size=16)  # 4 steps per epoch, 8 in all
    runner = create_runner("torch", spec, RunnerOptions())
    runner.import_weights(initial_weights(spec, Seeds.from_seed(cfg.seed).init))
    tracer = Tracer.for_run(spec, 30, Seeds.from_seed(cfg.seed).quality)
    train(runner, spec, cfg, images[:64], labels[:64], Seeds.from_seed(cfg.seed), hooks=Hooks(trace=tracer))
    trace = tracer.trace
    assert trace.steps == [0, 1, 2, 4, 8]
    assert all(d.shape == (30,) for d in trace.digits)
    assert all(s.shape == (SKETCH_SIZE,) for s in trace.sketches["generator"])
    path = tmp_path / "trace.npz"
    trace.save(path)
    loaded, head = Trace.load(path), Trace.load(path, up_to_step=4)
    assert loaded.steps == trace.steps and head.steps == [0, 1, 2, 4]
    assert np.array_equal(np.stack(loaded.sketches["discriminator"]), np.stack(trace.sketches["discriminator"]))
    # A resumed tracer skips the step its checkpoint already recorded.
    resumed = Tracer.for_run(spec, 30, Seeds.from_seed(cfg.seed).quality, head)
    resumed(4, runner)
    assert resumed.trace.steps == [0, 1, 2, 4]


def test_the_trace_classifies_the_first_vectors_of_the_quality_noise():
    from benchmark.quality import QualityProbe

    spec = get_spec("dcgan")
    probe = QualityProbe(spec, 50, Seeds.from_seed(3).quality, None)
    tracer = Tracer.for_run(spec, 20, Seeds.from_seed(3).quality)
    assert np.array_equal(tracer.noise, probe.noise[:20])
    assert len(Tracer.for_run(spec, 0, Seeds.from_seed(3).quality).noise) == 0  # nothing scored: weights only


def synthetic_trace(steps, scale, digits, start=0.0):
    """A trace whose generator sketch moves by `scale * step` from a fixed point."""
    trace = Trace()
    base = np.random.default_rng(0).standard_normal(SKETCH_SIZE)
    for step in steps:
        for network in NETWORKS:
            trace.sketches[network].append(base + (scale * step + start) * np.eye(SKETCH_SIZE)[0])
            trace.norms[network].append(float(np.linalg.norm(base)))
        trace.digits.append(np.asarray(digits(step), np.uint8))
        trace.steps.append(step)
    return trace


def test_compare_reads_distance_and_agreement_at_the_steps_both_traced():
    norm = float(np.linalg.norm(np.random.default_rng(0).standard_normal(SKETCH_SIZE)))
    a = synthetic_trace([0, 1, 2, 4], 0.0, lambda s: [1, 2, 3, 4])
    b = synthetic_trace([0, 1, 2, 4, 8], norm / 100, lambda s: [1, 2, 3, 4, 7] if s < 4 else [1, 2, 0, 0, 9])
    d = compare(a, b)
    assert d.steps.tolist() == [0, 1, 2, 4]
    np.testing.assert_allclose(d.distance["generator"], [0, 0.01, 0.02, 0.04], atol=1e-12)
    np.testing.assert_allclose(d.same_digit, [1, 1, 1, 0.5])  # on the 4 samples both classified
    # chance: sum_k p_a(k) p_b(k); at step 4, b draws 0, 0, 1, 2 against a's 1, 2, 3, 4
    np.testing.assert_allclose(d.chance_digit, [0.25, 0.25, 0.25, 2 * 0.25 * 0.25])
    one_digit = compare(synthetic_trace([0], 0.0, lambda s: [3] * 8), synthetic_trace([0], 0.0, lambda s: [3] * 8))
    assert one_digit.same_digit[0] == one_digit.chance_digit[0] == 1.0  # agreement by chance alone
    assert first_step_beyond(d, 0.015) == 2 and first_step_beyond(d, 0.5) is None
    assert compare(a, synthetic_trace([0, 1], 0.0, lambda s: [])).same_digit is None


def test_the_report_flags_twins_that_did_not_start_alike():
    same = compare(synthetic_trace([0, 1, 2], 0.0, lambda s: [1]), synthetic_trace([0, 1, 2], 0.5, lambda s: [1]))
    broken = compare(synthetic_trace([0, 1, 2], 0.0, lambda s: [1]),
                     synthetic_trace([0, 1, 2], 0.5, lambda s: [1], start=1.0))
    text = divergence_section([TwinPair("torch vs tf", 0, False, same)])
    assert "identical (distance 0) at every seed" in text and "| torch vs tf | 0 |" in text
    text = divergence_section([TwinPair("torch vs tf", 0, False, same), TwinPair("torch vs tf", 1, False, broken)])
    assert "**At step 0 the frameworks' twins differ at 1 of 2 seeds**" in text
    assert divergence_section([]) is None
