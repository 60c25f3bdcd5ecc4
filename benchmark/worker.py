"""Runs one (framework, model) configuration in this process:
`python -m benchmark.worker RUN_DIR`.

Reads RUN_DIR/config.json, trains, and writes into RUN_DIR: result.json,
history.csv, samples.npy and checkpoint/. The suite starts one worker per run
because frameworks keep global state (threads, compiled graphs, allocators)
that would leak from one run into the next.
"""

from __future__ import annotations

import resource
import sys
import time
import traceback
from pathlib import Path

from benchmark import io
from benchmark.config import RunConfig
from benchmark.data import load_mnist, seeded_subset
from benchmark.driver import Seeds, train
from benchmark.registry import create_runner
from benchmark.runner import RunnerOptions
from benchmark.specs import get_spec
from benchmark.weights import initial_weights

RESULT_SCHEMA_VERSION = 1


def run(run_dir: Path) -> dict:
    config = RunConfig.from_dict(io.read_json(run_dir / "config.json"))
    spec = get_spec(config.model)
    log = lambda line: print(f"[{config.name}] {line}", flush=True)  # noqa: E731

    images, labels = load_mnist("train", data_dir=config.data_dir)
    if config.train_size is not None:
        images, labels = seeded_subset(images, labels, config.train_size, config.seed)
    seeds = Seeds.from_seed(config.seed)

    built = time.perf_counter()
    runner = create_runner(config.framework, config.model,
                           RunnerOptions(device=config.device, mode=config.mode, threads=config.threads))
    runner.import_weights(initial_weights(spec, seeds.init))
    build_s = time.perf_counter() - built
    log(f"built in {build_s:.1f}s; training {len(images)} images x {config.epochs} epoch(s), "
        f"batch {config.batch_size}, mode {config.mode}")

    outcome = train(runner, spec, config, images, labels, seeds, log=log)
    runner.save(run_dir / "checkpoint")
    io.write_text(run_dir / "history.csv", outcome.history.to_csv())
    io.write_npy(run_dir / "samples.npy", outcome.samples)

    tail = max(1, len(outcome.history.d_loss) // 10)
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "name": config.name,
        "framework": config.framework,
        "model": config.model,
        "mode": config.mode,
        "status": outcome.status,
        "reason": outcome.reason,
        "config": config.to_dict(),
        "environment": runner.environment(),
        "parameter_counts": runner.parameter_counts(),
        "build_s": build_s,
        "timing": {**outcome.timing, "epoch_s": outcome.epoch_seconds,
                   "train_s": outcome.history.wall_s[-1] if outcome.history.wall_s else 0.0},
        "memory": {"peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                   "peak_device_bytes": runner.peak_memory_bytes()},
        "final_losses": {  # mean of the last 10% of steps: single steps are noisy
            "d_loss": sum(outcome.history.d_loss[-tail:]) / tail if outcome.history.d_loss else None,
            "g_loss": sum(outcome.history.g_loss[-tail:]) / tail if outcome.history.g_loss else None,
        },
        "files": {"history": "history.csv", "samples": "samples.npy", "checkpoint": "checkpoint"},
    }


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m benchmark.worker RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(argv[0])
    try:
        result = run(run_dir)
    except Exception as error:  # recorded for the report, then a non-zero exit
        traceback.print_exc()
        config = io.read_json(run_dir / "config.json")
        io.write_json(run_dir / "result.json", {
            "schema_version": RESULT_SCHEMA_VERSION, "status": "failed",
            "reason": f"{type(error).__name__}: {error}", "config": config,
            "framework": config.get("framework"), "model": config.get("model"),
            "mode": config.get("mode"),
        })
        return 1
    io.write_json(run_dir / "result.json", result)
    return 0 if result["status"] == "ok" else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
