"""BtgClient against the real sandbox over loopback HTTP (and a scripted server for wire details).

Covers the token (cache, proactive refresh, 401 retry, second 401), every ticket state of
api-contract.md B3 (processing in both spellings, 202/204/404 while pending, No records, JSON pages
with ``page`` as a string, inline file, UrlDownload link, expired ticket), the polling deadline,
retries of 5xx, and Decimal parsing (no float anywhere, digits equal to the sandbox's dataset).

Run: .venv/bin/pytest tests/btg/test_client.py
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from etl_sandbox.btg_data import dataset_for_seed
from etl_tasks.btg.client import (
    TOKEN_HEADER,
    BtgClient,
    JsonPage,
    NoRecords,
    PollPolicy,
    ReportFile,
    TicketNotFoundError,
    TicketTimeoutError,
    content_disposition_filename,
)
from etl_tasks.core.http import Clocks, RetryPolicy
from etl_tasks.errors import AuthError, FatalExtractError
from tests.decimal_assertions import assert_no_float
from tests.httpfixture import Reply, ScriptedServer

DATE = dt.date(2025, 4, 10)
WEEKEND = dt.date(2025, 4, 12)
FAST_RETRIES = RetryPolicy(
    max_retries=2, backoff_base_s=0.01, backoff_max_s=0.02, timeout_s=(5, 10)
)
FAST_POLLING = PollPolicy(
    initial_s=0.01, factor=1.5, max_interval_s=0.03, deadline_s=5.0, not_found_grace_s=5.0
)


class FakeMonotonic:
    """A clock the test moves by hand (token lifetimes without waiting an hour)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_client(**overrides: Any) -> BtgClient:
    settings: dict[str, Any] = {"policy": FAST_RETRIES, "poll_policy": FAST_POLLING}
    settings.update(overrides)
    return BtgClient.from_env(**settings)


def portfolio_contract(date: dt.date, fund_name: str = "") -> dict[str, Any]:
    return {
        "startDate": date.isoformat(),
        "endDate": date.isoformat(),
        "typeReport": 3,
        "fundName": fund_name,
    }


def nav_contract(date: dt.date) -> dict[str, Any]:
    return {
        "startDate": date.isoformat(),
        "endDate": date.isoformat(),
        "indexers": ["CDIE"],
        "fundName": "",
    }


def btg_requests(sandbox, suffix: str) -> int:
    return sum(v for k, v in sandbox.stats()["requests"].items() if k.startswith(f"btg:{suffix}"))


# --- token ----------------------------------------------------------------------------------------


def test_token_is_cached_and_renewed_when_less_than_five_minutes_remain(sandbox) -> None:
    clock = FakeMonotonic()
    with make_client(clocks=Clocks(monotonic=clock)) as client:
        first = client.token()
        assert client.token() == first
        clock.now += 3600 - 301  # 301 s left: still good
        assert client.token() == first
        assert sandbox.stats()["tokens_issued"]["btg"] == 1
        clock.now += 2  # 299 s left: renew before it can expire mid-run
        second = client.token()
        assert second != first
        assert sandbox.stats()["tokens_issued"]["btg"] == 2


def test_401_renews_the_token_once_and_retries(sandbox) -> None:
    with make_client() as client:
        client.token()
        sandbox.control("tokens/expire")
        ticket = client.request_ticket("Portfolio", portfolio_contract(DATE), 100)
        assert ticket
        assert sandbox.stats()["tokens_issued"]["btg"] == 2
        assert client.stats.as_dict()["retries"] == 1


def test_second_401_is_an_auth_error(sandbox) -> None:
    sandbox.control(
        "faults", {"api": "btg", "path": "/reports/Portfolio", "status": 401, "count": 2}
    )
    with make_client() as client, pytest.raises(AuthError, match="401 again"):
        client.request_ticket("Portfolio", portfolio_contract(DATE), 100)
    assert sandbox.stats()["tokens_issued"]["btg"] == 2


