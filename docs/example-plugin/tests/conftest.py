"""Test setup: the helper modules beside the tests (``reverse_helpers``,
``fake_reverse``) are importable by name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).parent
# --import-mode=importlib does not put test folders on sys.path; the helpers live here.
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))


@pytest.fixture
def data() -> Path:
    """The fixture folder: recorded (here: composed) upstream bytes and expectations."""
    return _HERE / "data"
