"""The JAX runner's modes and pytree plumbing, on `tests.every_path.EVERY_PATH`
(labels, BatchNorm, self-attention, spectral norm in both networks, the
gradient penalty through a spectrally normalised critic, two critic updates).

- eager (op by op) and jit (one XLA program, critic updates unrolled) run
  the same step: float64, 1e-9 relative, the tolerance and its reasons of
  tests/torch_impl/test_torch_modes.py (float64 rounding amplified by two
  Adam steps, against a real difference at 1e-7 or above).
- jit donates the TrainState: the arrays a step read are deleted after it
  (JAX.md: copy what a test compares), and `export_weights` returns copies
  that stay valid through later steps.
- float64 is enabled for a float64 runner and only there: jax_enable_x64 is a
  context around each of its calls, so a float32 runner in the same process
  still computes in float32 and the process-wide flag stays off.
- a checkpoint (weights and optimizer state) resumes the same trajectory.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

jax = pytest.importorskip("jax")

from benchmark.runner import RunnerOptions, StepInputs  # noqa: E402
from benchmark.specs import GANSpec  # noqa: E402
from benchmark.specs.layers import SelfAttention  # noqa: E402
from jax_impl.runner import JaxRunner  # noqa: E402
from tests.every_path import EVERY_PATH, TRAIN_OPTIONS, assert_same_training  # noqa: E402
from tests.training import train_steps, without_layers  # noqa: E402

RTOL = 1e-9

# EVERY_PATH's kinds of state (BatchNorm statistics, spectral-norm vectors, Adam's moments,
# labels) without its self-attention and penalty: the float32 runner of the float64 flag's
# test, which shows that no flag leaked into it. With EVERY_PATH's float32 step, which XLA
# compiled in about 10 s, that test took 12.5 s; with this one 6.0 s (both on one core at once).
NO_ATTENTION = dataclasses.replace(without_layers(EVERY_PATH, SelfAttention), name="no_attention",
                                   gradient_penalty=None)


def trained(mode: str, dtype: str = "float64", steps: int = 2, spec: GANSpec = EVERY_PATH):
    runner = JaxRunner(spec, RunnerOptions(mode=mode, dtype=dtype))
    losses = train_steps(runner, **{**TRAIN_OPTIONS, "steps": steps, "dtype": dtype})
    return runner, losses


def test_jit_step_equals_eager():
    eager, eager_losses = trained("eager")
    jit, jit_losses = trained("jit")
    assert_same_training((eager_losses, eager.export_weights()), (jit_losses, jit.export_weights()), RTOL)


def test_jit_donates_the_train_state_and_exports_copies():
    runner, _ = trained("jit", steps=1)
    before = jax.tree.leaves(runner.state)
    exported = runner.export_weights()
    snapshot = {key: value.copy() for key, value in exported.items()}
    # One more step on the runner's own state (train_steps would import fresh weights first).
    rng = np.random.default_rng(5)
    runner.train_step(StepInputs.draw(EVERY_PATH, rng.integers(0, TRAIN_OPTIONS["data"], (EVERY_PATH.n_critic,
                                                                                        TRAIN_OPTIONS["batch"])),
                                      rng, TRAIN_OPTIONS["dtype"]))
    assert all(leaf.is_deleted() for leaf in before), "jit did not donate the step's state"
    for key, value in snapshot.items():  # the export survived the donation, unchanged
        np.testing.assert_array_equal(exported[key], value, err_msg=key)
    assert not np.array_equal(runner.export_weights()["generator/deconv/kernel"],
                              snapshot["generator/deconv/kernel"])


def test_float64_is_enabled_for_float64_runners_only():
    assert not jax.config.jax_enable_x64
    runner64, _ = trained("jit", steps=1)
    assert not jax.config.jax_enable_x64, "the float64 runner leaked jax_enable_x64"
    weights = runner64.export_weights()
    assert all(value.dtype == np.float64 for value in weights.values())
    # Really float64, not float32 relabelled: trained weights carry bits float32 cannot.
    kernel = weights["discriminator/conv/kernel"]
    assert not np.array_equal(kernel, kernel.astype(np.float32).astype(np.float64))
    runner32, losses = trained("jit", dtype="float32", steps=1, spec=NO_ATTENTION)
    exported = runner32.export_weights()
    assert {key.rsplit("/", 1)[-1] for key in exported} >= {"moving_mean", "sn_u"}  # statistics and vectors too
    assert all(value.dtype == np.float32 for value in exported.values())
    assert all(leaf.dtype != np.float64 for leaf in jax.tree.leaves(runner32.state))


def step_draws(steps: int) -> tuple[np.ndarray, list[StepInputs]]:
    """The data and step inputs `train_steps` draws with TRAIN_OPTIONS."""
    o, spec = TRAIN_OPTIONS, EVERY_PATH
    rng = np.random.default_rng(o["data_seed"])
    data = np.tanh(rng.normal(size=(o["data"], *spec.image_shape))).astype(o["dtype"])
    return data, [StepInputs.draw(spec, rng.integers(0, o["data"], (spec.n_critic, o["batch"])), rng, o["dtype"])
                  for _ in range(steps)]


def test_checkpoint_resumes_the_same_trajectory(tmp_path):
    straight, _ = trained("jit", steps=2)
    first, _ = trained("jit", steps=1)
    first.save(tmp_path)
    resumed = JaxRunner(EVERY_PATH, RunnerOptions(mode="jit", dtype="float64"))
    resumed.load(tmp_path)
    data, draws = step_draws(2)
    resumed.load_data(data, np.arange(len(data)) % EVERY_PATH.num_classes)
    resumed.train_step(draws[1])
    # The same arithmetic on the same state: bit for bit.
    want, got = straight.export_weights(), resumed.export_weights()
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
