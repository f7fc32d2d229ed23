"""What a short reply means, where that is safe to act on: confirm, cancel, opt out, opt in, call me."""

from __future__ import annotations

import re
from enum import StrEnum


class Intent(StrEnum):
    CONFIRM = "confirm"
    CANCEL = "cancel"
    STOP = "stop"
    START = "start"
    CALLBACK = "callback"
    SURVEY_ANSWER = "survey-answer"  # a score replying to a survey invitation (never confirm or cancel)
    NONE = "none"


_WORDS = {
    Intent.CONFIRM: {"c", "1", "yes", "y", "confirm", "confirmed", "si", "sí", "sim", "ok"},
    Intent.CANCEL: {"cancel", "2", "cancelar", "cancela"},
    Intent.STOP: {"stop", "stopall", "unsubscribe", "end", "quit", "optout", "baja", "parar"},
    Intent.START: {"start", "unstop", "subscribe", "yes start", "alta"},
    Intent.CALLBACK: {"3", "call", "call me", "llamar"},
}


def intent_of(text: str, *, channel: str = "sms") -> Intent:
    """Only a reply that is nothing but the keyword counts ("yes" does, "yes but can we move it" does not)."""
    word = re.sub(r"[^\w\s]", "", text or "").strip().lower()
    for intent, words in _WORDS.items():
        if word in words:
            if intent is Intent.CALLBACK and channel not in ("voice", "sms", "whatsapp"):
                return Intent.NONE
            return intent
    return Intent.NONE
