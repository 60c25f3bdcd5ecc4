"""--resume DIR: the suite's stored plan, and the flags that would change it."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.config import RunConfig
from benchmark.harness.arguments import UsageError
from benchmark.harness.calibration import apply as apply_calibration
from benchmark.harness.plan import dataset_name, plan_runs, resolve_device, training_set_size


# Flags that shape what runs; with --resume they must match the original plan.
PLAN_FLAGS = ("--frameworks", "--models", "--modes", "--precision", "--profile", "--epochs", "--batch-size",
              "--batch-sizes", "--repeats", "--quality-samples", "--quality-probes",
              "--train-size", "--seed", "--seeds", "--rounding-control", "--data-dir", "--device", "--threads", "--d-lr", "--g-lr",
              "--devices", "--sync-batchnorm", "--dataset", "--image-size", "--input-pipeline")


def resume_plan(args: argparse.Namespace, argv: list[str]) -> tuple[Path, list[RunConfig], dict]:
    """The stored plan of --resume DIR; refuses flags that would change it."""
    out_dir = args.resume
    if not (out_dir / "suite.json").is_file():
        raise UsageError(f"--resume {out_dir}: no suite.json there; is it a ganbench run folder?")
    if args.recalibrate:
        raise UsageError("--recalibrate: a resumed suite keeps the modes it was planned with; "
                         "leave it out, or start a new suite to measure the modes again")
    from benchmark.harness.suite import read_plan

    stored, plan = read_plan(out_dir)
    if any(a.split("=")[0] in PLAN_FLAGS for a in argv):
        n_images = training_set_size(dataset_name(args.dataset), args.data_dir.resolve() if args.data_dir else None,
                                     args.image_size)
        wanted = apply_calibration(plan_runs(args, resolve_device(args.device), n_images), plan.get("calibration"))
        differences = [f"{a.name}: " + ", ".join(a.differences(b)) for a, b in zip(stored, wanted)
                       if a.differences(b)]
        if len(stored) != len(wanted) or differences:
            listed = "; ".join(differences) or (f"{len(stored)} runs planned, "
                                                 f"these flags give {len(wanted)}")
            raise UsageError(f"--resume {out_dir}: the flags differ from the original run "
                             f"({listed}); leave them out to resume as planned")
    return out_dir, stored, plan
