"""reports/README.md: one row per committed example, read from its files.

A suite folder (results.json and report.md) gives what was run, on which
machine, when, at which commit and with which command from results.json, and
its headline from report.md: the first row of the report's own Summary table,
quoted, so that the index can never disagree with the report. The loops
example (loops-N.json from `python -m benchmark.loops.compare`, and the
README.md written around them) gives the same from those files; its headline
is the first sentence after the README's first table.

    python -m benchmark.report.index [REPORTS_DIR]    # writes REPORTS_DIR/README.md

It also writes the repository README's "results at a glance" table, between
its two markers (GLANCE_START, GLANCE_END): for each model, the committed
MNIST example that compares the most frameworks on it on one device (the
newest of those), each framework's best
mode as a share of the fastest one's images/s, and the report's own speed and
quality verdicts, quoted. tests/benchmark/report/test_index.py fails when the
committed index or table is not what this renders today.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from benchmark.frameworks import NAMES as FRAMEWORKS
from benchmark.io import read_json, write_text
from benchmark.report.markdown import MISSING, markdown_table, model_title
from benchmark.report.results import load_suite
from benchmark.report.speed import compare
from benchmark.specs import SPECS

REPORTS_DIR = Path(__file__).resolve().parents[2] / "reports"
GLANCE_START = "<!-- results at a glance: written by python -m benchmark.report.index -->"
GLANCE_END = "<!-- end of results at a glance -->"
INDEX_NAME = "README.md"
COMMAND = "python -m benchmark.report.index"
SUMMARY_HEADING = "## Summary"  # benchmark.report.render.summary_section
LOOPS_PATTERN = re.compile(r"loops-(\d+)\.json")
# Beyond this many models a suite's cell gives their number, not their names.
MAX_NAMED_MODELS = 3

INTRO = f"""# Example reports

Every folder here is a real run of the benchmark, committed with the files
its report was rendered from. This index is generated from those files
by `{COMMAND}`: do not edit it by hand (a test fails
when it is stale).

