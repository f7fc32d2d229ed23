"""The public survey form: plain HTML rendered from the Questionnaire, in the patient's language when we have it."""

from __future__ import annotations

from html import escape

TRANSLATION_URL = "http://hl7.org/fhir/StructureDefinition/translation"
WORDS = {
    "en": {"send": "Send", "thanks": "Thank you! Your answer has been recorded.", "yes": "Yes", "no": "No"},
    "es": {"send": "Enviar", "thanks": "¡Gracias! Hemos recibido su respuesta.", "yes": "Sí", "no": "No"},
}


def _text(item: dict, language: str) -> str:
    for ext in (item.get("_text") or {}).get("extension", []):
        if ext.get("url") == TRANSLATION_URL:
            parts = {e["url"]: next(v for k, v in e.items() if k.startswith("value")) for e in ext["extension"]}
            if parts.get("lang") == language:
                return parts.get("content", "")
    return item.get("text", "")


def _field(item: dict, language: str) -> str:
    link = escape(item["linkId"])
    kind = item.get("type")
    if kind == "integer":
        bounds = {e["url"].rsplit("/", 1)[-1]: e.get("valueInteger") for e in item.get("extension", [])}
        return "".join(
            f'<label><input type="radio" name="{link}" value="{n}"> {n}</label> '
            for n in range(bounds.get("minValue", 0), bounds.get("maxValue", 10) + 1)
        )
    if kind == "choice":
        return "".join(
            f'<label><input type="radio" name="{link}" value="{escape(o["valueCoding"]["code"])}"> '
            f"{escape(o['valueCoding'].get('display', o['valueCoding']['code']))}</label> "
            for o in item.get("answerOption", [])
            if "valueCoding" in o
        )
    return f'<textarea name="{link}" rows="3" cols="40"></textarea>'


def page(body: str, language: str = "en") -> str:
    return (
        f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Survey</title></head>'
        f"<body><main>{body}</main></body></html>"
    )


def render_form(questionnaire: dict, language: str) -> str:
    words = WORDS.get(language, WORDS["en"])
    fields = "".join(
        f"<fieldset><legend>{escape(_text(item, language))}</legend>{_field(item, language)}</fieldset>"
        for item in questionnaire.get("item", [])
    )
    title = escape(questionnaire.get("title", ""))
    return page(
        f'<h1>{title}</h1><form method="post">{fields}<button type="submit">{words["send"]}</button></form>', language
    )


def render_thanks(language: str) -> str:
    return page(f"<p>{WORDS.get(language, WORDS['en'])['thanks']}</p>", language)
