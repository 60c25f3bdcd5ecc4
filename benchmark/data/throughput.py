"""Input-pipeline throughput: images per second of a loader alone, no training.

    python -m benchmark.data.throughput --framework torch --dataset folder:~/celeba \\
        --pipeline native --batch-size 128 --steps 50 --workers 2

prints one JSON object (images_per_s, steps, seconds, the settings). The loader
is asked for the batches of a seeded permutation, as the driver draws an epoch
(``(steps, 1, batch)`` indices), and every batch is brought to the host as a
numpy array, so lazy work is counted. The first ``--warmup`` steps (worker
start-up, tracing, the first prefetches) are timed apart. Each framework runs
in its own process (``input_throughput``), as the training workers do: a tf
measurement never imports torch.

``device`` measures the device pipeline's gather from a tensor holding the
whole data set; ``native`` the framework's own loader (the module its
``benchmark.frameworks`` entry names: ``<framework>_impl/input_pipeline.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.frameworks import framework as framework_facts
from benchmark.frameworks import with_

__all__ = ["FRAMEWORKS", "PIPELINES", "epoch_plan", "time_batches", "measure", "input_throughput", "main"]

FRAMEWORKS = with_("input_pipeline")  # those with their own loader (benchmark.frameworks)
PIPELINES = ("device", "native")


def epoch_plan(n_images: int, batch_size: int, steps: int, seed: int = 0) -> np.ndarray:
    """(steps, 1, batch_size) indices: a seeded permutation, as ``driver.epoch_batches`` draws
    one (repeated when ``steps`` needs more than one pass)."""
    if batch_size > n_images:
        raise ValueError(f"batch size {batch_size} is larger than the {n_images} images")
    rng = np.random.default_rng(seed)
    per_pass = n_images // batch_size
    passes = [rng.permutation(n_images)[: per_pass * batch_size] for _ in range(-(-steps // per_pass))]
    return np.concatenate(passes)[: steps * batch_size].reshape(steps, 1, batch_size)


def time_batches(batches: Iterable[Any], to_numpy: Callable[[Any], np.ndarray], batch_size: int,
                 warmup: int) -> dict[str, float]:
    """Time a loader's batches: images/s over the steps after ``warmup``."""
    times = []
    start = time.perf_counter()
    for images, _ in batches:
        to_numpy(images)
        now = time.perf_counter()
        times.append(now - start)
        start = now
    if len(times) <= warmup:
        raise ValueError(f"{len(times)} steps leave none after {warmup} warm-up steps; ask for more --steps")
    steady = float(sum(times[warmup:]))
    return {"images_per_s": batch_size * (len(times) - warmup) / steady, "steps": len(times) - warmup,
            "seconds": steady, "warmup_s": float(sum(times[:warmup]))}


def measure(framework: str, dataset: str, pipeline: str, batch_size: int = 128, steps: int = 50,
            warmup: int = 3, workers: int = 2, data_dir: str | None = None, image_size: int | None = None,
            seed: int = 0) -> dict[str, Any]:
    """Images/s of one framework's ``pipeline`` on ``dataset``, in this process."""
    from benchmark.data import load_dataset

    facts = framework_facts(framework) if framework in FRAMEWORKS else None
    if facts is None:
        raise ValueError(f"unknown framework {framework!r}; valid: {', '.join(FRAMEWORKS)}")
    settings = {"framework": framework, "dataset": dataset, "pipeline": pipeline, "batch_size": batch_size,
                "workers": workers if pipeline == "native" and facts.loader_processes else None}
    input_pipeline = facts.load(facts.input_pipeline)
    if pipeline == "native":
        loader = input_pipeline.NativeInput(dataset, data_dir=data_dir, image_size=image_size, workers=workers)
    elif pipeline == "device":
        images, labels = load_dataset(dataset, data_dir=data_dir, image_size=image_size)
        loader = input_pipeline.DeviceInput(images, labels)
    else:
        raise ValueError(f"unknown pipeline {pipeline!r}; valid: {', '.join(PIPELINES)}")
    plan = epoch_plan(len(loader), batch_size, steps + warmup, seed)
    return {**settings, **time_batches(loader.epoch(plan), _to_numpy, batch_size, warmup)}


def _to_numpy(tensor: Any) -> np.ndarray:
    """A torch or tf tensor's values (both have .numpy(), which waits for them)."""
    return tensor.numpy()


def input_throughput(framework: str, dataset: str, pipeline: str, *, timeout_s: float | None = None,
                     **options: Any) -> dict[str, Any]:
    """``measure`` in a fresh process of its own; options as ``measure``'s keywords."""
    command = [sys.executable, "-m", "benchmark.data.throughput", "--framework", framework,
               "--dataset", dataset, "--pipeline", pipeline]
    for key, value in options.items():
        if value is not None:
            command += [f"--{key.replace('_', '-')}", str(value)]
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.data.throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--framework", choices=FRAMEWORKS, required=True)
    parser.add_argument("--dataset", default="mnist", help="mnist, fashion_mnist, cifar10 or folder:PATH")
    parser.add_argument("--pipeline", choices=PIPELINES, default="native")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=50, help="timed steps, after the warm-up")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (torch native)")
    parser.add_argument("--data-dir")
    parser.add_argument("--image-size", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    result = measure(args.framework, args.dataset, args.pipeline, args.batch_size, args.steps, args.warmup,
                     args.workers, args.data_dir, args.image_size, args.seed)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
