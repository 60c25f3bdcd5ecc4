"""The driver: one seeded batch order and noise stream for every framework,
warm-up kept out of the statistics, divergence caught, runs reproducible."""

import dataclasses
import io

import numpy as np
import pytest

from benchmark.config import RunConfig
from benchmark.driver import Hooks, Seeds, TrainState, epoch_batches, probe_steps, train
from benchmark.progress import Progress
from benchmark.runner import RunnerOptions
from benchmark.specs import OptimizerSpec, get_spec
from benchmark.timing import summarize_steps
from benchmark.weights import initial_weights


def config(**overrides) -> RunConfig:
    values = dict(framework="torch", model="dcgan", mode="eager", device="cpu", profile="smoke",
                  epochs=1, batch_size=16, train_size=128, sample_count=4, seed=3, threads=0,
                  data_dir=None)
    return RunConfig(**{**values, **overrides})


def test_each_epoch_is_a_seeded_permutation_in_whole_steps():
    spec = get_spec("wgan")  # 5 critic batches per step
    plan = epoch_batches(250, config(batch_size=16), spec, np.random.default_rng(0))
    assert plan.shape == (3, 5, 16)  # 250 // 80 whole steps; the tail is dropped
    assert len(np.unique(plan)) == plan.size  # no image twice in an epoch
    again = epoch_batches(250, config(batch_size=16), spec, np.random.default_rng(0))
    np.testing.assert_array_equal(plan, again)


def test_too_few_images_for_one_step_is_an_error():
    with pytest.raises(ValueError, match="lower --batch-size"):
        epoch_batches(50, config(batch_size=16), get_spec("wgan"), np.random.default_rng(0))


def test_seeds_are_reproducible_and_independent():
    a, b = Seeds.from_seed(5), Seeds.from_seed(5)
    assert a.init == b.init
    np.testing.assert_array_equal(a.noise.standard_normal(8), b.noise.standard_normal(8))
    assert not np.array_equal(Seeds.from_seed(5).order.permutation(100),
                              Seeds.from_seed(6).order.permutation(100))


def test_warmup_is_reported_apart_from_steady_state():
    stats = summarize_steps([3.0, 2.0, 0.1, 0.1, 0.1, 0.2, 0.1, 0.1], [True, True] + [False] * 6,
                            images_per_step=10)
    assert stats["warmup_steps"] == 2 and stats["warmup_s"] == pytest.approx(5.0)
    assert stats["step_ms_median"] == pytest.approx(100.0)
    assert stats["images_per_s"] == pytest.approx(100.0)
    assert stats["images_per_s_p10"] <= stats["images_per_s"] <= stats["images_per_s_p90"]


def test_a_run_of_warmup_steps_only_has_no_speed():
    stats = summarize_steps([3.0, 2.0], [True, True], images_per_step=10)
    assert stats["warmup_steps"] == 2 and stats["steady_steps"] == 0
    assert stats["warmup_s"] == pytest.approx(5.0)
    assert stats["images_per_s"] is None and stats["step_ms_median"] is None


def _train_torch(spec, cfg, images, quality=None):
    torch_runner = pytest.importorskip("torch_impl.runner")
    seeds = Seeds.from_seed(cfg.seed)
    runner = torch_runner.TorchRunner(spec, RunnerOptions())
    runner.import_weights(initial_weights(spec, seeds.init))
    return train(runner, spec, cfg, images, np.arange(len(images)) % 10, seeds,
                 progress=Progress(cfg.name, stream=io.StringIO()), hooks=Hooks(quality=quality))


def test_same_seed_gives_the_same_loss_curve(mnist_train):
    images = np.array(mnist_train[0][:128])
    spec = get_spec("dcgan")
    # Bit for bit, on any CPU: both runs are in this process, so with the same
    # kernels and thread count, which oneDNN and MKL document as run-to-run
    # deterministic on a CPU (the same summation order every time). Another
    # CPU gives another curve; nothing here compares across machines.
    first = _train_torch(spec, config(), images)
    second = _train_torch(spec, config(), images)
    assert first.status == "ok" and first.timing["steps"] == 8
    assert first.history.d_loss == second.history.d_loss
    assert first.history.g_loss == second.history.g_loss
    np.testing.assert_array_equal(first.samples, second.samples)
    other_seed = _train_torch(spec, config(seed=4), images)
    assert other_seed.history.d_loss != first.history.d_loss


