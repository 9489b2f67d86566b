"""VibeRouter's offline echo provider (entry point ``echo`` in ``viberouter.providers``)."""

from viberouter_echo.provider import EchoProvider
from viberouter_echo.settings import EchoSettings

__all__ = ["EchoProvider", "EchoSettings"]
