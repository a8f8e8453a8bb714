"""The exception hierarchy of feesim.

Every error feesim raises on purpose derives from :class:`FeesimError`, so callers can catch
the package's own failures without catching programming errors.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "FeesimError",
    "InputFileError",
    "LedgerError",
    "LimitError",
    "OutputError",
    "SimulationError",
]


class FeesimError(Exception):
    """Base class of every error raised deliberately by feesim."""


class ConfigError(FeesimError, ValueError):
    """A scenario, community file or option is malformed.

    The message names the field (as a dotted path such as ``firm.target_margin``), the value
    that was given and what is allowed. Raised by :func:`feesim.config.params.fail` (a field's
    type or bounds, and the scenario's cross-field rules), it also keeps the three as ``key``,
    ``value`` and ``expected`` (else they are None), so that a caller can say it again under
    the key its user wrote.
    """

    key: str | None = None
    value: object = None
    expected: str | None = None

    def with_message(self, message: str) -> ConfigError:
        """The same error saying ``message``: its key, value and expectation are kept.

        For a caller that puts the file's name in front or says the rule in a sentence of its
        own, so that the fields stay readable after it.

        Parameters
        ----------
        message : str
            The whole message, already in the language in force.

        Returns
        -------
        ConfigError
            A plain one, as such callers always raised (not a subclass such as
            :class:`InputFileError`), with this error's ``key``, ``value`` and ``expected``.
        """
        out = ConfigError(message)
        out.key, out.value, out.expected = self.key, self.value, self.expected
        return out


class InputFileError(ConfigError):
    """A file cannot be read: missing, a folder, not UTF-8 text, empty or not parseable.

    The message names the file and says what to do (e.g. save it as UTF-8).
    """


class LimitError(ConfigError):
    """A size (runs, replicates, workers) beyond what this machine can sensibly do.

    The message names the option, the value, the limit and why; the command line's ``--force``
    lifts the limit where a user may really mean it.
    """


class OutputError(FeesimError, OSError):
    """An output path cannot be written: an existing file, a path under a file, no permission.

    Raised before any simulation starts when the path is checked up front.
    """


class SimulationError(FeesimError, RuntimeError):
    """The simulation reached a state its rules do not allow."""


class LedgerError(SimulationError):
    """Money was created or lost: a ledger identity failed."""
