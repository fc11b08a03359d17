"""orquestrador-btg: extract, transform and load BTG carteira and/or rentabilidade for one date.

    orquestrador-btg                                      # ambos, 1 dia útil atrás (São Paulo)
    orquestrador-btg --tipo carteira                      # só carteira
    orquestrador-btg --tipo rentabilidade --dias-atras 3  # 3 dias úteis atrás
    orquestrador-btg --data 2025-04-10                    # data específica
    orquestrador-btg --dir-carteira /dados/btg/carteira --dir-rentabilidade /dados/btg/rent
    orquestrador-btg --workers 2 --scheduler-url http://127.0.0.1:8082
    python -m etl_tasks.btg ...                           # the same command

Reproduces the original ``orquestrador_btg.py`` guide on the Luigi graph: the loads of the chosen
``--tipo`` (and everything upstream of them) run for one ANBIMA business day; finished stages are
skipped, so running the same command again after a failure resumes where it stopped. Logs go to
the console and to ``logs/orquestrador_btg_YYYYMMDD.log`` (``[paths] logs_dir``): the start and
end of every step in Portuguese, errors with their detail, a short summary per tipo and a last
line ``SUCESSO`` or ``FALHA``.

Exit codes (for cron): 0 success (a non-business date is a successful no-op); 1 failure — bad
arguments (``--data`` with ``--dias-atras``, an invalid date, a negative N), an unwritable landing
directory, or a failed task. Argument and directory problems are found before any API request.

``--dias-atras N`` counts ANBIMA business days before today in America/Sao_Paulo (default 1).
Testing hook: the environment variable ``ETL_TODAY=YYYY-MM-DD`` replaces "today".
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import luigi
from luigi.configuration import get_config
from luigi.execution_summary import LuigiStatusCode

from etl_tasks.alerts import rerun_command_for, send_run_alert
from etl_tasks.btg.extract import (
    BtgExtract,
    BtgExtractCarteira,
    BtgExtractRentabilidade,
    ensure_writable,
    non_business_reason,
)
from etl_tasks.btg.tasks import tipo_loads, tipo_names, tipo_stage_tasks
from etl_tasks.calendar import business_days_back, today_in_sao_paulo
from etl_tasks.cli.common import select_pipelines
from etl_tasks.config import env, load_env, logs_root
from etl_tasks.core.logs import setup_logging
from etl_tasks.errors import ConfigError
from etl_tasks.ops.lock import exit_if_locked
from etl_tasks.report import FAILED, PENDING, RunReport, collect_report, render_text

logger = logging.getLogger("etl_tasks.orquestrador_btg")

EXIT_OK = 0
EXIT_FAILURE = 1
SUCCESS_STATUSES = (LuigiStatusCode.SUCCESS, LuigiStatusCode.SUCCESS_WITH_RETRY)
EXTRACTS: dict[str, type[BtgExtract]] = {
    "carteira": BtgExtractCarteira,
    "rentabilidade": BtgExtractRentabilidade,
}
STEP_NAMES = {
    "BtgExtractCarteira": "extração da carteira",
    "BtgExtractRentabilidade": "extração da rentabilidade",
    "BtgTransformFundos": "processamento da carteira (fundos)",
    "BtgTransformPosicoes": "processamento da carteira (posições)",
    "BtgTransformRentabilidade": "processamento da rentabilidade",
    "BtgCrossCheck": "conferência carteira x rentabilidade",
    "BtgSchema": "criação das tabelas BTG",
    "BtgLoadFundos": "carga de btg_fundos",
    "BtgLoadPosicoes": "carga de btg_posicoes",
    "BtgLoadRentabilidade": "carga de btg_rentabilidade",
}


class UsageError(Exception):
    """The command line is wrong; the message says what to change."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors as :class:`UsageError` (exit 1 with a logged reason, as the
    original guide promises cron), not argparse's exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="orquestrador-btg", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tipo",
        choices=["carteira", "rentabilidade", "ambos"],
        default="ambos",
        help="tipo de dado a processar (padrão: ambos)",
    )
    parser.add_argument(
        "--data", default=None, metavar="YYYY-MM-DD", help="data específica no formato YYYY-MM-DD"
    )
    parser.add_argument(
        "--dias-atras",
        type=int,
        default=None,
        metavar="N",
        help="número de dias úteis ANBIMA no passado (padrão: 1)",
    )
    parser.add_argument(
        "--dir-carteira",
        default=None,
        metavar="DIR",
        help="diretório dos arquivos de carteira (padrão: BTG_REPORT_PATH)",
    )
    parser.add_argument(
        "--dir-rentabilidade",
        default=None,
        metavar="DIR",
        help="diretório dos arquivos de rentabilidade (padrão: BTG_RENTABILIDADE)",
    )
    parser.add_argument("--workers", type=int, default=1, help="processos Luigi (padrão 1)")
    parser.add_argument(
        "--scheduler-url", default=None, help="URL do luigid central (padrão: agendador local)"
    )
    return parser


