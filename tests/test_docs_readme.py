"""The README's quickstart runs as printed: the default config, offline, the demo key
it prints, and the Python snippet through the official SDK."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from tests.router_process import start_router_process

ROOT = Path(__file__).resolve().parent.parent


def test_quickstart_snippet_runs_against_the_default_config(tmp_path: Path) -> None:
    # A copy, so the state file it names (taken from the config's folder) is this test's.
    config = tmp_path / "viberouter.toml"
    config.write_text((ROOT / "config" / "viberouter.toml").read_text())
    router = start_router_process(config, tmp_path)
    try:
        key = router.demo_key()
        readme = (ROOT / "README.md").read_text()
        match = re.search(r"```python\n(.*?)```", readme, re.S)
        assert match is not None, "the README lost its Python quickstart"
        code = match.group(1)
        assert '"vr-…"' in code and "http://127.0.0.1:8080/v1" in code
        code = code.replace('"vr-…"', repr(key)).replace(
            "http://127.0.0.1:8080/v1", router.base_url
        )
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {})
        assert out.getvalue() == "Hello!\nstream me\n"
    finally:
        router.stop()
    assert "make serve" in readme and "make test" in readme
