"""`--modes auto`: which execution mode of each framework is fastest on this
machine, measured rather than assumed.

The fastest mode depends on the machine: on an AVX2 EPYC, tf xla led tf
function; on an AVX-512 Xeon, function led xla (docs/performance.md, "Hardware matters").
So before the suite, each framework's modes are timed on each (model,
precision) the suite will train, at the suite's batch size, interleaved, after
warm-up, and the fastest is chosen. The parent imports no framework, so each
framework is timed in a process of its own:

    python -m benchmark.harness.calibration REQUEST.json RESULT.json

Results are cached per machine and package versions (`cache_path`), so a
second suite on the same machine starts at once; `--recalibrate` measures again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from benchmark import io
from benchmark.config import RunConfig
from benchmark.environment import (REPO_ROOT, cpu_features, cpu_model, gpu_description, package_versions,
                                   usable_cores)
from benchmark.frameworks import framework as framework_facts

AUTO = "auto"
ROUNDS = 3  # interleaved rounds: a slow drift of the machine hits every mode alike
MAX_STEPS = 24  # timed steps per mode at most ("a few dozen")
MIN_STEPS_PER_ROUND = 2
STDERR_TAIL_LINES = 15  # of a failed calibration process, in its warning
SECONDS_PER_MODE = 2.0  # timed budget per mode, after warm-up; a slow step gets fewer steps
WARMUP_STEPS = 2  # as in every run (benchmark.timing.WARMUP_STEPS_PER_START)
# What results.json records of the method (calibrate); a cached entry was
# measured the same way, since the cache's key holds the method too.
METHOD = {"warmup_steps": WARMUP_STEPS, "rounds": ROUNDS, "max_steps": MAX_STEPS,
          "seconds_per_mode": SECONDS_PER_MODE}
PROCESS_TIMEOUT_S = 1800  # a calibration process that hangs fails, and the reference modes stand
# 2: each target timed in a process of its own; version 1's entries may hold a torch
# compile timed at eager's speed (calibrate), so they are not read.
CACHE_VERSION = 2


@dataclass(frozen=True)
class Target:
    """One choice to make: the fastest mode of `framework` for this model,
    precision and batch size on `device`."""

    framework: str
    model: str
    precision: str
    batch_size: int
    device: str
    threads: int
    dataset: str = "mnist"  # the suite's data: its image shape picks the networks
    image_size: int | None = None

    @property
    def shape(self) -> tuple[int, int, int]:
        from benchmark.data import image_shape

        return image_shape(self.dataset, self.image_size)

    @property
    def key(self) -> str:
        """The cache's key: a step's time depends on the networks, so on the
        images' shape, not on which data set has it (MNIST's keys have none)."""
        shape = "" if self.shape == (28, 28, 1) else "/" + "x".join(map(str, self.shape))
        return (f"{self.framework}/{self.model}/{self.precision}/b{self.batch_size}/"
                f"{self.device}/t{self.threads}{shape}")


def targets_of(configs: list[RunConfig]) -> list[Target]:
    """The choices an `auto` plan needs: one per (framework, model, precision),
    at the plan's first batch size, the one its summary compares. Frameworks
    with a single mode have nothing to choose."""
    found: dict[tuple, Target] = {}
    for c in configs:
        if c.mode == AUTO and len(framework_facts(c.framework).modes) > 1:
            found.setdefault((c.framework, c.model, c.precision),
                             Target(c.framework, c.model, c.precision, c.batch_size, c.device, c.threads,
                                    c.dataset, c.image_size))
    return list(found.values())


def machine() -> dict:
    """What decides which mode is fastest: CPU, its speed-relevant features,
    cores available to us, GPU, Python and package versions."""
    return {"cpu": cpu_model(), "cpu_features": cpu_features(), "cores": usable_cores(),
            "gpu": gpu_description(), "python": sys.version.split()[0], "packages": package_versions()}


def cache_path(facts: dict | None = None) -> Path:
    """$XDG_CACHE_HOME/ganbench/calibration/<hash of machine()>.json"""
    facts = machine() if facts is None else facts
    digest = hashlib.sha256(json.dumps({"v": CACHE_VERSION, "method": METHOD, **facts},
                                     sort_keys=True).encode()).hexdigest()
    return io.user_cache("calibration") / f"{digest[:16]}.json"


def fastest(modes: dict[str, dict]) -> str | None:
    """The mode with the most images/s among those that ran."""
    timed = {m: r["images_per_s"] for m, r in modes.items() if r.get("images_per_s")}
    return max(timed, key=timed.get) if timed else None


def calibrate(targets: list[Target], data_dir: str | None, *, recalibrate: bool = False,
              log=lambda line: print(line, file=sys.stderr, flush=True)) -> dict:
    """Measures (or reads from the cache) every target; returns the record the
    suite stores in results.json, with the method that measured it (a report
    rendered later describes that method, not the code's of its day):

        {"seconds": measuring time, "cache": path, "method": {warmup_steps,
         rounds, max_steps, seconds_per_mode}, "entries": [
            {framework, model, precision, batch_size, device, threads, cached,
             "modes": {mode: {images_per_s, step_ms, round_ms, steps, warmup_s} | {error}},
             "chosen": mode, "fallback": why the reference choice was taken, or None}]}
    """
    started = time.perf_counter()
    facts = machine()
    path = cache_path(facts)
    cached = {} if recalibrate else _read_cache(path)
    todo = [t for t in targets if t.key not in cached]
    measured: dict[str, dict] = {}
    for framework in dict.fromkeys(t.framework for t in todo):
        group = [t for t in todo if t.framework == framework]
        log(f"calibrating {framework}: modes {', '.join(framework_facts(framework).modes)} on "
            f"{', '.join(f'{t.model} {t.precision}' for t in group)} "
            f"(a few dozen steps each; cached afterwards, --recalibrate measures again)")
        # A process per target, as a run gets: in one process torch.compile
        # met its recompile limit after the first models (the step's methods
        # are shared code) and silently ran the rest eagerly, so "compile"
        # measured eager's speed (sn_dcgan: 1,373 img/s in a 6-model process,
        # 911 alone, against eager's 1,372) and was chosen for runs in which
        # it trained 1.5x slower than eager.
        for target in group:
            measured[target.key] = _measure_in_process(target, data_dir)
    timed = {key: value for key, value in measured.items() if fastest(value["modes"])}  # failures are not kept
    if timed:
        _write_cache(path, facts, {**_read_cache(path), **timed})
    entries = []
    for target in targets:
        entry = measured.get(target.key) or cached[target.key]
        chosen = fastest(entry["modes"])
        fallback = None
        if chosen is None:
            chosen = framework_facts(target.framework).reference_mode
            fallback = "no mode could be timed; the reference machine's choice was taken"
        entries.append({**asdict(target), "cached": target.key not in measured,
                        "modes": entry["modes"], "chosen": chosen, "fallback": fallback})
    return {"seconds": time.perf_counter() - started, "cache": str(path), "method": METHOD, "entries": entries}


def apply(configs: list[RunConfig], calibration: dict | None) -> list[RunConfig]:
    """`configs` with every `auto` mode replaced by the calibrated choice (the
    framework's only mode where it has one)."""
    chosen = {(e["framework"], e["model"], e["precision"]): e["chosen"]
              for e in (calibration or {}).get("entries", [])}
    resolved = []
    for c in configs:
        if c.mode == AUTO:
            mode = chosen.get((c.framework, c.model, c.precision)) or framework_facts(c.framework).modes[0]
            c = dataclasses.replace(c, mode=mode)
        resolved.append(c)
    return resolved


def summary_lines(calibration: dict) -> list[str]:
    """One line per choice: 'tf dcgan: function 1,121 img/s chosen over xla 998 and eager 496'."""
    lines = []
    for e in calibration.get("entries", []):
        others = [f"{m} {_rate(r)}" for m, r in sorted(e["modes"].items(),
                                                      key=lambda kv: -(kv[1].get("images_per_s") or 0))
                  if m != e["chosen"]]
        chosen = e["modes"].get(e["chosen"], {})
        line = (f"{e['framework']} {e['model']}{'' if e['precision'] == 'fp32' else ' ' + e['precision']}: "
                f"{e['chosen']} {_rate(chosen)} chosen over {' and '.join(others) or 'nothing'}")
        lines.append(line + (f" ({e['fallback']})" if e.get("fallback") else ""))
    return lines


def _rate(result: dict) -> str:
    if result.get("images_per_s"):
        return f"{result['images_per_s']:,.0f} img/s"
    return "failed" if "error" in result else "not timed"


def _read_cache(path: Path) -> dict:
    try:
        stored = io.read_json(path)
    except (OSError, ValueError):
        return {}
    return stored.get("entries", {}) if stored.get("version") == CACHE_VERSION else {}


def _write_cache(path: Path, facts: dict, entries: dict) -> None:
    try:
        io.write_json(path, {"version": CACHE_VERSION, "machine": facts, "entries": entries})
    except OSError as error:  # a read-only home only costs the next suite a calibration
        print(f"warning: calibration not cached ({path}: {error.strerror})", file=sys.stderr)


def _measure_in_process(target: Target, data_dir: str | None) -> dict:
    """{"modes": {mode: measured}} of `target`, timed in a fresh `python -m
    benchmark.harness.calibration` process. A crash of that process (a mode
    that segfaults) fails the target, which then falls back to the reference
    choice; the suite goes on."""
    from benchmark.protocol import child_environment, orphanless

    with tempfile.TemporaryDirectory(prefix="ganbench-calibration-") as tmp:
        request, result = Path(tmp) / "request.json", Path(tmp) / "result.json"
        io.write_json(request, {"data_dir": data_dir, "target": asdict(target)})
        try:
            done = subprocess.run(orphanless([sys.executable, "-m", "benchmark.harness.calibration", str(request),
                                              str(result)]),
                                  cwd=REPO_ROOT, env=child_environment(), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, timeout=PROCESS_TIMEOUT_S)
        except subprocess.TimeoutExpired as timeout:
            stderr = timeout.stderr.decode(errors="replace") if isinstance(timeout.stderr, bytes) else timeout.stderr
            done = subprocess.CompletedProcess([], None, "", f"{stderr or ''}\nno answer within {PROCESS_TIMEOUT_S} s")
        if done.returncode == 0 and result.exists():
            return io.read_json(result)
        lines = done.stderr.strip().splitlines()
        why = lines[-1] if lines else f"exit code {done.returncode}"
        if done.returncode is not None and done.returncode < 0:
            why = f"killed by signal {signal.Signals(-done.returncode).name}; {why}"
        # The process's own last lines, so that the warning alone explains it.
        own = "".join(f"\n    | {line}" for line in lines[-STDERR_TAIL_LINES:])
        print(f"warning: calibrating {target.framework} failed ({why}); using its reference modes{own}",
              file=sys.stderr)
        return {"modes": {m: {"error": why} for m in framework_facts(target.framework).modes}}


# --- the calibration process -------------------------------------------------------------------

def measure(target: Target, images: np.ndarray, labels: np.ndarray) -> dict[str, dict]:
    """Images/s of each of the framework's modes on `target`: warm-up first,
    then ROUNDS interleaved rounds (the order rotated each round) of up to
    MAX_STEPS / ROUNDS steps per mode, as many as SECONDS_PER_MODE allows."""
    from benchmark.registry import create_runner
    from benchmark.runner import RunnerOptions, StepInputs
    from benchmark.data import parse_dataset
    from benchmark.specs import spec_for_image
    from benchmark.weights import initial_weights

    spec = spec_for_image(target.model, target.shape, num_classes=parse_dataset(target.dataset).num_classes or 10)
    rng = np.random.default_rng(0)
    per_step = target.batch_size * spec.n_critic

    def inputs() -> StepInputs:
        return StepInputs.draw(spec, rng.integers(0, len(images), (spec.n_critic, target.batch_size)), rng)

    runners, results, times, rounds = {}, {}, {}, {}
    for mode in framework_facts(target.framework).modes:
        try:
            runner = create_runner(target.framework, spec, RunnerOptions(
                device=target.device, mode=mode, threads=target.threads, precision=target.precision))
            runner.import_weights(initial_weights(spec, seed=0))
            runner.load_data(images, labels)
            started = time.perf_counter()
            for _ in range(WARMUP_STEPS):
                step_started = time.perf_counter()
                runner.train_step(inputs())
            runners[mode], times[mode], rounds[mode] = runner, [], []
            results[mode] = {"warmup_s": time.perf_counter() - started,
                             "last_warmup_step_s": time.perf_counter() - step_started}
        except Exception as error:  # a mode that cannot run here is reported, not chosen
            results[mode] = {"error": f"{type(error).__name__}: {error}"[:300]}
    order = list(runners)
    for round_ in range(ROUNDS if order else 0):
        for mode in order[round_ % len(order):] + order[:round_ % len(order)]:
            estimate = max(results[mode]["last_warmup_step_s"], 1e-4)
            steps = int(np.clip(SECONDS_PER_MODE / ROUNDS / estimate, MIN_STEPS_PER_ROUND, MAX_STEPS // ROUNDS))
            this_round = []
            for _ in range(steps):
                step = inputs()
                started = time.perf_counter()
                runners[mode].train_step(step)
                this_round.append(time.perf_counter() - started)
            times[mode] += this_round
            rounds[mode].append(float(np.median(this_round)) * 1e3)
    for mode, measured in times.items():
        median = float(np.median(measured))
        # round_ms: each round's median step, apart; their spread is the
        # machine's drift between rounds, which a speed verdict must exceed
        results[mode] = {"images_per_s": per_step / median, "step_ms": median * 1e3, "round_ms": rounds[mode],
                         "steps": len(measured), "warmup_s": results[mode]["warmup_s"]}
    return results


def _main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m benchmark.harness.calibration REQUEST.json RESULT.json", file=sys.stderr)
        return 2
    from benchmark.data import load_pixels, scale_pixels, seeded_subset

    request = io.read_json(Path(argv[0]))
    target = Target(**request["target"])
    pixels, labels = load_pixels(target.dataset, "train", request["data_dir"], target.image_size)
    labels = np.zeros(len(pixels), np.int64) if labels is None else labels  # a folder has none
    # Enough distinct images for every timed batch; the data set's size does not change a step's time.
    # As a worker does (benchmark.worker.training_set), only those rows are scaled.
    pixels, labels = seeded_subset(pixels, labels, 8192, seed=0)
    modes = measure(target, scale_pixels(pixels), labels)
    print(f"calibrated {target.key}: " + ", ".join(f"{m} {_rate(r)}" for m, r in modes.items()),
          file=sys.stderr, flush=True)
    io.write_json(Path(argv[1]), {"modes": modes})
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
