"""Faults injected for real: killed workers and suites, exploding learning
rates, corrupt data, hidden frameworks. Each must leave a usable folder, a
clear message and the right exit code; a resumed run must continue the
uninterrupted loss curve exactly."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.suites import TINY as TINY_SUITE

REPO_ROOT = Path(__file__).resolve().parents[2]
KILL_HOOK = REPO_ROOT / "tests" / "faults"  # sitecustomize: a worker that dies right after its checkpoint's swap
TINY = ("--profile", "smoke", "--train-size", "320", "--batch-size", "32", "--epochs", "3")


def cli(*args: str, env: dict | None = None, wait: bool = True):
    command = [sys.executable, "run_benchmark.py", *args]
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    if not wait:
        return subprocess.Popen(command, cwd=REPO_ROOT, env=environment,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True,
                          text=True, timeout=600)


def losses(run_dir: Path) -> list[tuple[str, str]]:
    with open(run_dir / "history.csv", newline="") as handle:
        return [(row["d_loss"], row["g_loss"]) for row in csv.DictReader(handle)]


def wait_for(path: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def worker_pids(run_dir: Path) -> list[int]:
    needle = f"benchmark.worker {run_dir}".encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if needle in (proc / "cmdline").read_bytes().replace(b"\0", b" "):
                    pids.append(int(proc.name))
            except OSError:
                continue
    return pids


@pytest.mark.parametrize("framework, victim", [("torch", "worker"), ("tf", "suite")])
def test_a_killed_run_resumes_on_the_uninterrupted_curve(tmp_path, mnist_data_dir, framework, victim):
    flags = (*TINY, "--frameworks", framework, "--models", "dcgan", "--data-dir", mnist_data_dir)
    reference = cli(*flags, "--out", str(tmp_path), "--run-id", "reference")
    assert reference.returncode == 0, reference.stderr[-2000:]

    run_dir = tmp_path / "killed" / "runs" / f"dcgan-{framework}-{'eager' if framework == 'torch' else 'xla'}"
    if victim == "worker":
        # The worker dies the moment its first checkpoint (epoch 1 of 3) is swapped
        # in: what it writes after that is lost, so the frames and trace it kept
        # must already cover the checkpoint's steps.
        killed = cli(*flags, "--out", str(tmp_path), "--run-id", "killed",
                     env={"GANBENCH_TEST_KILL_AT_CHECKPOINT": "1",
                          "PYTHONPATH": os.pathsep.join([str(KILL_HOOK), str(REPO_ROOT)])})
        assert killed.returncode == 1  # the suite records the failure and says so
        result = json.loads((tmp_path / "killed" / "results.json").read_text())["runs"][0]
        assert result["status"] == "failed" and "SIGKILL" in result["reason"]
        # The suite's own output says why: the worker's last lines of stderr, indented.
        assert result["stderr_tail"].endswith("killing this worker right after its checkpoint swap")
        assert all(f"    | {line}" in killed.stdout for line in result["stderr_tail"].splitlines())
    else:
        suite = cli(*flags, "--out", str(tmp_path), "--run-id", "killed", wait=False)
        wait_for(run_dir / "checkpoint" / "state.json")  # epoch 1 of 3 is done
        suite.send_signal(signal.SIGKILL)
        suite.wait(timeout=60)
        deadline = time.monotonic() + 30
        while worker_pids(run_dir):  # the worker dies with its suite, leaving no orphan
            assert time.monotonic() < deadline, "worker outlived its killed suite"
            time.sleep(0.2)

    resumed = cli("--resume", str(tmp_path / "killed"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "ok" and result["resumed_from_epoch"] >= 1
    reference_dir = tmp_path / "reference" / "runs" / run_dir.name
    assert losses(run_dir) == losses(reference_dir)  # bit for bit, as printed by repr
    # The divergence trace continues too: the same steps, the same sketches, bit for bit.
    with np.load(run_dir / "trace.npz") as resumed_trace, np.load(reference_dir / "trace.npz") as reference_trace:
        assert resumed_trace["steps"].tolist() == reference_trace["steps"].tolist()
        assert np.array_equal(resumed_trace["generator_sketch"], reference_trace["generator_sketch"])
        assert np.array_equal(resumed_trace["digits"], reference_trace["digits"])
    assert (tmp_path / "killed" / "report.md").exists()


def test_resume_refuses_a_different_configuration(tiny_suite, tmp_path, mnist_data_dir):
    done = tiny_suite.copy_to(tmp_path)
    refused = cli("--resume", str(done), *TINY_SUITE, "--epochs", "4", "--data-dir", mnist_data_dir)
    assert refused.returncode == 2
    assert "epochs: 1 -> 4" in refused.stderr
    again = cli("--resume", str(done))  # nothing left to do: kept, not rerun
    assert again.returncode == 0 and "finished before; kept" in again.stdout


def test_an_exploding_learning_rate_is_reported_as_diverged(tmp_path, mnist_data_dir):
    result = cli("--profile", "smoke", "--train-size", "320", "--batch-size", "32",
                 "--frameworks", "torch", "--models", "dcgan", "--d-lr", "1e12", "--g-lr", "1e12",
                 "--data-dir", mnist_data_dir, "--out", str(tmp_path), "--run-id", "nan")
    assert result.returncode == 1
    run = json.loads((tmp_path / "nan" / "results.json").read_text())["runs"][0]
    assert run["status"] == "diverged" and "non-finite" in run["reason"]
    assert run["last_step"] < 9  # stopped early, not after the whole epoch
    report = (tmp_path / "nan" / "report.md").read_text()
    assert "diverged" in report


def test_a_corrupt_data_file_exits_2_naming_it(tmp_path, mnist_data_dir):
    data = tmp_path / "mnist"
    data.mkdir()
    for source in Path(mnist_data_dir).glob("*-ubyte.gz"):
        (data / source.name).write_bytes(source.read_bytes())
    damaged = data / "train-images-idx3-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:100_000])  # truncated download
    result = cli("--data-dir", str(data), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert str(damaged) in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def without_tensorflow(tmp_path: Path) -> dict[str, str]:
    """An environment whose interpreter finds neither tensorflow nor keras, as
    on a GPU machine that has PyTorch alone (sitecustomize runs at start-up)."""
    hide = tmp_path / "hide"
    hide.mkdir()
    # None in sys.modules: `import` raises ModuleNotFoundError and
    # importlib.util.find_spec answers None, as for a package never installed.
    (hide / "sitecustomize.py").write_text(
        "import sys\n"
        "sys.modules.update(tensorflow=None, keras=None)\n")
    return {"PYTHONPATH": f"{hide}{os.pathsep}{REPO_ROOT}"}


def test_a_missing_framework_exits_2_before_anything_runs(tmp_path, mnist_data_dir):
    result = cli("--frameworks", "torch", "tf", "--data-dir", mnist_data_dir,
                 "--out", str(tmp_path / "out"), env=without_tensorflow(tmp_path))
    assert result.returncode == 2
    assert "tensorflow package is not installed" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_torch_alone_needs_no_tensorflow(tmp_path, mnist_data_dir):
    # The GPU machines this project is benchmarked on may carry PyTorch alone:
    # a torch-only suite, its quality scores and its report import nothing of TF.
    result = cli("--frameworks", "torch", "--models", "dcgan", "--profile", "smoke",
                 "--train-size", "64", "--batch-size", "16", "--data-dir", mnist_data_dir,
                 "--out", str(tmp_path), "--run-id", "torch-only", env=without_tensorflow(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    results = json.loads((tmp_path / "torch-only" / "results.json").read_text())
    assert [(r["framework"], r["status"]) for r in results["runs"]] == [("torch", "ok")]
    assert (tmp_path / "torch-only" / "report.md").exists()
