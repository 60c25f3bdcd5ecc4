"""The parent side of a benchmark: everything that runs before, around and
after the worker processes, never inside one, and never imports a framework.

  cli.py          `python run_benchmark.py`: the sub-commands (a suite, --plan-only,
                  --resume, --compare, --report-only) and their exit codes
  arguments.py    the command line: its flags, their types, UsageError
  plan.py         flags -> one RunConfig per run; the suite-level settings
  checks.py       pre-flight: what a run would only reject later, refused first
  resume.py       --resume: the stored plan, and flags that would change it
  calibration.py  --modes auto: the fastest mode per framework, measured in a child
  suite.py        one worker process per run, results.json after each
  disk.py         how much a plan writes; the full-disk stop (DiskFault)

The worker side (benchmark.worker, benchmark.driver) and this one share only
benchmark.protocol.
"""
