"""The Chinese font: plots and pages render Chinese on a machine that has no CJK font.

feesim ships a cut of Noto Sans CJK SC Regular (SIL Open Font License 1.1; the licence is
``fonts/OFL.txt`` beside the font) holding every character of GB 2312, ASCII, Latin-1, CJK and
full-width punctuation and every character of the message catalogues
(``tools/make_cjk_font.py`` makes it). Two uses:

- matplotlib: :func:`register` adds the font and puts it after DejaVu Sans in the font family
  list, so Latin text keeps matplotlib's usual look and each Chinese character falls back to
  the shipped font (matplotlib >= 3.6 falls back glyph by glyph along ``font.family``); CJK
  fonts the system has come after it (characters outside GB 2312);
- HTML (the report, the dashboard): :func:`css_font_face` embeds a further cut holding only the
  characters of that page as a data URL, so the page renders and prints the same anywhere,
  offline, without asking the browser for a font it may not have.
"""

from __future__ import annotations

import base64
import functools
import io
import logging
from pathlib import Path

__all__ = [
    "FALLBACK_FAMILIES",
    "FAMILY",
    "FONT_FILE",
    "css_font_face",
    "missing_glyphs",
    "register",
]

log = logging.getLogger(__name__)

#: The shipped font file.
FONT_FILE = Path(__file__).resolve().parent / "fonts" / "FeesimNotoSansSC-Regular.otf"
#: Its family name (its own, so that it never shadows a complete font of the system).
FAMILY = "Feesim Noto Sans SC"
#: CJK families used after the shipped one when the system has them (for rarer characters).
FALLBACK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
)
#: The CSS font stack of pages (the embedded cut first).
CSS_STACK = (
    f"'{FAMILY}', system-ui, -apple-system, 'Segoe UI', 'PingFang SC', "
    "'Microsoft YaHei', 'Noto Sans CJK SC', sans-serif"
)


@functools.cache
def register() -> str:
    """Add the shipped font to matplotlib and to its font family list (once); returns its name.

    If ``font.family`` is still matplotlib's default (``sans-serif``), it becomes DejaVu Sans
    (the default's first font), the shipped font, the system CJK fonts found, then
    ``sans-serif``; a family list the user set is kept and the CJK fonts are appended to it.
    """
    from matplotlib import font_manager, rcParams

    font_manager.fontManager.addfont(str(FONT_FILE))
    have = {f.name for f in font_manager.fontManager.ttflist}
    system = [f for f in FALLBACK_FAMILIES if f in have]
    family = list(rcParams["font.family"])
    if family == ["sans-serif"]:
        first = [f for f in rcParams["font.sans-serif"] if f in have][:1] or ["DejaVu Sans"]
        family = [*first, FAMILY, *system, "sans-serif"]
    else:
        family = [*family, *(f for f in (FAMILY, *system) if f not in family)]
    rcParams["font.family"] = family
    log.debug("matplotlib font families: %s", family)
    return FAMILY


@functools.cache
def _cmap() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(FONT_FILE, lazy=True) as font:
        return frozenset(font.getBestCmap())


def missing_glyphs(text: str) -> str:
    """The characters of ``text`` the shipped font has no glyph for (whitespace ignored)."""
    have = _cmap()
    return "".join(sorted({c for c in text if not c.isspace() and ord(c) not in have}))


def css_font_face(text: str) -> str:
    """A CSS ``@font-face`` rule embedding the shipped font cut to the characters of ``text``.

    Returns ``""`` when ``text`` has no character beyond ASCII (the browser's own fonts do).
    """
    chars = {c for c in text if ord(c) > 0x7E}
    if not chars:
        return ""
    data = _subset("".join(sorted(chars)) + "".join(chr(c) for c in range(0x20, 0x7F)))
    b64 = base64.b64encode(data).decode("ascii")
    return (
        f"@font-face{{font-family:'{FAMILY}';font-style:normal;font-weight:400 700;"
        f"src:url(data:font/otf;base64,{b64}) format('opentype');}}"
    )


@functools.lru_cache(maxsize=8)
def _subset(text: str) -> bytes:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    opts = subset.Options()
    opts.hinting = False
    opts.layout_features = ["kern", "palt", "locl"]
    opts.name_IDs = [0, 1, 2, 3, 4, 5, 6, 13, 14]
    with TTFont(FONT_FILE) as font:
        sub = subset.Subsetter(opts)
        sub.populate(text=text)
        sub.subset(font)
        buf = io.BytesIO()
        font.save(buf)
    return buf.getvalue()
