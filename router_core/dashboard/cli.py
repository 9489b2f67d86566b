"""`viberouter members add|list|passwd|remove`: who may sign in to the dashboard.

Passwords are prompted for twice (never echoed), read from stdin with
``--password-stdin``, or generated with ``--generate`` and printed once.
Exit codes as the rest of the CLI: 0 ok, 2 bad usage, 3 unknown account or member.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING, Any

import msgspec

from router_core.cli_common import EXIT_OK, JSON_HELP, print_json, with_store

if TYPE_CHECKING:
    from router_core.store.base import StoreBackend


class MemberView(msgspec.Struct, kw_only=True):
    """A member as listings show it: never the password hash."""

    id: str
    account_id: str
    email: str
    created_at: float
    last_login_at: float | None


class NewMemberView(msgspec.Struct, kw_only=True):
    member: MemberView
    #: Only when generated: shown once.
    password: str | None = None


def _view(member: Any) -> MemberView:
    return MemberView(
        id=member.id,
        account_id=member.account_id,
        email=member.email,
        created_at=member.created_at,
        last_login_at=member.last_login_at,
    )


def read_password(args: argparse.Namespace) -> tuple[str, bool]:
    """The new password and whether it was generated; ValueError on a mismatch."""
    from router_core.dashboard.passwords import generate_password

    if args.generate:
        return generate_password(), True
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    if not sys.stdin.isatty():
        raise ValueError(
            "no terminal to ask for the password: pipe it in with --password-stdin, "
            "or pass --generate"
        )
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise ValueError("the passwords do not match")
    return first, False


async def members_command(store: StoreBackend, args: argparse.Namespace) -> int:
    """Run one ``members`` action against ``store``."""
    from router_core.accounts import AccountService
    from router_core.dashboard.members import MemberService

    members = MemberService(store, store)
    accounts = AccountService(store)
    if args.action == "list":
        account_id = (await accounts.find_account(args.account)).id if args.account else None
        found = await members.store.list_members(account_id)
        if args.json:
            print_json([_view(m) for m in found])
        else:
            for m in found:
                print(f"{m.id}  {m.account_id}  {m.email}")
            print(f"{len(found)} members")
        return EXIT_OK
    if args.action == "remove":
        member = await members.remove(args.member)
        if args.json:
            print_json(_view(member))
        else:
            print(f"removed member {member.id} ({member.email}); their sessions have ended")
        return EXIT_OK
    password, generated = read_password(args)
    if args.action == "add":
        account = await accounts.find_account(args.account)
        member = await members.add(account.id, args.email, password)
        verb = "added member"
    else:
        member = await members.set_password(args.member, password)
        verb = "new password for member"
    if args.json:
        print_json(NewMemberView(member=_view(member), password=password if generated else None))
        return EXIT_OK
    ended = "" if args.action == "add" else "; their sessions have ended"
    print(f"{verb} {member.id} ({member.email}) of account {member.account_id}{ended}")
    if generated:
        print(f"password (shown once, hand it over now): {password}")
    return EXIT_OK


def _password_args(p: argparse.ArgumentParser) -> None:
    how = p.add_mutually_exclusive_group()
    how.add_argument("--generate", action="store_true", help="generate and print a password")
    how.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line"
    )
    p.add_argument("--json", action="store_true", help=JSON_HELP)


def add_members_parser(subparsers: Any) -> None:
    """Add ``members`` to the CLI's subparsers (call from build_parser)."""
    run = with_store(members_command)
    members = subparsers.add_parser(
        "members", help="manage who signs in to the account dashboard"
    ).add_subparsers(dest="action", required=True)
    p = members.add_parser("add", help="add a member to an account")
    p.add_argument("account", help="account id or name")
    p.add_argument("email", help="the member's sign-in email")
    _password_args(p)
    p.set_defaults(fn=run)
    p = members.add_parser("list", help="list members")
    p.add_argument("--account", help="only this account's (id or name)")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(fn=run)
    p = members.add_parser("passwd", help="set a member's password and end their sessions")
    p.add_argument("member", help="member id or email")
    _password_args(p)
    p.set_defaults(fn=run)
    p = members.add_parser("remove", help="remove a member and end their sessions")
    p.add_argument("member", help="member id or email")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(fn=run)
