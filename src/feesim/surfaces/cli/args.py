"""Argparse types and limits shared by the sub-commands.

Each type turns the text of one command-line value into a number or raises
:class:`argparse.ArgumentTypeError` with what is allowed (argparse adds the option's name).
:func:`check_limit` and :func:`check_workers` refuse sizes beyond what this machine can do
sensibly, unless ``--force``. They live apart from :mod:`feesim.surfaces.cli.main` so that the
sub-command modules, which ``main`` imports, do not import ``main`` back.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from feesim.errors import LimitError
from feesim.i18n import N_, normalize
from feesim.i18n import gettext as _

__all__ = [
    "ARGPARSE_MESSAGES",
    "MAX_MEMBERS",
    "MAX_RUNS",
    "WORKERS_PER_CORE",
    "add_force",
    "add_lang_option",
    "check_limit",
    "check_workers",
    "language",
    "nonempty_path",
    "nonnegative_int",
    "percent",
    "port_number",
    "positive_int",
    "probability",
    "requested_language",
    "seed_int",
]

#: argparse's own messages (it reads them through gettext's global domain, for which Python
#: ships no Chinese catalogue): listed here so that they are extracted into feesim's catalogue;
#: :func:`feesim.surfaces.cli.main.main` has argparse translate them with it.
ARGPARSE_MESSAGES = (
    N_("usage: "),
    N_("argument %(argument_name)s: %(message)s"),
    N_("show this help message and exit"),
    N_("positional arguments"),
    N_("options"),
    N_("subcommands"),
    N_("unrecognized arguments: %s"),
    N_("not allowed with argument %s"),
    N_("ignored explicit argument %r"),
    N_("the following arguments are required: %s"),
    N_("one of the arguments %s is required"),
    N_("expected one argument"),
    N_("expected at most one argument"),
    N_("expected at least one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("unexpected option string: %s"),
    N_("invalid %(type)s value: %(value)r"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("can't open '%(filename)s': %(error)s"),
)


#: Runs per branch of a forecast (and per step of its search) without ``--force``. Each run
#: keeps its monthly outcomes and vote in memory (about 5 KB for four years), so a million
#: runs per branch is about 10 GB for the two branches: near this project's 24 GB machines.
MAX_RUNS = 1_000_000
#: Members of an ensemble (scenarios x parameter sets x replicates) without ``--force``: the
#: parent keeps one summary row per member (and, without ``--out``, every table in memory).
MAX_MEMBERS = 1_000_000
#: Worker processes per core without ``--force``: beyond a few per core, processes only
#: compete for the cores and memory (each holds the model, about 150 MB).
WORKERS_PER_CORE = 4


def add_force(parser: argparse.ArgumentParser) -> None:
    """Add ``--force``: lift the limits on runs, replicates and workers."""
    parser.add_argument(
        "--force",
        action="store_true",
        help=_("allow more runs, replicates or workers than the limits for this machine"),
    )


def check_limit(option: str, value: int, limit: int, why: str, force: bool) -> None:
    """Refuse ``value`` above ``limit`` unless ``force``.

    ``why`` is shown as given (translate it before passing it).

    Raises
    ------
    LimitError
        Naming the option, the value, the limit and why it is there.
    """
    if value > limit and not force:
        raise LimitError(
            _(
                "{option}: got {value}; at most {limit} without --force ({why}); add --force "
                "if you mean it"
            ).format(option=option, value=f"{value:,}", limit=f"{limit:,}", why=why)
        )


def check_workers(workers: int | None, force: bool) -> None:
    """Refuse more than :data:`WORKERS_PER_CORE` worker processes per core unless ``force``."""
    if workers is None:
        return
    from feesim.studies.runner import available_cores

    cores = available_cores()
    check_limit(
        "--workers",
        workers,
        cores * WORKERS_PER_CORE,
        _(
            "this machine has {cores} core(s); more than {per} processes per core only compete "
            "for them and for memory"
        ).format(cores=cores, per=WORKERS_PER_CORE),
        force,
    )


def _whole(text: str, minimum: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("expected a whole number, got {text}").format(text=repr(text))
        ) from None
    if value < minimum:
        raise argparse.ArgumentTypeError(
            _("expected {what} >= {minimum}, got {value}").format(
                what=_(what), minimum=minimum, value=value
            )
        )
    return value


def nonempty_path(text: str) -> Path:
    """Argparse type: a path, not empty (``Path("")`` would silently be the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(_("expected a path, got an empty one"))
    return Path(text)


def positive_int(text: str) -> int:
    """Argparse type: a whole number >= 1."""
    return _whole(text, 1, N_("a number"))


def nonnegative_int(text: str) -> int:
    """Argparse type: a whole number >= 0."""
    return _whole(text, 0, N_("a number"))


def seed_int(text: str) -> int:
    """Argparse type: a seed, a whole number >= 0."""
    return _whole(text, 0, N_("a seed"))


def percent(text: str) -> float:
    """Argparse type: a step in percent (``29`` or ``29%`` = +29%), in (-90, 1000]."""
    raw = text.strip().rstrip("%")
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("expected a percentage such as 29 or 29% (= +29%), got {text}").format(
                text=repr(text)
            )
        ) from None
    if not -90 < value <= 1000:
        raise argparse.ArgumentTypeError(
            _("expected a step in (-90, 1000] percent, got {text}").format(text=repr(text))
        )
    return value


def probability(text: str) -> float:
    """Argparse type: a probability in (0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("expected a probability in (0, 1], e.g. 0.8, got {text}").format(text=repr(text))
        ) from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(
            _("expected a probability in (0, 1], got {text}").format(text=repr(text))
        )
    return value


def port_number(text: str) -> int:
    """Argparse type: a TCP port, 0-65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("expected a port number, got {text}").format(text=repr(text))
        ) from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            _("expected a port in 0-65535, got {value}").format(value=value)
        )
    return value


def language(text: str) -> str:
    """Argparse type: a language, ``zh_CN`` (also ``zh``, ``zh-CN``) or ``en``."""
    found = normalize(text)
    if found is None:
        raise argparse.ArgumentTypeError(
            _(
                "expected zh_CN (also zh, zh-CN: Simplified Chinese) or en (English), got {text}"
            ).format(text=repr(text))
        )
    return found


def add_lang_option(parser: argparse.ArgumentParser) -> None:
    """``--lang``: the language of the output (it may stand before or after the sub-command).

    The value is read before parsing (:func:`requested_language`), so that help and argparse's
    own messages are in that language too; the option is registered for ``--help`` and
    validation only (``default=SUPPRESS``, so a sub-command's parser never overwrites it).
    """
    parser.add_argument(
        "--lang",
        type=language,
        default=argparse.SUPPRESS,
        metavar="LANG",
        help=_(
            "language of the output: zh_CN (Simplified Chinese) or en (English); default: "
            "LANGUAGE, LC_ALL, LC_MESSAGES or LANG, else Chinese"
        ),
    )


def requested_language(argv: Sequence[str]) -> str | None:
    """The language a command line asks for (the last ``--lang``), or None.

    Only values feesim knows count here; a bad value is reported by the parser.
    """
    found = None
    args = list(argv)
    for i, a in enumerate(args):
        if a == "--":
            break
        if a == "--lang" and i + 1 < len(args):
            found = normalize(args[i + 1]) or found
        elif a.startswith("--lang="):
            found = normalize(a.split("=", 1)[1]) or found
    return found
