"""Renders a results directory into RUN_DIR/report.md, RUN_DIR/runs.csv and
RUN_DIR/figures/*.png:

    python -m benchmark.report.render RUN_DIR

The output is a pure function of the files in RUN_DIR, so rendering again
gives the same report.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Sequence

from benchmark.grid import grid_columns
from benchmark.io import write_bytes, write_text
from benchmark.metrics.table import INCEPTION
from benchmark.report.divergence import TwinPair, divergence_section, twin_pairs
from benchmark.report.markdown import MISSING, fmt_duration, model_title
from benchmark.report.paired import rounding_control, seeds_section, suite_verdicts, summary_cells
from benchmark.report.seeds import PairedVerdict
from benchmark.report.plots import (batch_sweep_figure, divergence_figure, evolution_gif, loss_figure, loss_groups,
                                    palette, quality_figure, quality_groups, sample_groups, samples_figure, save_png,
                                    throughput_figure)
from benchmark.report.results import Run, Suite, finite, load_suite
from benchmark.report.runs_csv import runs_csv
from benchmark.report.sample_quality import (UNLEARNED_RECALL, inception_missing, inception_missing_note,
                                             inception_scored, quality_table, unlearned_note)
from benchmark.report.scaling import scaling_lines, scaling_section
from benchmark.report.speed import contenders, measured_drift, primary_batch_size
from benchmark.report.tables import (calibration_table, config_table, matmul_peaks, model_table, modes_sentence,
                                     pipeline_note, precision_note, summary_table)

# model -> the Markdown image links of its figures (paths relative to RUN_DIR);
# SCALING -> those of the data-parallel section
FigureLinks = dict[str, list[str]]
SCALING = "--devices"


def render_report(run_dir: Path) -> Path:
    """Writes report.md, runs.csv and figures/ into `run_dir`; returns the report's path."""
    run_dir = Path(run_dir)
    suite = load_suite(run_dir)
    # model -> its twin pairs: reading and comparing traces is the slow part; done once
    pairs = {model: twin_pairs(suite.runs_of(model)) for model in suite.models}
    figures = draw_figures(suite, run_dir, pairs)
    write_text(run_dir / "runs.csv", runs_csv(suite.runs))
    report = run_dir / "report.md"
    write_text(report, report_markdown(suite, figures, pairs))
    return report


def draw_figures(suite: Suite, run_dir: Path, twins: dict[str, list[TwinPair]]) -> FigureLinks:
    colors = palette([run.label for run in suite.runs])
    links: FigureLinks = {}
    for model in suite.models:
        runs = suite.runs_of(model)
        title, columns = model_title(model), grid_columns(model)
        links[model] = []
        curves = loss_groups(runs)  # seeds and repeats of a configuration: one median
        if curves:
            path = f"figures/loss_{_slug(model)}.png"
            save_png(loss_figure(title, curves, colors), run_dir / path)
            links[model].append(f"![{title} loss curves]({path})")
        speed = contenders(runs)
        batch = primary_batch_size(runs, suite.profile_batch_size)
        bars = {c.label: c.throughput() for c in speed if c.batch_size == batch}
        if bars:
            path = f"figures/throughput_{_slug(model)}.png"
            save_png(throughput_figure(title, bars, colors), run_dir / path)
            links[model].append(f"![{title} throughput]({path})")
        scaling = scaling_lines(runs)
        if scaling:  # --devices 1 2 ...: images/s against replicas
            path = f"figures/scaling_{_slug(model)}.png"
            save_png(batch_sweep_figure(title, scaling, {}, against="devices"), run_dir / path)
            links.setdefault(SCALING, []).append(f"![{title} throughput against devices]({path})")
        if len({c.batch_size for c in speed if c.runs[0].devices == 1}) > 1:
            lines: dict[str, list] = {}
            for c in speed:
                if c.runs[0].devices == 1:
                    lines.setdefault(c.label, []).append((c.batch_size, *c.throughput()[:3]))
            path = f"figures/batch_sweep_{_slug(model)}.png"
            save_png(batch_sweep_figure(title, lines, colors), run_dir / path)
            links[model].append(f"![{title} throughput against batch size]({path})")
        scored = quality_groups(runs)
        if scored:
            path = f"figures/quality_{_slug(model)}.png"
            save_png(quality_figure(title, scored, colors), run_dir / path)
            links[model].append(f"![{title} quality against training time]({path})")
        pairs = twins[model]
        if pairs:
            path = f"figures/divergence_{_slug(model)}.png"
            save_png(divergence_figure(title, [(p.label, p.seed, p.divergence.steps, p.divergence.distance["generator"],
                                                p.divergence.same_digit, p.divergence.chance_digit)
                                               for p in pairs]), run_dir / path)
            links[model].append(f"![{title}: when the twins part]({path})")
        animations = []
        # One GIF (~1.5 MB) per configuration: sweeps, repeats, seeds and the
        # rounding control would add one per run.
        # A native-pipeline run draws what its device twin draws (the same batches): one GIF.
        first_seed = min((run.config.get("seed") or 0 for run in runs), default=0)
        seed_named = f", seed {first_seed}" if len({run.config.get("seed") or 0 for run in runs}) > 1 else ""
        on_device = {run.group[:6] for run in runs if run.input_pipeline == "device"}
        for run in runs:
            if (run.group[3] != batch or int(run.config.get("repeat") or 1) != 1 or run.nudged
                    or (run.config.get("seed") or 0) != first_seed
                    or (run.input_pipeline != "device" and run.group[:6] in on_device)):
                continue
            frames = run.frames()
            if frames is not None and len(frames[0]):
                path = f"figures/evolution_{_slug(run.name)}.gif"
                write_bytes(run_dir / path, evolution_gif(*frames, columns=columns))
                animations.append(f"![{run.label}{seed_named}: samples through training]({path})")
        if animations:
            links[model].append(" ".join(animations))
        panels = sample_groups(runs)
        if panels:
            path = f"figures/samples_{_slug(model)}.png"
            save_png(samples_figure(title, panels, columns), run_dir / path)
            links[model].append(f"![{title} samples]({path})")
    return links


