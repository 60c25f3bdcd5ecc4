"""Shared fixtures. Real MNIST comes through the project's data-directory
option: GANBENCH_DATA_DIR (CI sets it to ../shared/mnist)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


def _private_home() -> Path:
    """An empty HOME, cache and TMPDIR for this test session, set before any
    framework is imported: nothing under the user's ~/.cache, ~/.keras or
    ~/tensorflow_datasets is read or written, and no test passes only because
    an earlier run left a cache there. pytest-xdist's workers inherit the
    folder from the controller (it is set in os.environ before they start), so
    the session computes MNIST's reference statistics once, not once a worker;
    subprocesses inherit it too. A new session (a pytest run, or one that a
    test starts) always makes a new folder: none is reused from an earlier one."""
    home = os.environ.get("GANBENCH_TEST_HOME")
    inherited = "PYTEST_XDIST_WORKER" in os.environ or os.environ.get("GANBENCH_TEST_HOME_OWNER") == str(os.getpid())
    if home is None or not inherited:  # else an earlier or outer session set it
        home = tempfile.mkdtemp(prefix="ganbench-test-home-")
        os.environ["GANBENCH_TEST_HOME"] = home
        os.environ["GANBENCH_TEST_HOME_OWNER"] = str(os.getpid())
    os.environ["HOME"] = home
    os.environ["XDG_CACHE_HOME"] = str(Path(home) / ".cache")
    # Temporary files too: TensorFlow Datasets' leftovers, and torch.compile's
    # kernel cache (/tmp/torchinductor_<user>), which would make a second
    # session's compile test take 6 s where a new machine's takes 70.
    temporary = Path(home) / "tmp"
    temporary.mkdir(exist_ok=True)
    os.environ["TMPDIR"] = str(temporary)
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again
    _session_compile_caches(Path(home))
    return Path(home)


def _session_compile_caches(home: Path) -> None:
    """Compiled code kept, so that the suite's hundreds of processes compile
    each thing once, not once a process; the XLA caches live in this
    session's home and die with it, so no session reuses an earlier one's:

    - Python bytecode. Where PYTHONDONTWRITEBYTECODE is set (some containers
      set it), every process would recompile ganbench's modules and the
      tests' (about 0.5 s a process with the report's); they go to the
      checkout's __pycache__ folders, as Python's default puts them.
      (PYTHONPYCACHEPREFIX would move them out, but the installed
      frameworks' too: every session would compile 200 MB of torch,
      TensorFlow and JAX bytecode again.)
    - XLA programs, TensorFlow's (tf_xla_persistent_cache_directory) and
      JAX's (jax_compilation_cache_dir): a resumed or repeated run's
      identical step loads its program instead of compiling it again (about
      2 s of a TensorFlow DCGAN's first step on this CPU). JAX keeps even its
      eager mode's one-operation programs, hundreds a model, each compiled in
      well under a second: a second eager DCGAN of the same shapes started in
      7 s instead of 13; in two whole suites (`--durations=0`), one with
      each threshold, the files that run eager JAX took 53 s less with them
      than with a 0.5 s threshold, and the jit-only parity module 20 s more
      (though its compilations alone, with and without the cache, differed
      by less than their run-to-run noise). A cache holds what the same
      compiler built from the same program, so no test's outcome depends on it.
    torch.compile's kernel cache is already in the session's TMPDIR."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False
    flags = os.environ.get("TF_XLA_FLAGS", "")
    if "tf_xla_persistent_cache_directory" not in flags:
        os.environ["TF_XLA_FLAGS"] = f"{flags} --tf_xla_persistent_cache_directory={home / 'xla-tf'}".strip()
    os.environ["JAX_COMPILATION_CACHE_DIR"] = str(home / "xla-jax")
    os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"


TEST_HOME = _private_home()


def _pin_worker() -> None:
    """Under pytest-xdist with a worker per core (`make test`), each worker
    and what it starts keep to a core of their own. Left alone, each worker's
    torch, TensorFlow and XLA would size their thread pools to every core:
    two workers' pools on two cores oversubscribe them, and pools that spin
    while they wait for work take the core from the other worker's real work
    (tests/parity/test_parity.py with tests/jax_impl: 137 s on two workers
    left alone, 119 s pinned). The tests' sizes gain nothing from a second thread. GANBENCH_TEST_CORES
    keeps the cores this session had, for the tests of --threads themselves."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw") or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(int(c) for c in os.environ.setdefault(
        "GANBENCH_TEST_CORES", ",".join(map(str, sorted(os.sched_getaffinity(0))))).split(","))
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers >= len(cores) > 1:
        os.sched_setaffinity(0, {cores[int(worker[2:]) % len(cores)]})


def session_cores() -> list[int]:
    """The cores this test session may use, before a worker was pinned to one."""
    saved = os.environ.get("GANBENCH_TEST_CORES")
    return [int(c) for c in saved.split(",")] if saved else sorted(os.sched_getaffinity(0))


_pin_worker()


# Test files by the time they take (seconds of one pinned worker, `--durations=0`
# on the 2-core machine with an empty cache), started longest first: with a
# worker per core and a file to a worker (`make test`), a long file started
# last would leave one core idle at the end. Only an order: a stale list makes
# the suite slower, never changes what it checks. Run with
# `--no-loadscope-reorder`, or pytest-xdist orders files by their test count.
LONGEST_FIRST = (  # measured 2026-12-07 (commit 78198f2's tests, whole suite): 1,012 s in all, 506 s a worker
    # 77 s in a whole suite (33 s alone): one module fixture, torch's, tf's and jax's replicas in
    # processes of their own beside torch's one device in this one; first, so they overlap the rest
    "tests/distributed/test_data_parallel.py",
    "tests/parity/test_jax_parity.py",  # 112 s: 16 training steps compiled by XLA
    "tests/benchmark/harness/test_cli.py",  # 106 s: the shared tiny suite, --seeds, bf16, Inception
    "tests/benchmark/test_reliability.py",  # 77 s
    "tests/parity/test_parity.py",  # 75 s
    "tests/torch_impl/test_torch_modes.py",  # 58 s: torch.compile with a cold kernel cache
    "tests/benchmark/loops/test_compare.py",  # 55 s: jax's bare and our WGAN, compiled
    "tests/benchmark/harness/test_cli_datasets.py",  # 52 s
    "tests/benchmark/test_distributed_suite.py",  # 47 s
    "tests/benchmark/harness/test_calibration.py",  # 45 s
    "tests/jax_impl/test_jax_modes.py",  # 33 s
    "tests/parity/test_kernel_sets.py",  # 27 s
    "tests/tf_impl/test_tf_precision.py",  # 25 s
    "tests/distributed/test_jax_processes.py",  # 20 s alone: three jax worker processes, then two
    "tests/benchmark/test_faults.py",  # 23 s
    "tests/benchmark/metrics/test_metrics_inception.py",  # 20 s
    "tests/jax_impl/test_jax_input_pipeline.py",  # 18 s
)


def pytest_collection_modifyitems(config, items):
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable: the rest keep their order


def pytest_unconfigure(config):
    """The process that made the test home removes it at the end."""
    if os.environ.get("GANBENCH_TEST_HOME_OWNER") == str(os.getpid()) and not hasattr(config, "workerinput"):
        shutil.rmtree(TEST_HOME, ignore_errors=True)

# In a process that holds both frameworks, torch and the triton it loads lazily
# (torch._dynamo, reached from torch.optim) must come before tensorflow: the
# other order segfaults. Test modules may then import either.
try:
    import torch  # noqa: F401
    import torch._dynamo  # noqa: F401
except ImportError:
    pass


def mnist_dir() -> str | None:
    """GANBENCH_DATA_DIR, else ../shared/mnist beside the checkout, else None."""
    for candidate in (os.environ.get("GANBENCH_DATA_DIR"), REPO_ROOT.parent / "shared" / "mnist"):
        if candidate and (Path(candidate) / "train-images-idx3-ubyte.gz").exists():
            return str(candidate)
    return None


if "GANBENCH_DATA_DIR" not in os.environ and mnist_dir():  # ../shared/mnist: for the CLI's subprocesses too
    os.environ["GANBENCH_DATA_DIR"] = mnist_dir()


@pytest.fixture(scope="module")
def frees_tf_data_iterators():
    """Frees, at the end of the module that made them, the tf.data iterators
    its objects hold in reference cycles (a tutorial loop's iterator inside
    its Keras models' cycles, a native pipeline's prefetch). Left to a later
    cyclic collection, one was destroyed in the middle of another test's
    tf.function tracing, and TensorFlow's iterator destructor, waiting there
    for the iterator's background thread, held that pytest worker asleep for
    20 to 60 s (py-spy: ~IteratorResource under EagerTensor_dealloc, called
    from tf_impl/loops.py's _epochs; the mixed-precision test it blocked
    takes 4 s). Collected here, any such wait is the module's own: 22.7 s
    for test_compare's before the tutorial loops ran without autotuning
    (tf_impl/loops.py), 0.9 s for the native pipeline's tests."""
    import gc

    yield
    gc.collect()


@pytest.fixture(scope="session")
def mnist_data_dir() -> str:
    path = mnist_dir()
    if path is None:
        pytest.skip("real MNIST not found: set GANBENCH_DATA_DIR to a folder with the four IDX files")
    return path


@pytest.fixture(scope="session")
def mnist_train(mnist_data_dir):
    from benchmark.data import load_mnist

    return load_mnist("train", data_dir=mnist_data_dir)


@pytest.fixture(scope="session")
def tiny_suite(mnist_data_dir):
    """The session's shared two-framework suite (tests/suites.py): torch and
    tf in eager mode, dcgan (10 steps: 2 warm-up, 8 timed) and wgan (2 steps,
    all warm-up), 50 quality samples at 2 probes, TensorBoard event files.
    Eager, not smoke's tf xla: XLA's compilations took 9 of its 44 s, and
    other suites run tf xla through the command line (test_reliability's
    tf-suite, test_faults, test_calibration). Read it; copy it to write."""
    from tests.suites import TINY, shared_suite

    return shared_suite(TEST_HOME, "tiny", *TINY, "--data-dir", mnist_data_dir)
