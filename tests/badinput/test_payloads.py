"""Bad bodies from the APIs and bad files from BTG: a one-line EtlError naming the source.

The clients and the ANBIMA reader run in-process against a scripted HTTP server (real sockets) or
on bytes built here, so each case takes milliseconds; a few cases run the whole command against
the sandbox's fault injection to show that nothing of the failing stage is kept and the exit code
is the documented one. An exception that is not an :class:`EtlError` (KeyError, TypeError,
JSONDecodeError, RuntimeError...) would reach the user as a traceback: that is what fails here.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from etl_tasks.btg.anbima import iter_report_files, parse_anbima_xml
from etl_tasks.btg.client import BtgClient, PollPolicy, ReportFile
from etl_tasks.core.http import Clocks, RetryPolicy
from etl_tasks.errors import EtlError
from etl_tasks.twitch.client import TwitchClient
from tests.badinput.table import Case, assert_clear_failure, run_case
from tests.httpfixture import Reply, ScriptedServer

SECRET = "s3cret-value-never-shown"
FAST = RetryPolicy(max_retries=1, backoff_base_s=0.01, backoff_max_s=0.02, timeout_s=(5, 10))
GOLDEN = (Path(__file__).resolve().parent.parent / "fixtures" / "anbima_golden.xml").read_bytes()
TOKEN = Reply(json={"access_token": "tok", "expires_in": 3600})


def assert_one_line_error(call: Callable[[], object], *names: str) -> None:
    """``call`` raises an EtlError whose one-line message names one of ``names``."""
    with pytest.raises(EtlError) as raised:
        call()
    message = str(raised.value)
    assert "\n" not in message.strip(), message
    assert SECRET not in message
    assert any(name in message for name in names), message


# --- Twitch Helix ---------------------------------------------------------------------------------

BAD_BODIES: dict[str, Reply] = {
    "not JSON": Reply(body="not json"),
    "HTML error page": Reply(body="<html><body>Bad gateway</body></html>"),
    "empty body": Reply(body=b""),
    "truncated JSON": Reply(body='{"data": [{"id": "1"'),
    "a JSON array": Reply(json=[1, 2]),
    "a JSON string": Reply(json="data"),
    "invalid UTF-8": Reply(
        body=b'{"data": ["\xff\xfe"]}', headers={"Content-Type": "application/json"}
    ),
}
TWITCH_DATA: dict[str, Reply] = {
    **BAD_BODIES,
    "no data field": Reply(json={"total": 3}),
    "data is a string": Reply(json={"data": "x"}),
    "data is null": Reply(json={"data": None}),
    "rows are not objects": Reply(json={"data": [1, 2]}),
}
TWITCH_TOKEN: dict[str, Reply] = {
    **BAD_BODIES,
    "no access_token": Reply(json={"expires_in": 3600}),
    "access_token not a string": Reply(json={"access_token": 5, "expires_in": 3600}),
    "expires_in not a number": Reply(json={"access_token": "t", "expires_in": "soon"}),
}


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


def twitch(server: ScriptedServer) -> TwitchClient:
    return TwitchClient(
        "scriptedclientid000000000000001",
        SECRET,
        server.url,
        f"{server.url}/helix",
        FAST,
        clocks=Clocks(sleep=lambda _s: None),
    )


@pytest.mark.parametrize("reply", TWITCH_TOKEN.values(), ids=TWITCH_TOKEN.keys())
def test_twitch_token_body(server: ScriptedServer, reply: Reply) -> None:
    server.always("/oauth2/token", reply)
    assert_one_line_error(lambda: twitch(server).get_users(["1"]), "/oauth2/token", "token")


@pytest.mark.parametrize("reply", TWITCH_DATA.values(), ids=TWITCH_DATA.keys())
@pytest.mark.parametrize("endpoint", ["users", "streams"])
def test_twitch_page_body(server: ScriptedServer, endpoint: str, reply: Reply) -> None:
    server.always("/oauth2/token", TOKEN)
    server.always(f"/helix/{endpoint}", reply)
    client = twitch(server)
    call = (
        (lambda: client.get_users(["1"]))
        if endpoint == "users"
        else (lambda: list(client.iter_streams()))
    )
    assert_one_line_error(call, f"/{endpoint}")


@pytest.mark.parametrize(
    "pagination",
    [{"cursor": 5}, "next", {"cursor": "same"}],
    ids=["cursor not a string", "pagination not an object", "cursor never changes"],
)
def test_twitch_pagination(server: ScriptedServer, pagination: object) -> None:
    server.always("/oauth2/token", TOKEN)
    row = {"id": "1", "user_id": "2", "game_id": "3", "viewer_count": 1}
    server.always("/helix/streams", Reply(json={"data": [row], "pagination": pagination}))
    assert_one_line_error(lambda: list(twitch(server).iter_streams()), "/streams")


# --- BTG ------------------------------------------------------------------------------------------


@pytest.fixture
def btg_server(server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> ScriptedServer:
    monkeypatch.setenv("BTG_CLIENT_ID", "id")
    monkeypatch.setenv("BTG_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("BTG_BASE_URL", server.url)
    return server


def btg() -> BtgClient:
    polling = PollPolicy(
        initial_s=0.01, factor=1.5, max_interval_s=0.02, deadline_s=5.0, not_found_grace_s=1.0
    )
    return BtgClient.from_env(policy=FAST, poll_policy=polling)


CONTRACT = {"startDate": "2025-04-10", "endDate": "2025-04-10", "typeReport": 3, "fundName": ""}


@pytest.mark.parametrize(
    "reply",
    [*BAD_BODIES.values(), Reply(json={"token_type": "Bearer"})],
    ids=[*BAD_BODIES.keys(), "no access_token"],
)
def test_btg_token_body(btg_server: ScriptedServer, reply: Reply) -> None:
    btg_server.always("/connect/token", reply)
    assert_one_line_error(lambda: btg().token(), "/connect/token")


TICKET_BODIES = {
    **BAD_BODIES,
    "no ticket field": Reply(json={"id": "T1"}),
    "ticket is null": Reply(json={"ticket": None}),
}


@pytest.mark.parametrize("reply", TICKET_BODIES.values(), ids=TICKET_BODIES.keys())
def test_btg_ticket_request_body(btg_server: ScriptedServer, reply: Reply) -> None:
    btg_server.always("/connect/token", TOKEN)
    btg_server.always("/reports/Portfolio", reply)
    assert_one_line_error(
        lambda: btg().request_ticket("Portfolio", CONTRACT, 100), "/reports/Portfolio", "ticket"
    )


POLL_BODIES = {
    **BAD_BODIES,
    "result is a number": Reply(json={"result": 5}),
    "no result field": Reply(json={"status": "ok"}),
    "result is JSON text that is not": Reply(json={"result": '{"UrlDownload": '}),
}


@pytest.mark.parametrize("reply", POLL_BODIES.values(), ids=POLL_BODIES.keys())
def test_btg_ticket_poll_body(btg_server: ScriptedServer, reply: Reply) -> None:
    btg_server.always("/connect/token", TOKEN)
    btg_server.always("/reports/Ticket", reply)

    def poll_then_read() -> None:
        outcome = btg().file_report("T1")
        if isinstance(outcome, ReportFile):  # a body that is not JSON is the file itself
            read_carteira(outcome.content, outcome.filename)

    assert_one_line_error(poll_then_read, "T1", "/reports/Ticket", "Ticket", "T1.")


# --- ANBIMA XML and the carteira ZIP -----------------------------------------------------------


def replace(old: bytes, new: bytes) -> bytes:
    assert old in GOLDEN
    return GOLDEN.replace(old, new, 1)


def zipped(*members: tuple[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    b"<arquivoposicao_4_01>&lol2;</arquivoposicao_4_01>"
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b"<arquivoposicao_4_01>&x;</arquivoposicao_4_01>"
)
GOLDEN_ZIP = zipped(("fund.xml", GOLDEN))

XML_CASES: dict[str, bytes] = {
    "empty": b"",
    "whitespace only": b"   \n",
    "not XML at all": b"hello",
    "declaration only": b'<?xml version="1.0" encoding="UTF-8"?>',
    "truncated in the middle": GOLDEN[: len(GOLDEN) // 2],
    "truncated by one byte": GOLDEN.rstrip()[:-1],
    "mismatched tags": replace(b"</header>", b"</cabecalho>"),
    "junk after the document": GOLDEN + b"<extra/>",
    "NUL byte inside": replace(b"<nome>", b"<nome>\x00"),
    "latin-1 bytes declared UTF-8": replace(b"SANDBOX ALFA", "FUNDO AÇÃO".encode("latin-1")),
    "unknown declared encoding": replace(b'encoding="UTF-8"', b'encoding="X-NO-SUCH"'),
    "UTF-16 bytes declared UTF-8": GOLDEN.decode("utf-8").encode("utf-16"),
    "DOCTYPE with an external entity (XXE)": XXE,
    "billion laughs": BILLION_LAUGHS,
    "plain DOCTYPE": b"<!DOCTYPE html><arquivoposicao_4_01/>",
    "wrong root element": replace(b"<arquivoposicao_4_01>", b"<arquivoposicao_5_00>").replace(
        b"</arquivoposicao_4_01>", b"</arquivoposicao_5_00>"
    ),
    "root without any fund": b"<arquivoposicao_4_01></arquivoposicao_4_01>",
    "managed account instead of a fund": b"<arquivoposicao_4_01><carteira/></arquivoposicao_4_01>",
    "fund without header": b"<arquivoposicao_4_01><fundo></fundo></arquivoposicao_4_01>",
    "decimal with a comma": replace(
        b"<valorcota>1.52345678</valorcota>", b"<valorcota>1,52345678</valorcota>"
    ),
    "decimal that is text": replace(b"<patliq>100008843.78</patliq>", b"<patliq>muito</patliq>"),
    "date in ISO form": replace(
        b"<dtposicao>20250411</dtposicao>", b"<dtposicao>2025-04-11</dtposicao>"
    ),
    "impossible date": replace(
        b"<dtposicao>20250411</dtposicao>", b"<dtposicao>20251341</dtposicao>"
    ),
}


@pytest.mark.parametrize("data", XML_CASES.values(), ids=XML_CASES.keys())
def test_anbima_xml(data: bytes) -> None:
    assert_one_line_error(lambda: parse_anbima_xml(data, "fund-x.xml"), "fund-x.xml")


def _corrupt_crc(archive: bytes) -> bytes:
    # Flip a byte of the compressed data (after the 30-byte local header and the name).
    position = 30 + len("fund.xml") + 10
    return archive[:position] + bytes([archive[position] ^ 0xFF]) + archive[position + 1 :]


ZIP_CASES: dict[str, bytes] = {
    "only the ZIP magic": b"PK\x03\x04",
    "ZIP magic then garbage": b"PK\x03\x04" + b"\x00garbage" * 50,
    "truncated ZIP": GOLDEN_ZIP[: len(GOLDEN_ZIP) // 2],
    "ZIP without its directory": GOLDEN_ZIP[: GOLDEN_ZIP.rfind(b"PK\x01\x02")],
    "bad CRC": _corrupt_crc(GOLDEN_ZIP),
    "member that is a PDF": zipped(("fund.pdf", b"%PDF-1.4 binary")),
    "member that is corrupt XML": zipped(("fund.xml", GOLDEN[:200])),
    "member with a DOCTYPE": zipped(("fund.xml", XXE)),
    "XLSX instead of ANBIMA XML": zipped(
        ("[Content_Types].xml", b"<Types/>"), ("xl/workbook.xml", b"<workbook/>")
    ),
    "gzip instead of ZIP": b"\x1f\x8b\x08\x00" + b"\x00" * 20,
    "PDF instead of ZIP": b"%PDF-1.4\n%binary",
    "encrypted member": b"",  # built below
    "unsupported compression method": b"",  # built below
}


def _encrypted_zip() -> bytes:
    # The flag bit 0 says "encrypted"; zipfile then refuses to read without a password.
    archive = bytearray(GOLDEN_ZIP)
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = archive.find(signature)
        archive[start + flag_offset] |= 0x01
    return bytes(archive)


def _unknown_method_zip() -> bytes:
    archive = bytearray(zipped(("fund.xml", GOLDEN), method=zipfile.ZIP_STORED))
    for signature, method_offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = archive.find(signature)
        archive[start + method_offset] = 99  # AE-x: not something zipfile can inflate
    return bytes(archive)


ZIP_CASES["encrypted member"] = _encrypted_zip()
ZIP_CASES["unsupported compression method"] = _unknown_method_zip()


def read_carteira(data: bytes, name: str) -> None:
    for member, xml in iter_report_files(data, name):
        parse_anbima_xml(xml, member)


@pytest.mark.parametrize("data", ZIP_CASES.values(), ids=ZIP_CASES.keys())
def test_carteira_archive(data: bytes) -> None:
    assert_one_line_error(
        lambda: read_carteira(data, "carteira.zip"), "carteira.zip", "fund", "[Content_Types].xml"
    )


# --- whole commands against the sandbox's fault injection --------------------------------------

D = "2025-04-10"
FAULTS = [
    (
        "Helix streams page is not JSON",
        {"api": "twitch", "path": "/helix/streams", "status": 200, "body": "not json", "count": 50},
        ["etl-run", "--date", D],
        30,
        r"TwitchExtractStreams.*/streams",
        "twitch/extract/streams",
    ),
    (
        "Helix users page without data",
        {"api": "twitch", "path": "/helix/users", "status": 200, "body": {"total": 1}, "count": 50},
        ["etl-run", "--date", D],
        30,
        r"TwitchExtractUsers.*/users",
        "twitch/extract/users",
    ),
    (
        "BTG ticket answer is not JSON",
        {
            "api": "btg",
            "path": "/reports/Ticket",
            "status": 200,
            "body": "<html>oops</html>",
            "count": 50,
        },
        ["orquestrador-btg", "--data", D],
        1,
        r"BtgExtract",
        "btg/transform/fundos",
    ),
    (
        "BTG token answer without a token",
        {
            "api": "btg",
            "path": "/connect/token",
            "status": 200,
            "body": {"token_type": "Bearer"},
            "count": 50,
        },
        ["orquestrador-btg", "--data", D],
        1,
        r"access_token",
        "btg/extract/rentabilidade",
    ),
]


@pytest.mark.parametrize(
    ("fault", "command", "code", "message", "stage"),
    [f[1:] for f in FAULTS],
    ids=[f[0] for f in FAULTS],
)
def test_bad_body_through_the_command(
    sandbox, tmp_path: Path, fault, command, code, message, stage
) -> None:
    sandbox.control("faults", fault)
    real = fault is FAULTS[0][1]  # one through the console script, the rest forked
    case = Case(
        command[0], command, code, message, sandbox=True, refused=False, real_process=real
    )
    assert_clear_failure(case, run_case(case, tmp_path), tmp_path)
    failed = tmp_path / "output" / stage / f"date={D}"
    assert not (failed / "_meta.json").exists() and not (failed / "data.parquet").exists()
    assert (failed / "_failed.json").is_file()
