"""What a due timer does, and what became of it.

A timer kind (``message``, ``survey``, ``journey-step``, ``waitlist-hold-expiry``) is dispatched by the code its
package registers in the worker's wiring; timers itself sends nothing. A dispatcher returns an ``Outcome`` and
the sweep writes it back (``Outcome.close``), so the rule that closes a timer lives here and nowhere else: a
timer dispatched is ``completed``; one that cannot be is ``on-hold`` with the reason, for an operator.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fhircrm.fhir.store import FhirStore
from fhircrm.timers.resources import message_kind


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a due timer: ``completed``, or ``on-hold`` with a reason an operator can act on."""

    status: Literal["completed", "on-hold"]
    reason: str | None = None

    def close(self, request: dict) -> dict:
        """The timer's CommunicationRequest as the sweep writes it back."""
        done = {**request, "status": self.status}
        if self.reason:
            done["statusReason"] = {"text": self.reason}
        return done


#: The timer did its work (a message went to the channel layer, a step ran, or nothing was left to do). Readers
#: that look for timers already dispatched (``waitlist.replies``: offers sent) search this status.
COMPLETED = Outcome("completed")


def on_hold(reason: str) -> Outcome:
    return Outcome("on-hold", reason)


Dispatch = Callable[[FhirStore, dict, datetime], Awaitable[Outcome]]


class Dispatchers:
    """Timer kind -> its dispatcher; each package registers its own kinds through the wiring."""

    def __init__(self) -> None:
        self._by_kind: dict[str, Dispatch] = {}

    def register(self, kind: str, dispatch: Dispatch) -> None:
        if kind in self._by_kind:
            raise ValueError(f"timer kind {kind!r} is registered twice")
        self._by_kind[kind] = dispatch

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._by_kind)

    async def dispatch(self, kind: str, store: FhirStore, request: dict, now: datetime) -> Outcome:
        found = self._by_kind.get(kind)
        if found is None:
            return on_hold(f"no dispatcher for timer kind {kind}")
        return await found(store, request, now)

    async def send_message(self, store: FhirStore, request: dict, now: datetime) -> Outcome:
        """Send the message ``request`` carries, whatever its own kind (a journey step that re-checked its
        conditions): by the dispatcher of its message kind, looked up when it is due."""
        return await self.dispatch(message_kind(request), store, request, now)
