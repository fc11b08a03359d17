"""The BTG part of the sandbox over real HTTP (server subprocess from the ``sandbox`` fixture):
tokens and scopes, 401/403, the ticket flow of both reports, files and links, pages, 404s, 400
validation shape, knobs (pending status, processing time, rate limit, corrupt/broken files) and
the data rules (No records, missing day, mid-range fund, cross-report equalities, accents).

Run: .venv/bin/pytest tests/sandbox/test_btg_api.py
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import zipfile
from decimal import Decimal
from typing import Any

import pytest
import requests

from etl_sandbox.btg_data import dataset_for_seed
from etl_sandbox.btg_json import dumps
from etl_sandbox.launcher import SandboxProcess
from etl_tasks.btg.anbima import check_invariants, iter_report_files, parse_anbima_xml
from etl_tasks.errors import DataQualityError

CLIENT = {"client_id": "sandbox-btg-client", "client_secret": "sandbox-btg-secret"}
DATA = dataset_for_seed(42)  # the fixture resets the server to seed 42: same funds, same numbers
DAY = dt.date(2025, 4, 10)
TIMEOUT = 10
MAX_POLLS = 10


def token(sandbox: SandboxProcess, scope: str | None = None) -> str:
    form = {"grant_type": "client_credentials", **CLIENT}
    if scope:
        form["scope"] = scope
    response = requests.post(f"{sandbox.btg_url}/connect/token", data=form, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def request_report(sandbox: SandboxProcess, access: str, report: str, contract: dict[str, Any],
                   page_size: int = 100) -> requests.Response:
    return requests.post(
        f"{sandbox.btg_url}/reports/{report}",
        json={"contract": contract, "pageSize": page_size, "webhookEndpoint": ""},
        headers={"X-SecureConnect-Token": access}, timeout=TIMEOUT,
    )


def poll(sandbox: SandboxProcess, access: str, ticket: str, page: int | None = None
         ) -> requests.Response:
    params: dict[str, Any] = {"ticketId": ticket}
    if page is not None:
        params["pageNumber"] = page
    return requests.get(f"{sandbox.btg_url}/reports/Ticket", params=params,
                        headers={"X-SecureConnect-Token": access}, timeout=TIMEOUT)


def is_pending(response: requests.Response) -> bool:
    if response.status_code in (202, 204, 404) and not response.content:
        return True
    return (response.headers.get("Content-Type", "").startswith("application/json")
            and response.json().get("result") in ("Processando", "Aguardando processamento"))


def run(sandbox: SandboxProcess, access: str, report: str, contract: dict[str, Any],
        page_size: int = 100) -> tuple[str, requests.Response]:
    """Request a report and poll (no waiting needed: readiness counts polls) until it is ready."""
    response = request_report(sandbox, access, report, contract, page_size)
    assert response.status_code == 200, response.text
    ticket = response.json()["ticket"]
    for _ in range(MAX_POLLS):
        response = poll(sandbox, access, ticket)
        if not is_pending(response):
            return ticket, response
    raise AssertionError(f"ticket {ticket} still pending after {MAX_POLLS} polls")


def carteira(day: dt.date, fund_name: str = "") -> dict[str, Any]:
    return {"startDate": day.isoformat(), "endDate": day.isoformat(), "typeReport": 3,
            "fundName": fund_name}


def rentabilidade(day: dt.date, fund_name: str = "", indexers: list[str] | None = None
                  ) -> dict[str, Any]:
    return {"startDate": f"{day.isoformat()}T00:00:00.000Z",
            "endDate": f"{day.isoformat()}T23:59:59.000Z",
            "indexers": indexers or ["CDIE"], "fundName": fund_name}


def xml_files(response: requests.Response) -> dict[str, bytes]:
    assert response.headers["Content-Type"] == "application/octet-stream"
    return dict(iter_report_files(response.content, "download"))


def nav_pages(sandbox: SandboxProcess, access: str, ticket: str, first: requests.Response
              ) -> list[dict[str, Any]]:
    body = json.loads(first.content, parse_float=Decimal)
    funds = list(body["result"])
    for page in range(2, body["totalPages"] + 1):
        funds += json.loads(poll(sandbox, access, ticket, page).content,
                            parse_float=Decimal)["result"]
    return funds


# ----- authentication -------------------------------------------------------------------------


def test_token_body_and_rfc6749_errors(sandbox: SandboxProcess) -> None:
    url = f"{sandbox.btg_url}/connect/token"
    good = requests.post(url, data={"grant_type": "client_credentials", **CLIENT},
                         timeout=TIMEOUT)
    assert good.status_code == 200
    body = good.json()
    assert body["expires_in"] == 3600 and body["token_type"] == "Bearer"
    assert body["scope"] == "reports.nav_performance reports.portfolio"
    assert body["access_token"].count(".") == 2
    cases = [
        ({"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
         "invalid_client"),
        ({"grant_type": "password", **CLIENT}, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "scope": "reports.everything", **CLIENT},
         "invalid_scope"),
    ]
    for form, error in cases:
        response = requests.post(url, data=form, timeout=TIMEOUT)
        assert (response.status_code, response.json()["error"]) == (400, error)
    basic = requests.post(url, data={"grant_type": "client_credentials"},
                          auth=(CLIENT["client_id"], CLIENT["client_secret"]), timeout=TIMEOUT)
    assert basic.status_code == 200
    assert sandbox.stats()["btg"]["tokens_issued"] == 2


def test_scoped_token_is_forbidden_on_the_other_report(sandbox: SandboxProcess) -> None:
    nav_only = token(sandbox, "reports.nav_performance")
    assert request_report(sandbox, nav_only, "Portfolio", carteira(DAY)).status_code == 403
    assert request_report(sandbox, nav_only, "NAVPerformance",
                          rentabilidade(DAY)).status_code == 200
    portfolio_only = token(sandbox, "reports.portfolio")
    ticket = request_report(sandbox, portfolio_only, "Portfolio", carteira(DAY)).json()["ticket"]
    assert poll(sandbox, nav_only, ticket).status_code == 403
    assert poll(sandbox, portfolio_only, ticket).status_code == 200


def test_missing_unknown_and_expired_tokens_get_401(sandbox: SandboxProcess) -> None:
    def portfolio_status(headers: dict[str, str]) -> requests.Response:
        return requests.post(f"{sandbox.btg_url}/reports/Portfolio",
                             json={"contract": carteira(DAY)}, headers=headers, timeout=TIMEOUT)

    for headers in ({}, {"X-SecureConnect-Token": "not-a-token"},
                    {"Authorization": f"Bearer {token(sandbox)}"}):  # wrong header
        response = portfolio_status(headers)
        assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})
    access = token(sandbox)
    assert portfolio_status({"X-SecureConnect-Token": f"Bearer {access}"}).status_code == 200
    sandbox.control("clock", {"advance_seconds": 3601})
    assert portfolio_status({"X-SecureConnect-Token": access}).status_code == 401
    fresh = token(sandbox)
    sandbox.control("tokens/expire")
    assert portfolio_status({"X-SecureConnect-Token": fresh}).status_code == 401


# ----- carteira --------------------------------------------------------------------------------


@pytest.mark.parametrize("day", [dt.date(2024, 1, 2), DAY, dt.date(2026, 12, 31)], ids=str)
def test_portfolio_zip_every_fund_passes_the_invariants(sandbox: SandboxProcess,
                                                        day: dt.date) -> None:
    sandbox.control("config", {"btg_processing_polls": 2})
    access = token(sandbox)
    ticket, response = run(sandbox, access, "Portfolio", carteira(day))
    assert response.content.startswith(b"PK\x03\x04")
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="Carteira_{day:%Y%m%d}.zip"')
    files = xml_files(response)
    expected = DATA.funds_on(day)
    assert len(files) == len(expected)
    cnpjs = set()
    for name, data in files.items():
        [portfolio] = parse_anbima_xml(data, name)
        assert portfolio.header.dtposicao == day
        assert check_invariants(portfolio.header, portfolio.positions) == []
        assert name.endswith(f"_{day:%Y%m%d}.xml")
        cnpjs.add(portfolio.header.cnpj)
    assert cnpjs == {fund.cnpj for fund in expected}
    assert sandbox.stats()["btg"]["polls"][ticket] == 3  # two "processing", then the file
    # Re-polling a ready ticket serves the same bytes.
    assert poll(sandbox, access, ticket).content == response.content


def test_portfolio_pending_answers_alternate_and_count(sandbox: SandboxProcess) -> None:
    sandbox.control("config", {"btg_processing_polls": 3})
    access = token(sandbox)
    ticket = request_report(sandbox, access, "Portfolio", carteira(DAY)).json()["ticket"]
    answers = [poll(sandbox, access, ticket).json()["result"] for _ in range(3)]
    assert answers == ["Aguardando processamento", "Processando", "Aguardando processamento"]
    assert poll(sandbox, access, ticket).content.startswith(b"PK\x03\x04")
    stats = sandbox.stats()["btg"]
    assert stats["polls"][ticket] == 4 and stats["tickets_by_report"] == {"Portfolio": 1}


def test_single_fund_by_name_or_cnpj_is_one_xml_with_accents(sandbox: SandboxProcess) -> None:
    fund = next(f for f in DATA.funds if "PREVIDÊNCIA" in f.name)
    access = token(sandbox)
    for fund_name in (fund.name, fund.cnpj, fund.name.replace("Ê", "E").lower()):
        _, response = run(sandbox, access, "Portfolio", carteira(DAY, fund_name))
        assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        assert response.headers["Content-Disposition"] == (
            f'attachment; filename="SANDBOX_PREVIDENCIA_RENDA_FIXA_FIRF_{DAY:%Y%m%d}.xml"')
        assert "PREVIDÊNCIA".encode() in response.content
        [portfolio] = parse_anbima_xml(response.content, "single.xml")
        assert portfolio.header.nome == fund.name
        assert response.content == DATA.portfolio_xml(fund, DAY)


def test_url_mode_link_downloads_without_auth(sandbox: SandboxProcess) -> None:
    access = token(sandbox)
    _, inline = run(sandbox, access, "Portfolio", carteira(DAY))
    sandbox.control("config", {"btg_file_mode": "url"})
    _, response = run(sandbox, access, "Portfolio", carteira(DAY))
    link = json.loads(response.json()["result"])
    url = link["UrlDownload"]
    assert url.startswith(f"{sandbox.btg_url}/_downloads/") and url.endswith(".zip")
    download = requests.get(url, timeout=TIMEOUT)  # no token: the link is pre-signed
    assert download.status_code == 200
    assert download.content == inline.content
    assert sandbox.stats()["btg"]["downloads"] == 1
    sandbox.control("clock", {"advance_seconds": 3601})
    assert requests.get(url, timeout=TIMEOUT).status_code == 404


@pytest.mark.parametrize("day", [dt.date(2025, 3, 4), dt.date(2025, 4, 12)],
                         ids=["carnival", "saturday"])
def test_no_records_on_non_business_days(sandbox: SandboxProcess, day: dt.date) -> None:
    access = token(sandbox)
    for report, contract in (("Portfolio", carteira(day)), ("NAVPerformance", rentabilidade(day))):
        _, response = run(sandbox, access, report, contract)
        assert (response.status_code, response.json()) == (200, {"result": "No records"})


def test_missing_day_and_mid_range_funds_are_absent(sandbox: SandboxProcess) -> None:
    access = token(sandbox)
    gappy, newcomer = DATA.fund("OMEGA"), DATA.fund("DELTA")
    cases = [(dt.date(2025, 4, 9), gappy, False), (dt.date(2025, 4, 8), gappy, True),
             (dt.date(2025, 3, 14), newcomer, False), (dt.date(2025, 3, 17), newcomer, True)]
    for day, fund, present in cases:
        _, zipped = run(sandbox, access, "Portfolio", carteira(day))
        cnpjs = {parse_anbima_xml(data, name)[0].header.cnpj
                 for name, data in xml_files(zipped).items()}
        ticket, first = run(sandbox, access, "NAVPerformance", rentabilidade(day))
        nav_cnpjs = {item["data"][0]["cnpj"] for item in nav_pages(sandbox, access, ticket, first)}
        assert (fund.cnpj in cnpjs, fund.cnpj in nav_cnpjs) == (present, present), (day, fund)
    _, single = run(sandbox, access, "Portfolio", carteira(dt.date(2025, 4, 9), gappy.cnpj))
    assert single.json() == {"result": "No records"}


# ----- rentabilidade ---------------------------------------------------------------------------


def test_nav_pagination_and_exact_records(sandbox: SandboxProcess) -> None:
    access = token(sandbox)
    ticket, first = run(sandbox, access, "NAVPerformance",
                        rentabilidade(DAY, indexers=["CDIE", "IMA-B", "IBOV"]), page_size=3)
    body = json.loads(first.content, parse_float=Decimal)
    funds = DATA.funds_on(DAY)
    assert (body["page"], body["totalPages"]) == (1, math.ceil(len(funds) / 3))
    assert len(body["result"]) == 3
    received = nav_pages(sandbox, access, ticket, first)
    expected = json.loads(dumps(DATA.nav_records(DAY, ["CDIE", "IMA-B", "IBOV"])),
                          parse_float=Decimal)
    assert received == expected
    record = received[0]["data"][0]
    assert isinstance(record["liquidQuote"], Decimal)
    assert set(record["quotaProfitabilityDifference"]) == {"CDIE", "IMA-B", "IBOV"}
    too_far = poll(sandbox, access, ticket, body["totalPages"] + 1)
    assert too_far.status_code == 400 and "pageNumber" in too_far.json()["errors"]


def test_page_may_be_a_string(sandbox: SandboxProcess) -> None:
    sandbox.control("config", {"btg_page_as_string": True})
    _, first = run(sandbox, token(sandbox), "NAVPerformance", rentabilidade(DAY))
    assert first.json()["page"] == "1"


def test_cross_report_equalities_over_http(sandbox: SandboxProcess) -> None:
    access = token(sandbox)
    _, zipped = run(sandbox, access, "Portfolio", carteira(DAY))
    headers = {}
    for name, data in xml_files(zipped).items():
        header = parse_anbima_xml(data, name)[0].header
        headers[header.cnpj] = header
    ticket, first = run(sandbox, access, "NAVPerformance", rentabilidade(DAY))
    records = [item["data"][0] for item in nav_pages(sandbox, access, ticket, first)]
    assert {record["cnpj"] for record in records} == set(headers)
    for record in records:
        header = headers[record["cnpj"]]
        assert record["liquidQuote"] == header.valorcota
        assert record["assetValue"] == header.patliq
        assert record["numberOfQuotes"] == header.quantidade


# ----- tickets, validation, faults, knobs ---------------------------------------------------


def test_unknown_and_expired_tickets_are_404(sandbox: SandboxProcess) -> None:
    access = token(sandbox)
    unknown = poll(sandbox, access, "00000000-0000-4000-8000-000000000000")
    assert (unknown.status_code, unknown.json()) == (404, {"result": "Ticket not found"})
    ticket = request_report(sandbox, access, "Portfolio", carteira(DAY)).json()["ticket"]
    sandbox.control("clock", {"advance_seconds": 3601})
    expired = poll(sandbox, token(sandbox), ticket)
    assert (expired.status_code, expired.json()) == (404, {"result": "Ticket not found"})


@pytest.mark.parametrize(
    ("report", "body", "field", "message"),
    [
        ("Portfolio", {"contract": {**carteira(DAY), "startDate": "10/04/2025"}},
         "contract.startDate", "invalid date"),
        ("Portfolio", {"contract": {**carteira(DAY), "startDate": "2025-04-11"}},
         "contract.startDate", "startDate must be on or before endDate"),
        ("Portfolio", {"contract": {**carteira(DAY), "typeReport": 81}},
         "contract.typeReport", "typeReport not supported by sandbox"),
        ("Portfolio", {"contract": {**carteira(DAY), "typeReport": "2"}},
         "contract.typeReport", "typeReport not supported by sandbox"),
        ("Portfolio", {"pageSize": 100}, "contract", "The contract field is required."),
        ("NAVPerformance", {"contract": rentabilidade(DAY, indexers=["SELIC"])},
         "contract.indexers",
         "unsupported indexer 'SELIC'; the sandbox supports CDIE, IMA-B, IBOV"),
    ],
    ids=["bad-date", "reversed-range", "type-81", "type-2-as-string", "no-contract",
         "bad-indexer"],
)
def test_validation_problem_shape(sandbox: SandboxProcess, report: str, body: dict[str, Any],
                                  field: str, message: str) -> None:
    response = requests.post(f"{sandbox.btg_url}/reports/{report}", json=body,
                             headers={"X-SecureConnect-Token": token(sandbox)}, timeout=TIMEOUT)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["title"] == "One or more validation errors occurred."
    assert problem["status"] == 400
    assert problem["errors"][field] == [message]
    assert sandbox.stats()["btg"]["tickets_issued"] == 0


def test_string_type_report_and_json_patch_content_type_are_accepted(
        sandbox: SandboxProcess) -> None:
    response = requests.post(
        f"{sandbox.btg_url}/reports/portfolio",  # ASP.NET routes are case-insensitive
        data=json.dumps({"contract": {**carteira(DAY), "typeReport": "3"}}),
        headers={"X-SecureConnect-Token": token(sandbox),
                 "Content-Type": "application/json-patch+json"}, timeout=TIMEOUT)
    assert response.status_code == 200 and response.json()["ticket"]


def test_injected_503_then_recovery(sandbox: SandboxProcess) -> None:
    access = token(sandbox)
    ticket = request_report(sandbox, access, "Portfolio", carteira(DAY)).json()["ticket"]
    sandbox.control("faults", {"api": "btg", "path": "/reports/Ticket", "status": 503,
                               "count": 1})
    assert poll(sandbox, access, ticket).status_code == 503
    assert poll(sandbox, access, ticket).json() == {"result": "Aguardando processamento"}
    assert poll(sandbox, access, ticket).content.startswith(b"PK\x03\x04")


@pytest.mark.parametrize("status", [202, 204, 404])
def test_pending_status_knob(sandbox: SandboxProcess, status: int) -> None:
    sandbox.control("config", {"btg_pending_status": status, "btg_processing_polls": 2})
    access = token(sandbox)
    ticket = request_report(sandbox, access, "Portfolio", carteira(DAY)).json()["ticket"]
    pending = [poll(sandbox, access, ticket) for _ in range(2)]
    assert [(r.status_code, r.content) for r in pending] == [(status, b"")] * 2
    assert poll(sandbox, access, ticket).content.startswith(b"PK\x03\x04")


def test_processing_time_follows_the_simulated_clock(sandbox: SandboxProcess) -> None:
    sandbox.control("config", {"btg_processing_polls": 0, "btg_processing_seconds": 30})
    access = token(sandbox)
    ticket = request_report(sandbox, access, "Portfolio", carteira(DAY)).json()["ticket"]
    assert is_pending(poll(sandbox, access, ticket))
    sandbox.control("clock", {"advance_seconds": 31})
    assert poll(sandbox, access, ticket).content.startswith(b"PK\x03\x04")


def test_rate_limit_answers_429_with_retry_after(sandbox: SandboxProcess) -> None:
    sandbox.control("config", {"btg_rpm": 3})
    access = token(sandbox)  # request 1
    ticket = request_report(sandbox, access, "Portfolio", carteira(DAY)).json()["ticket"]  # 2
    assert poll(sandbox, access, ticket).status_code == 200  # 3
    limited = poll(sandbox, access, ticket)
    assert limited.status_code == 429
    assert limited.json() == {"message": "Too many requests"}
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    sandbox.control("clock", {"advance_seconds": 61})
    assert poll(sandbox, access, ticket).status_code == 200
    assert sandbox.stats()["btg"]["rate_limited"] == 1


def test_corrupt_and_broken_fund_knobs(sandbox: SandboxProcess) -> None:
    corrupt, broken = DATA.fund("BETA"), DATA.fund("PREV")
    sandbox.control("config", {"btg_corrupt_fund": corrupt.cnpj,
                               "btg_break_invariant": broken.cnpj})
    _, response = run(sandbox, token(sandbox), "Portfolio", carteira(DAY))
    outcomes: dict[str, list[str]] = {}
    for name, data in xml_files(response).items():
        try:
            [portfolio] = parse_anbima_xml(data, name)
        except DataQualityError as error:
            outcomes[name] = [str(error)]
            continue
        outcomes[portfolio.header.cnpj] = check_invariants(portfolio.header, portfolio.positions)
    truncated = f"SANDBOX_BETA_FIRF_REFERENCIADO_DI_{DAY:%Y%m%d}.xml"
    assert "not well-formed XML" in outcomes.pop(truncated)[0]
    [violation] = outcomes.pop(broken.cnpj)
    assert "patliq" in violation and "difference 0.01" in violation
    assert all(problems == [] for problems in outcomes.values())


def test_bad_knob_values_are_refused(sandbox: SandboxProcess) -> None:
    response = requests.post(f"{sandbox.base_url}/_sandbox/config",
                             json={"btg_file_mode": "ftp"}, timeout=TIMEOUT)
    assert response.status_code == 400
    assert "SANDBOX_BTG_FILE_MODE" in response.json()["error"]


def test_zip_is_deterministic_and_well_formed(sandbox: SandboxProcess) -> None:
    access = token(sandbox)
    _, first = run(sandbox, access, "Portfolio", carteira(DAY))
    _, second = run(sandbox, access, "Portfolio", carteira(DAY))
    assert first.content == second.content
    with zipfile.ZipFile(io.BytesIO(first.content)) as archive:
        assert archive.testzip() is None