def test_wrong_secret_is_an_auth_error_without_the_secret(sandbox, monkeypatch) -> None:
    monkeypatch.setenv("BTG_CLIENT_SECRET", "definitely-wrong-secret")
    with make_client() as client, pytest.raises(AuthError) as caught:
        client.token()
    assert "invalid_client" in str(caught.value)
    assert "definitely-wrong-secret" not in str(caught.value)


def test_scope_is_sent_and_limits_the_token(sandbox) -> None:
    with make_client(scope="reports.nav_performance") as client:
        client.request_ticket("NAVPerformance", nav_contract(DATE), 100)
        with pytest.raises(FatalExtractError, match="HTTP 403"):
            client.request_ticket("Portfolio", portfolio_contract(DATE), 100)


# --- ticket states --------------------------------------------------------------------------------


def test_processing_in_both_spellings_then_inline_zip(sandbox) -> None:
    sandbox.control("config", {"btg_processing_polls": 3})
    polled: list[tuple[str, int, str]] = []
    with make_client() as client:
        client.on_poll = lambda ticket, polls, state, _elapsed: polled.append(
            (ticket, polls, state)
        )
        ticket = client.request_ticket("Portfolio", portfolio_contract(DATE), 100)
        outcome = client.file_report(ticket)
        stats = client.stats.as_dict()
    assert [(t, n) for t, n, _ in polled] == [(ticket, 1), (ticket, 2), (ticket, 3)]
    assert {state for *_, state in polled} == {"Processando", "Aguardando processamento"}
    assert isinstance(outcome, ReportFile)
    assert (outcome.kind, outcome.delivery) == ("zip", "inline")
    assert outcome.filename == "Carteira_20250410.zip"
    funds = dataset_for_seed(42).funds_on(DATE)
    names = zipfile.ZipFile(io.BytesIO(outcome.content)).namelist()
    assert len(names) == len(funds)
    assert (stats["polls"], stats["pending_polls"], stats["tickets"]) == (4, 3, 1)
    assert sandbox.stats()["btg"]["polls"][ticket] == 4


@pytest.mark.parametrize("status", [202, 204, 404])
def test_pending_http_statuses_keep_polling(sandbox, status: int) -> None:
    sandbox.control("config", {"btg_processing_polls": 2, "btg_pending_status": status})
    with make_client() as client:
        ticket = client.request_ticket("Portfolio", portfolio_contract(DATE), 100)
        outcome = client.file_report(ticket)
        assert isinstance(outcome, ReportFile) and outcome.kind == "zip"
        assert client.stats.as_dict()["pending_polls"] == 2


def test_single_fund_is_an_xml_file(sandbox) -> None:
    fund = dataset_for_seed(42).funds_on(DATE)[0]
    with make_client() as client:
        ticket = client.request_ticket("Portfolio", portfolio_contract(DATE, fund.cnpj), 100)
        outcome = client.file_report(ticket)
    assert isinstance(outcome, ReportFile) and outcome.kind == "xml"
    assert outcome.content == dataset_for_seed(42).portfolio_xml(fund, DATE)


def test_url_mode_downloads_the_link(sandbox) -> None:
    sandbox.control("config", {"btg_file_mode": "url"})
    with make_client() as client:
        ticket = client.request_ticket("Portfolio", portfolio_contract(DATE), 100)
        outcome = client.file_report(ticket)
        assert client.stats.as_dict()["downloads"] == 1
    assert isinstance(outcome, ReportFile)
    assert (outcome.delivery, outcome.kind) == ("url", "zip")
    assert outcome.filename == "Carteira_20250410.zip"
    assert sandbox.stats()["btg"]["downloads"] == 1


def test_no_records_for_both_reports(sandbox) -> None:
    with make_client() as client:
        ticket = client.request_ticket("Portfolio", portfolio_contract(WEEKEND), 100)
        assert client.file_report(ticket) == NoRecords(ticket)
        ticket = client.request_ticket("NAVPerformance", nav_contract(WEEKEND), 100)
        report = client.json_report(ticket)
    assert report.no_records and report.pages == ()