@dataclass(frozen=True)
class RunPlan:
    """What one invocation will do: tipo, date, landing directories."""

    tipo: str
    date: dt.date
    directories: dict[str, Path]


def today() -> dt.date:
    """Today in São Paulo, or ``ETL_TODAY`` (YYYY-MM-DD) when set (tests, replays)."""
    override = os.environ.get("ETL_TODAY", "").strip()
    if not override:
        return today_in_sao_paulo()
    try:
        return dt.date.fromisoformat(override)
    except ValueError:
        raise ConfigError(
            f"ETL_TODAY={override!r} is not a YYYY-MM-DD date; fix or unset it."
        ) from None


def reference_date(data: str | None, dias_atras: int | None) -> dt.date:
    """The date to process: ``--data``, else ``--dias-atras`` business days before today."""
    if data is not None and dias_atras is not None:
        raise UsageError("use --data or --dias-atras, not both")
    if data is not None:
        try:
            return dt.date.fromisoformat(data)
        except ValueError:
            raise UsageError(f"data inválida {data!r}: use YYYY-MM-DD, e.g. 2025-04-10") from None
    days = 1 if dias_atras is None else dias_atras
    if days < 0:
        raise UsageError(f"--dias-atras deve ser 0 ou mais, recebido {days}")
    return business_days_back(days, today())


def plan(args: argparse.Namespace) -> RunPlan:
    """Validate everything that can be checked before the first API request."""
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    date = reference_date(args.data, args.dias_atras)
    directories = {}
    for name in tipo_names(args.tipo):
        extract = EXTRACTS[name]
        # --dir-carteira / --dir-rentabilidade share the extract parameter's name.
        chosen = getattr(args, extract.landing_param) or env(extract.landing_env)
        if not chosen:
            flag = "--" + extract.landing_param.replace("_", "-")
            raise ConfigError(f"{extract.landing_env} is not set; add it to .env or pass {flag}.")
        directories[name] = ensure_writable(Path(chosen), name)
    return RunPlan(args.tipo, date, directories)


def configure_luigi(run: RunPlan) -> None:
    """Point the extracts at the chosen landing directories and decide on the cross-check.

    Set through the configuration (``[BtgExtractCarteira] dir_carteira`` ...) because Luigi
    reads an upstream task's parameters from its config section; ``--workers`` subprocesses are
    forked and inherit it."""
    config = get_config()
    # Our console + dated file handlers already catch Luigi's loggers; its own set-up would
    # print every line twice.
    config.set("core", "no_configure_logging", "true")
    for name, directory in run.directories.items():
        extract = EXTRACTS[name]
        config.set(extract.get_task_family(), extract.landing_param, str(directory))
    if len(tipo_names(run.tipo)) == 1:
        # One report only: there is nothing to compare it with in this run.
        config.set("btg", "cross_check", "false")


def _rows(task: luigi.Task) -> int | None:
    partition = getattr(task, "partition", None)
    if partition is None:
        return None
    sidecar = partition().sidecar()
    return None if sidecar is None else sidecar.rows


def _describe(task: luigi.Task) -> str:
    step = STEP_NAMES.get(task.task_family, task.task_family)
    date = getattr(task, "date", None)
    return f"{step} de {date.isoformat()}" if isinstance(date, dt.date) else step


_HANDLERS_INSTALLED = False