*Headline*: the report's own first summary claim, quoted: the first row of its
Summary table (the first model's speed and sample-quality verdicts, loss
columns left out), or for the loops example the first sentence after its
README's table. Read the report for what the verdict rests on. *Commit*: the
commit the run was made at, "dirty" when its working tree held uncommitted
changes. Newest first."""


@dataclass(frozen=True)
class Example:
    """One row of the index, and its command(s) for the list below."""

    folder: str
    link: str  # the report's file, relative to the folder
    notes: str | None  # a README.md beside report.md
    what: str
    machine: str
    date: str  # ISO date (and time) as recorded; "" when unknown
    commit: str
    commands: tuple[str, ...]
    headline: str


def render_index(reports_dir: Path) -> str:
    """The Markdown of REPORTS_DIR/README.md, without writing it.

    Args:
        reports_dir: the folder holding one folder per example.
    Returns:
        The intro, the table (newest first) and each example's command(s).
    """
    examples = [example for folder in sorted(Path(reports_dir).iterdir())
                if folder.is_dir() and not folder.name.startswith(".")
                and (example := read_example(folder)) is not None]
    examples.sort(key=lambda e: (e.date, e.folder), reverse=True)
    rows = [[_folder_cell(e), e.what, e.machine, _date_cell(e.date), e.commit, e.headline] for e in examples]
    table = markdown_table(["Example", "What was run", "Machine", "Date (UTC)", "Commit", "Headline"], rows)
    commands = "\n\n".join(_commands_item(e) for e in examples)
    return f"{INTRO}\n\n{table}\n\n## Commands\n\nAs recorded by each run.\n\n{commands}\n"


def read_example(folder: Path) -> Example | None:
    """The example in `folder`: a suite (results.json) or the loops example
    (loops-N.json); None for a folder that is neither."""
    if (folder / "results.json").is_file():
        return _suite_example(folder)
    if _loops_files(folder):
        return _loops_example(folder)
    return None


# --- a suite: results.json and report.md ---------------------------------------

def _suite_example(folder: Path) -> Example:
    summary = read_json(folder / "results.json")
    settings = summary.get("suite") or {}
    configs = [run.get("config") or {} for run in summary.get("runs") or []]
    env = summary.get("environment") or {}
    report = folder / "report.md"
    return Example(
        folder=folder.name,
        link="report.md",
        notes=INDEX_NAME if (folder / INDEX_NAME).is_file() else None,
        what=_suite_what(settings, configs),
        machine=_machine(env),
        date=str(summary.get("created_utc") or ""),
        commit=_commit([env.get("git_commit")]),
        commands=(str(summary.get("command") or MISSING),),
        headline=report_headline(report.read_text(encoding="utf-8")) if report.is_file() else "no report.md",
    )


def _suite_what(settings: dict[str, Any], configs: list[dict[str, Any]]) -> str:
    models = list(settings.get("models") or [])
    facts = [", ".join(settings.get("frameworks") or []) or MISSING,
             ", ".join(models) if len(models) <= MAX_NAMED_MODELS else f"{len(models)} models",
             f"profile {settings.get('profile') or MISSING}"]
    epochs = {c.get("epochs") for c in configs}
    if len(epochs) == 1 and None not in epochs:
        count = epochs.pop()
        facts[-1] += f", {count} epoch" + ("" if count == 1 else "s")
    modes = ", ".join(settings.get("modes") or [])
    if modes:
        facts.append(f"modes {modes}" + (" (measured)" if settings.get("modes_chosen_by") == "measured" else ""))
    if settings.get("dataset"):
        shape = "x".join(map(str, settings.get("image_shape") or []))
        facts.append(_dataset_name(settings["dataset"]) + (f" {shape}" if shape else ""))
    batches = sorted({c["batch_size"] for c in configs if isinstance(c.get("batch_size"), int)})
    if len(batches) > 1:
        facts.append("batch " + ", ".join(map(str, batches)))
    seeds = settings.get("seeds") or []
    if len(seeds) > 1:
        facts.append(f"{len(seeds)} seeds")
    repeats = max((int(c.get("repeat") or 1) for c in configs), default=1)
    if repeats > 1:
        facts.append(f"{repeats} repeats")
    devices = settings.get("devices") or []
    if any(d > 1 for d in devices):
        facts.append("devices " + ", ".join(map(str, devices)) + (" (sync BN)" if settings.get("sync_batchnorm") else ""))
    precisions = settings.get("precisions") or []
    if precisions and list(precisions) != ["fp32"]:
        facts.append(", ".join(precisions))
    return " · ".join(facts)


def _dataset_name(dataset: str) -> str:
    """"folder:/abs/path/digits" as "folder:digits": the path was the machine's."""
    kind, _, path = dataset.partition(":")
    return f"{kind}:{Path(path).name}" if path else dataset


def report_headline(report: str) -> str:
    """The first claim of report.md's Summary: its table's first row, the loss
    columns and empty cells left out ("Model (1 of N models): verdict · verdict");
    the section's first line when it holds no table ("No runs were recorded.")."""
    lines = _section(report, SUMMARY_HEADING)
    if not lines:
        return f"no {SUMMARY_HEADING!r} section"
    if not lines[0].startswith("|"):
        return lines[0]
    table = [_cells(line) for line in lines if line.startswith("|")]
    if len(table) < 3:
        return f"an empty {SUMMARY_HEADING!r} table"
    headers, first, rows = table[0], table[2], len(table) - 2
    cells = [cell for header, cell in zip(headers[1:], first[1:])
             if not header.endswith("loss") and cell != MISSING]
    more = f" (1 of {rows} models)" if rows > 1 else ""
    return f"{first[0]}{more}: " + " · ".join(cells)


def _section(markdown: str, heading: str) -> list[str]:
    """The non-empty lines between `heading` and the next heading of its level."""
    lines, inside = [], False
    for line in markdown.splitlines():
        if line.strip() == heading:
            inside = True
        elif inside and line.startswith("## "):
            break
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def _cells(row: str) -> list[str]:
    """A Markdown table row's cells, unescaped (markdown_table escapes "|")."""
    inner = row.strip().removeprefix("|").removesuffix("|")
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", inner)]


