"""What was loaded at start-up, for /readyz and `viberouter plugins`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class InstalledInfo:
    providers: dict[str, str] = field(default_factory=dict)  # provider name -> "dist version"
