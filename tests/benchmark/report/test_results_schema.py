"""docs/results.schema.json, the published shape of results.json and
result.json: it holds every committed report (written by older code), a suite
the current code writes (the session's shared tiny suite), a failed run and a
calibration record; and it rejects a corrupted document."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from benchmark import io
from benchmark.config import INPUT_PIPELINES, PROFILES, RunConfig
from benchmark.frameworks import PRECISIONS, TABLE
from benchmark.harness.calibration import CACHE_VERSION, METHOD, Target, cache_path, calibrate
from benchmark.harness.suite import RESULTS_SCHEMA_VERSION, run_one
from benchmark.specs import SPECS
from benchmark.worker import RESULT_SCHEMA_VERSION

REPO_ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((REPO_ROOT / "docs" / "results.schema.json").read_text())
COMMITTED = sorted(REPO_ROOT.glob("reports/*/results.json"))
COMMITTED_RUNS = sorted(REPO_ROOT.glob("reports/*/runs/*/result.json"))
SMALLEST = min(COMMITTED, key=lambda path: path.stat().st_size)


def errors(document: dict, definition: str | None = None) -> list[str]:
    """Where `document` breaks the schema (its `$defs/<definition>` if given), one line each."""
    validator = Draft202012Validator(SCHEMA)
    if definition is not None:
        validator = validator.evolve(schema=SCHEMA["$defs"][definition])  # keeps the root's $refs
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(document)]


def read(path: Path) -> dict:
    return json.loads(path.read_text())  # NaN scores included, as the report reads them


def test_the_schema_is_a_draft_2020_12_schema():
    Draft202012Validator.check_schema(SCHEMA)


def test_the_schema_names_what_the_code_has():
    # The enums repeat facts of the code (one place each there): a new
    # framework, mode, model, precision or profile must be published here too.
    enum = {name: set(SCHEMA["$defs"][name]["enum"]) for name in
            ("framework", "mode", "model", "precision", "profileName", "inputPipeline")}
    assert enum["framework"] == set(TABLE)
    assert enum["mode"] == {mode for facts in TABLE.values() for mode in facts.modes}
    assert enum["model"] == set(SPECS)
    assert enum["precision"] == set(PRECISIONS)
    assert enum["profileName"] == set(PROFILES)
    assert enum["inputPipeline"] == set(INPUT_PIPELINES)
    for name, facts in TABLE.items():
        assert not any(errors(f"{name} {mode}", "suiteMode") for mode in facts.modes)
    assert RESULTS_SCHEMA_VERSION in SCHEMA["properties"]["schema_version"]["enum"]
    assert RESULT_SCHEMA_VERSION in SCHEMA["$defs"]["resultFields"]["properties"]["schema_version"]["enum"]


@pytest.mark.parametrize("path", COMMITTED, ids=lambda path: path.parent.name)
def test_every_committed_results_json_holds(path):
    assert errors(read(path)) == []


def test_every_committed_result_json_holds():
    assert COMMITTED_RUNS
    broken = {str(path.relative_to(REPO_ROOT)): found for path in COMMITTED_RUNS
              if (found := errors(read(path), "result"))}
    assert broken == {}


def test_a_suite_the_current_code_writes_holds(tiny_suite):
    path = tiny_suite.run_dir / "results.json"
    assert path.exists(), tiny_suite.stdout[-2000:] + tiny_suite.stderr[-2000:]
    results = read(path)
    assert results["schema_version"] == RESULTS_SCHEMA_VERSION
    assert "profile_settings" in results["suite"]  # a version-2 field
    assert errors(results) == []
    for run in results["runs"]:
        result = read(tiny_suite.run_dir / run["dir"] / "result.json")
        assert result["schema_version"] == RESULT_SCHEMA_VERSION
        assert errors(result, "result") == []


def failing_config(**changes) -> RunConfig:
    """A run that fails at once, before any framework is imported: its image folder does not exist."""
    return RunConfig(framework="torch", model="dcgan", mode="eager", device="cpu", profile="smoke", epochs=1,
                     batch_size=16, train_size=32, sample_count=4, seed=0, threads=1, data_dir=None,
                     dataset="folder:/nonexistent-ganbench-images", **changes)


def test_a_failed_run_holds(tmp_path):
    # The worker's own failure record (result.json), and the suite's record of it.
    config = failing_config()
    run = run_one(config, tmp_path / "suite" / "runs" / config.name, timeout_s=120)
    assert run["status"] == "failed" and "DatasetError" in run["reason"]
    assert errors(read(tmp_path / "suite" / "runs" / config.name / "result.json"), "result") == []
    assert errors(run, "run") == []
    # A worker stopped before it wrote anything: the suite's own failure record.
    config = failing_config(tag="-r2", repeat=2)
    run = run_one(config, tmp_path / "suite" / "runs" / config.name, timeout_s=0.01)
    assert run["status"] == "failed" and "timed out" in run["reason"]
    assert errors(run, "run") == []


def test_a_calibration_record_holds(tmp_path, monkeypatch):
    # calibrate() reads a cached entry (nothing is timed) and records its method.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    target = Target("tf", "dcgan", "fp32", 16, "cpu", 0)
    timed = {"images_per_s": 900.0, "step_ms": 17.7, "round_ms": [17.5, 17.7, 18.1], "steps": 24, "warmup_s": 3.2}
    io.write_json(cache_path(), {"version": CACHE_VERSION, "entries": {target.key: {"modes": {
        "function": timed, "xla": {**timed, "images_per_s": 800.0}, "eager": {"error": "RuntimeError: no"}}}}})
    record = calibrate([target], None)
    assert record["method"] == METHOD and record["entries"][0]["cached"]
    assert errors(record, "calibration") == []


def corrupt_status(results: dict) -> None:
    results["runs"][0]["status"] = "okay"


def corrupt_missing_runs(results: dict) -> None:
    del results["runs"]


def corrupt_missing_timing(results: dict) -> None:
    del results["runs"][0]["timing"]  # an ok run has the whole record


def corrupt_reason_of_ok_run(results: dict) -> None:
    results["runs"][0]["reason"] = "it was fine"


def corrupt_diverged_without_tail(results: dict) -> None:
    results["runs"][0].update(status="diverged", reason="non-finite loss at step 3")  # no stderr_tail


def corrupt_unknown_framework(results: dict) -> None:
    results["suite"]["frameworks"].append("mxnet")


def corrupt_unknown_field(results: dict) -> None:
    results["suite"]["git_dirty"] = True  # dirtiness is environment.git_commit's -dirty


def corrupt_unknown_run_field(results: dict) -> None:
    results["runs"][0]["wall_seconds"] = 1.0  # beside result.json's fields, only the suite's own


def corrupt_version(results: dict) -> None:
    results["schema_version"] = 4  # no such version


def corrupt_dirty_commit(results: dict) -> None:
    results["environment"]["git_commit"] = "abc1234 (dirty)"


@pytest.mark.parametrize("corrupt", [
    corrupt_status, corrupt_missing_runs, corrupt_missing_timing, corrupt_reason_of_ok_run,
    corrupt_diverged_without_tail, corrupt_unknown_framework, corrupt_unknown_field, corrupt_unknown_run_field, corrupt_version,
    corrupt_dirty_commit,
], ids=lambda corrupt: corrupt.__name__.removeprefix("corrupt_"))
def test_a_corrupted_results_json_is_rejected(corrupt):
    results = read(SMALLEST)
    assert errors(results) == []
    broken = copy.deepcopy(results)
    corrupt(broken)
    assert errors(broken) != []
