"""Client-side quota scheduling: the documented limits kept on our side, so the API never says no.

Sliding windows per endpoint (N per second and N per minute) and the 1-QPS lane of PATCHes that
move a user between departments. The only rule that needs care is when a used slot frees again.

The server counts a call when it arrives: after our send by the way out, before our receipt of
the answer by the server's time on it and the way back. A later call B shares no server window
with an earlier call A if B arrives at least one window after A did, that is if

    send(B) >= answer(A) + window - (way out of B + server time of A + way back of A).

Those three parts cannot be seen apart, only their sum, the round trip; the credit is what they
surely add up to: the fastest round trip seen on that endpoint, less how far the low tail of recent
round trips (their 10th percentile) lies above it — the spread near the minimum, which any one part
may have had none of — and never more than (1 - GUARD) of the fastest, nor more than the fastest
less PROCESSING (server and client handle each call a little differently). The low tail, not the
median: a burst's answers queue behind each other in our process, which lengthens their way back
and says nothing of when the server counted them. So a slot frees at `answer + window - credit`,
and the cost over the quota floor per window is a round trip minus the credit: about the jitter,
not a whole round trip. On a link whose jitter is as large as its round trip (loopback under load), and
until SAMPLES round trips are seen, the credit is 0: one window after the answer. Calls in flight
hold their slot until they answer.

An answer is dated when its headers come in, not when its body has been read: a busy process
reads bodies late, and a slot would free late by as much.

Calls waiting for one endpoint and lane form a line, in the order they asked: only the first
looks for room, the rest sleep until their turn. Fifty waiting reads woken by every answer took
the CPU the answering threads needed, and an answer read late frees its slot late.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from .config import Quotas
from .fields import Lane

GUARD = 0.2  # share of the fastest round trip never credited
RECENT = 64  # round trips per endpoint the low tail is taken from
PROCESSING = 0.010  # s: how much the two ends' own handling of a call may vary, whatever the network
SAMPLES = 5  # round trips seen before any is credited: one alone says nothing of the jitter
EPSILON = 0.001  # s: clock granularity


class Cancelled(Exception):
    """A call given up before it was sent (its caller no longer needs it)."""


class Slot:
    """One call's place in its quota windows: held while in flight; then it frees one window after
    `counted` (its answer less the credit)."""

    __slots__ = ("counted", "sent")

    def __init__(self, sent: float) -> None:
        self.sent = sent
        self.counted: float | None = None  # None: in flight


class QuotaScheduler:
    """Blocks each call until every window it counts in has room; see the module docstring.

    Reads may go out in bursts (that is what reaches the quota floor); writes are paced evenly,
    window/limit apart (the docs advise a steady PATCH rate against 44025 lock conflicts). A
    rejection that happens anyway (another client of the same app) blocks the endpoint for as long
    as the server's reset header says (`penalise`).
    """

    def __init__(self, quotas: Quotas, clock: Any = time.monotonic):
        self.quotas = quotas
        self.clock = clock
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)  # the head of each line waits here for room
        # callers waiting for one (endpoint, lane), in the order they asked (see the module docstring)
        self.lines: dict[tuple[str, Lane], deque[threading.Condition]] = {}
        self.windows: dict[str, deque[Slot]] = {}
        self.blocked_until: dict[str, float] = {}
        self.last_sent: dict[str, float] = {}
        self.fastest: dict[str, float] = {}  # endpoint: its fastest round trip so far
        self.recent: dict[str, deque[float]] = {}  # endpoint: its latest round trips
        self.slow_waiting: dict[str, int] = {}  # endpoint: 1-QPS-lane calls waiting to go out

    def _limits(self, endpoint: str, lane: Lane) -> list[tuple[str, int, float]]:
        q = self.quotas
        second = 1.0 / q.time_scale
        limits = [(endpoint + "/s", q.per_second, second), (endpoint + "/min", q.per_minute, 60 * second)]
        if lane is Lane.SLOW:
            limits.append(("slow/s", q.slow_lane_per_second, second))
        # a rate below 1 per span (e.g. 0.5 QPS) is 1 per span/rate
        return [(key, int(per), span) if per >= 1 else (key, 1, span / per) for key, per, span in limits]

    def _wait(self, key: str, limit: int, span: float, now: float) -> float | None:
        """Seconds until this window has room (None: not before a call in flight answers)."""
        window = self.windows.setdefault(key, deque())
        while window and window[0].counted is not None and window[0].counted + span <= now:
            window.popleft()
        if len(window) < limit:
            return 0.0
        # slots free out of order: the room comes from the (held - limit + 1)-th slot to free
        frees = sorted(s.counted + span for s in window if s.counted is not None and s.counted + span > now)
        held = len(frees) + sum(1 for s in window if s.counted is None)
        if held < limit:
            return 0.0
        index = held - limit
        return frees[index] - now if index < len(frees) else None

    def acquire(
        self, endpoint: str, lane: Lane = Lane.NORMAL, *, paced: bool = False, cancel: threading.Event | None = None
    ) -> Slot:
        """Block until the call may go out; pass the returned slot to `release` when it answers.

        Raises Cancelled once `cancel` is set (see `wake`)."""
        limits = self._limits(endpoint, lane)
        slow_key, slow_limit, slow_span = self._limits(endpoint, Lane.SLOW)[-1]
        interval = (1.0 / self.quotas.time_scale) / self.quotas.per_second if paced else 0.0
        with self.lock:
            line = self.lines.setdefault((endpoint, lane), deque())
            turn = threading.Condition(self.lock)
            line.append(turn)
            if lane is Lane.SLOW:
                self.slow_waiting[endpoint] = self.slow_waiting.get(endpoint, 0) + 1
            try:
                while line[0] is not turn:
                    if cancel is not None and cancel.is_set():
                        raise Cancelled
                    turn.wait()
                while True:
                    if cancel is not None and cancel.is_set():
                        raise Cancelled
                    now = self.clock()
                    waits = [self.blocked_until.get(endpoint, 0.0) - now]
                    if interval:
                        waits.append(self.last_sent.get(endpoint, -1e9) + interval - now)
                    unknown = False
                    for key, limit, span in limits:
                        wait = self._wait(key, limit, span, now)
                        if wait is None:
                            unknown = True
                        else:
                            waits.append(wait)
                    # the 1-QPS lane is the critical path of an apply: when its own window has room, a
                    # call waiting for it takes the endpoint's next place before any other call
                    yields = (
                        lane is Lane.NORMAL
                        and self.slow_waiting.get(endpoint, 0) > 0
                        and self._wait(slow_key, slow_limit, slow_span, now) == 0.0
                    )
                    wait = max(waits)
                    if wait <= 0 and not unknown and not yields:
                        slot = Slot(now)
                        for key, _, _ in limits:
                            self.windows[key].append(slot)
                        self.last_sent[endpoint] = now
                        self.changed.notify_all()  # a caller that stepped aside looks again
                        return slot
                    # unknown: an answer (release) wakes us; otherwise we look again when room is due
                    self.changed.wait(None if unknown and wait <= 0 and not yields else max(wait, 0.0005))
            finally:
                line.remove(turn)
                if line:
                    line[0].notify()  # the next caller's turn
                if lane is Lane.SLOW:
                    self.slow_waiting[endpoint] -= 1

    def release(self, slot: Slot, endpoint: str, answered: float | None = None) -> None:
        """The call answered (or failed): record its round trip and when its slot frees. `answered`:
        when its answer came in, if earlier than now (a busy process reads the body later)."""
        with self.lock:
            now = self.clock() if answered is None else answered
            rtt = now - slot.sent
            fastest = min(self.fastest.get(endpoint, rtt), rtt)
            self.fastest[endpoint] = fastest
            recent = self.recent.setdefault(endpoint, deque(maxlen=RECENT))
            recent.append(rtt)
            # each window it counts in (per second, per minute, the slow lane) frees one span later
            slot.counted = now - self.credit(endpoint) + EPSILON
            self.changed.notify_all()

    def credit(self, endpoint: str) -> float:
        """How much of a round trip surely lies between a call's arrival and the next call's (see above)."""
        fastest = self.fastest.get(endpoint)
        if fastest is None or len(self.recent[endpoint]) < SAMPLES:
            return 0.0
        recent = sorted(self.recent[endpoint])
        low_tail = recent[max(1, len(recent) // 10)]
        return max(0.0, min((1 - GUARD) * fastest, fastest - (low_tail - fastest), fastest - PROCESSING))

    def wake(self) -> None:
        """Make every waiting caller look at its cancel event again."""
        with self.lock:
            self.changed.notify_all()
            for line in self.lines.values():
                for turn in line:
                    turn.notify()

    def penalise(self, endpoint: str, seconds: float) -> None:
        """The server said wait: send nothing more to that endpoint for that long."""
        with self.lock:
            self.blocked_until[endpoint] = max(self.blocked_until.get(endpoint, 0.0), self.clock() + seconds)
