"""Example VibeRouter provider plugin for the (made-up) Reverse API.

Registered as ``reverse`` in the ``viberouter.providers`` entry point group.
"""

from viberouter_reverse.provider import ReverseProvider
from viberouter_reverse.settings import ReverseExtras, ReverseSettings

__all__ = ["ReverseExtras", "ReverseProvider", "ReverseSettings"]
