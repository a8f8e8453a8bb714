"""The exception hierarchy of feesim.

Every error feesim raises on purpose derives from :class:`FeesimError`, so callers can catch
the package's own failures without catching programming errors.
"""

from __future__ import annotations

__all__ = ["ConfigError", "FeesimError", "LedgerError", "SimulationError"]


class FeesimError(Exception):
    """Base class of every error raised deliberately by feesim."""


class ConfigError(FeesimError, ValueError):
    """A scenario, community file or option is malformed.

    The message names the field (as a dotted path such as ``firm.target_margin``), the value
    that was given and what is allowed.
    """


class SimulationError(FeesimError, RuntimeError):
    """The simulation reached a state its rules do not allow."""


class LedgerError(SimulationError):
    """Money was created or lost: a ledger identity failed."""
