"""benchmark.distributed: why a data-parallel run failed, read from
torchrun's own failure summary (formatted here by the installed torch)."""

import pytest

from benchmark.distributed import failure_reason

errors = pytest.importorskip("torch.distributed.elastic.multiprocessing.errors")


def torchrun_summary(*failures: tuple[int, int]) -> str:
    """torchrun's summary of failed ranks [(rank, exit code), ...], the first
    in the list observed first (its "Root Cause")."""
    observed = {}
    for when, (rank, code) in enumerate(failures):
        failure = errors.ProcessFailure(local_rank=rank, pid=1000 + rank, exitcode=code, error_file="<N/A>")
        failure.timestamp = when
        observed[rank] = failure
    return errors.ChildFailedError("benchmark.worker", observed).format_msg()


def test_the_killed_rank_is_named_when_a_peer_failed_first(tmp_path):
    """Rank 1 is SIGKILLed; rank 0's all-reduce fails at once ("Connection
    reset by peer") and exits first, so torchrun's root cause is rank 0. The
    reason still names the killed rank."""
    summary = torchrun_summary((0, 1), (1, -9))
    assert failure_reason(tmp_path, summary, 2) == (
        "rank 1 of 2 was killed by signal SIGKILL; torchrun stopped the other ranks")


def test_ranks_torchrun_stopped_itself_are_not_the_cause(tmp_path):
    """torchrun ends the survivors with SIGTERM: the failed rank is the cause."""
    summary = torchrun_summary((1, 1), (0, -15))
    assert failure_reason(tmp_path, summary, 2) == (
        "rank 1 of 2 exited with code 1; torchrun stopped the other ranks")


def test_nothing_to_read_gives_no_reason(tmp_path):
    assert failure_reason(tmp_path, "Traceback (most recent call last): ...", 2) is None
