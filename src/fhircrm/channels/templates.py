"""Message templates: jinja2 files per language and journey stage, each with a plain-language version.

``templates/<language>/<name>.j2`` defines blocks: ``text`` (SMS, WhatsApp, chat, voice), ``plain`` (the same in
plain language), optional ``subject`` and ``html`` (email). A missing variable raises instead of sending a
broken message (StrictUndefined); a language without the template falls back to the default language.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import escape as html_escape

TEMPLATE_DIR = Path(__file__).parent / "templates"


class TemplateError(Exception):
    """The template is unknown or could not be rendered (a missing variable)."""


@dataclass(frozen=True, slots=True)
class Rendered:
    template: str
    language: str
    text: str
    subject: str | None
    html: str | None


@lru_cache(maxsize=4)
def environment(directory: str = str(TEMPLATE_DIR)) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(default=False, default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _load(env: jinja2.Environment, name: str, language: str, default_language: str) -> tuple[jinja2.Template, str]:
    for lang in dict.fromkeys((language, language.split("-")[0], default_language)):
        try:
            return env.get_template(f"{lang}/{name}.j2"), lang
        except jinja2.TemplateNotFound:
            continue
    raise TemplateError(f"no template {name!r} for language {language!r} or {default_language!r}")


def _block(template: jinja2.Template, name: str, context: dict, *, escape: bool = False) -> str | None:
    render = template.blocks.get(name)
    if render is None:
        return None
    ctx = template.new_context(
        {k: (html_escape(v) if escape and isinstance(v, str) else v) for k, v in context.items()}
    )
    return "".join(render(ctx)).strip()


def render(
    name: str,
    context: dict,
    *,
    language: str = "en",
    plain: bool = False,
    default_language: str = "en",
    directory: Path | None = None,
) -> Rendered:
    env = environment(str(directory or TEMPLATE_DIR))
    template, used = _load(env, name, language, default_language)
    try:
        text = _block(template, "plain" if plain else "text", context) or _block(template, "text", context)
        if not text:
            raise TemplateError(f"template {name!r} has no text block")
        subject = _block(template, "subject", context)
        html = _block(template, "html", context, escape=True)
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"template {name!r} ({used}): {exc.message}") from None
    return Rendered(name, used, text, subject, html)
