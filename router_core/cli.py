"""`viberouter init|serve|backup|restore|keys|accounts|usage|models|plugins|check-config`.

Exit codes scripts can rely on: 0 success; 1 runtime failure; 2 bad usage (argparse);
3 unknown id; 4 invalid config or missing plugin.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from router_core import __version__
from router_core.cli_common import (
    EXIT_CONFIG,
    EXIT_FAIL,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    JSON_HELP,
    cli_settings,
    print_json,
    with_store,
)
from router_core.dashboard.cli import add_members_parser
from router_core.limits.base import RATE_FIELDS, Limits, RateLimits

L = TypeVar("L", bound=RateLimits)

if TYPE_CHECKING:
    from router_core.store.base import AccountStatus, StoreBackend


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _parse_time(value: str) -> float:
    """An ISO date/time (UTC unless it says otherwise) or a duration like 30d / 12h."""
    units = {"d": 86400, "h": 3600, "m": 60}
    if value[-1:] in units and value[:-1].isdigit():
        return dt.datetime.now(dt.UTC).timestamp() + int(value[:-1]) * units[value[-1]]
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


# ---------------------------------------------------------------- init


def cmd_init(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Write the packaged starter config to DIR/viberouter.toml (never over a file)."""
    from importlib.resources import files
    from pathlib import Path

    target = Path(args.dir) / "viberouter.toml"
    if target.exists() and not args.force:
        print(
            f"viberouter: {target} exists; keep it, or pass --force to replace it", file=sys.stderr
        )
        return EXIT_FAIL
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            files("router_core").joinpath("starter.toml").read_text("utf-8"), encoding="utf-8"
        )
    except OSError as exc:
        print(f"viberouter: cannot write {target}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAIL
    run = (
        "viberouter serve"
        if target == Path("config/viberouter.toml")
        else (f"viberouter --config {target} serve")
    )
    print(f"wrote {target}; start the router with: {run}")
    return EXIT_OK


# ---------------------------------------------------------------- backup, restore


def cmd_backup(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Online copy of the embedded state (SQLite backup API) to a file."""
    from router_core.backup import backup, restore
    from router_core.settings import config_path, load_state_settings

    state = load_state_settings(config_path(args.config, environ), environ)
    if state.backend != "embedded":
        print(
            "viberouter: the redis backend is backed up by Redis itself (BGSAVE, or "
            "appendonly with its files copied); see docs/deploy.md",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if args.command == "backup":
        done = backup(state.sqlite_path, args.file, force=args.force)
        print(done.summary("backed up", f"to {args.file}"))
    else:
        done = restore(args.file, state.sqlite_path, force=args.force)
        print(done.summary("restored", f"into {state.sqlite_path}"))
    return EXIT_OK


# ---------------------------------------------------------------- serve


def cmd_serve(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from router_core.serve import serve

    settings = cli_settings(args, environ)
    return serve(settings, host=args.host, port=args.port, workers=args.workers)


def cmd_check_config(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from router_core.catalog import Catalog
    from router_core.discovery import load_providers

    settings = cli_settings(args, environ)
    plugins = load_providers(settings)
    catalog = Catalog(settings, plugins)
    for warning in catalog.shadowed:
        print(f"viberouter: warning: {settings.source}: {warning}", file=sys.stderr)
    print(
        f"{settings.source}: OK ({len(plugins)} providers, {len(catalog.listed())} models, "
        f"state backend {settings.state.backend})"
    )
    return EXIT_OK


def cmd_reload(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Check the config as `check-config` does, then SIGHUP the process in server.pid_file."""
    import signal

    from router_core.catalog import Catalog
    from router_core.discovery import load_providers
    from router_core.filters import load_filters

    settings = cli_settings(args, environ)
    Catalog(settings, load_providers(settings))
    load_filters(settings.guards)
    path = settings.server.pid_file
    if not path:
        print(
            f"viberouter: {settings.source}: server.pid_file is not set, so the serving "
            "process is unknown; set it, or send SIGHUP yourself (systemctl reload viberouter)",
            file=sys.stderr,
        )
        return EXIT_FAIL
    try:
        with open(path, encoding="ascii") as f:
            pid = int(f.read().strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        print(f"viberouter: cannot signal the router named in {path}: {exc}", file=sys.stderr)
        return EXIT_FAIL
    print(f"{settings.source}: OK; sent SIGHUP to process {pid}, which reloads it now")
    return EXIT_OK


def cmd_plugins(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from router_core.discovery import report
    from router_core.settings import config_path

    # Without a config file (none named, no default here) "used" is unknown, not an error.
    known = os.path.exists(config_path(args.config, environ)) or args.config is not None
    found = report(cli_settings(args, environ) if known else None)
    if args.json:
        print_json(found)
        return EXIT_OK
    if not any(p.kind == "provider" for p in found):
        print("no provider plugins installed (pip install viberouter-echo)")
    for p in found:
        use = {True: "used", False: "unused", None: ""}[p.used]
        status = "ok" if p.error is None else f"BROKEN: {p.error}"
        print(f"{p.kind:<8} {p.name:<12} {p.distribution} {p.version}  {use:<6} {status}")
    return EXIT_OK


def cmd_models(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    from router_core.catalog import Catalog
    from router_core.discovery import load_providers

    settings = cli_settings(args, environ)
    catalog = Catalog(settings, load_providers(settings))
    cards = [r.card for r in catalog.listed()]
    if args.json:
        print_json(cards)
        return EXIT_OK
    for c in cards:
        caps = ",".join(
            k for k in ("tools", "vision", "json_mode", "embeddings") if getattr(c.capabilities, k)
        )
        print(
            f"{c.id:<40} ctx={c.context_length:<8} out={c.max_output_tokens:<7} "
            f"${c.pricing.prompt_per_mtok}/{c.pricing.completion_per_mtok} per Mtok "
            f"({c.pricing.source})  {caps}"
        )
    return EXIT_OK


# ---------------------------------------------------------------- accounts, keys, usage


async def _accounts(store: StoreBackend, args: argparse.Namespace) -> int:
    from router_core.accounts import AccountService
    from router_core.public_records import account_view

    svc = AccountService(store)
    if args.action == "create":
        account = await svc.create_account(args.name, _limits_from(args, Limits))
        if args.json:
            print_json(account_view(account))
        else:
            print(f"created account {account.id} ({account.name})")
        return EXIT_OK
    if args.action == "list":
        accounts = await store.list_accounts()
        if args.json:
            print_json([account_view(a) for a in accounts])
        else:
            for a in accounts:
                print(f"{a.id}  {a.status:<8}  {a.name}")
            print(f"{len(accounts)} accounts")
        return EXIT_OK
    account = await svc.find_account(args.id)
    if args.action == "show":
        print_json(account_view(account))
        return EXIT_OK
    status: AccountStatus = "inactive" if args.action == "disable" else "active"
    account = await svc.set_status(account.id, status)
    if args.json:
        print_json(account_view(account))
    else:
        print(f"account {account.id} is now {account.status}")
    return EXIT_OK


async def _keys(store: StoreBackend, args: argparse.Namespace) -> int:
    import time

    from router_core.accounts import AccountService
    from router_core.public_records import NewKeyView, key_view

    svc = AccountService(store)
    now = time.time()
    if args.action == "create":
        account = await svc.find_account(args.account)
        key, secret = await svc.create_key(
            account.id,
            args.name,
            expires_at=_parse_time(args.expires) if args.expires else None,
            limits=_limits_from(args, RateLimits),
            allowed_models=args.model or (),
            error_format=args.error_format,
        )
    elif args.action == "rotate":
        key, secret = await svc.rotate_key(args.id)
    elif args.action == "revoke":
        key = await svc.revoke_key(args.id)
        if args.json:
            print_json(key_view(key, now))
        else:
            print(f"revoked key {key.id} ({key.prefix})")
        return EXIT_OK
    else:
        ref = args.account or args.account_opt
        keys = await store.list_keys((await svc.find_account(ref)).id if ref else None)
        if args.json:
            print_json([key_view(k, now) for k in keys])
        else:
            for k in keys:
                v = key_view(k, now)
                print(
                    f"{k.id}  {k.prefix:<12}  {v.status:<8} account={k.account_id} "
                    f"name={k.name!r} last_used={_when(k.last_used_at)} "
                    f"expires={_when(k.expires_at)}"
                )
            print(f"{len(keys)} keys")
        return EXIT_OK
    if args.json:
        print_json(NewKeyView(key=key_view(key, now), secret=secret))
    else:
        print(f"key {key.id} for account {key.account_id}")
        print(f"secret (shown once, store it now): {secret}")
    return EXIT_OK


async def _usage(store: StoreBackend, args: argparse.Namespace) -> int:
    from router_core.accounts import AccountService
    from router_core.public_records import usage_view

    account_id = None
    if args.account:
        account_id = (await AccountService(store).find_account(args.account)).id
    rows = await store.query_usage(account_id=account_id, key_id=args.key, since_day=args.since)
    if args.json:
        print_json([usage_view(r) for r in rows])
        return EXIT_OK
    print(
        f"{'day':<10}  {'account':<21} {'key':<20} {'model':<28} {'req':>6} "
        f"{'prompt':>9} {'compl':>9} {'cost $':>10}"
    )
    for r in rows:
        print(
            f"{r.day:<10}  {r.account_id:<21} {r.key_id:<20} {r.model:<28} {r.requests:>6} "
            f"{r.prompt_tokens:>9} {r.completion_tokens:>9} {r.cost_usd:>10.6f}"
        )
    print(
        f"{len(rows)} rows, {sum(r.requests for r in rows)} requests, "
        f"{sum(r.prompt_tokens + r.completion_tokens for r in rows)} tokens, "
        f"${sum(r.cost_usd for r in rows):.6f}"
    )
    return EXIT_OK


# ---------------------------------------------------------------- parser


def _limits_from(args: argparse.Namespace, typ: type[L]) -> L:
    """The Limits (or RateLimits) the command line gave; the dests are the field names."""
    return typ(**{name: getattr(args, name) for name in typ.__struct_fields__})


ACCOUNT_HELP = "account id or name"


def _limit_args(p: argparse.ArgumentParser) -> None:
    for name in RATE_FIELDS:
        p.add_argument(
            f"--{name}", type=int, default=None, help=f"{name} limit (unset = none, 0 = block)"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="viberouter", description="VibeRouter LLM gateway")
    parser.add_argument("--version", action="version", version=f"viberouter {__version__}")
    parser.add_argument(
        "--config", help="config file (default: $VIBEROUTER_CONFIG or config/viberouter.toml)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    _operator_commands(sub)
    _account_commands(sub)
    _key_commands(sub)
    p = sub.add_parser("usage", help="usage per day, key and model")
    p.add_argument("--account", help="only this account: " + ACCOUNT_HELP)
    p.add_argument("--key", help="only this key id")
    p.add_argument("--since", help="YYYY-MM-DD (UTC)")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(fn=with_store(_usage))

    add_members_parser(sub)
    return parser


def _operator_commands(sub: Any) -> None:
    """init, backup, restore, serve, check-config, reload, plugins, models."""
    p = sub.add_parser("init", help="write a commented starter config (offline, echo provider)")
    p.add_argument(
        "dir", nargs="?", default="config", help="folder for viberouter.toml (default: config)"
    )
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.set_defaults(fn=cmd_init)

    p = sub.add_parser("backup", help="copy the embedded state to FILE (safe while serving)")
    p.add_argument("file", help="the backup file to write")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(fn=cmd_backup)
    p = sub.add_parser("restore", help="replace the embedded state with a backup (stop first)")
    p.add_argument("file", help="a file written by `viberouter backup`")
    p.add_argument(
        "--force", action="store_true", help="replace the existing state (required if any)"
    )
    p.set_defaults(fn=cmd_backup)

    p = sub.add_parser("serve", help="run the router")
    p.add_argument("--host", help="address to listen on (default: server.host)")
    p.add_argument("--port", type=int, help="port to listen on (default: server.port)")
    p.add_argument(
        "--workers", type=int, default=1, help="processes on one port (needs the redis backend)"
    )
    p.set_defaults(fn=cmd_serve)

    sub.add_parser("check-config", help="validate the config file").set_defaults(
        fn=cmd_check_config
    )
    sub.add_parser(
        "reload", help="check the config, then make the running router re-read it (SIGHUP)"
    ).set_defaults(fn=cmd_reload)
    p = sub.add_parser(
        "plugins", help="list installed plugins, checked, and whether the config uses them"
    )
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(fn=cmd_plugins)
    p = sub.add_parser("models", help="list the models the config publishes")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(fn=cmd_models)


def _account_commands(sub: Any) -> None:
    """accounts create|list|show|disable|enable."""
    acc = sub.add_parser("accounts", help="manage accounts").add_subparsers(
        dest="action", required=True
    )
    p = acc.add_parser("create", help="create an account")
    p.add_argument("name", help="account name (shown in listings; need not be unique)")
    _limit_args(p)
    p.add_argument("--quota-tokens", type=int, help="tokens per quota period (unset = none)")
    p.add_argument("--quota-cost", dest="quota_cost_usd", type=float, help="US dollars per period")
    p.add_argument("--quota-period", choices=["month", "day"], default="month", help="quota period")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p = acc.add_parser("list", help="list accounts")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    for action, what in (
        ("show", "show an account"),
        ("disable", "refuse the account's keys (401 account_not_active)"),
        ("enable", "accept the account's keys again"),
    ):
        p = acc.add_parser(action, help=what)
        p.add_argument("id", metavar="ACCOUNT", help=ACCOUNT_HELP)
        p.add_argument("--json", action="store_true", help=JSON_HELP)


def _key_commands(sub: Any) -> None:
    """keys create|list|revoke|rotate."""
    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(
        dest="action", required=True
    )
    p = keys.add_parser("create", help="create a key; its secret is printed once")
    p.add_argument("account", help=ACCOUNT_HELP)
    p.add_argument("--name", default="", help="a label for the key")
    p.add_argument("--expires", help="ISO time or duration (30d, 12h)")
    p.add_argument("--model", action="append", help="allowed model glob (repeatable; default all)")
    p.add_argument(
        "--error-format",
        choices=["viberouter", "openai"],
        help="error bodies for this key (default: server.error_format)",
    )
    _limit_args(p)
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p = keys.add_parser("list", help="list keys (never their secrets)")
    p.add_argument("account", nargs="?", help="only this account's keys: " + ACCOUNT_HELP)
    p.add_argument("--account", dest="account_opt", help="the same, as an option")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    for action, what in (
        ("revoke", "revoke a key for good"),
        ("rotate", "replace a key's secret (printed once); the old one stops working"),
    ):
        p = keys.add_parser(action, help=what)
        p.add_argument("id", metavar="KEY", help="key id (key_...)")
        p.add_argument("--json", action="store_true", help=JSON_HELP)


#: Errors main() turns into an exit code, by (module, class): looked up only in modules
#: already imported (an exception of a module never imported cannot have been raised),
#: so ``--version`` or ``accounts list`` do not import the server, catalog and plugins.
_EXIT_CODES: tuple[tuple[str, str, int], ...] = (
    ("router_core.settings", "ConfigError", EXIT_CONFIG),  # FilterError is one too
    ("router_core.discovery", "PluginError", EXIT_CONFIG),
    ("router_core.catalog", "CatalogError", EXIT_CONFIG),
    ("router_core.store.base", "NotFound", EXIT_NOT_FOUND),
    ("builtins", "ValueError", EXIT_USAGE),
    ("router_core.http_server", "StartupError", EXIT_FAIL),
    ("router_core.backup", "BackupError", EXIT_FAIL),
    ("router_core.cli_common", "StateUnavailable", EXIT_FAIL),
)


def _exit_code(exc: Exception) -> int | None:
    """The exit code for ``exc`` after printing it, None when main() does not handle it."""
    for module_name, class_name, code in _EXIT_CODES:
        module = sys.modules.get(module_name)
        if module is None or not isinstance(exc, getattr(module, class_name)):
            continue
        if code == EXIT_CONFIG:
            for line in str(exc).splitlines():  # one problem a line, all of them
                print(f"viberouter: {line}", file=sys.stderr)
        elif code == EXIT_NOT_FOUND:
            print(f"viberouter: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        else:
            print(f"viberouter: {exc}", file=sys.stderr)
        return code
    return None


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    as_process = argv is None
    args = build_parser().parse_args(argv)
    if as_process and args.command != "serve":
        # Warnings (a plugin that fails to import ...) go to stderr, so stdout stays the
        # command's output (--json); `serve` configures its own logging. Only for a real
        # process: logging is process-wide, and callers in-process own theirs.
        from router_core.logs import configure_logging

        configure_logging("auto", "warning")
    fn = getattr(args, "fn", None)
    if fn is None:
        fn = with_store(_accounts if args.command == "accounts" else _keys)
    try:
        code: int = fn(args, environ)
        return code
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:
        handled = _exit_code(exc)
        if handled is None:
            raise
        return handled


if __name__ == "__main__":
    sys.exit(main())
