"""What every CLI command module shares: exit codes, JSON output, the config file, and an
opened store for the length of one command.

``cli.py`` (the ``viberouter`` entry point) and ``dashboard/cli.py`` (``members``) both
build on this module and never on each other's internals. Heavy imports stay inside the
functions so ``viberouter --version`` starts fast.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from router_core.settings import Settings
    from router_core.store.base import StoreBackend

#: Exit codes scripts can rely on (documented in cli.py).
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONFIG = 0, 1, 2, 3, 4
#: The help of every command's ``--json`` flag.
JSON_HELP = "print JSON instead of text"

_encoder = msgspec.json.Encoder()

#: A command that needs the store: gets it opened, returns the exit code.
StoreCommand = Callable[["StoreBackend", argparse.Namespace], Awaitable[int]]
#: What argparse's ``fn`` default holds: (args, environ) -> exit code.
Command = Callable[[argparse.Namespace, Mapping[str, str]], int]


def print_json(obj: Any) -> None:
    """``obj`` as indented JSON on stdout (the ``--json`` output of every command)."""
    sys.stdout.write(msgspec.json.format(_encoder.encode(obj), indent=2).decode() + "\n")


def cli_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """The config file named by ``--config`` or ``$VIBEROUTER_CONFIG`` (else the default)."""
    from router_core.settings import config_path, load_settings

    return load_settings(config_path(args.config, environ), environ)


class StateUnavailable(Exception):
    """The configured state backend cannot be opened (Redis down, SQLite file unwritable)."""


def with_store(fn: StoreCommand) -> Command:
    """``fn`` run on the configured store, opened before and closed after. Only the
    config's ``[state]`` section is read (see settings.load_state_settings)."""

    def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
        from router_core.settings import config_path, load_state_settings
        from router_core.store.factory import open_store

        state = load_state_settings(config_path(args.config, environ), environ)
        where = state.redis_url if state.backend == "redis" else state.sqlite_path

        async def main() -> int:
            try:
                store = await open_store(
                    state.backend,
                    sqlite_path=state.sqlite_path,
                    redis_url=state.redis_url,
                    state=state,
                )
            except Exception as exc:  # driver errors differ by backend; all mean "unreachable"
                raise StateUnavailable(
                    f"cannot open the {state.backend} state at {_safe(where)}: {exc}"
                ) from exc
            try:
                return await fn(store, args)
            except Exception as exc:
                if not _backend_failure(exc):
                    raise
                raise StateUnavailable(
                    f"the {state.backend} state at {_safe(where)} failed: {exc}"
                ) from exc
            finally:
                await store.close()

        return asyncio.run(main())

    return run


def _backend_failure(exc: Exception) -> bool:
    """A connection or I/O failure of the state backend (not a bug in the command)."""
    import sqlite3

    from router_core.store.base import StoreUnavailable

    return isinstance(exc, OSError | sqlite3.OperationalError | StoreUnavailable) or type(
        exc
    ).__module__.startswith("redis.")


def _safe(url: str) -> str:
    """A Redis URL without its password (it may be on the command line's screen)."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        return f"{scheme}://***@{rest.rpartition('@')[2]}"
    return url
