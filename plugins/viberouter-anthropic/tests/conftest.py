"""Shared fixtures for the Anthropic plugin tests.

The helper module beside this file (``fake_anthropic``)
is imported by name, so this directory goes on ``sys.path`` (pytest runs with
``--import-mode=importlib``, which does not add it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture
def anthropic_data() -> Path:
    """The directory of recorded-shape fixtures."""
    return HERE / "data"
