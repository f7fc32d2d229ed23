"""FHIR's JSON types of primitives, which the fhir.resources models do not enforce: their validators coerce, so
``"active": "yes"`` or ``"multipleBirthInteger": "3"`` pass validation and would be stored as sent, and every
reader that trusts ``active is True`` would then be wrong. R4's JSON format says booleans are JSON true/false,
integers and decimals JSON numbers, everything else a JSON string.

The expected JSON type of every element is derived once per model class from its field annotations. Part of the
previous validator (``fhircrm.fhir.models``), kept beside it for comparison; ``fhircrm.fhir.validator`` checks JSON
types on writes now.
"""

from __future__ import annotations

import datetime
import decimal
import typing
from functools import cache

from fhircrm.errors import Issue, Unprocessable
from fhircrm.fhir import models

#: element kinds: a JSON primitive type, or ``Type:<model>`` for a complex element, ``resource`` for a resource
_BOOLEAN, _INTEGER, _DECIMAL, _STRING, _RESOURCE = "boolean", "integer", "decimal", "string", "resource"
_STRING_TYPES = (str, bytes, datetime.date, datetime.datetime, datetime.time)


def _kind(annotation: object) -> tuple[str | None, bool]:
    """(kind, is a list) of a field annotation; kind None when nothing is checked (``fhir_comments``, ``_x``)."""
    is_list = False
    while True:
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is typing.Annotated:
            annotation = args[0]
        elif origin in (list, typing.List):  # noqa: UP006
            is_list, annotation = True, args[0]
        elif origin is typing.Union or type(annotation).__name__ == "UnionType":
            options = [a for a in args if a is not type(None)]
            if len(options) != 1:
                return None, False
            annotation = options[0]
        else:
            break
    if annotation is bool:
        return _BOOLEAN, is_list
    if annotation is int:
        return _INTEGER, is_list
    if annotation in (decimal.Decimal, float):
        return _DECIMAL, is_list
    if isinstance(annotation, type) and issubclass(annotation, _STRING_TYPES):
        return _STRING, is_list
    name = getattr(annotation, "__name__", "")
    if name == "ResourceType":
        return _RESOURCE, is_list
    if name.endswith("Type") and name != "FHIRPrimitiveExtensionType":
        return f"Type:{name[:-4]}", is_list
    return None, False


#: JSON types each kind of primitive accepts
_ACCEPTS: dict[str, tuple[type, ...]] = {
    _BOOLEAN: (bool,),
    _INTEGER: (int,),
    _DECIMAL: (int, float),
    _STRING: (str,),
    _RESOURCE: (dict,),
}


@cache
def _fields(model: str) -> dict[str, tuple[tuple[type, ...], bool, str | None]]:
    """JSON name -> (accepted JSON types, is a list, the model of its content when complex) for ``model``."""
    try:
        cls = models.model_class(model)
    except (KeyError, ValueError, LookupError):
        return {}
    out: dict[str, tuple[tuple[type, ...], bool, str | None]] = {}
    for name, info in cls.model_fields.items():
        kind, is_list = _kind(info.annotation)
        if kind is None:
            continue
        if kind.startswith("Type:"):
            out[info.alias or name] = ((dict,), is_list, kind[5:])
        else:
            out[info.alias or name] = (_ACCEPTS[kind], is_list, _RESOURCE if kind == _RESOURCE else None)
    return out


_NAMES = {(bool,): "boolean", (int,): "integer", (int, float): "number", (str,): "string", (dict,): "object"}


def check(resource: dict) -> None:
    """422 naming the first element whose JSON type is not the one R4 prescribes (value not quoted). One pass,
    paths built only for a refusal: it runs for every resource written."""
    stack: list[tuple[dict, str, tuple]] = [(resource, resource["resourceType"], ())]
    while stack:
        node, model, trail = stack.pop()
        fields = _fields(model)
        for key, value in node.items():
            spec = fields.get(key)
            if spec is None or value is None:
                continue  # unknown elements are the validator's to refuse
            accepts, is_list, child = spec
            if is_list:
                if type(value) is not list:
                    _refuse(resource, (*trail, key), "array")
                for i, item in enumerate(value):
                    if type(item) not in accepts and item is not None:
                        _refuse(resource, (*trail, key, i), _NAMES[accepts])
                    if child is not None and type(item) is dict:
                        stack.append(_child(item, child, (*trail, key, i)))
            else:
                if type(value) not in accepts:
                    _refuse(resource, (*trail, key), _NAMES[accepts])
                if child is not None:
                    stack.append(_child(value, child, (*trail, key)))


def _child(item: dict, child: str, trail: tuple) -> tuple[dict, str, tuple]:
    model = item.get("resourceType") if child == _RESOURCE else child
    return item, model if isinstance(model, str) else "", trail


def _refuse(resource: dict, trail: tuple, expected: str) -> typing.NoReturn:
    where = str(resource["resourceType"])
    for part in trail:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    raise Unprocessable(
        f"{resource['resourceType']} has an element of the wrong JSON type: {where} must be a JSON {expected}",
        issues=[Issue(f"{where} must be a JSON {expected}", code="value", expression=(where,))],
    )