def test_every_page_is_fetched_and_numbers_are_exact_decimals(sandbox) -> None:
    sandbox.control("config", {"btg_page_as_string": True})
    data = dataset_for_seed(42)
    funds = data.funds_on(DATE)
    with make_client() as client:
        ticket = client.request_ticket("NAVPerformance", nav_contract(DATE), 3)
        report = client.json_report(ticket)
        assert client.stats.as_dict()["pages"] == len(report.pages)
    expected_pages = -(-len(funds) // 3)
    assert [page.number for page in report.pages] == list(range(1, expected_pages + 1))
    assert all(isinstance(page, JsonPage) for page in report.pages)
    assert {page.total_pages for page in report.pages} == {expected_pages}
    records = {
        record["cnpj"]: record
        for page in report.pages
        for fund in page.result
        for record in fund["data"]
    }
    assert set(records) == {fund.cnpj for fund in funds}
    for page in report.pages:
        assert_no_float(page.result)
    for fund in funds:
        expected = data.nav_record(fund, DATE, ["CDIE"])
        got = records[fund.cnpj]
        for key in ("liquidQuote", "rawQuote", "assetValue", "numberOfQuotes", "acquisitions"):
            assert got[key] == expected[key] and isinstance(got[key], Decimal | int), key
        assert str(got["liquidQuote"]) == str(expected["liquidQuote"])  # same digits


def test_deadline_exceeded_names_ticket_polls_and_elapsed(sandbox) -> None:
    sandbox.control("config", {"btg_processing_polls": 100000})
    policy = PollPolicy(initial_s=0.01, factor=1.5, max_interval_s=0.05, deadline_s=0.4)
    with make_client(poll_policy=policy) as client:
        ticket = client.request_ticket("Portfolio", portfolio_contract(DATE), 100)
        with pytest.raises(TicketTimeoutError) as caught:
            client.file_report(ticket)
    message = str(caught.value)
    assert ticket in message and "polls" in message
    assert "the report is still processing at BTG; run again later" in message
    assert sandbox.stats()["btg"]["polls"][ticket] >= 5  # it really polled, with growing waits


def test_unknown_or_expired_ticket_is_fatal(sandbox) -> None:
    with make_client() as client:
        with pytest.raises(TicketNotFoundError, match="request a new ticket"):
            client.poll("00000000-0000-4000-8000-000000000000")
        ticket = client.request_ticket("NAVPerformance", nav_contract(DATE), 3)
        assert isinstance(client.poll(ticket, 1), JsonPage)
        sandbox.control("clock", {"advance_seconds": 3700})  # tickets live one hour
        with pytest.raises(TicketNotFoundError, match="after it had answered"):
            client.poll(ticket, 2)


def test_server_errors_are_retried(sandbox) -> None:
    sandbox.control("faults", {"api": "btg", "path": "/reports/Ticket", "status": 503, "count": 2})
    with make_client() as client:
        ticket = client.request_ticket("Portfolio", portfolio_contract(DATE), 100)
        assert isinstance(client.file_report(ticket), ReportFile)
        assert client.stats.as_dict()["http_5xx"] == 2


def test_invalid_contract_is_fatal_and_names_the_field(sandbox) -> None:
    contract = {**portfolio_contract(DATE), "startDate": "2025-13-01"}
    with make_client() as client, pytest.raises(FatalExtractError, match=r"contract\.startDate"):
        client.request_ticket("Portfolio", contract, 100)


def test_tokens_and_secret_never_reach_the_log(sandbox, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with make_client() as client:
        token = client.token()
        sandbox.control("tokens/expire")
        ticket = client.request_ticket("NAVPerformance", nav_contract(DATE), 100)
        client.json_report(ticket)
    assert "sandbox-btg-secret" not in caplog.text
    assert token not in caplog.text


# --- wire details on a scripted server ------------------------------------------------------------


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedServer]:
    """A scripted BTG on loopback (credentials id/secret-value) for exact-reply tests."""
    with ScriptedServer() as scripted:
        monkeypatch.setenv("BTG_CLIENT_ID", "id")
        monkeypatch.setenv("BTG_CLIENT_SECRET", "secret-value")
        monkeypatch.setenv("BTG_BASE_URL", scripted.url)
        yield scripted


def test_link_fetched_without_token_and_empty_404_keeps_polling(server: ScriptedServer) -> None:
    server.always("/connect/token", Reply(json={"access_token": "tok-123", "expires_in": 3600}))
    server.script("/reports/Portfolio", Reply(json={"ticket": "T1"}))
    link = f"{server.url}/files/abc.zip?signature=xyz"
    server.script(
        "/reports/Ticket",
        Reply(404),
        Reply(200, json={"result": "Processando"}),
        Reply(json={"result": '{"UrlDownload":"' + link + '"}'}),
    )
    zip_bytes = b"PK\x03\x04" + b"\x00" * 30
    server.script("/files/abc.zip", Reply(body=zip_bytes))
    with make_client() as client:
        ticket = client.request_ticket("Portfolio", portfolio_contract(DATE), 100)
        outcome = client.file_report(ticket)
    assert isinstance(outcome, ReportFile)
    assert (outcome.filename, outcome.kind, outcome.content) == ("abc.zip", "zip", zip_bytes)
    token_request = server.requests_to("/connect/token")[0].form()
    assert token_request == {
        "grant_type": "client_credentials",
        "client_id": "id",
        "client_secret": "secret-value",
    }
    polls = server.requests_to("/reports/Ticket")
    assert len(polls) == 3 and all(r.header(TOKEN_HEADER) == "tok-123" for r in polls)
    assert server.requests_to("/files/abc.zip")[0].header(TOKEN_HEADER) is None
    body = server.requests_to("/reports/Portfolio")[0].body.decode()
    assert body == (
        '{"contract":{"startDate":"2025-04-10","endDate":"2025-04-10",'
        '"typeReport":3,"fundName":""},"pageSize":100,"webhookEndpoint":""}'
    )


def test_ticket_not_found_is_tolerated_only_within_the_grace_period(server: ScriptedServer) -> None:
    clock = FakeMonotonic()
    not_found = Reply(404, json={"result": "Ticket not found"})
    server.always("/connect/token", Reply(json={"access_token": "tok", "expires_in": 3600}))
    server.script("/reports/Portfolio", Reply(json={"ticket": "T1"}), Reply(json={"ticket": "T2"}))
    server.script("/reports/Ticket", not_found, Reply(json={"result": "No records"}), not_found)
    with make_client(clocks=Clocks(monotonic=clock)) as client:
        first = client.request_ticket("Portfolio", portfolio_contract(DATE), 100)
        assert client.file_report(first) == NoRecords("T1")  # 404 right after the request
        second = client.request_ticket("Portfolio", portfolio_contract(DATE), 100)
        clock.now += FAST_POLLING.not_found_grace_s + 5
        with pytest.raises(TicketNotFoundError, match="10 s after it was issued"):
            client.file_report(second)


def test_unknown_ticket_state_is_fatal(server: ScriptedServer) -> None:
    server.always("/connect/token", Reply(json={"access_token": "tok", "expires_in": 3600}))
    server.script("/reports/Ticket", Reply(json={"result": "Erro interno"}))
    with make_client() as client, pytest.raises(FatalExtractError, match="unknown state"):
        client.poll("T9")


def test_content_disposition_file_names_cannot_escape() -> None:
    assert content_disposition_filename('attachment; filename="STRIX_FIA_20250410.xml"') == (
        "STRIX_FIA_20250410.xml"
    )
    assert content_disposition_filename('attachment; filename="../../etc/passwd"') == "passwd"
    assert content_disposition_filename("attachment; filename*=UTF-8''PREVID%C3%8ANCIA.zip") == (
        "PREVIDÊNCIA.zip"
    )
    assert content_disposition_filename('attachment; filename=".."') is None
    assert content_disposition_filename(None) is None
