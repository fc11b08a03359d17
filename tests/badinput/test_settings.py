"""Bad ``.env`` values and bad ``luigi.cfg`` files: one line, the documented code, nothing run.

``etl-run`` and ``etl-backfill`` check the set-up before running and exit 3 naming the key;
``etl-validate`` lists the problem and exits 1; ``orquestrador-btg`` exits 1 with ``FALHA``.
Cases whose other settings must work (a wrong password next to a right client id) run against
the sandbox; the rest need no server at all.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from tests.badinput.table import Case, assert_clear_failure, real_process_for_some, run_case

CONFIG = 3
FAILED = 1
TASK_FAILED = 30
UNHANDLED = 40
D = "2025-04-10"
RUN = ["etl-run", "--date", D]
RUN_BTG = ["etl-run", "--date", D, "--pipeline", "btg"]
ORQ = ["orquestrador-btg", "--data", D]
VALIDATE = ["etl-validate", "--offline"]
PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def env_case(id: str, command: list[str], code: int, message: str, **env: str) -> Case:
    return Case(id, command, code, message, env=env, sandbox=True)


def runs_then_fails(case: Case) -> Case:
    """A case found by a task, not before the run: what ran is kept, the failed stage is not."""
    return dataclasses.replace(case, refused=False)


def cfg_case(id: str, command: list[str], code: int, message: str, config: str) -> Case:
    return Case(id, command, code, message, config=config)


def bad_value(section: str, key: str, value: str) -> str:
    return re.escape(f"luigi.cfg [{section}] {key} = '{value}' is not valid")


def out_of_range(section: str, key: str, value: str, rule: str) -> str:
    return re.escape(f"luigi.cfg [{section}] {key} = '{value}' is out of range: it must be {rule}")


ENV_CASES: list[Case] = [
    # --- credentials and keys missing --------------------------------------------------------
    Case("no .env, no Twitch keys", RUN, CONFIG, r"missing TWITCH_CLIENT_ID, TWITCH_CLIENT_SECRET"),
    Case(
        "only TWITCH_CLIENT_ID",
        RUN,
        CONFIG,
        r"missing TWITCH_CLIENT_SECRET",
        env_file="TWITCH_CLIENT_ID=abc\n",
    ),
    Case("no BTG keys", RUN_BTG, CONFIG, r"missing BTG_CLIENT_ID, BTG_CLIENT_SECRET"),
    Case(
        "no BTG keys, orquestrador",
        ORQ,
        FAILED,
        r"ambiente inválido: btg credenciais: missing BTG_CLIENT_ID",
    ),
    Case(
        ".env of garbage lines",
        RUN,
        CONFIG,
        r"missing TWITCH_CLIENT_ID",
        env_file="this is not a dotenv file\n===\n",
    ),
    Case(
        "ETL_ENV_FILE is a directory",
        RUN,
        CONFIG,
        r"ETL_ENV_FILE=/tmp does not exist \(or is not a file\)",
        env={"ETL_ENV_FILE": "/tmp"},
    ),
    Case("etl-validate without keys", VALIDATE, FAILED, r"missing TWITCH_CLIENT_ID"),
    Case(
        "etl-backfill without keys",
        ["etl-backfill", "--start", D, "--end", D],
        CONFIG,
        r"missing TWITCH_CLIENT_ID",
    ),
    # --- wrong credentials (the sandbox answers like the real APIs) ---------------------------
    env_case(
        "wrong TWITCH_CLIENT_SECRET",
        RUN,
        CONFIG,
        r"rejected by Twitch",
        TWITCH_CLIENT_SECRET="wrong",
    ),
    env_case(
        "unknown TWITCH_CLIENT_ID",
        RUN,
        CONFIG,
        r"rejected by Twitch",
        TWITCH_CLIENT_ID="nosuchclient000000000000000001",
    ),
    env_case(
        "wrong secret, etl-validate",
        ["etl-validate"],
        FAILED,
        r"rejected by Twitch",
        TWITCH_CLIENT_SECRET="wrong",
    ),
    env_case(
        "wrong BTG_CLIENT_SECRET",
        ORQ,
        FAILED,
        r"BTG rejected the client credentials",
        BTG_CLIENT_SECRET="wrong",
    ),
    env_case(
        "wrong BTG_CLIENT_SECRET, etl-run",
        RUN_BTG,
        CONFIG,
        r"BTG.*(rejected|invalid)",
        BTG_CLIENT_SECRET="wrong",
    ),
    # --- base URLs: malformed, unknown scheme, unreachable -------------------------------------
    env_case(
        "TWITCH_AUTH_BASE_URL unreachable",
        RUN,
        CONFIG,
        r"Twitch.*(connect|unavailable)",
        TWITCH_AUTH_BASE_URL="http://127.0.0.1:1",
    ),
    env_case(
        "TWITCH_AUTH_BASE_URL not a URL",
        RUN,
        CONFIG,
        r"not a usable URL|TWITCH_AUTH_BASE_URL",
        TWITCH_AUTH_BASE_URL="notaurl",
    ),
    env_case(
        "TWITCH_API_BASE_URL not a URL",
        RUN,
        CONFIG,  # the client refuses it while etl-run validates, before any task
        r"not a usable URL.*TWITCH_API_BASE_URL",
        TWITCH_API_BASE_URL="notaurl",
    ),
    env_case(
        "TWITCH_API_BASE_URL ftp://",
        RUN,
        CONFIG,
        r"not a usable URL.*TWITCH_API_BASE_URL",
        TWITCH_API_BASE_URL="ftp://127.0.0.1/helix",
    ),
    env_case(
        "BTG_BASE_URL unreachable",
        ORQ,
        FAILED,
        r"connection failed|unavailable",
        BTG_BASE_URL="http://127.0.0.1:1",
    ),
    env_case(
        "BTG_BASE_URL not a URL",
        ORQ,
        FAILED,
        r"not a usable URL|BTG_BASE_URL",
        BTG_BASE_URL="notaurl",
    ),
    env_case(
        "BTG_REPORT_PATH unwritable",
        ORQ,
        FAILED,
        r"não é possível gravar no diretório de carteira /proc/nope",
        BTG_REPORT_PATH="/proc/nope",
    ),
    env_case(
        "BTG_RENTABILIDADE unwritable",
        ORQ,
        FAILED,
        r"não é possível gravar no diretório de rentabilidade",
        BTG_RENTABILIDADE="/proc/nope",
    ),
    # --- warehouse URLs ------------------------------------------------------------------------
    env_case(
        "WAREHOUSE_URL unknown scheme",
        RUN,
        CONFIG,
        r"unsupported warehouse URL scheme 'foo'",
        WAREHOUSE_URL="foo://x/y",
    ),
    env_case(
        "WAREHOUSE_URL not a URL", RUN, CONFIG, r"warehouse.*(scheme|URL)", WAREHOUSE_URL="notaurl"
    ),
    env_case(
        "WAREHOUSE_URL port not a number",
        RUN,
        CONFIG,
        r"warehouse.*port",
        WAREHOUSE_URL="postgresql://u@127.0.0.1:abc/db",
    ),
    env_case(
        "WAREHOUSE_URL broken IPv6 host",
        RUN,
        CONFIG,
        r"warehouse",
        WAREHOUSE_URL="postgresql://u@[::1/db",
    ),
    env_case(
        "PostgreSQL port closed",
        RUN,
        CONFIG,
        r"cannot connect to the postgresql warehouse",
        WAREHOUSE_URL="postgresql://postgres@127.0.0.1:1/test",
    ),
    env_case(
        "PostgreSQL unknown user",
        RUN,
        CONFIG,
        r"cannot connect to the postgresql warehouse",
        WAREHOUSE_URL="postgresql://nobody_xyz:wrong@127.0.0.1:5432/test",
    ),
    env_case(
        "PostgreSQL unknown database",
        RUN,
        CONFIG,
        r"cannot connect to the postgresql warehouse",
        WAREHOUSE_URL="postgresql://postgres@127.0.0.1:5432/no_such_db_xyz",
    ),
    env_case(
        "MariaDB wrong password",
        RUN,
        CONFIG,
        r"cannot connect to the mysql warehouse",
        WAREHOUSE_URL="mysql://root:wrong@127.0.0.1:3306/test",
    ),
    env_case(
        "MariaDB unknown database",
        RUN,
        CONFIG,
        r"cannot connect to the mysql warehouse",
        WAREHOUSE_URL="mysql://root@127.0.0.1:3306/no_such_db_xyz",
    ),
    env_case(
        "MariaDB port closed",
        RUN,
        CONFIG,
        r"cannot connect to the mysql warehouse",
        WAREHOUSE_URL="mysql://root@127.0.0.1:1/test",
    ),
    env_case(
        "SQLite in an unwritable directory",
        RUN,
        35,  # not caught by the set-up checks since the merge: Luigi's scheduling error
        r"warehouse.*(/proc/nope|open)",
        WAREHOUSE_URL="sqlite:////proc/nope/x.db",
    ),
    env_case(
        "TWITCH_WAREHOUSE_URL wins and is bad",
        RUN,
        CONFIG,
        r"unsupported warehouse URL",
        TWITCH_WAREHOUSE_URL="oracle://x/y",
    ),
    env_case(
        "BTG_WAREHOUSE_URL bad, orquestrador",
        ORQ,
        FAILED,
        r"unsupported warehouse URL",
        BTG_WAREHOUSE_URL="oracle://x/y",
    ),
    env_case(
        "password never shown",
        RUN,
        CONFIG,
        r"postgresql://nobody_xyz:\*\*\*@",
        WAREHOUSE_URL="postgresql://nobody_xyz:s3cr3t-pw@127.0.0.1:5432/test",
    ),
]

# Found by the tasks that read them (the orquestrador validates nothing before its graph, and the
# set-up checks ask the Twitch auth host, not the Helix one): they run, the failing stage leaves
# only its _failed.json, and the report names the problem.
FOUND_BY_A_TASK = {
    "no BTG keys, orquestrador",
    "wrong BTG_CLIENT_SECRET",
    "TWITCH_API_BASE_URL not a URL",
    "TWITCH_API_BASE_URL ftp://",
    "BTG_BASE_URL unreachable",
    "BTG_BASE_URL not a URL",
    "BTG_WAREHOUSE_URL bad, orquestrador",
    "SQLite in an unwritable directory",
}
ENV_CASES = [runs_then_fails(c) if c.id in FOUND_BY_A_TASK else c for c in ENV_CASES]

CONFIG_CASES: list[Case] = [
    *[
        cfg_case(
            f"[{section}] {key} = {value}",
            RUN,
            CONFIG,
            bad_value(section, key, value),
            f"[{section}]\n{key} = {value}\n",
        )
        for section, key, value in [
            ("http", "timeout_s", "abc"),
            ("http", "max_retries", "1.5"),
            ("http", "backoff_base_s", "fast"),
            ("http", "backoff_max_s", "1e"),
            ("twitch", "page_size", "abc"),
            ("twitch", "top_games", "-"),
            ("twitch", "max_stream_pages", "all"),
            ("twitch", "ratelimit_reserve", "ten"),
            ("twitch", "shared_ratelimit", "maybe"),
            ("twitch", "broadcaster_ids", "[1,"),
            ("btg", "page_size", "x"),
            ("btg", "poll_initial_s", "soon"),
            ("btg", "poll_deadline_s", "10min"),
            ("btg", "indexers", "[CDIE"),
            ("btg", "cross_check", "sometimes"),
            ("alerts", "smtp_port", "smtp"),
            ("alerts", "on_success", "perhaps"),
            ("core", "log_level", "LOUD"),
            ("worker", "keep_alive", "maybe"),
            ("retcode", "task_failed", "abc"),
        ]
    ],
    # Values that parse but cannot work: refused by the set-up check, before any request.
    *[
        cfg_case(
            f"[{section}] {key} = {value} (out of range)",
            RUN,
            CONFIG,
            out_of_range(section, key, value, rule),
            f"[{section}]\n{key} = {value}\n",
        )
        for section, key, value, rule in [
            ("twitch", "page_size", "0", "between 1 and 100"),
            ("twitch", "page_size", "101", "between 1 and 100"),
            ("twitch", "concurrency", "0", "between 1 and 64"),
            ("twitch", "lookback", "-1", "at least 0"),
            ("http", "timeout_s", "0", "at least 0.001"),
            ("http", "max_retries", "-2", "at least 0"),
            ("btg", "poll_factor", "0.5", "at least 1"),
            ("alerts", "smtp_port", "70000", "between 1 and 65535"),
        ]
    ],
    cfg_case(
        "orquestrador: [btg] page_size = 0 (out of range)",
        ORQ,
        FAILED,
        out_of_range("btg", "page_size", "0", "at least 1"),
        "[btg]\npage_size = 0\n",
    ),
    cfg_case(
        "etl-validate: [http] timeout_s = abc",
        VALIDATE,
        FAILED,
        bad_value("http", "timeout_s", "abc"),
        "[http]\ntimeout_s = abc\n",
    ),
    cfg_case(
        "orquestrador: [btg] poll_deadline_s = x",
        ORQ,
        FAILED,
        bad_value("btg", "poll_deadline_s", "x"),
        "[btg]\npoll_deadline_s = x\n",
    ),
    cfg_case(
        "etl-run --no-validate: [twitch] page_size = abc",
        [*RUN, "--no-validate"],
        35,  # read while Luigi schedules (complete/requires): a scheduling error
        bad_value("twitch", "page_size", "abc"),
        "[twitch]\npage_size = abc\n",
    ),
    cfg_case(
        "etl-run --no-validate: [core] log_level = LOUD",
        [*RUN, "--no-validate"],
        UNHANDLED,  # Luigi's own [core] is read inside the run: the driver reports a crash
        r"the run stopped: ValueError: .*'log_level'",
        "[core]\nlog_level = LOUD\n",
    ),
    cfg_case(
        "etl-run --no-validate: [retcode] task_failed = abc",
        [*RUN, "--no-validate"],
        CONFIG,
        bad_value("retcode", "task_failed", "abc"),
        "[retcode]\ntask_failed = abc\n",
    ),
    *[
        cfg_case(
            f"etl-validate: [pipelines] {key} = {value}",
            VALIDATE,
            CONFIG,  # i8's one-line ConfigError decorator: 3, as for every command
            re.escape(f"luigi.cfg [pipelines]: Not a boolean: {value}; use true or false"),
            f"[pipelines]\n{key} = {value}\n",
        )
        for key, value in [("twitch", "maybe"), ("btg", "2")]
    ],
    # --- unwritable paths ----------------------------------------------------------------------
    cfg_case(
        "logs_dir unwritable, etl-run",
        RUN,
        CONFIG,
        r"cannot write the log file /proc/nope",
        "[paths]\nlogs_dir = /proc/nope\n",
    ),
    cfg_case(
        "logs_dir unwritable, orquestrador",
        ORQ,
        FAILED,
        r"cannot write the log file /proc/nope",
        "[paths]\nlogs_dir = /proc/nope\n",
    ),
    cfg_case(
        "logs_dir unwritable, backfill --plan",
        ["etl-backfill", "--start", D, "--end", D, "--plan"],
        CONFIG,
        r"cannot write the log file",
        "[paths]\nlogs_dir = /proc/nope\n",
    ),
    cfg_case(
        "logs_dir unwritable, invalidate",
        ["etl-invalidate", "--date", D, "--task", "TwitchLoadClips", "--dry-run"],
        CONFIG,
        r"cannot write the log file",
        "[paths]\nlogs_dir = /proc/nope\n",
    ),
    cfg_case(
        "logs_dir is a file",
        RUN,
        CONFIG,
        r"cannot write the log file /etc/hostname",
        "[paths]\nlogs_dir = /etc/hostname\n",
    ),
    cfg_case(
        "output_dir unwritable, --no-validate",
        [*RUN, "--no-validate"],
        CONFIG,
        r"cannot create the lock directory /proc/nope",
        "[paths]\noutput_dir = /proc/nope\n",
    ),
    cfg_case(
        "output_dir unwritable, etl-run",
        RUN,
        CONFIG,
        r"/proc/nope",
        "[paths]\noutput_dir = /proc/nope\n",
    ),
    cfg_case(
        "output_dir unwritable, orquestrador",
        ORQ,
        FAILED,
        r"/proc/nope",
        "[paths]\noutput_dir = /proc/nope\n",
    ),
]


CONFIG_CASES = [
    dataclasses.replace(c, sandbox=True, refused=False) if "--no-validate: [twitch]" in c.id else c
    for c in CONFIG_CASES
]
# Luigi's own sections are read by the run itself (after the first tasks may have run).
CONFIG_CASES = [
    dataclasses.replace(c, refused=False)
    if "--no-validate: [core]" in c.id or "--no-validate: [retcode]" in c.id
    else c
    for c in CONFIG_CASES
]
# The rest are forked (tests.forkserver).
ENV_CASES = real_process_for_some(ENV_CASES)
CONFIG_CASES = real_process_for_some(CONFIG_CASES, per_command=1)


@pytest.mark.parametrize("case", ENV_CASES, ids=str)
def test_bad_env(case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if case.sandbox:
        request.getfixturevalue("sandbox")  # credentials and URLs of the sandbox in os.environ
    assert_clear_failure(case, run_case(case, tmp_path), tmp_path)


@pytest.mark.parametrize("case", CONFIG_CASES, ids=str)
def test_bad_luigi_cfg(case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if case.sandbox:
        request.getfixturevalue("sandbox")
    assert_clear_failure(case, run_case(case, tmp_path), tmp_path)


UNREADABLE = [
    ("no section header", "garbage line\n"),
    ("duplicate section", "[http]\ntimeout_s = 1\n[http]\nmax_retries = 1\n"),
    ("duplicate key", "[http]\ntimeout_s = 1\ntimeout_s = 2\n"),
    ("unclosed section", "[http\ntimeout_s = 1\n"),
]


@pytest.mark.parametrize(
    ("command", "code"), [(RUN, CONFIG), (ORQ, FAILED), (VALIDATE, FAILED)], ids=lambda v: str(v)
)
@pytest.mark.parametrize(("what", "text"), UNREADABLE, ids=[u[0] for u in UNREADABLE])
def test_unreadable_luigi_cfg(command, code, what, text, tmp_path: Path) -> None:
    case = Case(what, command, code, rf"{command[0]}: cannot read luigi.cfg: .+; fix that file")
    config = tmp_path / "broken.cfg"
    config.write_text(text)
    # Luigi reads LUIGI_CONFIG_PATH at import: only a new interpreter shows what that does.
    unreadable = Case(
        what, command, code, "", env={"LUIGI_CONFIG_PATH": str(config)}, real_process=True
    )
    result = run_case(unreadable, tmp_path)
    assert_clear_failure(case, result, tmp_path)
