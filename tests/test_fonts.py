"""Chinese renders in plots on a machine without a CJK font: the shipped font draws real glyphs.

A missing glyph renders as the font's empty box (tofu): every missing character then looks the
same. The check draws characters one by one and requires them to differ from each other and
from the box; the control (DejaVu Sans alone, no Chinese font) shows that the check does fail
when the glyphs are missing.
"""

from __future__ import annotations

import io
import warnings

import numpy as np

from feesim.surfaces import fonts

CHARS = "收缴率业主大会双过半"


def _glyph(char: str, family: list[str]) -> np.ndarray:
    """``char`` drawn alone with ``family``, as a grey-level array."""
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    fig = Figure(figsize=(0.6, 0.6), dpi=60)
    fig.text(
        0.5,
        0.5,
        char,
        fontproperties=FontProperties(family=family, size=24),
        ha="center",
        va="center",
    )
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Glyph missing": the control expects them
        fig.savefig(buf, format="png")
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"), dtype=float)


def _distinct_glyphs(family: list[str]) -> bool:
    """Whether the characters render as distinct, inked glyphs (not all one box)."""
    box = _glyph("\ue000", family)  # a private-use character: no font has it, the box
    images = [_glyph(c, family) for c in CHARS]
    inked = all((255 - im).sum() > 0 for im in images)
    differ_from_box = all(np.abs(im - box).sum() > 0 for im in images)
    pairwise = all(np.abs(a - b).sum() > 0 for i, a in enumerate(images) for b in images[i + 1 :])
    return inked and differ_from_box and pairwise


def test_chinese_glyphs_render_with_the_shipped_font():
    name = fonts.register()
    from matplotlib import rcParams

    assert name == fonts.FAMILY and fonts.FAMILY in rcParams["font.family"]
    assert _distinct_glyphs(list(rcParams["font.family"]))


def test_the_check_fails_without_a_chinese_font():
    """Control: DejaVu Sans has no Chinese glyphs; they all render as the same box."""
    assert not _distinct_glyphs(["DejaVu Sans"])


def test_matplotlib_finds_the_shipped_font_for_chinese():
    from matplotlib import font_manager

    fonts.register()
    path = font_manager.findfont(
        font_manager.FontProperties(family=fonts.FAMILY), fallback_to_default=False
    )
    assert path == str(fonts.FONT_FILE)


def test_the_font_covers_every_translated_message():
    from feesim.i18n import translation

    catalogue = translation("zh_CN")
    text = "".join(str(v) for v in catalogue._catalog.values())
    assert len(text) > 5000
    assert fonts.missing_glyphs(text) == ""
    assert fonts.missing_glyphs("璟") == "璟"  # outside GB 2312: left to the system's fonts


def test_a_plot_with_chinese_labels_is_drawn_with_the_font(tmp_path):
    """A feesim plot in Chinese: its text uses the shipped font for the Chinese characters."""
    import feesim
    from feesim.i18n import use_language
    from feesim.surfaces.plotting import plot_overview

    result = feesim.simulate(feesim.load_scenario("examples/frozen_fee.toml"), rng=1)
    with use_language("zh_CN"):
        axes = plot_overview(result)
    titles = [ax.get_title(loc="left") for ax in axes]
    assert "服务质量" in titles and "物业费" in titles
    family = axes[0].title.get_fontfamily()
    assert fonts.FAMILY in family


def test_pages_embed_a_cut_of_the_font():
    css = fonts.css_font_face("收缴率 collection")
    assert css.startswith("@font-face{font-family:'Feesim Noto Sans SC'")
    assert "base64," in css
    assert len(css) < 60_000  # only the characters of the page, not the whole font
    assert fonts.css_font_face("only ASCII") == ""
