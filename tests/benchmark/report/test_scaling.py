"""The report's data-parallel section from known step times and losses:
images/s against devices, scaling efficiency against the same framework's
single device, the slowest replica's step time, the agreement of replicas
with one device and across frameworks, and the warning that replicas on one
CPU share its cores."""

import json
from pathlib import Path

from benchmark.report import render_report

STEPS = 6  # two warm-up steps, four timed


def write_run(suite_dir: Path, framework: str, devices: int, step_s: float, d_losses: list[float]) -> dict:
    mode = "eager" if framework == "torch" else "function"
    name = f"dcgan-{framework}-{mode}" + (f"-d{devices}" if devices > 1 else "")
    run_dir = suite_dir / "runs" / name
    run_dir.mkdir(parents=True)
    rows = ["step,epoch,d_loss,g_loss,step_s,wall_s,warmup"]
    rows += [f"{i},0,{d_losses[i]!r},0.5,{step_s},{(i + 1) * step_s},{int(i < 2)}" for i in range(STEPS)]
    (run_dir / "history.csv").write_text("\n".join(rows) + "\n")
    config = {"framework": framework, "model": "dcgan", "mode": mode, "device": "cpu", "profile": "smoke",
              "batch_size": 32, "devices": devices, "sync_batchnorm": devices > 1, "epochs": 1}
    return {"name": name, "framework": framework, "model": "dcgan", "mode": mode, "precision": "fp32",
            "status": "ok", "dir": f"runs/{name}", "config": config,
            "timing": {"images_per_step": 32, "images_per_s": 32 / step_s},
            "data_parallel": None if devices == 1 else {
                "replicas": devices, "processes": devices if framework == "torch" else 1,
                "batch_per_replica": 32 // devices, "sync_batchnorm": True, "shared_cpu": True}}


def test_the_scaling_section(tmp_path):
    base = [0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    runs = [write_run(tmp_path, "torch", 1, 0.1, base),
            write_run(tmp_path, "torch", 2, 0.08, [0.7 + 1e-7, *base[1:-1], 0.25]),
            write_run(tmp_path, "tf", 1, 0.2, base),
            write_run(tmp_path, "tf", 2, 0.4, [0.7, *base[1:]])]
    (tmp_path / "results.json").write_text(json.dumps({
        "run_id": "scaling", "runs": runs, "environment": {"cpu_count": 2},
        "suite": {"frameworks": ["torch", "tf"], "models": ["dcgan"], "device": "cpu", "devices": [1, 2]}}))
    report = render_report(tmp_path).read_text()
    section = report[report.index("## Data-parallel training"):report.index("## DCGAN")]

    assert "**The replicas share this machine's 2 CPU cores**" in section
    assert "say nothing about scaling" in section
    # torch: 320 images/s on one device, 400 on two: 400 / (2 x 320) = 62%
    assert "| DCGAN | torch | eager | 2 | 16 | 400 | 80.0 | 62% |" in section
    assert "| DCGAN | torch | eager | 1 | 32 | 320 | 100.0 | 100% (reference) |" in section
    assert "| DCGAN | tf | function | 2 | 16 | 80 | 400.0 | 25% |" in section
    # first D loss 1e-7 apart; the last step's 0.05
    assert "| DCGAN | torch (eager ×2) | torch on 1 device | 1.0e-07 | 5.0e-02 |" in section
    assert "| DCGAN | torch (eager ×2) | tf ×2 | 1.0e-07 | 5.0e-02 |" in section
    assert "| DCGAN | tf (function ×2) | tf on 1 device | 0.0e+00 | 0.0e+00 |" in section
    assert "figures/scaling_dcgan.png" in section and (tmp_path / "figures" / "scaling_dcgan.png").is_file()


def test_a_report_without_replicas_has_no_such_section(tmp_path):
    runs = [write_run(tmp_path, "torch", 1, 0.1, [0.5] * STEPS)]
    (tmp_path / "results.json").write_text(json.dumps({"run_id": "one", "runs": runs}))
    assert "Data-parallel" not in render_report(tmp_path).read_text()