# --- the loops example: loops-N.json and README.md -------------------------------

def _loops_files(folder: Path) -> list[Path]:
    found = [(int(m.group(1)), path) for path in folder.glob("loops-*.json")
             if (m := LOOPS_PATTERN.fullmatch(path.name))]
    return [path for _, path in sorted(found)]


def _loops_example(folder: Path) -> Example:
    records = [read_json(path) for path in _loops_files(folder)]
    readme = folder / INDEX_NAME
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    frameworks = _union(r.get("settings", {}).get("frameworks") or [] for r in records)
    models = _union(r.get("settings", {}).get("models") or [] for r in records)
    modes = {fw: _union((r.get("settings", {}).get("modes") or {}).get(fw) or [] for r in records)
             for fw in frameworks}
    batches = _union([r.get("settings", {}).get("batch_size")] for r in records)
    repeats = sorted(_union([r.get("settings", {}).get("repeats")] for r in records))
    facts = ["`loops.compare`: our step against bare and tutorial loops",
             ", ".join(frameworks), ", ".join(models),
             "; ".join(f"{fw} {', '.join(m)}" for fw, m in modes.items()),
             "batch " + ", ".join(map(str, batches)),
             "repeats " + ", ".join(map(str, repeats)),
             f"{len(records)} run{'' if len(records) == 1 else 's'}"]
    envs = [r.get("environment") or {} for r in records]
    return Example(
        folder=folder.name,
        link=INDEX_NAME,
        notes=None,
        what=" · ".join(facts),
        machine=" / ".join(_union([_machine(env)] for env in envs)),
        date=_first_date(text),
        commit=_commit(env.get("git_commit") for env in envs),
        commands=tuple(str(r.get("command") or MISSING) for r in records),
        headline=readme_headline(text) if text else "no README.md",
    )


def readme_headline(readme: str) -> str:
    """The first sentence after the README's first table (its verdict)."""
    lines = readme.splitlines()
    tables = [i for i, line in enumerate(lines) if line.startswith("|")]
    if not tables:
        return "no table in README.md"
    after = lines[tables[0]:]
    rest = next((line for line in after if line.strip() and not line.startswith("|")), "")
    if not rest or rest.startswith(("#", "`")):
        return "no verdict after the README's table"
    sentence = re.match(r".+?[.!?](?=\s|$)", rest)
    return sentence.group(0) if sentence else rest


def _first_date(text: str) -> str:
    found = re.search(r"\b\d{4}-\d{2}-\d{2}\b", text)
    return found.group(0) if found else ""


# --- cells ----------------------------------------------------------------------

def _machine(env: dict[str, Any]) -> str:
    cpu = env.get("cpu") or MISSING
    if env.get("cpu_count"):
        cpu += f", {env['cpu_count']} cores"
    gpu = env.get("gpu")
    # nvidia-smi's "NAME (driver X)": the name is the machine, the driver is in report.md.
    return cpu + (f"; {re.sub(r' [(]driver [^)]*[)]$', '', gpu)}" if gpu else "; no GPU")


def _commit(commits: Any) -> str:
    """git_commit as environment.git_commit records it ("abc1234" or "abc1234-dirty")."""
    shown = []
    for commit in commits:
        text = "unknown" if not commit else (
            f"{commit[:-len('-dirty')]} (dirty)" if commit.endswith("-dirty") else commit)
        if text not in shown:
            shown.append(text)
    return ", ".join(shown) or "unknown"


def _date_cell(date: str) -> str:
    if not date:
        return "unknown"
    try:
        parsed = datetime.fromisoformat(date)
    except ValueError:
        return date
    return parsed.strftime("%Y-%m-%d %H:%M") if "T" in date else parsed.strftime("%Y-%m-%d")


def _folder_cell(example: Example) -> str:
    cell = f"[{example.folder}]({example.folder}/{example.link})"
    if example.notes:
        cell += f" ([notes]({example.folder}/{example.notes}))"
    return cell