def install_step_logging() -> None:
    """Log the start, end and failure of every BTG task in Portuguese (once per process)."""
    global _HANDLERS_INSTALLED
    if _HANDLERS_INSTALLED:
        return
    _HANDLERS_INSTALLED = True

    def is_btg(task: luigi.Task) -> bool:
        return task.task_family.startswith("Btg")

    @luigi.Task.event_handler(luigi.Event.START)
    def on_start(task: luigi.Task) -> None:
        if is_btg(task):
            logger.info("INÍCIO: %s", _describe(task))

    @luigi.Task.event_handler(luigi.Event.SUCCESS)
    def on_success(task: luigi.Task) -> None:
        if is_btg(task):
            rows = _rows(task)
            done = "" if rows is None else f" ({rows} registros)"
            logger.info("FIM: %s%s", _describe(task), done)

    @luigi.Task.event_handler(luigi.Event.FAILURE)
    def on_failure(task: luigi.Task, exception: BaseException) -> None:
        if is_btg(task):
            logger.error("ERRO em %s: %s: %s", _describe(task), type(exception).__name__, exception)


def run_graph(run: RunPlan, workers: int, scheduler_url: str | None) -> bool:
    """Build the loads of the tipo for the date; True when Luigi says everything succeeded."""
    scheduler = {"scheduler_url": scheduler_url} if scheduler_url else {"local_scheduler": True}
    result = luigi.build(
        tipo_loads(run.tipo, run.date),
        detailed_summary=True,
        workers=workers,
        **scheduler,
    )
    logger.info("resumo do Luigi: %s", result.one_line_summary)
    return result.status in SUCCESS_STATUSES


def summarize(run: RunPlan) -> RunReport:
    """The BTG report of this run's tasks, and a short line per tipo (funds, rows loaded)."""
    report = collect_report(run.date, ["btg"], tipo_stage_tasks(run.tipo, run.date))
    rows = {record.task_family: record.rows for record in report.tasks}
    for name in tipo_names(run.tipo):
        if name == "carteira":
            logger.info(
                "RESUMO carteira %s: %d fundos; %d linhas em btg_fundos, %d em btg_posicoes",
                run.date,
                rows.get("BtgLoadFundos", 0),
                rows.get("BtgLoadFundos", 0),
                rows.get("BtgLoadPosicoes", 0),
            )
        else:
            logger.info(
                "RESUMO rentabilidade %s: %d fundos; %d linhas em btg_rentabilidade",
                run.date,
                rows.get("BtgLoadRentabilidade", 0),
                rows.get("BtgLoadRentabilidade", 0),
            )
    return report


def main(argv: Sequence[str] | None = None) -> int:
    load_env()
    log_path = setup_logging("orquestrador_btg", logs_root())
    try:
        args = build_parser().parse_args(argv)
        run = plan(args)
    except (UsageError, ConfigError) as error:
        logger.error("não é possível executar: %s", error)
        logger.error("FALHA")
        return EXIT_FAILURE
    directories = ", ".join(f"{name}={path}" for name, path in run.directories.items())
    logger.info(
        "orquestrador-btg: tipo %s, data %s, diretórios %s, log %s",
        run.tipo,
        run.date,
        directories,
        log_path,
    )
    reason = non_business_reason(run.date)
    if reason:
        logger.info("%s: nada a fazer", reason)
    select_pipelines(["btg"])
    configure_luigi(run)
    install_step_logging()
    # Another orquestrador-btg, etl-run --pipeline btg|all or backfill of this date: exit 10.
    with exit_if_locked(["btg"], [run.date]):
        try:
            succeeded = run_graph(run, args.workers, args.scheduler_url)
        except Exception as error:  # a scheduler/configuration crash must still end in FALHA
            logger.exception("execução interrompida: %s", error)
            succeeded = False
    report = summarize(run)
    print(render_text(report), end="")
    statuses = {record.status for record in report.tasks}
    if succeeded and (FAILED in statuses or PENDING in statuses):
        succeeded = False  # never report success on a gap
    for error in report.errors:
        logger.error("erro: %s", error)
    send_run_alert(report.to_json(), rerun_command_for(run.date, ["btg"]))
    logger.info("SUCESSO" if succeeded else "FALHA")
    return EXIT_OK if succeeded else EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
