"""QuotaScheduler on a fake clock: when a call may go out, decided without sending anything."""

from __future__ import annotations

import itertools
import threading

import pytest

from reconciler.config import Quotas
from reconciler.fields import Lane
from reconciler.quota import EPSILON, GUARD, Cancelled, QuotaScheduler


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _scheduler(**quotas: float) -> tuple[QuotaScheduler, Clock]:
    clock = Clock()
    return QuotaScheduler(Quotas(**quotas), clock=clock), clock


def test_before_any_answer_a_slot_frees_one_window_after_its_answer():
    scheduler, clock = _scheduler(per_second=2)
    first, second = scheduler.acquire("users.batch"), scheduler.acquire("users.batch")
    clock.now = 0.4  # the first round trip seen is the fastest: credit (1 - GUARD) x 0.4
    scheduler.release(first, "users.batch")
    scheduler.release(second, "users.batch")
    assert scheduler.credit("users.batch") == 0.0  # two round trips say nothing of the jitter yet
    assert scheduler._wait("users.batch/s", 2, 1.0, 1.0) == pytest.approx(0.4 + 1.0 + EPSILON - 1.0)


def _answered(scheduler: QuotaScheduler, clock: Clock, *round_trips: float) -> None:
    for rtt in round_trips:
        slot = scheduler.acquire("x")
        clock.now += rtt
        scheduler.release(slot, "x")


def test_the_credit_is_the_fastest_round_trip_less_how_far_the_low_tail_lies_above_it():
    scheduler, clock = _scheduler(per_second=1000)
    # the 10th percentile of these twenty is 0.125; the slow half (queued answers) does not count
    _answered(scheduler, clock, 0.100, 0.110, *[0.125] * 8, *[0.300] * 10)
    assert scheduler.credit("x") == pytest.approx(0.100 - (0.125 - 0.100))


def test_the_credit_is_never_more_than_the_guarded_share_of_the_fastest_round_trip():
    scheduler, clock = _scheduler(per_second=1000)
    _answered(scheduler, clock, 0.1, 0.1, 0.1, 0.1, 0.1)
    assert scheduler.credit("x") == pytest.approx((1 - GUARD) * 0.1)


def test_no_credit_when_the_jitter_is_as_large_as_the_round_trip():
    scheduler, clock = _scheduler(per_second=1000)
    _answered(scheduler, clock, 0.002, 0.006, 0.005, 0.004, 0.007)  # loopback under load
    assert scheduler.credit("x") == 0.0


def test_a_slot_frees_one_window_after_its_answer_less_the_credit():
    scheduler, clock = _scheduler(per_second=1)
    assert scheduler.credit("e") == 0.0  # before any answer
    for rtt in (0.10, 0.12, 0.11, 0.13, 0.12):
        clock.now += (scheduler._wait("e/s", 1, 1.0, clock.now) or 0.0) + 1e-9  # past float rounding
        slot = scheduler.acquire("e")
        clock.now += rtt
        scheduler.release(slot, "e")
    credit = scheduler.credit("e")
    assert credit == pytest.approx(min(0.8 * 0.10, 0.10 - (0.12 - 0.10)))
    assert scheduler._wait("e/s", 1, 1.0, clock.now) == pytest.approx(1.0 - credit + EPSILON)


def test_the_credit_never_lets_two_calls_share_a_server_window_when_the_ways_vary():
    """Any split of each round trip into way out, server time and way back, whose parts are each at
    least (1 - GUARD) of the fastest round trip's parts: the server sees calls a window apart."""
    import random

    rng = random.Random(7)
    scheduler, clock = _scheduler(per_second=1)
    arrivals: list[float] = []
    for _ in range(300):
        slot = scheduler.acquire("e")  # the fake clock never waits: acquire returns only when there is room
        way_out, server, way_back = (0.05 * rng.uniform(0.8, 1.2) for _ in range(3))
        arrivals.append(clock.now + way_out)
        clock.now += way_out + server + way_back
        scheduler.release(slot, "e")
        clock.now += (scheduler._wait("e/s", 1, 1.0, clock.now) or 0.0) + 1e-9  # past float rounding
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 1.0
    assert max(gaps) < 1.0 + 0.15 * 2  # the cost per window is of the order of the jitter, not a round trip


