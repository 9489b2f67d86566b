"""Dashboard members: add, list, remove, change passwords, check a sign-in."""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace

from router_core.dashboard.passwords import (
    check_policy,
    hash_password_async,
    verify_password_async,
)
from router_core.store.base import DashboardStore, Member, NotFound, Store, new_id

MAX_EMAIL_LENGTH = 254


def normalize_email(email: str) -> str:
    """Lower-cased, trimmed email; ValueError for something that is not one."""
    cleaned = email.strip().lower()
    local, at, domain = cleaned.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or len(cleaned) > MAX_EMAIL_LENGTH
        or any(c.isspace() for c in cleaned)
    ):
        raise ValueError(f"{email!r} is not an email address")
    return cleaned


class MemberService:
    """Members of accounts and their passwords, on top of the DashboardStore (``accounts``
    only answers whether an account exists, before a password is hashed for it)."""

    def __init__(self, store: DashboardStore, accounts: Store) -> None:
        self.store = store
        self._accounts = accounts

    async def add(self, account_id: str, email: str, password: str) -> Member:
        """A new member; NotFound for an unknown account, ValueError for a bad or
        taken email or a password the policy refuses."""
        address = normalize_email(email)
        check_policy(password)
        if await self._accounts.get_account(account_id) is None:
            raise NotFound(f"no account {account_id!r}")
        member = Member(
            id=new_id("mem"),
            account_id=account_id,
            email=address,
            password_hash=await hash_password_async(password),
            created_at=time.time(),
        )
        return await self.store.create_member(member)

    async def find(self, id_or_email: str) -> Member:
        """The member with this id or email; raises NotFound."""
        member = await self.store.get_member(id_or_email)
        if member is None and "@" in id_or_email:
            try:
                member = await self.store.get_member_by_email(normalize_email(id_or_email))
            except ValueError:
                member = None
        if member is None:
            raise NotFound(f"no member {id_or_email!r}")
        return member

    async def set_password(self, id_or_email: str, password: str) -> Member:
        """Replace a member's password and end every session of theirs: whoever held
        the old password (or a cookie won with it) must sign in again."""
        check_policy(password)
        member = await self.find(id_or_email)
        hashed = await hash_password_async(password)
        updated = await self.store.update_member(replace(member, password_hash=hashed))
        # After the update, so a sign-in racing it either has its session ended here
        # or sees the new hash in ``signed_in`` and ends the session itself.
        await self.store.delete_member_sessions(member.id)
        return updated

    async def remove(self, id_or_email: str) -> Member:
        """Delete a member and end their sessions."""
        member = await self.find(id_or_email)
        await self.store.delete_member(member.id)
        return member

    async def check(self, email: str, password: str) -> Member | None:
        """The member if the email and password match, else None (constant effort
        either way: an unknown email is checked against a decoy hash)."""
        try:
            member = await self.store.get_member_by_email(normalize_email(email))
        except ValueError:
            member = None
        stored = member.password_hash if member is not None else None
        ok = await verify_password_async(password, stored)
        if not ok or member is None:
            return None
        return member

    async def signed_in(self, member: Member, now: float) -> bool:
        """Record a successful sign-in time; False if the password changed (or the member
        went) since ``member`` was read: the session just started must not stand."""
        # Re-read: ``member`` was read before the slow password check, and writing it
        # back whole would undo a password change made in the meantime.
        fresh = await self.store.get_member(member.id)
        if fresh is None or fresh.password_hash != member.password_hash:
            return False
        with contextlib.suppress(NotFound):
            await self.store.update_member(replace(fresh, last_login_at=now))
        return True