def _commands_item(example: Example) -> str:
    blocks = "\n\n".join(_code_block(command) for command in example.commands)
    return f"### {example.folder}\n\n{blocks}"


def _code_block(text: str) -> str:
    fence = "`" * max(3, max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}sh\n{text}\n{fence}"


def _union(lists: Any) -> list:
    """Every item of `lists`, each once, in first-seen order."""
    return list(dict.fromkeys(item for items in lists for item in items if item is not None))


# --- the README's results at a glance ------------------------------------------


def render_glance(reports_dir: Path) -> str:
    """The README's table: one row per model, from the example that compares
    the most frameworks on it (two or more; the newest of those), on MNIST
    and one device. A
    framework's cell is its best mode's median images/s over the fastest
    framework's (1.00 for the fastest), linked to the report; the verdict
    cells are that report's own Summary cells, quoted."""
    suites = []
    for folder in sorted(Path(reports_dir).iterdir()):
        if (folder / "results.json").is_file() and (folder / "report.md").is_file():
            suite = load_suite(folder)
            if (suite.settings.get("dataset") or "mnist") == "mnist" and all(r.devices == 1 for r in suite.runs):
                suites.append((str(suite.summary.get("created_utc") or ""), folder, suite))
    rows = []
    for model in SPECS:
        comparisons = [(compare(suite.runs_of(model), model, suite.profile_batch_size), created, folder, suite)
                       for created, folder, suite in suites]
        candidates = [item for item in comparisons if len(item[0].leaders) >= 2]
        if not candidates:
            continue
        # the example comparing the most frameworks on the model, the newest of those
        comparison, _, folder, suite = max(candidates, key=lambda item: (len(item[0].leaders), item[1], item[2].name))
        link = f"reports/{folder.name}/report.md"
        top = comparison.leaders[0].rate
        by_framework = {leader.framework: leader for leader in comparison.leaders}
        cells = [f"[{by_framework[f].rate / top:.2f} {by_framework[f].runs[0].mode_label}]({link})"
                 if f in by_framework else MISSING for f in FRAMEWORKS]
        summary = _summary_rows((folder / "report.md").read_text(encoding="utf-8")).get(model_title(model), {})
        rows.append([model_title(model), *cells, summary.get("Speed difference", MISSING),
                     summary.get("Better samples (FID)", MISSING), _machine(suite.environment)])
    return markdown_table(["Model", *FRAMEWORKS, "Speed verdict", "Better samples (FID)", "Machine"], rows)


def _summary_rows(report: str) -> dict[str, dict[str, str]]:
    """report.md's Summary table: model title -> {column header: cell}."""
    table = [_cells(line) for line in _section(report, SUMMARY_HEADING) if line.startswith("|")]
    if len(table) < 3:
        return {}
    return {row[0]: dict(zip(table[0], row)) for row in table[2:]}


def with_glance(readme: str, glance: str) -> str:
    """`readme` with the text between its glance markers replaced by `glance`;
    ValueError when it lacks them."""
    start, end = readme.find(GLANCE_START), readme.find(GLANCE_END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {GLANCE_START!r} ... {GLANCE_END!r} markers")
    return readme[:start + len(GLANCE_START)] + "\n" + glance + "\n" + readme[end:]


def write_index(reports_dir: Path) -> Path:
    """Render and write REPORTS_DIR/README.md atomically; returns its path."""
    path = Path(reports_dir) / INDEX_NAME
    write_text(path, render_index(reports_dir))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description="Write REPORTS_DIR/README.md, "
                                     "the index of the example reports.")
    parser.add_argument("reports_dir", type=Path, nargs="?", default=REPORTS_DIR,
                        help=f"the folder of example folders (default: {REPORTS_DIR})")
    args = parser.parse_args(argv)
    if not args.reports_dir.is_dir():
        parser.error(f"{args.reports_dir} is not a directory")
    print(write_index(args.reports_dir))
    readme = args.reports_dir.resolve().parent / "README.md"
    if readme.is_file() and GLANCE_START in (text := readme.read_text(encoding="utf-8")):
        write_text(readme, with_glance(text, render_glance(args.reports_dir)))
        print(readme)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
