"""The appointment measures: each one numerator and denominator over the classes of ``facts`` (statuses, late
cancellations, confirmations), optionally within one dimension key (follow-up visits). Both the indicator
(``/api/indicators``, MeasureReport) and the dashboard read these; adding one here adds both.
"""

from __future__ import annotations

from dataclasses import dataclass

from fhircrm.indicators.counting import rate
from fhircrm.indicators.facts import LATE, Cell, confirmed_class

ATTENDED = ("fulfilled", "arrived", "checked-in")
OUTCOMES = (*ATTENDED, "noshow")
#: a visit that is or was going to happen (booked or later)
LIVE = ("booked", "arrived", "checked-in", "fulfilled", "noshow")
#: an upcoming visit still to be attended
ACTIVE = ("booked", "pending", "proposed", "arrived", "checked-in")


@dataclass(frozen=True, slots=True)
class Measure:
    id: str
    title: str
    numerator: tuple[str, ...]
    denominator: tuple[str, ...]
    #: (dimension, key) every counted Appointment has, e.g. ("type", "FOLLOWUP")
    within: tuple[str, str] = ("all", "")
    #: about visits still to come (confirmations): the dashboard counts it over the coming days, not the past
    #: weeks, where no visit is still booked
    ahead: bool = False

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.numerator, *self.denominator)))

    def count(self, cells: dict[Cell, int], dimension: str, key: str, classes: tuple[str, ...]) -> int:
        return sum(cells.get((c, dimension, key), 0) for c in classes)

    def figures(self, cells: dict[Cell, int], where: tuple[str, str] | None = None) -> dict:
        """The rate over ``cells`` (a tally of the Appointments already restricted to the slice's other
        dimensions, or counted under ``where`` = (dimension, key))."""
        dimension, key = where or self.within
        return rate(
            self.count(cells, dimension, key, self.numerator), self.count(cells, dimension, key, self.denominator)
        )


MEASURES: tuple[Measure, ...] = (
    Measure("no-show-rate", "No-show rate", ("noshow",), OUTCOMES),
    Measure("late-cancellation-rate", "Late cancellations", (LATE,), (*LIVE, "cancelled")),
    Measure("confirmation-rate", "Booked visits confirmed", (confirmed_class("booked"),), ("booked",), ahead=True),
    Measure(
        "follow-up-adherence",
        "Follow-up visits attended",
        ATTENDED,
        (*ATTENDED, "noshow", "cancelled"),
        within=("type", "FOLLOWUP"),
    ),
)
