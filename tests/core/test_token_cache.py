"""CachedTokenAuth with a TokenFile: one token for every client (process) of a deployment, renewed
once after a 401, validated at most once per interval; the file is private."""

from __future__ import annotations

import itertools
import json
import stat
from collections.abc import Mapping
from types import SimpleNamespace

from etl_tasks.core.token_cache import CachedToken, CachedTokenAuth, TokenFile


class Issuer:
    """Counts tokens handed out and validations; knows which tokens are still valid."""

    def __init__(self) -> None:
        self.numbers = itertools.count(1)
        self.valid: set[str] = set()
        self.validated: list[str] = []

    def issue(self) -> str:
        token = f"tok{next(self.numbers)}"
        self.valid.add(token)
        return token


class Auth(CachedTokenAuth):
    def __init__(self, issuer: Issuer, shared: TokenFile, wall, every: float | None = 3600):
        super().__init__("secret", lambda: wall(), shared=shared, validate_every_s=every,
                         wall=wall)
        self.issuer = issuer

    def fetch(self) -> tuple[str, float]:
        return self.issuer.issue(), 86400.0

    def needs_refresh(self, token: CachedToken, now: float) -> bool:
        return token.seconds_left(now) < 8640

    def headers(self) -> Mapping[str, str]:
        return {"Authorization": self.token()}

    def sent_token(self, response) -> str:
        return response.sent

    def validate(self, token: str) -> bool:
        self.issuer.validated.append(token)
        return token in self.issuer.valid


class Wall:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_clients_sharing_a_file_use_one_token(tmp_path):
    issuer, wall = Issuer(), Wall()
    shared = TokenFile(tmp_path / "tokens", "client@host", "twitch")
    first, second = Auth(issuer, shared, wall), Auth(issuer, shared, wall)

    assert first.token() == second.token() == "tok1"
    assert first.tokens_fetched + second.tokens_fetched == 1
    assert stat.S_IMODE(shared.path.stat().st_mode) == 0o600
    assert json.loads(shared.path.read_text())["token"] == "tok1"


def test_a_401_renews_once_for_everybody(tmp_path):
    issuer, wall = Issuer(), Wall()
    shared = TokenFile(tmp_path, "client@host")
    first, second = Auth(issuer, shared, wall), Auth(issuer, shared, wall)
    first.token(), second.token()
    issuer.valid.clear()  # the issuer revoked tok1

    first.refresh(SimpleNamespace(sent="tok1"))
    second.refresh(SimpleNamespace(sent="tok1"))  # finds tok2 in the file: no new fetch

    assert first.token() == second.token() == "tok2"
    assert first.tokens_fetched + second.tokens_fetched == 2


def test_the_token_is_validated_at_most_once_per_interval(tmp_path):
    issuer, wall = Issuer(), Wall()
    shared = TokenFile(tmp_path, "client@host")
    auth = Auth(issuer, shared, wall)
    auth.token()
    wall.now += 1800
    auth.token()
    assert issuer.validated == []  # fresh tokens need no check for an hour

    wall.now += 1900
    assert auth.token() == "tok1" and issuer.validated == ["tok1"]
    other = Auth(issuer, shared, wall)
    assert other.token() == "tok1" and issuer.validated == ["tok1"]  # shared: checked once

    wall.now += 3700
    issuer.valid.clear()
    assert auth.token() == "tok2"  # validation said no: a new token, nobody waits for a 401
    assert issuer.validated == ["tok1", "tok1"]


def test_a_damaged_file_costs_one_token_request(tmp_path):
    issuer, wall = Issuer(), Wall()
    shared = TokenFile(tmp_path, "client@host")
    shared.path.parent.mkdir(parents=True, exist_ok=True)
    shared.path.write_text("{not json")

    assert Auth(issuer, shared, wall).token() == "tok1"
    assert json.loads(shared.path.read_text())["token"] == "tok1"
