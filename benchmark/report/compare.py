"""Two result folders side by side (two machines, two versions):
`python run_benchmark.py --compare DIR_A DIR_B`.

For every (model, framework, mode, batch size, precision) present in both, the speed
ratio B/A with its bootstrap interval and the final losses; then what differs
in the environments.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.io import write_text
from benchmark.report.markdown import MISSING, fmt_loss, fmt_rate, markdown_table, model_title
from benchmark.report.results import Suite, load_suite
from benchmark.report.speed import contenders
from benchmark.report.stats import bootstrap_speed_ratio


def comparison_markdown(a: Suite, b: Suite) -> str:
    groups_a = {c.runs[0].group: c for c in contenders(a.runs)}
    groups_b = {c.runs[0].group: c for c in contenders(b.runs)}
    shared = [g for g in groups_a if g in groups_b]
    rows = []
    for group in shared:
        ca, cb = groups_a[group], groups_b[group]
        # B's images/s over A's: > 1 means B is faster.
        ratio, low, high = bootstrap_speed_ratio(cb.steps, ca.steps)
        verdict = "within noise" if low <= 1.0 <= high else ("B faster" if low > 1.0 else "A faster")
        run_a, run_b = ca.runs[0], cb.runs[0]
        rows.append([model_title(group[0]), group[1], run_a.mode_label, str(group[3]), fmt_rate(ca.rate),
                     fmt_rate(cb.rate), f"{ratio:.2f}x ({low:.2f}–{high:.2f})", verdict,
                     f"{_losses(run_a)} → {_losses(run_b)}"])
    only = sorted(set(groups_a) ^ set(groups_b))
    parts = [f"# ganbench comparison: A = {a.run_id}, B = {b.run_id}",
             "Speed ratio: B's median images/s over A's, with a 95% bootstrap interval; "
             "\"within noise\" when the interval holds 1.",
             markdown_table(["Model", "Framework", "Mode", "Batch", "A img/s", "B img/s", "B/A",
                             "Verdict", "Final D / G loss A → B"], rows, "llllrrrll")
             if rows else "No configuration ran in both folders."]
    if only:
        parts.append("Only in one folder: " + ", ".join("-".join(map(str, g)) for g in only))
    parts += ["## Environment differences", _environment_differences(a, b)]
    return "\n\n".join(parts) + "\n"


def _losses(run) -> str:
    return f"{fmt_loss(run.number('final_losses', 'd_loss'))} / {fmt_loss(run.number('final_losses', 'g_loss'))}"


def _environment_differences(a: Suite, b: Suite) -> str:
    def flat(suite: Suite) -> dict[str, str]:
        env = dict(suite.environment)
        packages = env.pop("packages", {}) or {}
        values = {k: str(v) for k, v in env.items() if k != "python_executable"}
        values.update({f"package {name}": str(version) for name, version in packages.items()})
        values["command"] = str(suite.summary.get("command", MISSING))
        return values

    fa, fb = flat(a), flat(b)
    rows = [[key, fa.get(key, MISSING), fb.get(key, MISSING)]
            for key in sorted(set(fa) | set(fb)) if fa.get(key) != fb.get(key)]
    return markdown_table(["", "A", "B"], rows) if rows else "None recorded."


def render_comparison(dir_a: Path, dir_b: Path, out_dir: Path) -> Path:
    a, b = load_suite(dir_a), load_suite(dir_b)
    path = out_dir / f"compare-{a.run_id}-vs-{b.run_id}.md"
    write_text(path, comparison_markdown(a, b))
    return path