def report_markdown(suite: Suite, figures: FigureLinks, twins: dict[str, list[TwinPair]]) -> str:
    verdicts = suite_verdicts(suite)  # with --seeds: for the summary and each model's section
    sections = [
        header_section(suite),
        summary_section(suite, verdicts),
        calibration_section(suite),
        scaling_section(suite, figures.get(SCALING, [])),
        *(model_section(suite, model, figures.get(model, []), twins[model], verdicts.get(model, []))
          for model in suite.models),
        failed_section(suite.runs),
        environment_section(suite),
        method_note(suite),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def header_section(suite: Suite) -> str:
    settings = suite.settings
    first_config = suite.runs[0].config if suite.runs else {}
    facts = [
        f"Profile **{settings.get('profile') or first_config.get('profile') or MISSING}**",
        f"device **{settings.get('device') or first_config.get('device') or MISSING}**",
        *_data_facts(suite),
        _format_date(suite.summary.get("created_utc")),
        f"total wall time {fmt_duration(finite(suite.summary.get('total_s')))}",
    ]
    header = f"# ganbench report: {suite.run_id}\n\n" + " · ".join(facts)
    commit = str(suite.environment.get("git_commit") or "")
    if commit.endswith("-dirty"):  # the code that ran is no commit anyone can check out
        header += (f"\n\n**Made from a dirty tree**: commit {commit.removesuffix('-dirty')} plus uncommitted "
                   "changes, so no checkout reproduces exactly the code that ran.")
    return header


def _data_facts(suite: Suite) -> list[str]:
    """The data set (its image shape and training images) and the input
    pipelines; nothing for results written before --dataset."""
    settings = suite.settings
    if "dataset" not in settings:
        return []
    shape = "x".join(map(str, settings.get("image_shape") or []))
    counts = {n for run in suite.runs if (n := run.result.get("train_images"))}
    size = f", {max(counts):,} training images" if len(counts) == 1 else ""
    return [f"data **{settings['dataset']}** ({shape}{size})",
            f"input pipeline **{', '.join(settings.get('input_pipelines') or ['device'])}**"]


def _format_date(created_utc: object) -> str:
    if not isinstance(created_utc, str):
        return "date unknown"
    try:
        return datetime.fromisoformat(created_utc).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return created_utc


def summary_section(suite: Suite, verdicts: dict[str, list[PairedVerdict]]) -> str:
    if not suite.models:
        return "## Summary\n\nNo runs were recorded."
    # The table first: it answers the reader's question; the definitions follow.
    modes = modes_sentence(suite)
    paired = {model: summary_cells(v) for model, v in verdicts.items()}
    seeds_note = ("*With --seeds*, the quality columns give the paired verdict over seeds (see each "
                  "model's \"Sample quality across seeds\"). " if paired else "")
    inception = suite.settings.get("quality_features") == INCEPTION or inception_scored(suite.runs)
    # The suite's own search (with its download attempt) says best where the weights were looked for.
    missing = inception_missing(suite.runs) and (suite.settings.get("inception_reason")
                                                 or inception_missing(suite.runs))
    features = ("features of Inception-v3 (the standard FID weights; FID and KID on few samples are "
                "biased: compare within this report)" if inception
                else "features of an MNIST classifier (docs/metrics.md)")
    pipelines = pipeline_note(suite)
    drift = measured_drift(suite.runs, suite.summary.get("calibration"))
    return ("## Summary\n\n" + summary_table(suite, paired) + "\n\n" +
            (f"**Sample quality was not scored: the Inception-v3 weights for FID and KID were missing.** "
             f"{missing}\n\n" if missing else "") +
            (pipelines + "\n\n" if pipelines else "") +
            (modes + " " if modes else "") + seeds_note +
            "*Faster*: ratio of median images/s of each framework's fastest finished mode, "
            "with its 95% bootstrap interval (repeats, then steps, resampled); with three "
            "frameworks or more, the fastest over each of the others in speed order, the "
            "verdict for the first two. "
            "*Speed difference* (docs/metrics.md, \"Verdict rules\"): \"clear\" only when the whole "
            "interval lies beyond 1 plus the machine's run-to-run drift measured in this suite "
            f"({drift}); \"within drift\" when it excludes 1 but not the drift; \"within noise\" when "
            "it holds 1; \"drift not measured\" when no configuration was measured twice "
            "(`--repeats 3` interleaves repeats and measures it); \"not judged\" when a run "
            "shared the CPU with other processes (*contended*, marked in the model's table). "
            "*Better samples*: lower FID of each framework's best run, on the "
            f"{features}; named only when their KIDs differ "
            "by more than twice their combined standard deviation (with three frameworks or more, the "
            "best against the runner-up), else \"tie\"" +
            ("" if inception else f"; no winner when every "
             f"run's recall is below {UNLEARNED_RECALL} (\"not learned yet\": its samples reach almost no real digit)") +
            ". Losses: mean of the last 10% of steps." + _load_note(suite))


def _load_note(suite: Suite) -> str:
    """What the runs recorded of the machine's load, in one sentence."""
    recorded = [run for run in suite.runs if run.machine_load is not None]
    if not recorded:
        return (" *Load*: these runs predate the record of the machine's load (results schema 2), "
                "so whether other processes shared the CPU is unknown.") if suite.runs else ""
    contended = [run for run in recorded if run.contended]
    worst = max(recorded, key=lambda run: run.machine_load.get("other_share") or 0.0)
    return (f" *Load*: {len(contended)} of {len(recorded)} runs shared the CPU (contended"
            f"{': ' + ', '.join(run.name for run in contended[:4]) + ('...' if len(contended) > 4 else '') if contended else ''}); "
            f"the busiest other processes took {worst.machine_load.get('other_share', 0.0):.0%} of the CPU.")


def calibration_section(suite: Suite) -> str:
    calibration = suite.summary.get("calibration")
    table = calibration_table(calibration)
    if table is None:
        return ""
    seconds, total = finite(calibration.get("seconds")), finite(suite.summary.get("total_s"))
    share = f" ({100 * seconds / (seconds + total):.0f}% of the suite's wall time)" if seconds and total else ""
    method = calibration.get("method")  # what results.json recorded; older suites did not
    how = (f"{method['warmup_steps']} warm-up steps first (tracing, compilation; their time is the warm-up "
           f"column), then up to {method['max_steps']} timed steps in {method['rounds']} interleaved rounds"
           if method else "warm-up steps first (tracing, compilation; their time is the warm-up column), "
           "then timed steps in interleaved rounds (this suite did not record how many)")
    return ("## Execution modes\n\n" + table + "\n\n"
            f"Measured before training in {fmt_duration(seconds)}{share} by `--modes auto`: each mode of "
            f"each framework trains the model at the suite's batch size from the same weights, {how}; "
            "the median step decides. *Source* \"cache\": measured by an earlier suite on this machine "
            "with the same CPU, package versions and configuration; `--recalibrate` measures again.")


def model_section(suite: Suite, model: str, figures: list[str], twins: Sequence[TwinPair],
                  verdicts: Sequence[PairedVerdict] = ()) -> str:
    runs = suite.runs_of(model)
    parts = [f"## {model_title(model)}", "### Speed", model_table(runs, matmul_peaks(suite))]
    mixed = precision_note(runs)
    if mixed:
        parts.append(mixed)
    quality = quality_table(runs)
    if quality:
        parts += ["### Sample quality", quality]
        note = unlearned_note(runs)
        if note:
            parts.append(note)
    elif missing := inception_missing_note(runs):
        parts.append(missing)
    if verdicts:
        parts.append(seeds_section(verdicts))
    control = rounding_control(runs)
    if control is not None:
        parts.append(control)
    divergence = divergence_section(twins)
    if divergence is not None:
        parts.append(divergence)
    parts += figures
    return "\n\n".join(parts)


def failed_section(runs: Sequence[Run]) -> str:
    failed = [run for run in runs if not run.ok]
    if not failed:
        return ""
    return "## Failed runs\n\n" + "\n\n".join(_failure(run) for run in failed)


def _failure(run: Run) -> str:
    reason = run.result.get("reason")
    lines = [f"### {run.name}", "",
             f"- Status: {run.status}",
             f"- Reason: {_code_span(str(reason)) if reason else 'not recorded'}"]
    tail = run.result.get("stderr_tail")
    if isinstance(tail, str) and tail.strip():
        lines += ["", "stderr (tail):", "", _code_block(tail.rstrip(), "text")]
    return "\n".join(lines)


def environment_section(suite: Suite) -> str:
    env = suite.environment
    packages = env.get("packages") or {}
    cpu = env.get("cpu") or MISSING
    if env.get("cpu_count"):
        cpu = f"{cpu} ({env['cpu_count']} cores)"
    if env.get("cpu_features"):
        cpu += "; " + ", ".join(env["cpu_features"])
    gpu = env.get("gpu") or "none"
    if env.get("gpu_compute_capability"):
        gpu += f", compute capability {env['gpu_compute_capability']}"
    peaks = matmul_peaks(suite)
    facts = [
        ("OS", env.get("os") or MISSING),
        ("CPU", cpu),
        ("GPU", gpu),
        ("Matrix-product peaks (% peak's yardstick)", ", ".join(
            f"{device} {precision} {value:,.0f} GFLOP/s" for (device, precision), value in sorted(peaks.items()))
         + " (the best square matrix product of numpy and each run's framework in that arithmetic)"
         if peaks else MISSING),
        ("Python", env.get("python") or MISSING),
        ("Packages", ", ".join(f"{name} {version}" for name, version in packages.items()) or MISSING),
        ("Git commit", env.get("git_commit") or "unknown"),
        ("Seed", _seed(suite)),
    ]
    parts = ["## Environment", "\n".join(f"- **{key}:** {value}" for key, value in facts)]
    command = suite.summary.get("command")
    if command:
        parts += ["Command:", _code_block(str(command), "sh")]
    if suite.runs:
        parts += ["### Configuration per run", config_table(suite.runs)]
    return "\n\n".join(parts)


def _seed(suite: Suite) -> str:
    if suite.settings.get("seeds"):
        return ", ".join(map(str, suite.settings["seeds"]))
    if "seed" in suite.settings:  # results written before --seeds
        return str(suite.settings["seed"])
    seeds = sorted({str(run.config["seed"]) for run in suite.runs if "seed" in run.config}, key=int)
    return ", ".join(seeds) or MISSING


def method_note(suite: Suite) -> str:
    critics = _n_critic_by_model(suite)
    per_model = f" ({', '.join(critics)})" if critics else ""
    return ("---\n\n"
            "*Method.* Step time is the wall time of one generator update plus its n_critic "
            f"discriminator updates{per_model}, measured after the device has finished the step. "
            "The first steps of each run (tracing, compilation, allocator growth) are reported "
            "as warm-up and excluded from medians and percentiles. Images/s counts the real "
            "images the discriminator sees per step (batch size × n_critic) over the step time; "
            "its p10 and p90 come from the 90th and 10th percentile step times. "
            "With one repeat per configuration the speed interval reflects step-to-step noise "
            "only; `--repeats 3` adds run-to-run variation (runs are interleaved across "
            "frameworks so that a drift of the machine hits both). "
            "*Determinism.* On the CPU, one seed gives identical loss curves run after run, and a "
            "resumed run continues the uninterrupted curve exactly (both tested); the two "
            "frameworks start identical and drift apart only by float32 rounding. On a GPU, "
            "cuDNN and XLA may choose non-deterministic kernels: curves then differ slightly "
            "between runs of the same seed.")


def _n_critic_by_model(suite: Suite) -> list[str]:
    """n_critic per model, read back as images per step over batch size."""
    found = []
    for model in suite.models:
        for run in suite.runs_of(model):
            per_step = run.number("timing", "images_per_step")
            batch = finite(run.config.get("batch_size"))
            if per_step and batch:
                found.append(f"{model_title(model)} {per_step / batch:.0f}")
                break
    return found


def _code_span(text: str) -> str:
    fence = "`" * (_longest_backtick_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text.replace(chr(10), ' ')}{pad}{fence}"


def _code_block(text: str, language: str) -> str:
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return f"{fence}{language}\n{text}\n{fence}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.report.render",
                                     description="Render report.md, runs.csv and figures/ of a results directory.")
    parser.add_argument("run_dir", type=Path, help="a results directory holding results.json")
    args = parser.parse_args(argv)
    if not args.run_dir.is_dir():
        parser.error(f"{args.run_dir} is not a directory")
    print(render_report(args.run_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