def test_a_call_still_in_flight_holds_its_slot_however_long_it_takes():
    scheduler, clock = _scheduler(per_second=1)
    scheduler.acquire("users.batch")
    clock.now = 30.0
    assert scheduler._wait("users.batch/s", 1, 1.0, clock.now) is None  # known only when it answers


def test_answers_out_of_order_free_the_slot_that_frees_room_first():
    scheduler, clock = _scheduler(per_second=2)
    early, late = scheduler.acquire("e"), scheduler.acquire("e")
    clock.now = 0.5
    scheduler.release(late, "e")  # fastest so far: 0.5
    clock.now = 0.9
    scheduler.release(early, "e")
    clock.now = 1.0
    # the late call's slot frees first, at 0.5 + 1 (no credit before SAMPLES round trips)
    assert scheduler._wait("e/s", 2, 1.0, clock.now) == pytest.approx(0.5 + 1.0 + EPSILON - 1.0)


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
    scheduler.release(first, "e")  # its answer says when the slot frees
    assert sent.wait(10)
    waiter.join(10)


def test_a_call_waiting_for_the_one_qps_lane_takes_the_endpoints_next_place_first():
    scheduler = QuotaScheduler(Quotas(per_second=1, time_scale=100))  # one call per 10 ms window
    first = scheduler.acquire("users.patch")
    order: list[str] = []

    def call(lane: Lane, name: str) -> None:
        scheduler.release(scheduler.acquire("users.patch", lane), "users.patch")
        order.append(name)

    slow = threading.Thread(target=call, args=(Lane.SLOW, "move"))
    slow.start()
    while not scheduler.slow_waiting.get("users.patch"):
        threading.Event().wait(0.001)
    normal = threading.Thread(target=call, args=(Lane.NORMAL, "rename"))
    normal.start()
    threading.Event().wait(0.02)  # both wait for the first call's answer
    scheduler.release(first, "users.patch")
    slow.join(10)
    normal.join(10)
    assert order == ["move", "rename"]


def _queued_calls(scheduler: QuotaScheduler, n: int) -> tuple[list[threading.Thread], list[int], list[threading.Event]]:
    """n threads asking for a slot on "e" one after another (each is waiting before the next asks)."""
    order: list[int] = []
    cancels = [threading.Event() for _ in range(n)]
    threads = []

    def call(i: int) -> None:
        try:
            scheduler.release(scheduler.acquire("e", cancel=cancels[i]), "e")
            order.append(i)
        except Cancelled:
            order.append(-i)

    for i in range(n):
        waiting = len(scheduler.lines.get(("e", Lane.NORMAL), ()))
        threads.append(threading.Thread(target=call, args=(i,)))
        threads[-1].start()
        while len(scheduler.lines.get(("e", Lane.NORMAL), ())) == waiting:
            threading.Event().wait(0.001)
    return threads, order, cancels


def test_calls_waiting_for_the_same_endpoint_go_out_in_the_order_they_asked():
    scheduler = QuotaScheduler(Quotas(per_second=1, time_scale=100))  # one call per 10 ms window
    first = scheduler.acquire("e")
    threads, order, _ = _queued_calls(scheduler, 6)
    scheduler.release(first, "e")
    for thread in threads:
        thread.join(10)
    assert order == [0, 1, 2, 3, 4, 5]


def test_only_the_first_waiting_call_looks_for_room_the_others_sleep_until_their_turn():
    scheduler = QuotaScheduler(Quotas(per_second=1, time_scale=100))
    first = scheduler.acquire("e")
    looked = []
    original = scheduler._wait
    scheduler._wait = lambda *a: looked.append(a[0]) or original(*a)  # type: ignore[method-assign]
    threads, order, _ = _queued_calls(scheduler, 20)
    scheduler.release(first, "e")
    for thread in threads:
        thread.join(10)
    assert order == list(range(20))
    # each call looks a few times (its turn, the answer before it, the window's end): never once per
    # other waiter, as twenty callers woken by every answer would
    assert len(looked) < 20 * 2 * 4


def test_a_call_given_up_while_waiting_behind_others_leaves_the_line_and_the_rest_go_out():
    scheduler = QuotaScheduler(Quotas(per_second=1, time_scale=100))
    first = scheduler.acquire("e")
    threads, order, cancels = _queued_calls(scheduler, 3)
    cancels[1].set()
    scheduler.wake()
    threads[1].join(10)
    assert order == [-1]
    scheduler.release(first, "e")
    for thread in threads:
        thread.join(10)
    assert order == [-1, 0, 2]
