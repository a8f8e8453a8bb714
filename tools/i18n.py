"""Keep the message catalogues in step with the source (Babel).

::

    python tools/i18n.py            # extract, merge into each .po, compile the .mo files
    python tools/i18n.py --check    # fail if a message is untranslated or a .mo is stale

The template is ``src/feesim/locale/feesim.pot``; each language has
``src/feesim/locale/<lang>/LC_MESSAGES/feesim.po`` (edited by hand: translate new messages
there) and the compiled ``feesim.mo`` beside it, which is committed and shipped as package data
so that an install needs no build step (``pip install -e .`` works offline). Strings are marked
in the source with ``_()``, ``ngettext()`` and ``N_()`` of :mod:`feesim.i18n`; ``babel.cfg``
names the files to scan.

The docs of the configuration fields (``param(doc=...)`` of the scenario, the behaviour and the
community file, :data:`DOC_MODULES`) are messages too: :func:`field_docs` reads them from the
dataclasses' metadata and :func:`extract` adds them to the template, so that ``feesim
describe`` and the report's table of defaults show them translated; no call site is marked.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "src" / "feesim" / "locale"
POT = LOCALE / "feesim.pot"
LANGUAGES = ("zh_CN",)
#: Modules whose dataclass fields carry a ``doc`` people read (``feesim describe``, the report).
DOC_MODULES = (
    "feesim.config.scenario",
    "feesim.config.behaviour",
    "feesim.studies.forecast.community",
)
#: The comment that marks a field doc or unit in the template.
DOC_COMMENT = "field doc or unit (param(doc=..., unit=...))"


def field_docs() -> list[str]:
    """The ``doc`` and ``unit`` of every field of the :data:`DOC_MODULES` dataclasses, once each."""
    import dataclasses
    import importlib
    import inspect

    src = str(ROOT / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    docs: set[str] = set()
    for name in DOC_MODULES:
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if not (inspect.isclass(obj) and dataclasses.is_dataclass(obj)):
                continue
            if obj.__module__ != name:
                continue
            for f in dataclasses.fields(obj):
                for what in ("doc", "unit"):
                    text = f.metadata.get(what, "")
                    if text:
                        docs.add(text)
    return sorted(docs)


def add_field_docs(pot: Path = POT) -> int:
    """Add the field docs to the template ``pot``; returns how many were new to it."""
    from babel.messages.pofile import read_po, write_po

    with pot.open("rb") as f:
        cat = read_po(f)
    added = 0
    for doc in field_docs():
        if doc in cat:
            continue
        cat.add(doc, auto_comments=[DOC_COMMENT])
        added += 1
    buf = io.BytesIO()
    write_po(buf, cat, omit_header=True, no_location=True, sort_output=True)
    pot.write_bytes(buf.getvalue())
    return added


def extract() -> None:
    """Write the template from the source and the field docs (no line numbers: small diffs)."""
    cmd = [
        sys.executable,
        "-m",
        "babel.messages.frontend",
        "extract",
        "-F",
        "babel.cfg",
        "-k",
        "N_",
        "--no-location",
        "--sort-output",
        "--omit-header",
        "-o",
        str(POT),
        ".",
    ]
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    add_field_docs(POT)


def po_path(lang: str) -> Path:
    """The catalogue of ``lang``."""
    return LOCALE / lang / "LC_MESSAGES" / "feesim.po"


def update_and_compile() -> None:
    """Merge the template into each catalogue and compile it."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po, write_po

    with POT.open("rb") as f:
        template = read_po(f)
    for lang in LANGUAGES:
        path = po_path(lang)
        with path.open("rb") as f:
            cat = read_po(f, locale=lang)
        created = cat.creation_date
        cat.update(template, no_fuzzy_matching=True)
        cat.creation_date = created  # no churn: the files change only when messages do
        buf = io.BytesIO()
        write_po(
            buf,
            cat,
            omit_header=False,
            no_location=True,
            sort_output=True,
            ignore_obsolete=True,
            width=100,
        )
        path.write_bytes(buf.getvalue())
        with path.with_suffix(".mo").open("wb") as f:
            write_mo(f, cat, use_fuzzy=False)


def problems() -> list[str]:
    """Untranslated or fuzzy messages, and compiled files that differ from their catalogue."""
    import gettext

    from babel.messages.pofile import read_po

    out = []
    for lang in LANGUAGES:
        with po_path(lang).open("rb") as f:
            cat = read_po(f, locale=lang)
        with po_path(lang).with_suffix(".mo").open("rb") as f:
            mo = gettext.GNUTranslations(f)
        for m in cat:
            if not m.id:
                continue
            strings = m.string if isinstance(m.string, tuple) else (m.string,)
            if not all(strings) or m.fuzzy:
                out.append(f"{lang}: untranslated: {m.id!r}")
                continue
            key = m.id if isinstance(m.id, str) else m.id[0]
            if m.context:
                got = mo.pgettext(m.context, key)
            elif isinstance(m.id, tuple):
                got = mo.ngettext(m.id[0], m.id[1], 1)
            else:
                got = mo.gettext(key)
            if got != strings[0]:
                out.append(f"{lang}: feesim.mo is stale for {key!r} (run python tools/i18n.py)")
    return out


def main() -> int:
    """Update and compile, or only check (``--check``); exit status 1 on problems."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check, change nothing")
    args = parser.parse_args()
    if not args.check:
        extract()
        update_and_compile()
    found = problems()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
