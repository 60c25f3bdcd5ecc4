"""Data-parallel training (`--devices N`) equals one device, in each framework
and between them, on this machine's CPU: 2 gloo ranks under torchrun for
torch, 2 logical CPU devices under MirroredStrategy for tf, 2 XLA:CPU devices
of a jax.sharding mesh for jax, each in its own process
(tests/distributed/replicas.py), 3 float64 steps of batch 16 (8 per replica)
from the same weights, images, noise, labels and penalty mixes.

The one device is torch's, for every framework's replicas: the single-device
twins compute the same float64 arithmetic (tests/parity, to FLOAT64_RTOL; the
cases take TensorFlow's float32 constants), so tf's and jax's replicas are
held to the single device's arithmetic without training those twins here
too, and a failure in one framework names that framework's replicas.

Why float64 and FLOAT64_RTOL. With the global step's inputs sliced per
replica, N replicas compute the single device's arithmetic with the batch
sums split in two and added in another order: float64 rounding, which Adam's
sign-like first updates amplify to at most 3e-12 relative here (measured
against torch's one device: losses <= 6e-15, weights <= 2.4e-12, in all
three frameworks; the replicas against torch's 2 ranks: weights <= 4.1e-12).
Any semantic
difference is float32-sized or larger: BatchNorm that normalises each
replica's half instead of the global batch moves the losses by 2e-2
(`test_the_bound_sees_unsynced_batchnorm`). tests/parity/test_parity.py's
FLOAT64_RTOL = 1e-9 sits between, with over two decades each side, the same
bound the single-device twins are held to; so the distributed twins agree as
the single-device ones do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.distributed import replicas as R
from tests.distributed.torchrun import ranks_stderr, torchrun
from tests.parity.bounds import relative_error
from tests.parity.test_parity import FLOAT64_RTOL

torch = pytest.importorskip("torch")
pytest.importorskip("tensorflow")
pytest.importorskip("jax")

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = str(Path(R.__file__).resolve())
SYNCED = [case for case, (_, sync) in R.CASES.items() if sync or case == "wgan_gp-no-bn"]


FRAMEWORKS = ("torch", "tf", "jax")


def launch(framework: str, out: Path) -> subprocess.Popen:
    """Two replicas in a fresh process: torchrun with 2 gloo ranks, or one tf
    or jax process with 2 logical CPU devices. DDP's debug level is INFO: DETAIL
    segfaults in DDP's constructor with torch 2.14.1 on the CPU (its Logger);
    a reducer left waiting by a partly frozen D fails at any level."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
           "TORCH_DISTRIBUTED_DEBUG": "INFO", "OMP_NUM_THREADS": "1"}
    if framework == "torch":
        command = torchrun(SCRIPT, "torch", str(out), log_dir=out.with_suffix(".ranks"))
    else:
        command = [sys.executable, SCRIPT, framework, str(out), "2"]
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{"torch2", "tf2", "jax2", "torch1"}: each a dict of R.run's arrays.
    The distributed processes run while this one trains the single device."""
    folder = tmp_path_factory.mktemp("replicas")
    started = {f: launch(f, folder / f"{f}.npz") for f in FRAMEWORKS}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results = {"torch1": R.run("torch", 1)[0]}
    finally:
        torch.set_num_threads(threads)
    for framework, process in started.items():
        output, _ = process.communicate(timeout=600)
        own = ranks_stderr(folder / f"{framework}.ranks") if framework == "torch" else output[-4000:]
        assert process.returncode == 0, f"{framework} replicas failed:\n{output[-1500:]}\n{own}"
        with np.load(folder / f"{framework}.npz") as saved:
            results[f"{framework}2"] = dict(saved)
    return results


def worst(a: dict, b: dict, case: str) -> tuple[float, float]:
    """(losses, every weight and statistic): the largest relative difference."""
    weights = [k for k in a if k.startswith(f"{case}/w/")]
    assert weights and set(weights) <= set(b)
    return (relative_error(a[f"{case}/losses"], b[f"{case}/losses"]),
            max(relative_error(a[k], b[k]) for k in weights))


@pytest.mark.parametrize("framework", FRAMEWORKS)
@pytest.mark.parametrize("case", SYNCED)
def test_two_replicas_equal_one_device(runs, framework, case):
    """Strong scaling: the losses and every parameter, BatchNorm statistic and
    spectral-norm vector after 3 steps, 2 replicas of 8 against torch's 1
    device of 16. wgan_gp's penalty gradients reach the all-reduce; BatchNorm
    is synced."""
    losses, weights = worst(runs[f"{framework}2"], runs["torch1"], case)
    assert losses <= FLOAT64_RTOL and weights <= FLOAT64_RTOL, (losses, weights)


@pytest.mark.parametrize("twin", ["tf", "jax"])
@pytest.mark.parametrize("case", list(R.CASES))
def test_distributed_twins_agree(runs, case, twin):
    """torch's 2 ranks against tf's and jax's 2 replicas, as the single-device
    twins are held (tests/parity); unsynced BatchNorm too: per-replica
    statistics and averaged moving statistics mean the same in all three."""
    losses, weights = worst(runs["torch2"], runs[f"{twin}2"], case)
    assert losses <= FLOAT64_RTOL and weights <= FLOAT64_RTOL, (losses, weights)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_bound_sees_unsynced_batchnorm(runs, framework):
    """Without --sync-batchnorm, each replica normalises its own half: not the
    single device's arithmetic, and the bound must see it (module docstring)."""
    losses, _ = worst(runs[f"{framework}2"], runs["torch1"], "dcgan-unsynced")
    assert losses > 1e3 * FLOAT64_RTOL


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_every_replica_holds_the_same_state(runs, framework):
    """After 3 steps every replica's copy of every weight, BatchNorm statistic
    (synced, or averaged) and spectral-norm vector is bit for bit replica 0's,
    clipped WGAN weights included; they started identical (rank 0's broadcast)."""
    spreads = {case: float(runs[f"{framework}2"][f"{case}/spread"]) for case in R.CASES}
    assert all(s == 0.0 for s in spreads.values()), spreads


def test_freezing_part_of_d_would_break_ddp(runs):
    """The runner freezes all of D during G's update, and every step above ran
    G's update between D's; freezing a subset instead leaves D's reducer
    waiting, which DDP refuses at D's next forward."""
    assert "Expected to have finished reduction" in str(runs["torch2"]["partly-frozen/error"])



def test_a_step_takes_the_slowest_replicas_time(runs):
    """The run's step time is the maximum over ranks (Runner.step_seconds):
    rank 0 timed 0.1 s and rank 1 0.2 s, so rank 0, which writes, records 0.2."""
    assert float(runs["torch2"]["slowest/step_s"]) == pytest.approx(0.2, abs=1e-12)
