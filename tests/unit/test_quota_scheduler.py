"""QuotaScheduler on a fake clock: when a call may go out, decided without sending anything."""

from __future__ import annotations

import threading

import pytest

from reconciler.client import Cancelled, QuotaScheduler
from reconciler.config import Quotas
from reconciler.fields import Lane


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _scheduler(**quotas: float) -> tuple[QuotaScheduler, Clock]:
    clock = Clock()
    return QuotaScheduler(Quotas(**quotas), clock=clock), clock


def test_a_slot_frees_one_window_after_the_calls_answer_not_its_send():
    scheduler, clock = _scheduler(per_second=2)
    first, second = scheduler.acquire("users.batch"), scheduler.acquire("users.batch")
    clock.now = 0.4  # the server counted them somewhere in [0, 0.4]
    scheduler.release(first)
    scheduler.release(second)
    clock.now = 1.2  # a window after the sends, but not after the answers
    assert scheduler._wait("users.batch/s", 2, 1.0, clock.now) == pytest.approx(0.2 + scheduler.EPSILON)
    clock.now = 1.4 + scheduler.EPSILON
    assert scheduler._wait("users.batch/s", 2, 1.0, clock.now) == 0.0


def test_a_call_still_in_flight_holds_its_slot_however_long_it_takes():
    scheduler, clock = _scheduler(per_second=1)
    scheduler.acquire("users.batch")
    clock.now = 30.0
    assert scheduler._wait("users.batch/s", 1, 1.0, clock.now) is None  # known only when it answers


def test_answers_out_of_order_free_the_slot_that_frees_room_first():
    scheduler, clock = _scheduler(per_second=2)
    early, late = scheduler.acquire("e"), scheduler.acquire("e")
    clock.now = 0.5
    scheduler.release(late)
    clock.now = 0.9
    scheduler.release(early)
    clock.now = 1.0
    assert scheduler._wait("e/s", 2, 1.0, clock.now) == pytest.approx(0.5 + scheduler.EPSILON)


def test_endpoints_have_separate_windows_and_the_slow_lane_its_own():
    scheduler, _ = _scheduler(per_second=1, slow_lane_per_second=1)
    scheduler.acquire("users.batch")
    scheduler.acquire("users.patch", Lane.SLOW)  # another endpoint: free to go
    assert scheduler._wait("slow/s", 1, 1.0, 0.0) is None


def test_a_time_scale_shrinks_every_window():
    scheduler, _ = _scheduler(per_second=50, time_scale=10)
    assert scheduler._limits("e", Lane.SLOW) == [("e/s", 50, 0.1), ("e/min", 1000, 6.0), ("slow/s", 1, 0.1)]


def _cancellable_call(scheduler: QuotaScheduler) -> tuple[threading.Event, threading.Thread, list[str]]:
    """A thread asking for a slot until the returned event is set: (cancel, thread, its outcome)."""
    cancel = threading.Event()
    outcome: list[str] = []

    def call() -> None:
        try:
            scheduler.acquire("e", cancel=cancel)
            outcome.append("sent")
        except Cancelled:
            outcome.append("cancelled")

    thread = threading.Thread(target=call)
    thread.start()
    return cancel, thread, outcome


def test_a_waiting_call_is_given_up_when_its_cancel_event_is_set():
    scheduler = QuotaScheduler(Quotas(per_second=1))
    scheduler.acquire("e")  # never answers: the next call waits indefinitely
    cancel, waiter, outcome = _cancellable_call(scheduler)
    cancel.set()
    scheduler.wake()
    waiter.join(10)
    assert outcome == ["cancelled"]


def test_a_caller_waiting_on_a_call_in_flight_is_woken_by_its_answer():
    scheduler = QuotaScheduler(Quotas(per_second=1, time_scale=100))  # a 10 ms window
    first = scheduler.acquire("e")
    sent = threading.Event()
    waiter = threading.Thread(target=lambda: (scheduler.acquire("e"), sent.set()))
    waiter.start()
    assert not sent.wait(0.05)  # the window is full until the first call answers
    scheduler.release(first)  # its answer says when the slot frees: one window from now
    assert sent.wait(10)
    waiter.join(10)


def _waiting_for_quiet(scheduler: QuotaScheduler, callers: int, horizon: float) -> threading.Event:
    quiet = threading.Event()
    threading.Thread(target=lambda: (scheduler.wait_quiet(callers, horizon), quiet.set()), daemon=True).start()
    return quiet


def test_no_call_in_flight_is_not_quiet_while_a_caller_has_calls_left_to_send():
    scheduler, _ = _scheduler(per_second=2)
    scheduler.expect(3)
    scheduler.release(scheduler.acquire("e"))  # answered; the caller's next call is not asked for yet
    quiet = _waiting_for_quiet(scheduler, callers=1, horizon=0.5)
    assert not quiet.wait(0.05)
    scheduler.release(scheduler.acquire("e"))
    scheduler.expect(-3)
    assert quiet.wait(10)


def test_quiet_at_once_when_no_more_than_one_seconds_calls_are_left():
    scheduler, _ = _scheduler(per_second=2)
    scheduler.expect(3)
    quiet = _waiting_for_quiet(scheduler, callers=1, horizon=0.5)
    scheduler.acquire("e")  # in flight: a burst is on
    assert not quiet.wait(0.05)
    scheduler.expect(-1)  # two left: neither waits for the other's slot, so work delays no later window
    assert quiet.wait(10)


def test_quiet_once_every_caller_waits_for_a_window_beyond_the_horizon():
    scheduler, _ = _scheduler(per_second=1)
    scheduler.expect(3)
    scheduler.release(scheduler.acquire("e"))  # the window is full until 1.001 s
    scheduler.expect(-1)
    quiet = _waiting_for_quiet(scheduler, callers=4, horizon=0.5)
    calls = [_cancellable_call(scheduler) for _ in range(2)]
    assert quiet.wait(10)  # both callers left wait 1.001 s: nothing goes out within 0.5 s
    for cancel, caller, outcome in calls:
        cancel.set()
        scheduler.wake()
        caller.join(10)
        assert outcome == ["cancelled"]  # it was still waiting when quiet was declared


def test_not_quiet_while_the_next_window_opens_within_the_horizon():
    scheduler, clock = _scheduler(per_second=1)
    scheduler.expect(3)
    scheduler.release(scheduler.acquire("e"))
    scheduler.expect(-1)  # two left: this caller's next, and one not asked for yet
    quiet = _waiting_for_quiet(scheduler, callers=1, horizon=5.0)  # 1.001 s away is too soon

    def last_call() -> None:
        scheduler.release(scheduler.acquire("e"))
        scheduler.expect(-1)

    caller = threading.Thread(target=last_call)
    caller.start()
    assert not quiet.wait(0.05)
    clock.now = 1.1  # the window frees: the call goes out and answers; the one call left waits on no other
    scheduler.wake()
    caller.join(10)
    assert quiet.wait(10)
