"""Bad command-line arguments of every entry point: one line, the documented code, nothing run.

Codes (README, *Exit codes*): ``etl-run``, ``etl-backfill``, ``etl-invalidate``, ``etl-validate``,
``etl-scheduler``, ``etl-sandbox`` and plain ``luigi`` exit 2 for a bad argument;
``orquestrador-btg`` keeps the original guide's 1 (with its ``FALHA`` line).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.badinput.table import Case, assert_clear_failure, real_process_for_some, run_case

USAGE = 2
FALHA = 1
INVALID_DATE = r"invalid date '{}': expected YYYY-MM-DD"
OUT_OF_RANGE = r"{} is out of range: give a date between 2000-01-01 and 2026-04-12"
D = "2025-04-10"


def usage(id: str, command: str, message: str, code: int = USAGE) -> Case:
    return Case(id, command.split(" ") if command else [], code, message)


def orq(id: str, args: list[str], message: str, **kwargs) -> Case:
    return Case(id, ["orquestrador-btg", *args], FALHA, message, **kwargs)


BAD_DATES = [
    "2025-13-45",
    "2025-02-30",
    "2025-04-31",
    "abc",
    "2025/04/10",
    "10-04-2025",
    "2025-4-10x",
    "20250410T00",
]
OUT_OF_WINDOW = ["9999-12-31", "0001-01-01", "1999-12-31", "2026-04-13"]

CASES: list[Case] = [
    # --- etl-run -------------------------------------------------------------------------------
    *[
        Case(
            f"etl-run --date {d}",
            ["etl-run", "--date", d],
            USAGE,
            r"etl-run: error: argument --date: " + INVALID_DATE.format(d),
        )
        for d in BAD_DATES
    ],
    Case("etl-run --date ''", ["etl-run", "--date", ""], USAGE, INVALID_DATE.format("")),
    *[
        Case(f"etl-run --date {d}", ["etl-run", "--date", d], USAGE, OUT_OF_RANGE.format(d))
        for d in OUT_OF_WINDOW
    ],
    usage("etl-run --pipeline foo", "etl-run --pipeline foo", r"unknown pipeline 'foo'"),
    usage("etl-run --pipeline TWITCH", "etl-run --pipeline TWITCH", r"unknown pipeline 'TWITCH'"),
    usage("etl-run --workers 0", "etl-run --workers 0", r"--workers must be at least 1"),
    usage("etl-run --workers -3", "etl-run --workers -3", r"--workers must be at least 1"),
    usage("etl-run --workers abc", "etl-run --workers abc", r"invalid int value: 'abc'"),
    usage("etl-run --workers 1.5", "etl-run --workers 1.5", r"invalid int value: '1.5'"),
    usage("etl-run --bogus", "etl-run --bogus", r"unrecognized arguments: --bogus"),
    usage("etl-run positional", f"etl-run {D}", rf"unrecognized arguments: {D}"),
    usage("etl-run --date (no value)", "etl-run --date", r"argument --date: expected one argument"),
    # --- etl-validate --------------------------------------------------------------------------
    usage("etl-validate --pipeline foo", "etl-validate --pipeline foo", r"unknown pipeline 'foo'"),
    usage("etl-validate --bogus", "etl-validate --bogus", r"unrecognized arguments: --bogus"),
    usage("etl-validate positional", "etl-validate twitch", r"unrecognized arguments: twitch"),
    # --- orquestrador-btg ----------------------------------------------------------------------
    *[
        orq(f"orquestrador-btg --data {d}", ["--data", d], rf"data inválida '{d}'")
        for d in ["2025-13-45", "2025-02-30", "abc", "", "10/04/2025"]
    ],
    *[
        orq(
            f"orquestrador-btg --data {d}",
            ["--data", d],
            rf"--data {d} fora do intervalo: use uma data entre 2000-01-01 e 2026-04-12",
        )
        for d in ["9999-12-31", "0001-01-01", "1999-12-31"]
    ],
    orq(
        "orquestrador-btg --dias-atras -1",
        ["--dias-atras", "-1"],
        r"--dias-atras deve ser 0 ou mais, recebido -1",
    ),
    orq(
        "orquestrador-btg --dias-atras 100000000",
        ["--dias-atras", "100000000"],
        r"--dias-atras 100000000 passa de 2000-01-01",
    ),
    orq(
        "orquestrador-btg --dias-atras 10000",
        ["--dias-atras", "10000"],
        r"--dias-atras 10000 passa de 2000-01-01",
    ),
    orq(
        "orquestrador-btg --dias-atras abc",
        ["--dias-atras", "abc"],
        r"argumento --dias-atras: valor inteiro inválido: 'abc'",
    ),
    orq(
        "orquestrador-btg --data and --dias-atras",
        ["--data", D, "--dias-atras", "2"],
        r"use --data ou --dias-atras, não os dois",
    ),
    orq(
        "orquestrador-btg --tipo foo", ["--tipo", "foo"], r"argumento --tipo: opção inválida: 'foo'"
    ),
    orq("orquestrador-btg --workers 0", ["--workers", "0"], r"--workers deve ser pelo menos 1"),
    orq(
        "orquestrador-btg --workers abc",
        ["--workers", "abc"],
        r"argumento --workers: valor inteiro inválido: 'abc'",
    ),
    orq(
        "orquestrador-btg --dir-carteira /proc/nope",
        ["--data", D, "--dir-carteira", "/proc/nope"],
        r"não é possível gravar no diretório de carteira /proc/nope",
    ),
    orq(
        "orquestrador-btg --dir-rentabilidade /proc/nope",
        ["--data", D, "--dir-rentabilidade", "/proc/nope"],
        r"não é possível gravar no diretório de rentabilidade /proc/nope",
    ),
    orq(
        "orquestrador-btg --dir-carteira <a file>",
        ["--data", D, "--dir-carteira", "/etc/hostname"],
        r"não é possível gravar no diretório de carteira /etc/hostname",
    ),
    orq("orquestrador-btg --bogus", ["--bogus"], r"argumentos não reconhecidos: --bogus"),
    orq(
        "orquestrador-btg ETL_TODAY=garbage",
        [],
        r"ETL_TODAY='garbage' não é uma data YYYY-MM-DD",
        env={"ETL_TODAY": "garbage"},
    ),
    orq(
        "orquestrador-btg --tipo carteira --data 2025-02-30",
        ["--tipo", "carteira", "--data", "2025-02-30"],
        r"data inválida '2025-02-30'",
    ),
    orq("orquestrador-btg --data (no value)", ["--data"], r"argumento --data: esperado um valor"),
    # --- etl-backfill --------------------------------------------------------------------------
    usage(
        "etl-backfill (no range)",
        "etl-backfill",
        r"the following arguments are required: --start, --end",
    ),
    usage(
        "etl-backfill --start only",
        f"etl-backfill --start {D}",
        r"the following arguments are required: --end",
    ),
    usage(
        "etl-backfill --start abc",
        f"etl-backfill --start abc --end {D}",
        r"argument --start: " + INVALID_DATE.format("abc"),
    ),
    usage(
        "etl-backfill --end 2025-02-30",
        f"etl-backfill --start {D} --end 2025-02-30",
        r"argument --end: " + INVALID_DATE.format("2025-02-30"),
    ),
    usage(
        "etl-backfill start after end",
        "etl-backfill --start 2025-04-10 --end 2025-04-01",
        r"the start date 2025-04-10 is after the end date 2025-04-01",
    ),
    usage(
        "etl-backfill 0001..9999 --plan",
        "etl-backfill --start 0001-01-01 --end 9999-12-31 --plan",
        OUT_OF_RANGE.format("0001-01-01"),
    ),
    usage(
        "etl-backfill 2000..9999 --plan",
        "etl-backfill --start 2000-01-01 --end 9999-12-31 --plan",
        OUT_OF_RANGE.format("9999-12-31"),
    ),
    usage(
        "etl-backfill --pipeline foo",
        f"etl-backfill --start {D} --end {D} --pipeline foo",
        r"unknown pipeline 'foo'",
    ),
    usage(
        "etl-backfill --workers 0",
        f"etl-backfill --start {D} --end {D} --workers 0",
        r"--workers must be at least 1",
    ),
    usage(
        "etl-backfill --workers -1",
        f"etl-backfill --start {D} --end {D} --workers -1",
        r"--workers must be at least 1",
    ),
    usage(
        "etl-backfill --bogus",
        f"etl-backfill --start {D} --end {D} --bogus",
        r"unrecognized arguments: --bogus",
    ),
    # --- etl-invalidate ------------------------------------------------------------------------
    usage(
        "etl-invalidate unknown task",
        f"etl-invalidate --date {D} --task Nope",
        r"unknown task 'Nope'",
    ),
    usage(
        "etl-invalidate task in lower case",
        f"etl-invalidate --date {D} --task twitchloadclips",
        r"unknown task 'twitchloadclips'",
    ),
    usage(
        "etl-invalidate --date abc",
        "etl-invalidate --date abc --task TwitchLoadClips",
        r"argument --date: " + INVALID_DATE.format("abc"),
    ),
    usage(
        "etl-invalidate no --task",
        f"etl-invalidate --date {D}",
        r"the following arguments are required: --task",
    ),
    usage("etl-invalidate no date", "etl-invalidate --task TwitchLoadClips", r"--date|--start"),
    usage(
        "etl-invalidate start after end",
        "etl-invalidate --start 2025-04-10 --end 2025-04-01 --task TwitchLoadClips",
        r"after the end date|--start .*--end",
    ),
    usage(
        "etl-invalidate --date with --start",
        f"etl-invalidate --date {D} --start {D} --end {D} --task TwitchLoadClips",
        r"not allowed with|not both|either",
    ),
    usage(
        "etl-invalidate --date 9999-12-31",
        "etl-invalidate --date 9999-12-31 --task TwitchLoadClips",
        OUT_OF_RANGE.format("9999-12-31"),
    ),
    usage(
        "etl-invalidate 0001..9999",
        "etl-invalidate --start 0001-01-01 --end 9999-12-31 --task TwitchLoadClips --dry-run",
        OUT_OF_RANGE.format("0001-01-01"),
    ),
    # --- etl-scheduler -------------------------------------------------------------------------
    usage("etl-scheduler --port 0", "etl-scheduler --port 0", r"--port must be 1..65535, got 0"),
    usage(
        "etl-scheduler --port 70000",
        "etl-scheduler --port 70000",
        r"--port must be 1..65535, got 70000",
    ),
    usage("etl-scheduler --port -1", "etl-scheduler --port -1", r"--port must be 1..65535|-1"),
    usage("etl-scheduler --port abc", "etl-scheduler --port abc", r"invalid int value: 'abc'"),
    usage(
        "etl-scheduler --address 0.0.0.0",
        "etl-scheduler --address 0.0.0.0",
        r"refusing to listen on 0\.0\.0\.0",
    ),
    usage("etl-scheduler --bogus", "etl-scheduler --bogus", r"unrecognized arguments: --bogus"),
    # --- etl-sandbox ---------------------------------------------------------------------------
    usage("etl-sandbox --port abc", "etl-sandbox --port abc", r"invalid int value: 'abc'"),
    usage("etl-sandbox --port 99999", "etl-sandbox --port 99999", r"sandbox cannot start: .*port"),
    usage("etl-sandbox --seed abc", "etl-sandbox --seed abc", r"invalid int value: 'abc'"),
    usage("etl-sandbox --bogus", "etl-sandbox --bogus", r"unrecognized arguments: --bogus"),
    # --- plain luigi ---------------------------------------------------------------------------
    *[
        Case(
            f"luigi RunAll --date {d}",
            ["luigi", "--module", "etl_tasks", "RunAll", "--date", d, "--local-scheduler"],
            USAGE,
            r"luigi: error: argument --date: " + INVALID_DATE.format(d),
        )
        for d in ["2025-13-45", "abc", "2025-02-30"]
    ],
    *[
        Case(
            f"luigi RunAll --date {d}",
            ["luigi", "--module", "etl_tasks", "RunAll", "--date", d, "--local-scheduler"],
            USAGE,
            OUT_OF_RANGE.format(d),
        )
        for d in ["9999-12-31", "1999-01-01"]
    ],
    usage(
        "luigi RunAll without --date",
        "luigi --module etl_tasks RunAll --local-scheduler",
        r"luigi: error: RunAll: requires the 'date' parameter to be set",
    ),
    usage(
        "luigi unknown task",
        f"luigi --module etl_tasks NoSuchTask --date {D} --local-scheduler",
        r"luigi: error: No task NoSuchTask",
    ),
    usage(
        "luigi --workers abc",
        f"luigi --module etl_tasks RunAll --date {D} --workers abc --local-scheduler",
        r"luigi: error: .*'workers'.*invalid literal for int",
    ),
    usage(
        "luigi TwitchLoadStreams --date 2025-02-30",
        "luigi --module etl_tasks TwitchLoadStreams --date 2025-02-30 --local-scheduler",
        INVALID_DATE.format("2025-02-30"),
    ),
    usage(
        "luigi ReportTask --date 2025-13-01",
        "luigi --module etl_tasks ReportTask --date 2025-13-01 --local-scheduler",
        INVALID_DATE.format("2025-13-01"),
    ),
    usage(
        "luigi --RunAll-date bad",
        "luigi --module etl_tasks RunAll --RunAll-date 2025-13-45 --local-scheduler",
        INVALID_DATE.format("2025-13-45"),
    ),
    usage(
        "luigi unknown flag",
        f"luigi --module etl_tasks RunAll --date {D} --bogus --local-scheduler",
        r"unrecognized arguments: --bogus",
    ),
    usage(
        "luigi BtgLoadFundos --date ''",
        "luigi --module etl_tasks BtgLoadFundos --date  --local-scheduler",
        r"invalid date ''|requires the 'date'",
    ),
]
CASES = real_process_for_some(CASES)  # the rest are forked: tests.forkserver


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_argument(case: Case, tmp_path: Path) -> None:
    assert_clear_failure(case, run_case(case, tmp_path), tmp_path)
