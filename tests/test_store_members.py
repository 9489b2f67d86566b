"""Dashboard members, sessions and sign-in failure counts: one contract, both Store backends."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from router_core.store.base import (
    Account,
    DashboardSession,
    Member,
    NotFound,
    Store,
    new_id,
)
from router_core.store.factory import open_store


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, str]:
    """(state backend, sqlite path, redis url) for one store."""
    if request.param == "sqlite":
        return "embedded", str(tmp_path / "s.db"), ""
    return "redis", "", request.getfixturevalue("redis_url")


@pytest.fixture
async def store(backend: tuple[str, str, str]) -> AsyncIterator[Store]:
    kind, path, url = backend
    opened = await open_store(kind, sqlite_path=path, redis_url=url)
    yield opened
    await opened.close()


async def account(store: Store, name: str = "team") -> Account:
    return await store.create_account(
        Account(id=new_id("acct"), name=name, status="active", created_at=1.7e9)
    )


def member(account_id: str, email: str, created_at: float = 1.7e9) -> Member:
    return Member(
        id=new_id("mem"),
        account_id=account_id,
        email=email,
        password_hash="scrypt$15$8$1$c2FsdA$aGFzaA",
        created_at=created_at,
    )


def session(m: Member, id_hash: str, expires_at: float) -> DashboardSession:
    return DashboardSession(
        id_hash=id_hash,
        member_id=m.id,
        account_id=m.account_id,
        csrf_token="csrf-" + id_hash,
        created_at=1000.0,
        expires_at=expires_at,
    )


async def test_member_create_get_list(store: Store) -> None:
    a, b = await account(store, "a"), await account(store, "b")
    ann = await store.create_member(member(a.id, "ann@example.com"))
    bob = await store.create_member(member(a.id, "bob@example.com", created_at=1.8e9))
    cy = await store.create_member(member(b.id, "cy@example.com"))
    assert await store.get_member(ann.id) == ann
    assert await store.get_member_by_email("bob@example.com") == bob
    assert await store.get_member_by_email("nobody@example.com") is None
    assert await store.get_member("mem_missing") is None
    assert await store.list_members(a.id) == [ann, bob]
    assert await store.list_members(b.id) == [cy]
    assert {m.id for m in await store.list_members()} == {ann.id, bob.id, cy.id}


async def test_member_email_is_unique_and_account_must_exist(store: Store) -> None:
    a = await account(store)
    await store.create_member(member(a.id, "ann@example.com"))
    with pytest.raises(ValueError):
        await store.create_member(member(a.id, "ann@example.com"))
    with pytest.raises(NotFound):
        await store.create_member(member("acct_missing", "zed@example.com"))
    assert [m.email for m in await store.list_members()] == ["ann@example.com"]


async def test_member_update_changes_email_index(store: Store) -> None:
    a = await account(store)
    ann = await store.create_member(member(a.id, "ann@example.com"))
    await store.create_member(member(a.id, "bob@example.com"))
    renamed = dataclasses.replace(ann, email="anne@example.com", last_login_at=1.75e9)
    await store.update_member(renamed)
    assert await store.get_member_by_email("ann@example.com") is None
    assert await store.get_member_by_email("anne@example.com") == renamed
    with pytest.raises(ValueError):
        await store.update_member(dataclasses.replace(renamed, email="bob@example.com"))
    with pytest.raises(NotFound):
        await store.update_member(member(a.id, "ghost@example.com"))


async def test_delete_member_ends_their_sessions(store: Store) -> None:
    a = await account(store)
    ann = await store.create_member(member(a.id, "ann@example.com"))
    bob = await store.create_member(member(a.id, "bob@example.com"))
    await store.create_session(session(ann, "h1", expires_at=9.9e9))
    await store.create_session(session(ann, "h2", expires_at=9.9e9))
    await store.create_session(session(bob, "h3", expires_at=9.9e9))
    await store.delete_member(ann.id)
    assert await store.get_member(ann.id) is None
    assert await store.get_member_by_email("ann@example.com") is None
    assert await store.get_session("h1", 2000.0) is None
    assert await store.get_session("h2", 2000.0) is None
    assert await store.get_session("h3", 2000.0) == session(bob, "h3", 9.9e9)
    assert await store.list_members(a.id) == [bob]
    with pytest.raises(NotFound):
        await store.delete_member(ann.id)
    # The email is free again.
    await store.create_member(member(a.id, "ann@example.com"))


async def test_session_lifecycle(store: Store) -> None:
    a = await account(store)
    ann = await store.create_member(member(a.id, "ann@example.com"))
    live = session(ann, "live", expires_at=9.9e9)  # far future: Redis expiry is wall time
    await store.create_session(live)
    assert await store.get_session("live", 2000.0) == live
    assert await store.get_session("live", 9.9e9) is None  # expired at that moment
    assert await store.get_session("unknown", 2000.0) is None
    await store.delete_session("live")
    assert await store.get_session("live", 2000.0) is None
    await store.delete_session("live")  # twice is fine


async def test_login_failures_count_clear_and_forget(store: Store) -> None:
    assert await store.login_failures("ann|1.2.3.4") == (0, 0.0)
    assert await store.add_login_failure("ann|1.2.3.4", 1000.0, 3600.0) == 1
    assert await store.add_login_failure("ann|1.2.3.4", 1001.5, 3600.0) == 2
    assert await store.add_login_failure("ann|5.6.7.8", 1002.0, 3600.0) == 1
    assert await store.login_failures("ann|1.2.3.4") == (2, 1001.5)
    await store.clear_login_failures("ann|1.2.3.4")
    assert await store.login_failures("ann|1.2.3.4") == (0, 0.0)
    assert await store.login_failures("ann|5.6.7.8") == (1, 1002.0)


async def test_delete_member_sessions_ends_only_theirs(store: Store) -> None:
    a = await account(store)
    ann = await store.create_member(member(a.id, "ann@example.com"))
    bob = await store.create_member(member(a.id, "bob@example.com"))
    for h in ("h1", "h2"):
        await store.create_session(session(ann, h, expires_at=9.9e9))
    await store.create_session(session(bob, "h3", expires_at=9.9e9))
    assert await store.delete_member_sessions(ann.id) == 2
    assert await store.get_session("h1", 2000.0) is None
    assert await store.get_session("h2", 2000.0) is None
    assert await store.get_session("h3", 2000.0) == session(bob, "h3", 9.9e9)
    assert await store.get_member(ann.id) == ann  # the member stays
    assert await store.delete_member_sessions(ann.id) == 0  # twice is fine
    await store.create_session(session(ann, "h4", expires_at=9.9e9))  # signs in again
    assert await store.get_session("h4", 2000.0) is not None
