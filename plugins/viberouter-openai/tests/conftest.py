"""Test setup for the OpenAI plugin: its helper module ``fake_openai`` is importable by
name, also by the core's end-to-end tests once this folder is on the path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).parent
# --import-mode=importlib does not put test folders on sys.path; the helpers live here.
if str(_HERE) not in sys.path:
    sys.path.insert(0, str(_HERE))


@pytest.fixture
def openai_data() -> Path:
    """This plugin's fixture folder."""
    return _HERE / "data"
