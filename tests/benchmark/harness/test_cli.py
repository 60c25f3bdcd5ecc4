"""run_benchmark.py as a user meets it: bad input exits 2 with a message and
writes nothing; a real (tiny) benchmark of both frameworks writes a report."""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.isa import skip_tf_bf16_under_a_onednn_cap

REPO_ROOT = Path(__file__).resolve().parents[3]


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run_benchmark.py", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})


def refused(capsys: pytest.CaptureFixture, *args: str) -> tuple[str, str]:
    """run_benchmark.py's main in this process, which must exit 2: (stdout,
    stderr). A refusal needs no framework's start-up, so the tests of many
    refusals run here (a subprocess each cost a second); the entry point's own
    exit status and clean stderr are test_missing_data_exits_2_listing_what_is_missing's."""
    from benchmark.harness import cli

    with pytest.raises(SystemExit) as exited:
        cli.main(list(args))
    out, err = capsys.readouterr()
    assert exited.value.code == 2, out[-2000:] + err[-2000:]
    return out, err


@pytest.mark.parametrize("args, message", [
    (["--models", "stylegan"], "invalid choice: 'stylegan'"),
    (["--frameworks", "mxnet"], "invalid choice: 'mxnet'"),
    (["--frameworks", "jax", "--modes", "xla"], "jax modes: eager, jit"),
    (["--epochs", "0"], "must be at least 1"),
    (["--quality-probes", "0"], "must be at least 1"),
    (["--batch-size", "many"], "is not an integer"),
    (["--seed", "-1"], "must be an integer >= 0"),
    (["--no-such-flag"], "unrecognized arguments"),
    (["--frameworks", "tf", "--modes", "compile"], "tf modes: eager, function, xla"),
    (["--precision", "fp8"], "invalid choice: 'fp8'"),
])
def test_bad_flags_exit_2_naming_the_problem(tmp_path, capsys, args, message):
    _, err = refused(capsys, *args, "--out", str(tmp_path / "out"))
    assert message in err
    assert not (tmp_path / "out").exists()


