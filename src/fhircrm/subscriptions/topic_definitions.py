"""SubscriptionTopics as data: the R4 Backport IG's ``Basic`` form read into what matching needs.

A topic is a resource in the store (shipped ones installed by ``topic_library.install_shipped``, others POSTed
by administrators), so every node matches against the same definitions. Each ``resourceTrigger`` fires on a
change to its resource when the interaction is supported and every test it states passes: ``queryCriteria``
(``current`` answered by the store's own search in ``matching``; ``previous`` checked on the prior version by
the same search parameters is not possible once it is overwritten, so a create answers ``resultForCreate`` and
an update is refused at definition time), ``fhirPathCriteria`` (fhirpathpy, with ``%previous`` and
``%current``), and the fhircrm extension naming a domain event rule (``topics.DOMAIN_RULES``), so "booked"
has one definition whoever wrote the Appointment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import fhirpathpy
from antlr4 import CommonTokenStream, InputStream, Token
from antlr4.error.ErrorListener import ErrorListener
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

from fhircrm.errors import FhircrmError, Unprocessable
from fhircrm.fhir.resource_types import RESOURCE_TYPE_SET
from fhircrm.fhir.search import query as search_query
from fhircrm.fhir.topic_form import TYPES_SYSTEM
from fhircrm.subscriptions.topics import DOMAIN_RULES

XV = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic."
DOMAIN_EVENT = "https://fhircrm.dev/fhir/StructureDefinition/topic-domain-event"
INTERACTIONS = frozenset({"create", "update", "delete"})
TOPIC_CODE = f"code={TYPES_SYSTEM}|SubscriptionTopic"


@dataclass(frozen=True, slots=True)
class Trigger:
    resource_type: str
    interactions: frozenset[str]
    current_query: str | None = None  # e.g. "status=active", answered by the store's search
    fhirpath: Callable[..., Any] | None = None
    domain_rule: str | None = None

    def fires(self, previous: dict | None, current: dict) -> bool:
        """The tests this trigger can answer in memory (``current_query`` is left to the store's search)."""
        if ("create" if previous is None else "update") not in self.interactions:
            return False
        if self.domain_rule is not None and not DOMAIN_RULES[self.domain_rule](previous, current):
            return False
        if self.fhirpath is not None:
            result = self.fhirpath(current, {"previous": [] if previous is None else previous, "current": current})
            return result == [True]
        return True


@dataclass(frozen=True, slots=True)
class TopicDefinition:
    url: str
    title: str
    triggers: tuple[Trigger, ...]
    can_filter_by: dict[str, tuple[str, ...]]  # resource type -> filter parameters

    @property
    def resource_types(self) -> frozenset[str]:
        return frozenset(t.resource_type for t in self.triggers)


def _ext(holder: dict, url: str) -> list[dict]:
    return [e for e in holder.get("extension") or [] if e.get("url") == url]


def _value(holder: dict, url: str) -> Any:
    found = _ext(holder, url)
    if not found:
        return None
    return next((v for k, v in found[0].items() if k.startswith("value")), None)


def _type_name(uri: str) -> str:
    return str(uri).rsplit("/", 1)[-1]


class _Refuse(ErrorListener):
    def syntaxError(self, recognizer: Any, offendingSymbol: Any, line: int, column: int, msg: str, e: Any) -> None:
        raise ValueError(f"at column {column}: {msg}")


def _check_syntax(text: str) -> None:
    """fhirpathpy's parser recovers from syntax errors silently (``a = = b`` compiles): parse strictly first."""
    lexer = FHIRPathLexer(InputStream(text))
    lexer.removeErrorListeners()
    lexer.addErrorListener(_Refuse())
    parser = FHIRPathParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(_Refuse())
    parser.expression()
    if parser.getCurrentToken().type != Token.EOF:
        raise ValueError(f"unexpected {parser.getCurrentToken().text!r}")


def _fhirpath(text: str, where: str) -> Callable[..., Any]:
    try:
        _check_syntax(text)
        compiled = fhirpathpy.compile(text)
        compiled({}, {"previous": [], "current": {}})
    except Exception as exc:  # fhirpathpy raises bare Exceptions for syntax errors
        raise Unprocessable(f"fhirPathCriteria is not valid FHIRPath: {str(exc)[:200]}", expression=where) from None
    return compiled


def _check_query(resource_type: str, query: str, where: str) -> None:
    """A parameter the type does not have would be ignored by a lenient search: refuse it here instead."""
    try:
        search_query.parse(resource_type, parse_qsl(query, keep_blank_values=True), strict=True)
    except FhircrmError as exc:
        raise Unprocessable(f"queryCriteria is not a valid search: {exc}", expression=where) from None


def _trigger(ext: dict, where: str) -> Trigger:
    resource = _value(ext, "resource")
    if not isinstance(resource, str) or not resource:
        raise Unprocessable("resourceTrigger needs a resource", expression=f"{where}.resource")
    if _type_name(resource) not in RESOURCE_TYPE_SET:
        raise Unprocessable(f"unknown resource type {resource[:100]!r}", expression=f"{where}.resource")
    interactions = frozenset(str(_value_of(e)) for e in _ext(ext, "supportedInteraction")) or INTERACTIONS
    if not interactions <= INTERACTIONS:
        raise Unprocessable("unknown supportedInteraction", expression=f"{where}.supportedInteraction")
    current_query = None
    for query in _ext(ext, "queryCriteria"):
        if _value(query, "previous") is not None or _value(query, "requireBoth") is True:
            raise Unprocessable(
                "queryCriteria.previous is not supported: use fhirPathCriteria with %previous",
                expression=f"{where}.queryCriteria.previous",
            )
        if _value(query, "resultForCreate") == "test-fails":
            interactions = interactions - {"create"}
        current = _value(query, "current")
        if current:
            current_query = str(current).partition("?")[2] if "?" in str(current) else str(current)
            _check_query(_type_name(resource), current_query, f"{where}.queryCriteria.current")
    path = _value(ext, "fhirPathCriteria")
    rule = _value(ext, DOMAIN_EVENT)
    if rule is not None and rule not in DOMAIN_RULES:
        raise Unprocessable(f"unknown domain event {str(rule)[:100]!r}", expression=f"{where}.extension")
    return Trigger(
        _type_name(resource),
        interactions,
        current_query,
        _fhirpath(path, f"{where}.fhirPathCriteria") if path else None,
        rule,
    )


def _value_of(ext: dict) -> Any:
    return next((v for k, v in ext.items() if k.startswith("value")), None)


def parse(resource: dict) -> TopicDefinition:
    """A Basic-form SubscriptionTopic, checked: 422 naming the element when it could not be served."""
    url = _value(resource, f"{XV}url")
    if not isinstance(url, str) or not url:
        raise Unprocessable("a SubscriptionTopic needs a url", expression="SubscriptionTopic.url")
    triggers = tuple(
        _trigger(ext, "SubscriptionTopic.resourceTrigger") for ext in _ext(resource, f"{XV}resourceTrigger")
    )
    if not triggers:
        raise Unprocessable(
            "a SubscriptionTopic needs a resourceTrigger", expression="SubscriptionTopic.resourceTrigger"
        )
    filters: dict[str, list[str]] = {}
    for ext in _ext(resource, f"{XV}canFilterBy"):
        rtype = _type_name(_value(ext, "resource") or triggers[0].resource_type)
        param = _value(ext, "filterParameter")
        if param:
            filters.setdefault(rtype, []).append(str(param))
    return TopicDefinition(
        url, str(_value(resource, f"{XV}title") or url), triggers, {k: tuple(v) for k, v in filters.items()}
    )
