"""Request bodies of the BTG report endpoints, validated like the ASP.NET Core API does.

``POST /reports/Portfolio`` and ``POST /reports/NAVPerformance`` take
``{"contract": {...}, "pageSize": N, "webhookEndpoint": ""}`` (api-contract.md B3-B5). A bad
body answers 400 with the ASP.NET *validation problem* shape::

    {"type": "...", "title": "One or more validation errors occurred.", "status": 400,
     "errors": {"contract.startDate": ["invalid date"]}, "traceId": "00-...-...-00"}
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass
from typing import Any

from etl_sandbox.btg_data import SUPPORTED_INDEXERS
from etl_sandbox.framework import Response, json_response

SUPPORTED_TYPE_REPORTS = (3,)
KNOWN_TYPE_REPORTS = (2, 3, 10, 81)
MAX_RANGE_DAYS = 366
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
_DATE = re.compile(
    r"(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:?\d{2})?)?"
)


class ContractValidationError(Exception):
    """A request body failed validation; ``errors`` maps field paths to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class PortfolioRequest:
    """A validated carteira request (typeReport 3)."""

    start: dt.date
    end: dt.date
    type_report: int
    fund_name: str


@dataclass(frozen=True)
class NavRequest:
    """A validated rentabilidade request."""

    start: dt.date
    end: dt.date
    indexers: tuple[str, ...]
    fund_name: str
    page_size: int


def validation_response(errors: dict[str, list[str]], rng: random.Random) -> Response:
    """The ASP.NET Core 400 validation-problem response."""
    trace = f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-00"
    response = json_response(400, {
        "type": "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        "title": "One or more validation errors occurred.",
        "status": 400,
        "errors": errors,
        "traceId": trace,
    })
    response.headers["Content-Type"] = "application/problem+json; charset=utf-8"
    return response


def parse_portfolio_request(payload: Any) -> PortfolioRequest:
    """Validate a Portfolio body; :class:`ContractValidationError` lists every bad field."""
    contract, errors = _contract(payload)
    start, end = _date_range(contract, errors)
    type_report = _type_report(contract.get("typeReport"), errors)
    fund_name = _fund_name(contract, errors)
    _page_size(payload, errors)
    if errors:
        raise ContractValidationError(errors)
    # No error recorded means every field parsed.
    assert start and end and type_report is not None and fund_name is not None
    return PortfolioRequest(start, end, type_report, fund_name)


def parse_nav_request(payload: Any) -> NavRequest:
    """Validate a NAVPerformance body; :class:`ContractValidationError` lists every bad field."""
    contract, errors = _contract(payload)
    start, end = _date_range(contract, errors)
    indexers = _indexers(contract.get("indexers"), errors)
    fund_name = _fund_name(contract, errors)
    page_size = _page_size(payload, errors)
    if errors:
        raise ContractValidationError(errors)
    assert start and end and indexers and fund_name is not None and page_size
    return NavRequest(start, end, indexers, fund_name, page_size)


def parse_contract_date(text: Any) -> dt.date | None:
    """``YYYY-MM-DD`` with an optional ``T..`` time part (``T00:00:00.000Z`` etc.); else None."""
    if not isinstance(text, str):
        return None
    match = _DATE.fullmatch(text.strip())
    if match is None:
        return None
    try:
        return dt.date.fromisoformat(match.group(1))
    except ValueError:
        return None


def _contract(payload: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(payload, dict):
        raise ContractValidationError({"$": ["The request body must be a JSON object."]})
    contract = payload.get("contract")
    if not isinstance(contract, dict):
        raise ContractValidationError({"contract": ["The contract field is required."]})
    return contract, errors


def _date_range(contract: dict[str, Any], errors: dict[str, list[str]]
                ) -> tuple[dt.date | None, dt.date | None]:
    start = parse_contract_date(contract.get("startDate"))
    end = parse_contract_date(contract.get("endDate"))
    if start is None:
        errors["contract.startDate"] = ["invalid date"]
    if end is None:
        errors["contract.endDate"] = ["invalid date"]
    if start and end:
        if start > end:
            errors["contract.startDate"] = ["startDate must be on or before endDate"]
        elif (end - start).days >= MAX_RANGE_DAYS:
            errors["contract.endDate"] = [
                f"the sandbox serves at most {MAX_RANGE_DAYS} days per request"]
    return start, end


def _type_report(value: Any, errors: dict[str, list[str]]) -> int | None:
    # Some clients send the number as a string ("3").
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value not in KNOWN_TYPE_REPORTS:
        errors["contract.typeReport"] = [
            f"invalid typeReport; known values: {', '.join(map(str, KNOWN_TYPE_REPORTS))}"]
        return None
    if value not in SUPPORTED_TYPE_REPORTS:
        errors["contract.typeReport"] = ["typeReport not supported by sandbox"]
        return None
    return value


def _fund_name(contract: dict[str, Any], errors: dict[str, list[str]]) -> str | None:
    value = contract.get("fundName", "")
    if value is None:
        return ""
    if not isinstance(value, str):
        errors["contract.fundName"] = ["fundName must be a string (\"\" = every fund)"]
        return None
    return value


def _indexers(value: Any, errors: dict[str, list[str]]) -> tuple[str, ...] | None:
    if value is None or value == []:
        return ("CDIE",)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        errors["contract.indexers"] = ["indexers must be an array of strings"]
        return None
    unknown = [item for item in value if item not in SUPPORTED_INDEXERS]
    if unknown:
        errors["contract.indexers"] = [
            f"unsupported indexer {item!r}; the sandbox supports "
            f"{', '.join(SUPPORTED_INDEXERS)}" for item in unknown]
        return None
    return tuple(dict.fromkeys(value))


def _page_size(payload: dict[str, Any], errors: dict[str, list[str]]) -> int | None:
    value = payload.get("pageSize", DEFAULT_PAGE_SIZE)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE_SIZE:
        errors["pageSize"] = [f"pageSize must be an integer from 1 to {MAX_PAGE_SIZE}"]
        return None
    return value
