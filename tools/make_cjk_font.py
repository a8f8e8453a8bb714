"""Make the CJK font feesim ships: Noto Sans CJK SC Regular cut to the characters it needs.

Chinese plot labels need a font with Chinese glyphs, and a fresh machine (a bureau's laptop, CI)
may have none; matplotlib then draws empty boxes. feesim therefore ships its own font in
``src/feesim/surfaces/fonts/`` and registers it with matplotlib (:mod:`feesim.surfaces.fonts`),
and the HTML report embeds a further cut of it holding only the characters of that report.

The source is Noto Sans CJK SC Regular (version 1.004, SIL Open Font License 1.1: subsetting
and redistribution are allowed with the licence; the reserved font name is "Source", which the
cut does not use). It is not fetched here: give the path of the OTF, e.g. from the
``noto-cjk-sans-otc`` or ``mplfonts`` wheels on PyPI::

    python tools/make_cjk_font.py NotoSansCJKsc-Regular.otf

What is kept: every character of GB 2312 (its 6,763 hanzi, levels 1 and 2, which cover the
place and community names of Shanghai's housing registers with few exceptions, and its 682
symbols), printable ASCII and Latin-1, the general punctuation, CJK symbols and full-width forms
blocks, and every character of the zh_CN message catalogue. Characters outside it fall back to
any CJK font the system has (see :data:`feesim.surfaces.fonts.FALLBACK_FAMILIES`).
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "feesim" / "surfaces" / "fonts" / "FeesimNotoSansSC-Regular.otf"
CATALOGUE = ROOT / "src" / "feesim" / "locale" / "zh_CN" / "LC_MESSAGES" / "feesim.po"
FAMILY = "Feesim Noto Sans SC"
POSTSCRIPT = "FeesimNotoSansSC-Regular"


def gb2312() -> str:
    """Every character GB 2312 encodes (rows 0xA1-0xF7, cells 0xA1-0xFE)."""
    out = []
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):  # unassigned cells
                out.append(bytes([hi, lo]).decode("gb2312"))
    return "".join(out)


def characters() -> str:
    """The characters the cut keeps."""
    ranges = [(0x20, 0x7F), (0xA0, 0x100), (0x2000, 0x2070), (0x2190, 0x21A0), (0x3000, 0x3040)]
    ranges.append((0xFF00, 0xFFF0))
    text = gb2312() + "".join(chr(c) for lo, hi in ranges for c in range(lo, hi))
    text += "²³×÷±≤≥≈→←↑↓−–—‘’“”…·•▶❚"
    if CATALOGUE.exists():
        text += CATALOGUE.read_text(encoding="utf-8")
    return "".join(sorted(set(text)))


def main() -> int:
    """Cut the font given on the command line (see the module docstring)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="NotoSansCJKsc-Regular.otf (version 1.004)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    opts = subset.Options()
    opts.name_IDs = ["*"]
    opts.name_languages = ["*"]
    opts.hinting = False
    opts.layout_features = ["kern", "palt", "locl", "ccmp"]
    font = TTFont(args.source)
    sub = subset.Subsetter(opts)
    sub.populate(text=characters())
    sub.subset(font)
    # A name of its own, so that it never shadows a complete Noto Sans CJK SC on the system.
    names = font["name"]
    for rec in list(names.names):
        if rec.nameID in (1, 4, 16):
            names.setName(
                FAMILY if rec.nameID != 4 else f"{FAMILY} Regular",
                rec.nameID,
                rec.platformID,
                rec.platEncID,
                rec.langID,
            )
        elif rec.nameID in (3, 6):
            names.setName(
                POSTSCRIPT if rec.nameID == 6 else f"feesim subset;{POSTSCRIPT}",
                rec.nameID,
                rec.platformID,
                rec.platEncID,
                rec.langID,
            )
    if "CFF " in font:
        cff = font["CFF "].cff
        cff.fontNames = [POSTSCRIPT]
        top = cff.topDictIndex[0]
        top.FullName = f"{FAMILY} Regular"
        top.FamilyName = FAMILY
    args.out.parent.mkdir(parents=True, exist_ok=True)
    font.save(args.out)
    print(
        f"wrote {args.out} ({args.out.stat().st_size:,} bytes, {len(font.getGlyphOrder())} glyphs)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
