"""Test setup: the fake upstream beside the tests (``fake_reverse``) is importable by
name; everything else comes from ``router_core.plugin_testing``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).parent
# --import-mode=importlib does not put test folders on sys.path; the fake lives here.
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))


@pytest.fixture
def data() -> Path:
    """The fixture folder: recorded (here: composed) upstream bytes and expectations."""
    return _HERE / "data"
