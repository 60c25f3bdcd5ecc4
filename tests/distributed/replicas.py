"""A few float64 training steps of every data-parallel case, written to one
.npz for tests/distributed/test_data_parallel.py. Runs in its own process:
under torchrun for torch (2 gloo ranks), or as

    python tests/distributed/replicas.py tf OUT.npz 2
    python tests/distributed/replicas.py jax OUT.npz 2

for tf (2 logical CPU devices) and jax (2 XLA:CPU devices), which must be
set before the framework starts.
With 1 replica it trains the plain single-device runners.

Per case it stores the losses of every step ("<case>/losses", (steps, 2)),
every weight, BatchNorm statistic and spectral-norm vector afterwards
("<case>/w/<key>"), and the largest difference between any replica's copy of
any of them and replica 0's ("<case>/spread").
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from benchmark.runner import RunnerOptions  # noqa: E402
from benchmark.specs import SPECS  # noqa: E402
from benchmark.specs.layers import BatchNorm  # noqa: E402
from tests.training import float32_constants, train_steps, two_critic_updates, without_layers  # noqa: E402

STEPS, BATCH, DATA, WEIGHT_SEED, DATA_SEED = 3, 16, 256, 1234, 7


# case -> (spec, --sync-batchnorm). Every zoo model has BatchNorm in G, so the
# BatchNorm-free case strips it from wgan_gp (penalty, 2 critic updates); the
# others synchronise it: BatchNorm in G only (wgan_gp, and sn_dcgan with spectral
# norm in D), in both networks (wgan: clipped, 2 critic updates; cgan: labels).
# DCGAN synced is cgan without its labels, so it has no case of its own;
# dcgan-unsynced shows what the bound would catch.
CASES = {
    "wgan_gp-no-bn": (two_critic_updates(without_layers(SPECS["wgan_gp"], BatchNorm)), False),
    "wgan_gp": (two_critic_updates(SPECS["wgan_gp"]), True),
    "sn_dcgan": (SPECS["sn_dcgan"], True),
    "wgan": (two_critic_updates(SPECS["wgan"]), True),
    "cgan": (SPECS["cgan"], True),
    "dcgan-unsynced": (SPECS["dcgan"], False),
}


def spread(states: list[dict[str, np.ndarray]]) -> float:
    """Largest |replica r's value - replica 0's| over every variable."""
    return max((float(np.max(np.abs(state[key] - states[0][key]))) for state in states[1:]
                for key in states[0]), default=0.0)


def partly_frozen_critic(runner) -> str:
    """DDP's error when G's update freezes only part of D (the trap the runner
    avoids by freezing all of D): the rest of D's reducer hooks fire, its
    reduction never finishes, and D's next forward refuses to start. Returns
    the error's message, "" if none came."""
    import torch

    first = next(runner.discriminator.parameters())
    first.requires_grad_(False)
    noise = torch.zeros(8, runner.spec.latent_dim, dtype=torch.float64)
    runner._d(runner._g(noise)).mean().backward()  # G's update's backward, D partly frozen
    first.requires_grad_(True)
    try:
        runner._d(runner.images[:8])
    except RuntimeError as error:
        return str(error)
    return ""


def run(framework: str, replicas: int) -> tuple[dict[str, np.ndarray], bool]:
    """Trains every case; returns the arrays to save and whether this process writes them."""
    from benchmark.registry import create_runner

    out, writes = {}, True
    for case, (spec, sync) in CASES.items():
        if framework != "tf":
            spec = float32_constants(spec)  # TensorFlow's constants (tests/parity/test_parity.py)
        # tf: tf_impl/distributed.py's one mode; jax: jit, its data-parallel runner's only one
        mode = {"tf": "function" if replicas > 1 else "eager", "jax": "jit"}.get(framework, "eager")
        runner = create_runner(framework, spec, RunnerOptions(mode=mode, dtype="float64", threads=1,
                                                              devices=replicas, sync_batchnorm=sync))
        losses = train_steps(runner, steps=STEPS, batch=BATCH, data=DATA, weight_seed=WEIGHT_SEED,
                             data_seed=DATA_SEED, dtype="float64")
        out[f"{case}/losses"] = np.array([[l["d_loss"], l["g_loss"]] for l in losses])
        out.update({f"{case}/w/{k}": v for k, v in runner.export_weights().items()})
        if replicas > 1:
            out[f"{case}/spread"] = np.array(spread(runner.replica_states()))
            writes = getattr(runner, "rank", 0) == 0
    if framework == "torch" and replicas > 1:
        # rank r reports (r + 1) tenths of a second; the run must record the slowest
        runner.synchronize()
        out["slowest/step_s"] = np.array(runner.step_seconds(0.1 * (runner.rank + 1)))
        out["partly-frozen/error"] = np.array(partly_frozen_critic(runner))  # the last case's runner
        # The abandoned backward left D's bucket all-reduces in flight: leave
        # the group with the peer before exiting (DistributedTorchRunner.close).
        runner.close()
    return out, writes


if __name__ == "__main__":
    import os

    framework, path = sys.argv[1], sys.argv[2]
    replicas = int(sys.argv[3]) if len(sys.argv) > 3 else int(os.environ.get("WORLD_SIZE", 1))
    arrays, writes = run(framework, replicas)
    if writes:
        np.savez(path, **arrays)
    from benchmark.worker import leave

    leave(0)  # as a worker's rank ends: without the interpreter's shutdown under torchrun
