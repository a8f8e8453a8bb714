"""Languages of what people read: Simplified Chinese first, and English.

Every text a person reads (the forecast report, the dashboard, plot labels, the command line's
summaries and messages) is written in English in the source and marked for translation; the
translations are standard gettext catalogues (``feesim/locale/<lang>/LC_MESSAGES/feesim.po``,
extracted with Babel, compiled to ``.mo`` and shipped with the package). Terms follow Shanghai
practice: 收缴率 (collection rate), 业主大会 (owners' general meeting), 业委会 (owners'
committee), 双过半 (the Art. 278 "more than half of both" rule), 先质后价 (quality first,
price after), 物业服务企业 (property-service firm), 包干制 / 酬金制 (fixed-fee / cost-plus
contract), 应急物业 (temporary emergency provider).

Which language
    :func:`resolve` picks, in this order: the language asked for (``--lang``, the dashboard's
    switch, ``lang=`` arguments), the one set with :func:`use_language` for the current context,
    then the environment as gettext reads it (the first of ``LANGUAGE``, ``LC_ALL``,
    ``LC_MESSAGES``, ``LANG`` that is set), and Chinese when none of those names Chinese or
    English (``C``, ``POSIX``, unset).

Data files are not translated: ``forecast.json``, the CSV and Parquet tables and their column
names and values stay as documented (English keys), so a file reads the same in any language.

Nothing happens at import: catalogues are read the first time a text is translated.
"""

from __future__ import annotations

import contextlib
import functools
import gettext as _gettext
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path

from feesim.errors import ConfigError

__all__ = [
    "DEFAULT",
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "N_",
    "from_environment",
    "gettext",
    "language",
    "ngettext",
    "normalize",
    "pgettext",
    "resolve",
    "translation",
    "use_language",
]

#: The languages, Chinese first.
LANGUAGES: tuple[str, ...] = ("zh_CN", "en")
#: The language when nothing names one.
DEFAULT = "zh_CN"
#: The gettext domain (catalogues are ``feesim.mo``).
DOMAIN = "feesim"
#: Where the compiled catalogues are (package data).
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: Environment variables gettext reads, in its order.
ENVIRONMENT = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_ALIASES = {
    "zh": "zh_CN",
    "zh_cn": "zh_CN",
    "zh_hans": "zh_CN",
    "zh_hans_cn": "zh_CN",
    "zh_sg": "zh_CN",
    "chinese": "zh_CN",
    "中文": "zh_CN",
    "en": "en",
    "english": "en",
}

_current: ContextVar[str | None] = ContextVar("feesim_language", default=None)


def normalize(value: str | None) -> str | None:
    """The language a locale name stands for (``"zh_CN"`` or ``"en"``), or None.

    Accepts ``zh``, ``zh-CN``, ``zh_CN.UTF-8``, ``zh-Hans``, ``en``, ``en_US.UTF-8``, ``en-GB``
    and the like; anything else (``C``, ``POSIX``, ``fr_FR``) gives None.
    """
    if not value:
        return None
    text = value.strip().split(".")[0].split("@")[0].replace("-", "_").lower()
    if text in _ALIASES:
        return _ALIASES[text]
    lang = text.split("_")[0]
    if lang == "en":
        return "en"
    if lang == "zh" and not any(t in text.split("_")[1:] for t in ("tw", "hk", "mo", "hant")):
        return "zh_CN"
    return None


def from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The language the environment asks for (gettext's variables), Chinese by default.

    The first of ``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES`` and ``LANG`` that is set decides,
    as in gettext; ``LANGUAGE`` may list several (``fr:en``) and the first one feesim has
    counts.
    """
    env = os.environ if environ is None else environ
    for name in ENVIRONMENT:
        value = env.get(name, "")
        if not value:
            continue
        for part in value.split(":"):
            found = normalize(part)
            if found is not None:
                return found
        if name != "LANGUAGE":
            break  # the first locale variable set decides, as in gettext
    return DEFAULT


def resolve(lang: str | None = None) -> str:
    """The language to use: ``lang`` if given, else the current context's, else the environment's.

    Raises
    ------
    ConfigError
        If ``lang`` names no language feesim has.
    """
    if lang is not None:
        found = normalize(lang)
        if found is None:
            raise ConfigError(
                f"lang: got {lang!r}; expected zh_CN (also zh, zh-CN: Simplified Chinese) "
                "or en (English)"
            )
        return found
    current = _current.get()
    return current if current is not None else from_environment()


def language() -> str:
    """The language in force here (:func:`resolve` without an explicit choice)."""
    return resolve(None)


@contextlib.contextmanager
def use_language(lang: str | None) -> Iterator[str]:
    """Translate into ``lang`` inside the ``with`` block (None: keep the language in force).

    The choice is a context variable, so each thread and each dashboard session keeps its own.
    """
    chosen = resolve(lang)
    token = _current.set(chosen)
    try:
        yield chosen
    finally:
        _current.reset(token)


@functools.cache
def translation(lang: str) -> _gettext.NullTranslations:
    """The catalogue of ``lang`` (English is the source text: no catalogue needed)."""
    lang = resolve(lang)
    if lang == "en":
        return _gettext.NullTranslations()
    return _gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=False)


def gettext(message: str) -> str:
    """``message`` in the language in force."""
    return translation(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in the language in force."""
    return translation(language()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in a context (the same English word translated differently)."""
    return translation(language()).pgettext(context, message)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Mark ``message`` for extraction without translating it (translated where it is shown)."""
    return message
