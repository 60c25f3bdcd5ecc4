"""A worker killed at the worst moment of a checkpoint, in a test's CLI run.

With $GANBENCH_TEST_KILL_AT_CHECKPOINT set and this folder on PYTHONPATH,
every process SIGKILLs itself right after its first rename onto a folder
named "checkpoint": the worker's swap (`benchmark.worker.save_checkpoint`)
has just made the new checkpoint current, and whatever the worker writes
after it is lost. A kill at a fixed point, where waiting for the checkpoint's
files and then killing from outside lands anywhere after it. Used by tests only.
"""

import os
import pathlib
import signal
import sys

if os.environ.get("GANBENCH_TEST_KILL_AT_CHECKPOINT"):
    _rename = pathlib.Path.rename

    def _rename_then_die(self, target):
        moved = _rename(self, target)
        if pathlib.Path(target).name == "checkpoint":
            # Its last words, which the suite must show under the failed run.
            sys.stderr.write("sitecustomize: killing this worker right after its checkpoint swap\n")
            sys.stderr.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return moved

    pathlib.Path.rename = _rename_then_die
