"""The restart rule of `sparring run` (sparring/supervisor.py): a back-off that doubles with
each restart in the last minute, up to its ceiling, and a cap on restarts per minute; and the
record of a restart, in words. The restarts themselves, of real processes killed in a live
run, are tested in tests/reliability/."""

from __future__ import annotations

from sparring.config import SupervisorConfig
from sparring.supervisor import Restarts, restart_record


def test_the_back_off_doubles_per_restart_within_a_minute_up_to_its_ceiling() -> None:
    restarts = Restarts(SupervisorConfig(backoff_s=1.0, max_backoff_s=5.0))
    assert [restarts.next_delay(t) for t in (0.0, 1.0, 2.0, 3.0)] == [1.0, 2.0, 4.0, 5.0]
    assert restarts.count == 4


def test_past_the_cap_there_is_no_next_restart_until_a_minute_has_passed() -> None:
    restarts = Restarts(SupervisorConfig(max_restarts_per_minute=2, backoff_s=1.0))
    assert restarts.next_delay(0.0) == 1.0 and restarts.next_delay(10.0) == 2.0
    assert restarts.next_delay(20.0) is None
    assert "restarted 2 times in the last minute" in restarts.cap_text()
    assert restarts.next_delay(60.5) == 2.0  # the first restart left the window; back-off too


def test_zero_restarts_a_minute_turns_restarts_off() -> None:
    restarts = Restarts(SupervisorConfig(max_restarts_per_minute=0))
    assert restarts.next_delay(0.0) is None
    assert "restarts are off" in restarts.cap_text()


def test_a_restart_record_names_the_process_its_exit_in_words_and_its_count() -> None:
    restarts = Restarts(SupervisorConfig())
    delay = restarts.next_delay(0.0)
    assert delay is not None
    record = restart_record("r", "worker-1", -9, restarts, delay, step=7)
    assert record.source == "supervisor" and record.step == 7
    assert record.values == {"restarts/worker-1": 1.0, "exit_code": -9.0, "backoff_s": 1.0}
    assert record.note == (
        "worker-1 killed (SIGKILL; out of memory?): restart 1 (1 of at most 5 a minute) in 1.0 s"
    )