def test_a_non_finite_loss_stops_the_run_as_diverged(mnist_train):
    images = np.array(mnist_train[0][:128])
    explosive = OptimizerSpec("rmsprop", lr=1e12)
    spec = dataclasses.replace(get_spec("dcgan"), d_optimizer=explosive, g_optimizer=explosive)
    outcome = _train_torch(spec, config(), images)
    assert outcome.status == "diverged"
    assert "non-finite loss at step" in outcome.reason
    assert outcome.timing["steps"] < 8


class RecordedBatches:
    """torch's device batches behind the native pipeline's interface, noting
    the plans each `epochs` call was given."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        from torch_impl.input_pipeline import DeviceInput

        self.loader, self.calls = DeviceInput(images, labels), []

    def epochs(self, plans):
        self.calls.append([np.array(plan) for plan in plans])
        return (self.loader.epoch(plan) for plan in plans)


def test_a_native_pipeline_gets_the_whole_runs_plans_at_once_and_a_resume_the_rest(mnist_train):
    """One `epochs` call per run (Grain's workers start once), with the plans
    the run then trains; a run resumed from a checkpoint asks for the plans the
    uninterrupted run trained after it, and trains as many steps."""
    torch_runner = pytest.importorskip("torch_impl.runner")
    images, labels = np.array(mnist_train[0][:64]), np.array(mnist_train[1][:64])
    spec, cfg = get_spec("dcgan"), config(epochs=3)  # 4 steps of 16 an epoch
    states = []

    def run(resume=None):
        seeds, runner = Seeds.from_seed(cfg.seed), torch_runner.TorchRunner(spec, RunnerOptions())
        runner.import_weights(initial_weights(spec, seeds.init))
        batches = RecordedBatches(images, labels)
        outcome = train(runner, spec, cfg, images, labels, seeds, Progress(cfg.name, stream=io.StringIO()),
                        Hooks(checkpoint=lambda state: states.append(TrainState.from_dict(state.to_dict()))),
                        resume=resume, batches=batches)
        return outcome, batches.calls

    whole, calls = run()
    assert whole.status == "ok" and len(calls) == 1 and len(calls[0]) == 3
    order = Seeds.from_seed(cfg.seed).order
    for plan in calls[0]:
        np.testing.assert_array_equal(plan, epoch_batches(len(images), cfg, spec, order))
    # (The resumed runner starts from the initial weights, not the checkpoint's:
    # its losses are not compared, only the data order it is given.)
    resumed, resumed_calls = run(resume=states[0])
    assert len(resumed_calls) == 1
    for got, want in zip(resumed_calls[0], calls[0][1:], strict=True):
        np.testing.assert_array_equal(got, want)
    assert len(resumed.history) == len(whole.history)


def test_probe_steps_are_evenly_spaced_and_the_last_ends_the_run():
    assert probe_steps(468, 4) == {117, 234, 351, 468}  # one quick-profile DCGAN epoch
    assert probe_steps(10, 1) == {10}
    assert probe_steps(2, 5) == {1, 2}  # no more probes than steps


def test_quality_is_scored_at_the_probe_steps_across_epochs(mnist_train, mnist_data_dir):
    from benchmark.quality import QualityProbe

    images = np.array(mnist_train[0][:128])  # 8 steps of 16 per epoch
    spec, cfg = get_spec("dcgan"), config(epochs=2, quality_probes=3)
    probe = QualityProbe(spec, 200, Seeds.from_seed(cfg.seed).quality, mnist_data_dir)
    outcome = _train_torch(spec, cfg, images, quality=probe)
    assert outcome.status == "ok"
    # 16 steps, 3 probes: after steps 6, 11 and 16 (0-based 5, 10, 15), the last one the run's end.
    assert [(q["epoch"], q["step"]) for q in outcome.quality] == [(1, 5), (2, 10), (2, 15)]
    train_s = [q["train_s"] for q in outcome.quality]
    assert train_s == sorted(train_s) and train_s[-1] == outcome.history.wall_s[-1]
    assert all(np.isfinite(q["fid"]) and q["num_samples"] == 200 for q in outcome.quality)


def test_the_rounding_control_moves_one_weight_by_one_ulp():
    from benchmark.specs import SPECS
    from benchmark.weights import initial_weights, nudged_by_one_ulp

    weights = initial_weights(SPECS["dcgan"], seed=3)
    nudged, key = nudged_by_one_ulp(weights)
    assert key.startswith("generator/") and key.endswith("/kernel")
    for name, value in weights.items():
        differs = nudged[name] != value
        assert differs.sum() == (1 if name == key else 0), name
    before, after = weights[key].flat[0], nudged[key].flat[0]
    assert after > before and np.nextafter(before, np.float32(np.inf)) == after
