"""A slice: the period and the optional dimensions (location, provider, service line, channel, segment)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fhircrm.clock import fhir_datetime

SERVICE_LINE_SYSTEM = "http://fhircrm.org/CodeSystem/service-line"


@dataclass(frozen=True, slots=True)
class Slice:
    start: datetime
    end: datetime  # exclusive
    location: str | None = None  # "Location/x"
    provider: str | None = None  # "PractitionerRole/x" or "Practitioner/x"
    service_line: str | None = None  # a service-line code
    channel: str | None = None  # a channel code
    segment: str | None = None  # a segment id (Group membership)

    def period(self, param: str) -> list[tuple[str, str]]:
        return [(param, f"ge{fhir_datetime(self.start)}"), (param, f"lt{fhir_datetime(self.end)}")]

    def appointment_params(self) -> list[tuple[str, str]]:
        params = self.period("date")
        if self.location:
            params.append(("actor", self.location))
        if self.provider:
            params.append(("actor", self.provider))
        if self.service_line:
            params.append(("service-type", f"{SERVICE_LINE_SYSTEM}|{self.service_line}"))
        return params

    def describe(self) -> dict:
        out = {"start": fhir_datetime(self.start), "end": fhir_datetime(self.end)}
        for name in ("location", "provider", "service_line", "channel", "segment"):
            if value := getattr(self, name):
                out[name] = value
        return out
