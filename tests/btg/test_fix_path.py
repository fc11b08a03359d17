"""Corrupt carteira XML + healthy rentabilidade, end to end through ``orquestrador-btg``.

As cron runs it (a subprocess, real sandbox over HTTP, real MariaDB): the rentabilidade of the
date loads, the carteira does not, the exit code is 1 and the report names the failed stage, why,
and the one command that re-fetches. Then BTG "fixes" the file (the sandbox stops corrupting it),
the printed command is run as printed, the carteira loads, and both raw files — the bad one and
the good one — are on disk.

Run: .venv/bin/pytest tests/btg/test_fix_path.py
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pymysql
import pytest

from etl_sandbox.btg_data import dataset_for_seed
from tests.btg.orquestrador_run import orquestrador, prepare_project

DATE = "2025-04-11"  # an odd day: the sandbox's realistic numbers are on by default
def count(url: str, table: str, column: str) -> int:
    parts = urlsplit(url)
    connection = pymysql.connect(host=parts.hostname, port=parts.port or 3306,
                                 user=parts.username or "root", password=parts.password or "",
                                 database=parts.path.lstrip("/"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM information_schema.tables WHERE "
                           "table_schema = DATABASE() AND table_name = %s", (table,))
            if not cursor.fetchone()[0]:
                return 0
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {column} = %s", (DATE,))
            return int(cursor.fetchone()[0])
    finally:
        connection.close()


@pytest.mark.mysql
def test_corrupt_carteira_fails_alone_and_the_printed_command_fixes_it(
        sandbox, tmp_path: Path, fresh_mysql: str) -> None:
    project = prepare_project(tmp_path)
    funds = dataset_for_seed(42).funds_on(dt.date.fromisoformat(DATE))
    broken = funds[3]
    sandbox.control("config", {"btg_corrupt_fund": broken.cnpj})

    first = orquestrador(project, fresh_mysql, ["--data", DATE])
    assert first.code == 1, first.output[-3000:]
    assert count(fresh_mysql, "btg_rentabilidade", "data_referencia") == len(funds)
    assert count(fresh_mysql, "btg_fundos", "data_posicao") == 0
    assert count(fresh_mysql, "btg_posicoes", "data_posicao") == 0
    report = first.output
    failed_line = next(line for line in report.splitlines()
                       if line.strip().startswith("BtgTransformFundos"))
    assert "FAILED" in failed_line and "not well-formed" in failed_line
    assert re.search(r"BtgLoadRentabilidade\s+SUCCESS", report)
    gate = next(line for line in report.splitlines()
                if line.strip().startswith("BtgCrossCheckRentabilidade"))
    assert "cross-check not run: carteira of 2025-04-11 failed" in gate
    assert re.search(r"BtgLoadFundos\s+NOT RUN", report)
    assert "FALHA" in report.splitlines()[-1]
    commands = set(re.findall(r"re-fetch it with: (orquestrador-btg [^(]+?) \(", report))
    assert commands == {f"orquestrador-btg --data {DATE} --baixar-novamente carteira"}, commands

    landed = project / "landing" / "carteira" / DATE / f"Carteira_{DATE.replace('-', '')}.zip"
    bad = hashlib.sha256(landed.read_bytes()).hexdigest()

    # A plain rerun does not help: the bad file is landed and its extract is done.
    again = orquestrador(project, fresh_mysql, ["--data", DATE])
    assert again.code == 1 and count(fresh_mysql, "btg_fundos", "data_posicao") == 0

    sandbox.control("config", {"btg_corrupt_fund": ""})  # BTG fixed the file
    command = shlex.split(commands.pop())
    assert command[0] == "orquestrador-btg"
    fixed = orquestrador(project, fresh_mysql, command[1:])
    assert fixed.code == 0, fixed.output[-3000:]
    assert "SUCESSO" in fixed.output.splitlines()[-1]
    assert count(fresh_mysql, "btg_fundos", "data_posicao") == len(funds)
    assert count(fresh_mysql, "btg_posicoes", "data_posicao") > len(funds)
    assert count(fresh_mysql, "btg_rentabilidade", "data_referencia") == len(funds)
    # The carteira's gate compared both reports this time.
    gate = next(line for line in fixed.output.splitlines()
                if line.strip().startswith("BtgCrossCheckCarteira"))
    assert "SUCCESS" in gate and "not run" not in gate
    # ...and the rentabilidade's gate no longer says "not run": it compared both too.
    gate = next(line for line in fixed.output.splitlines()
                if line.strip().startswith("BtgCrossCheckRentabilidade"))
    assert "SUCCESS" in gate and "not run" not in gate, gate

    previous = sorted((landed.parent / "anteriores").glob("*/" + landed.name))
    assert len(previous) == 1, previous
    assert hashlib.sha256(previous[0].read_bytes()).hexdigest() == bad
    assert hashlib.sha256(landed.read_bytes()).hexdigest() != bad
