"""`python run_benchmark.py`: parses and checks the command line, resolves the
plan, runs the suite (benchmark.harness.suite), then renders its report
(benchmark.report). Bad input exits 2 with a message saying what was wrong,
before anything is written."""

from __future__ import annotations

import contextlib
import shlex
import sys
from datetime import datetime
from pathlib import Path

from benchmark import io
from benchmark.config import RunConfig
from benchmark.harness.arguments import (
    EXIT_DISK, EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, UsageError, build_parser,
)
from benchmark.harness.calibration import apply as apply_calibration
from benchmark.harness.calibration import calibrate, summary_lines, targets_of
from benchmark.harness.checks import (
    check_data, check_free_space, check_frameworks, check_out, prepare_out, prepare_out_dir,
    prepare_quality_reference, validate_args,
)
from benchmark.harness.disk import DiskFault
from benchmark.harness.plan import (
    check_names, dataset_name, plan_runs, resolve_device, suite_settings, training_set_size,
)
from benchmark.harness.resume import resume_plan
from benchmark.harness.suite import SuiteOptions, run_suite, write_plan


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on unknown options and choices
    try:
        if args.report_only:
            return report_only(args.report_only)
        if args.compare:
            return compare_runs(*args.compare, args.out)
        validate_args(args)
        if args.resume:
            out_dir, configs, plan = resume_plan(args, argv)
            options = SuiteOptions(plan["command"], plan["settings"], args.run_timeout, plan.get("calibration"))
        else:
            device = resolve_device(args.device)
            configs = plan_runs(args, device, training_set_size(
                dataset_name(args.dataset), args.data_dir.resolve() if args.data_dir else None, args.image_size))
        check_names(configs)
        check_frameworks(list(dict.fromkeys(c.framework for c in configs)))
        data_dir = Path(configs[0].data_dir) if configs[0].data_dir else None
        check_data(data_dir, configs)
        if not args.resume:  # before the reference statistics, which take a minute on a new machine
            check_out(args.out)
        inception_reason = prepare_quality_reference(data_dir, configs)
        check_free_space(args, configs)
        if not args.resume:
            run_id = args.run_id or f"{datetime.now():%Y%m%d-%H%M%S}-{configs[0].profile}-{configs[0].device}"
            out_dir = prepare_out_dir(args.out, run_id)
            calibration = calibrate_modes(configs, data_dir, args.recalibrate)
            configs = apply_calibration(configs, calibration)
            command = " ".join(shlex.quote(a) for a in ["python", "run_benchmark.py", *argv])
            options = SuiteOptions(command, suite_settings(args, configs, calibration, inception_reason),
                                   args.run_timeout, calibration)
            write_plan(out_dir, configs, options)
        if args.plan_only:
            return plan_only(out_dir, configs)
    except UsageError as error:
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: {error}\n")

    try:
        results = run_suite(configs, out_dir, options)
        report = render(out_dir)
    except DiskFault as fault:  # full or read-only: no later write could succeed
        parser.exit(EXIT_DISK, f"{parser.prog}: error: {fault}\n")
    except RuntimeError as error:  # another suite holds the folder
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: {error}\n")
    print(f"report: {report}")
    failed = [r for r in results["runs"] if r["status"] != "ok"]
    if failed:
        print(f"{len(failed)} of {len(results['runs'])} runs did not finish: "
              + ", ".join(f"{r['config']['model']}-{r['framework']} ({r['status']})" for r in failed),
              file=sys.stderr)
        return EXIT_RUN_FAILED
    return EXIT_OK


def calibrate_modes(configs: list[RunConfig], data_dir: Path | None, recalibrate: bool) -> dict | None:
    """Measures (or reads from the cache) the fastest mode of every `auto`
    (framework, model, precision) in the plan; None when nothing is auto."""
    targets = targets_of(configs)
    if not targets:
        return None
    calibration = calibrate(targets, str(data_dir) if data_dir else None, recalibrate=recalibrate)
    if all(e["cached"] for e in calibration["entries"]):
        print(f"modes from the calibration cache ({calibration['cache']}; --recalibrate measures again):")
    else:
        print(f"modes calibrated in {calibration['seconds']:.0f} s:")
    for line in summary_lines(calibration):
        print(f"  {line}")
    return calibration


def plan_only(out_dir: Path, configs: list[RunConfig]) -> int:
    """--plan-only: each run's folder and config.json, and how to train it."""
    from benchmark.distributed import worker_command

    for config in configs:
        run_dir = out_dir / "runs" / config.name
        io.write_json(run_dir / "config.json", config.to_dict())
        print(f"{config.name}: {shlex.join(worker_command(config.framework, config.devices, run_dir))}")
    print(f"planned {len(configs)} run(s) in {out_dir}; train each with its command (across nodes: "
          "docs/distributed.md), then: python run_benchmark.py --report-only "
          f"{out_dir}")
    return EXIT_OK


def compare_runs(dir_a: Path, dir_b: Path, out: Path) -> int:
    for directory in (dir_a, dir_b):
        if not (directory / "results.json").is_file():
            raise UsageError(f"--compare {directory}: no results.json there")
    from benchmark.report.compare import render_comparison

    with disk_errors_as_usage(f"--out {out}"):
        print(f"comparison: {render_comparison(dir_a, dir_b, prepare_out(out))}")
    return EXIT_OK


def report_only(run_dir: Path) -> int:
    if not (run_dir / "results.json").is_file():
        raise UsageError(f"--report-only {run_dir}: no results.json there")
    from benchmark.report import render_report

    with disk_errors_as_usage(f"--report-only {run_dir}"):
        print(f"report: {render_report(run_dir)}")
    return EXIT_OK


@contextlib.contextmanager
def disk_errors_as_usage(flag: str):
    """A full or read-only disk under a report's folder: exit 2 saying which
    write failed (atomic writes leave no half-written file), not a traceback."""
    from benchmark.io import is_disk_error

    try:
        yield
    except OSError as error:
        if not is_disk_error(error):
            raise
        raise UsageError(f"{flag}: {error.strerror.lower()}: writing {error.filename}; make room "
                         "there (or make it writable) and run the same command again") from None


def render(out_dir: Path) -> Path:
    """`benchmark.report.render_report` after a suite, stopping with DiskFault
    when the disk cannot hold the report."""
    from benchmark.report import render_report

    try:
        return render_report(out_dir)
    except OSError as error:
        if not io.is_disk_error(error):
            raise
        raise DiskFault(error, out_dir, [], None) from None