def test_missing_data_exits_2_listing_what_is_missing(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_cli("--data-dir", str(empty), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "train-images-idx3-ubyte" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_unwritable_out_exits_2(tmp_path, capsys, mnist_data_dir):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    _, err = refused(capsys, "--data-dir", mnist_data_dir, "--out", str(blocker / "reports"))
    assert "--out" in err


def has_gpu() -> bool:
    from benchmark.environment import gpu_description

    return gpu_description() is not None


# Values a run would reject only once started (its worker, the evaluator at the
# last probe, its folder): refused before anything trains. {tmp} is tmp_path.
@pytest.mark.parametrize("args, message", [
    (["--quality-samples", "3"], "--quality-samples 3: the evaluator needs at least 10 samples"),
    (["--quality-samples", str(10**12)], "more than this machine's"),
    (["--run-id", "../escape-test"], "'../escape-test' is not a plain folder name"),
    (["--run-id", "{tmp}/escape-test"], "is not a plain folder name"),
    (["--run-id", ".."], "'..' is not a plain folder name"),
    (["--run-id", "runs/one"], "'runs/one' is not a plain folder name"),
    (["--threads", "5000"], "--threads 5000: at most 1024"),
    (["--train-size", "16", "--batch-size", "32"], "one step needs 32 images"),
    pytest.param(["--device", "cuda"], "--device cuda: nvidia-smi finds no GPU",
                 marks=pytest.mark.skipif(has_gpu(), reason="this machine has a GPU")),
])
def test_values_a_run_would_reject_later_exit_2_before_training(tmp_path, capsys, mnist_data_dir, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out, err = refused(capsys, "--frameworks", "torch", "--models", "dcgan", "--profile", "smoke",
                       "--data-dir", mnist_data_dir, *args, "--out", str(tmp_path / "out"))
    assert message in err
    assert "== run" not in out
    assert list(tmp_path.iterdir()) == []  # not --out, nor a folder beside or above it


def test_threads_above_the_cores_warn_of_oversubscription(tmp_path, capsys, mnist_data_dir):
    cores = len(os.sched_getaffinity(0))
    # --train-size 16 cannot fill a step: refused at the data check, so nothing trains
    _, err = refused(capsys, "--threads", str(cores + 1), "--train-size", "16", "--batch-size", "32",
                     "--frameworks", "torch", "--models", "dcgan", "--data-dir", mnist_data_dir,
                     "--out", str(tmp_path / "out"))
    assert f"warning: --threads {cores + 1} is more than the {cores} core(s)" in err
    assert "timings measure that contention" in err


@pytest.mark.parametrize("field, value", [
    ("model", "../../escape"), ("framework", "/tmp"), ("mode", ".."), ("precision", "a/b"),
    ("tag", "/../../escape"),
])
def test_resume_refuses_a_plan_whose_run_names_leave_its_folder(tmp_path, capsys, field, value):
    import dataclasses

    from benchmark.harness.arguments import build_parser
    from benchmark.harness.plan import plan_runs
    from benchmark.harness.suite import SuiteOptions, write_plan

    args = build_parser().parse_args(["--frameworks", "torch", "--models", "dcgan", "--modes", "eager",
                                      "--profile", "smoke"])
    edited = dataclasses.replace(plan_runs(args, "cpu")[0], **{field: value})  # suite.json edited by hand
    write_plan(tmp_path / "run", [edited], SuiteOptions("python run_benchmark.py", {}))
    before = sorted(tmp_path.rglob("*"))
    _, err = refused(capsys, "--resume", str(tmp_path / "run"))
    assert f"{field} {value!r} would name a folder outside the run folder" in err
    assert sorted(tmp_path.rglob("*")) == before


def test_a_tiny_benchmark_of_both_frameworks_writes_a_report(tiny_suite, tmp_path):
    result = tiny_suite
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    run_dir = result.run_dir
    results = result.results
    assert [(r["model"], r["framework"], r["status"]) for r in results["runs"]] == [
        ("dcgan", "torch", "ok"), ("dcgan", "tf", "ok"), ("wgan", "torch", "ok"), ("wgan", "tf", "ok")]
    for run in results["runs"]:
        timing = run["timing"]
        if run["model"] == "dcgan":  # 160 / 16 = 10 steps: 2 warm-up, 8 timed
            assert timing["steady_steps"] == 8 and timing["images_per_s"] > 0
        else:  # 160 / (5 x 16) = 2 steps, both warm-up: no speed rather than the warm-up's
            assert timing["steady_steps"] == 0 and timing["images_per_s"] is None
            assert timing["gflops_per_s"] is None and timing["warmup_steps"] == 2
        samples = np.load(run_dir / run["dir"] / "samples.npy")
        assert samples.shape == (16, 28, 28, 1) and np.all(np.abs(samples) <= 1)
    # Same seed, same data, same noise, same initial weights: the first
    # step's losses of the two frameworks agree to float32 rounding.
    first = {}
    for run in results["runs"]:
        row = (run_dir / run["dir"] / "history.csv").read_text().splitlines()[1].split(",")
        first.setdefault(run["model"], []).append(float(row[2]))
    for model, (torch_loss, tf_loss) in first.items():
        assert torch_loss == pytest.approx(tf_loss, rel=1e-5), model
    assert "warning: wgan runs 2 step(s), all of them warm-up" in result.stderr
    assert "dcgan runs" not in result.stderr
    report = (run_dir / "report.md").read_text()
    assert "## Summary" in report and "python run_benchmark.py" in report
    assert ("n/a: torch ran warm-up steps only (train longer), tf ran warm-up steps only (train longer)"
            in report)
    assert report.count("| – (warm-up only) |") == 2

    copy = result.copy_to(tmp_path)  # re-rendered from its files alone, the same report
    (copy / "report.md").unlink()
    rerender = run_cli("--report-only", str(copy))
    assert rerender.returncode == 0 and (copy / "report.md").read_text() == report


# One suite per framework, so that a oneDNN cap that crashes TensorFlow's bf16 skips tf's alone.
# tf eager: its bf16 XLA step is tests/tf_impl/test_tf_precision.py's; in whole suites this one took
# 13 to 18 s in xla mode, 10 s in eager.
@pytest.mark.parametrize("framework, mode", [
    ("torch", "eager"), pytest.param("tf", "eager", marks=skip_tf_bf16_under_a_onednn_cap)])
def test_a_tiny_bf16_run_is_named_and_reported_as_bf16(tmp_path, mnist_data_dir, framework, mode):
    result = run_cli("--frameworks", framework, "--modes", mode, "--models", "dcgan", "--precision", "bf16",
                     "--profile", "smoke", "--train-size", "32", "--batch-size", "16",
                     "--quality-samples", "0", "--data-dir", mnist_data_dir, "--out", str(tmp_path),
                     "--run-id", "bf16")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    results = json.loads((tmp_path / "bf16" / "results.json").read_text())
    assert [(r["name"], r["precision"], r["status"]) for r in results["runs"]] == [
        (f"dcgan-{framework}-{mode}-bf16", "bf16", "ok")]
    assert results["suite"]["precisions"] == ["bf16"]
    report = (tmp_path / "bf16" / "report.md").read_text()
    # the mode cell; "(contended)" follows it when other processes shared the CPU
    assert re.search(rf"\| {mode} bf16( \(contended\))? \|", report), report


def test_precisions_plan_one_named_run_each():
    from benchmark.harness.arguments import build_parser
    from benchmark.harness.plan import plan_runs

    # smoke: the reference modes, so the names do not depend on a calibration
    args = build_parser().parse_args(["--models", "dcgan", "--precision", "fp32", "bf16", "--profile", "smoke"])
    assert [c.name for c in plan_runs(args, "cpu")] == [
        "dcgan-torch-eager", "dcgan-torch-eager-bf16", "dcgan-tf-xla", "dcgan-tf-xla-bf16"]
    assert {c.precision for c in plan_runs(build_parser().parse_args([]), "cpu")} == {"fp32"}


def test_input_pipelines_plan_a_named_run_each_and_other_data_scores_less_on_a_cpu():
    from benchmark.harness.arguments import UsageError, build_parser
    from benchmark.harness.plan import plan_runs
    from benchmark.config import INCEPTION_CPU_PROBES, INCEPTION_CPU_SAMPLES

    def plan(*flags: str, device: str = "cpu"):
        return plan_runs(build_parser().parse_args(["--models", "dcgan", "--profile", "smoke", *flags]), device)

    assert [c.name for c in plan("--input-pipeline", "device", "native")] == [
        "dcgan-torch-eager", "dcgan-torch-eager-native", "dcgan-tf-xla", "dcgan-tf-xla-native"]
    assert {(c.dataset, c.input_pipeline, c.image_size) for c in plan()} == {("mnist", "device", None)}
    quick = {(c.quality_samples, c.quality_probes) for c in plan("--profile", "quick")}
    assert quick == {(10_000, 4)}  # MNIST: the classifier, as before
    inception = plan("--profile", "quick", "--dataset", "cifar10")
    assert {(c.dataset, c.quality_samples, c.quality_probes) for c in inception} == {
        ("cifar10", INCEPTION_CPU_SAMPLES, INCEPTION_CPU_PROBES)}
    assert {c.quality_samples for c in plan("--profile", "quick", "--dataset", "cifar10", device="cuda")} == {10_000}
    given = plan("--dataset", "cifar10", "--quality-samples", "50", "--quality-probes", "3")
    assert {(c.quality_samples, c.quality_probes) for c in given} == {(50, 3)}
    with pytest.raises(UsageError, match="native pipelines feed one device"):
        plan("--input-pipeline", "native", "--devices", "2")


@pytest.mark.parametrize("flags, message", [
    (["--dataset", "imagenet"], "unknown dataset 'imagenet'; valid: mnist, fashion_mnist, cifar10, folder:PATH"),
    (["--dataset", "folder:{tmp}/missing"], "missing"),
    (["--dataset", "folder:{tmp}/empty"], "no JPEG or PNG files under"),
    (["--dataset", "folder:{tmp}/faces", "--models", "cgan"], "cgan is conditional: it needs labelled data"),
    (["--dataset", "folder:{tmp}/faces", "--image-size", "48"], "no networks for images of shape (48, 48, 3)"),
    (["--image-size", "64"], "applies to folder:PATH data sets only"),
    (["--dataset", "folder:{tmp}/faces", "--data-dir", "{tmp}"], "names its own folder"),
])
def test_data_a_run_cannot_train_on_exits_2_before_anything_trains(tmp_path, capsys, monkeypatch, flags, message):
    from benchmark.harness import cli
    from tests.datasets import write_image_folder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    write_image_folder(tmp_path / "faces", corrupt=False)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exited:
        cli.main([*(f.format(tmp=tmp_path) for f in flags), "--profile", "smoke", "--out", str(out)])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_framework_without_a_native_pipeline_is_refused_native(tmp_path, capsys, monkeypatch):
    """Every framework has one today; the check stands for the next one (its table entry without one)."""
    import dataclasses

    from benchmark.frameworks import TABLE
    from benchmark.harness import cli

    monkeypatch.setitem(TABLE, "jax", dataclasses.replace(TABLE["jax"], input_pipeline=None))
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exited:
        cli.main(["--frameworks", "torch", "jax", "--input-pipeline", "native", "--profile", "smoke",
                  "--out", str(out)])
    assert exited.value.code == 2
    assert "jax has no native pipeline; native is torch/tf only" in capsys.readouterr().err
    assert not out.exists()


def test_the_converge_profile_gives_every_model_the_same_generator_updates():
    from benchmark.harness.arguments import build_parser
    from benchmark.harness.plan import plan_runs
    from benchmark.config import CONVERGE_GENERATOR_UPDATES

    def epochs(*flags: str) -> dict[str, int]:
        args = build_parser().parse_args(["--profile", "converge", "--models", "dcgan", "wgan", *flags])
        return {c.model: c.epochs for c in plan_runs(args, "cpu")}

    # 60,000 images at batch 128: 468 generator updates an epoch with one critic, 93 with five.
    assert epochs() == {"dcgan": math.ceil(CONVERGE_GENERATOR_UPDATES / 468),
                        "wgan": math.ceil(CONVERGE_GENERATOR_UPDATES / 93)}
    assert epochs("--train-size", "6400", "--batch-size", "64") == {
        "dcgan": math.ceil(CONVERGE_GENERATOR_UPDATES / 100), "wgan": math.ceil(CONVERGE_GENERATOR_UPDATES / 20)}
    assert epochs("--epochs", "2") == {"dcgan": 2, "wgan": 2}  # --epochs overrides the budget


def test_auto_modes_are_planned_as_placeholders_that_the_calibration_resolves():
    from benchmark.harness.calibration import apply
    from benchmark.harness.arguments import build_parser
    from benchmark.harness.plan import plan_runs

    plan = plan_runs(build_parser().parse_args(["--models", "dcgan", "--batch-sizes", "64", "128"]), "cpu")
    assert {c.mode for c in plan} == {"auto"}
    calibration = {"entries": [{"framework": "torch", "model": "dcgan", "precision": "fp32", "chosen": "compile"},
                               {"framework": "tf", "model": "dcgan", "precision": "fp32", "chosen": "function"}]}
    assert [c.name for c in apply(plan, calibration)] == [
        "dcgan-torch-compile-b64", "dcgan-tf-function-b64", "dcgan-torch-compile-b128", "dcgan-tf-function-b128"]


def test_repeats_and_batch_sweeps_plan_interleaved_named_runs():
    from benchmark.harness.arguments import UsageError, build_parser
    from benchmark.harness.plan import plan_runs

    args = build_parser().parse_args(["--models", "dcgan", "--batch-sizes", "64", "128", "--repeats", "2",
                                      "--profile", "smoke"])
    names = [c.name for c in plan_runs(args, "cpu")]
    assert names == ["dcgan-torch-eager-b64-r1", "dcgan-tf-xla-b64-r1", "dcgan-torch-eager-b128-r1",
                     "dcgan-tf-xla-b128-r1", "dcgan-torch-eager-b64-r2", "dcgan-tf-xla-b64-r2",
                     "dcgan-torch-eager-b128-r2", "dcgan-tf-xla-b128-r2"]
    both = build_parser().parse_args(["--batch-size", "32", "--batch-sizes", "64"])
    with pytest.raises(UsageError, match="not both"):
        plan_runs(both, "cpu")


def test_seeds_plan_one_paired_run_per_seed():
    from benchmark.harness.arguments import UsageError, build_parser
    from benchmark.harness.plan import plan_runs

    def plan(*flags):
        return plan_runs(build_parser().parse_args(["--models", "dcgan", "--profile", "smoke", *flags]), "cpu")

    runs = plan("--seeds", "2")
    assert [(c.name, c.seed) for c in runs] == [
        ("dcgan-torch-eager-s0", 0), ("dcgan-tf-xla-s0", 0), ("dcgan-torch-eager-s1", 1), ("dcgan-tf-xla-s1", 1)]
    assert [c.seed for c in plan("--seeds", "3", "7", "11")] == [3, 3, 7, 7, 11, 11]
    assert [c.name for c in plan("--rounding-control")] == [
        "dcgan-torch-eager", "dcgan-torch-eager-ulp", "dcgan-tf-xla", "dcgan-tf-xla-ulp"]
    assert [(c.name, c.seed) for c in plan("--seed", "5")] == [("dcgan-torch-eager", 5), ("dcgan-tf-xla", 5)]
    for flags, message in ((("--seeds", "0"), "at least 1"), (("--seeds", "3", "3"), "named twice"),
                           (("--seed", "1", "--seeds", "2"), "not both")):
        with pytest.raises(UsageError, match=message):
            plan(*flags)


def test_seeds_run_paired_and_the_report_compares_them_seed_by_seed(tmp_path, mnist_data_dir):
    # The MLP GAN in torch and JAX: pairing, seeds and the rounding control depend on neither the model nor
    # the frameworks, and these 8 runs start quickest (tf's start-up alone is ~5 s a run; dcgan's took 86 s
    # or more with tf, the MLP GAN's 72 to 105 s).
    result = run_cli("--frameworks", "torch", "jax", "--models", "vanilla", "--profile", "smoke",
                     "--train-size", "64", "--batch-size", "16", "--quality-samples", "50", "--seeds", "2",
                     "--rounding-control", "--data-dir", mnist_data_dir, "--out", str(tmp_path), "--run-id", "seeds")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    run_dir = tmp_path / "seeds"
    results = json.loads((run_dir / "results.json").read_text())
    assert [(r["name"], r["config"]["seed"]) for r in results["runs"]] == [
        ("vanilla-torch-eager-s0", 0), ("vanilla-torch-eager-s0-ulp", 0), ("vanilla-jax-jit-s0", 0),
        ("vanilla-jax-jit-s0-ulp", 0), ("vanilla-torch-eager-s1", 1), ("vanilla-torch-eager-s1-ulp", 1),
        ("vanilla-jax-jit-s1", 1), ("vanilla-jax-jit-s1-ulp", 1)]
    assert results["suite"]["seeds"] == [0, 1]
    # A seed fixes weights, data and noise in both frameworks: seed 0's twins start alike, seed 1's elsewhere.
    first = {r["name"]: (run_dir / r["dir"] / "history.csv").read_text().splitlines()[1].split(",")[2]
             for r in results["runs"]}
    assert float(first["vanilla-torch-eager-s0"]) == pytest.approx(float(first["vanilla-jax-jit-s0"]), rel=1e-5)
    assert float(first["vanilla-torch-eager-s1"]) == pytest.approx(float(first["vanilla-jax-jit-s1"]), rel=1e-5)
    assert first["vanilla-torch-eager-s0"] != first["vanilla-torch-eager-s1"]
    # The nudged twin starts one bit away: the same first loss to rounding, a run of its own after.
    assert float(first["vanilla-jax-jit-s0-ulp"]) == pytest.approx(float(first["vanilla-jax-jit-s0"]), rel=1e-5)
    report = (run_dir / "report.md").read_text()
    assert "### Sample quality across seeds" in report and "(2 paired seeds)" in report
    assert "- **Seed:** 0, 1" in report
    assert "### Rounding control" in report and "Mann-Whitney" in report
    assert "| eager +1 ulp |" in report
    # Divergence: the frameworks' twins start identical at every seed and part through training.
    assert "### When the twins part" in report
    assert "the frameworks' twins are identical (distance 0) at every seed" in report
    assert "| torch vs jax | 1 |" in report and "| jax vs its one-ulp twin | 0 |" in report
    assert (run_dir / "figures" / "divergence_vanilla.png").stat().st_size > 0
    table = pd.read_csv(run_dir / "runs.csv")
    assert sorted(table["seed"]) == [0] * 4 + [1] * 4 and table["nudged"].sum() == 4


def test_inception_samples_score_mnist_on_inception_beside_the_classifier(tmp_path, mnist_data_dir):
    """--inception-samples: the standard FID and KID once at the end of a run,
    from the weights the install brings, in results.json (valid against the
    published schema) and as the report's Inception columns."""
    from jsonschema import Draft202012Validator

    result = run_cli("--frameworks", "torch", "--models", "dcgan", "--profile", "smoke", "--train-size", "32",
                     "--batch-size", "16", "--quality-samples", "10", "--inception-samples", "10",
                     "--data-dir", mnist_data_dir, "--out", str(tmp_path), "--run-id", "inception")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    results = json.loads((tmp_path / "inception" / "results.json").read_text())
    quality = results["runs"][0]["quality"]
    assert quality["inception_reason"] is None and quality["inception_samples"] == 10
    assert quality["inception_fid"] > 0 and math.isfinite(quality["inception_kid_mean"]) and quality["inception_s"] > 0
    assert math.isfinite(quality["fid"]) and quality["fid"] != quality["inception_fid"]  # the classifier's, kept
    assert "inception_fid" not in results["runs"][0]["quality_history"][0]  # scored once, at the end
    schema = json.loads((Path(__file__).resolve().parents[3] / "docs" / "results.schema.json").read_text())
    assert [error.message for error in Draft202012Validator(schema).iter_errors(results)] == []
    header = next(line for line in (tmp_path / "inception" / "report.md").read_text().splitlines()
                  if line.startswith("| Framework | Mode | Samples | FID"))
    assert "| Inception FID ↓ | Inception KID ↓ |" in header


def test_inception_samples_are_refused_where_they_cannot_apply(tmp_path, capsys):
    _, few = refused(capsys, "--profile", "smoke", "--inception-samples", "3", "--out", str(tmp_path))
    assert "--inception-samples 3: FID and KID need at least 10" in few
    _, other = refused(capsys, "--profile", "smoke", "--dataset", "cifar10", "--inception-samples", "100",
                       "--out", str(tmp_path))
    assert "cifar10 is scored on Inception already" in other
    _, unprobed = refused(capsys, "--profile", "smoke", "--quality-samples", "0", "--inception-samples", "100",
                          "--out", str(tmp_path))
    assert "there is none; give --quality-samples 10 or more" in unprobed
    assert not any(tmp_path.iterdir())  # nothing written
