"""The public survey form: plain HTML rendered from the Questionnaire, in the patient's language when we have it."""

from __future__ import annotations

from html import escape

from fhircrm.assets import asset_url  # served by the app itself: the page keeps a style-src 'self' CSP

TRANSLATION_URL = "http://hl7.org/fhir/StructureDefinition/translation"
WORDS = {
    "en": {
        "send": "Send",
        "thanks": "Thank you! Your answer has been recorded.",
        "thanks_heading": "Thank you",
        "yes": "Yes",
        "no": "No",
        "clinic": "our clinic",
        "from": "A short survey from {clinic}",
        "optional": "(optional)",
        "low": "not at all likely",
        "high": "extremely likely",
    },
    "es": {
        "send": "Enviar",
        "thanks": "¡Gracias! Hemos recibido su respuesta.",
        "thanks_heading": "Gracias",
        "yes": "Sí",
        "no": "No",
        "clinic": "nuestra clínica",
        "from": "Una breve encuesta de {clinic}",
        "optional": "(opcional)",
        "low": "nada probable",
        "high": "muy probable",
    },
}


def _text(item: dict, language: str) -> str:
    for ext in (item.get("_text") or {}).get("extension", []):
        if ext.get("url") == TRANSLATION_URL:
            parts = {e["url"]: next(v for k, v in e.items() if k.startswith("value")) for e in ext["extension"]}
            if parts.get("lang") == language:
                return parts.get("content", "")
    return item.get("text", "")


def _field(item: dict, language: str, words: dict[str, str]) -> str:
    """One question. Choices are radio buttons inside big labels (the whole label is the tap target); a free
    text answer is a labelled textarea, not a fieldset."""
    link = escape(item["linkId"])
    kind = item.get("type")
    question = escape(_text(item, language))
    if kind in ("integer", "choice"):
        if kind == "integer":
            bounds = {e["url"].rsplit("/", 1)[-1]: e.get("valueInteger") for e in item.get("extension", [])}
            low, high = bounds.get("minValue", 0), bounds.get("maxValue", 10)
            options = [(str(n), str(n)) for n in range(low, high + 1)]
            ends = f'<p class="scale"><span>{low}: {words["low"]}</span> <span>{high}: {words["high"]}</span></p>'
            scale = ends if (low, high) == (0, 10) else ""  # "how likely" is the NPS question's wording only
        else:
            options = [
                (o["valueCoding"]["code"], o["valueCoding"].get("display", o["valueCoding"]["code"]))
                for o in item.get("answerOption", [])
                if "valueCoding" in o
            ]
            scale = ""
        required = " required" if item.get("required") else ""
        choices = "".join(
            f'<label class="choice"><input type="radio" name="{link}" value="{escape(value)}"{required}> '
            f"<span>{escape(text)}</span></label>"
            for value, text in options
        )
        kind_class = "scale-choices" if kind == "integer" else "choices"
        return f'<fieldset><legend>{question}</legend><div class="{kind_class}">{choices}</div>{scale}</fieldset>'
    field_id = f"q-{link}"
    return (
        f'<div class="question"><label for="{field_id}">{question} <span class="sub">{words["optional"]}</span>'
        f'</label><textarea id="{field_id}" name="{link}" rows="4" maxlength="2000"></textarea></div>'
    )


def page(title: str, body: str, language: str = "en", clinic: str = "") -> str:
    """The patient's page: their language, the clinic's name in the header, a phone-first stylesheet; no script."""
    words = WORDS.get(language, WORDS["en"])
    name = escape(clinic or words["clinic"])
    return (
        f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(title)} · {name}</title><link rel="stylesheet" href="{asset_url("patient.css")}"></head>'
        f'<body class="patient"><header class="clinic"><p>{name}</p></header>'
        f"<main>{body}</main></body></html>"
    )


def render_form(questionnaire: dict, language: str, clinic: str = "") -> str:
    words = WORDS.get(language, WORDS["en"])
    fields = "".join(_field(item, language, words) for item in questionnaire.get("item", []))
    title = questionnaire.get("title", "")
    intro = escape(words["from"].format(clinic=clinic or words["clinic"]))
    return page(
        title,
        f'<h1>{escape(title)}</h1><p class="intro">{intro}</p>'
        f'<form method="post">{fields}<button type="submit">{words["send"]}</button></form>',
        language,
        clinic,
    )


def render_thanks(language: str, clinic: str = "") -> str:
    words = WORDS.get(language, WORDS["en"])
    return page(
        words["thanks_heading"],
        f'<h1>{words["thanks_heading"]}</h1><p role="status">{words["thanks"]}</p>',
        language,
        clinic,
    )
