"""orquestrador-btg: extrai, processa e carrega a carteira e/ou a rentabilidade BTG de um dia útil.

    orquestrador-btg                                      # ambos, 1 dia útil atrás (São Paulo)
    orquestrador-btg --tipo carteira                      # só carteira
    orquestrador-btg --tipo rentabilidade --dias-atras 3  # 3 dias úteis atrás
    orquestrador-btg --data 2025-04-10                    # data específica
    orquestrador-btg --dir-carteira /dados/btg/carteira --dir-rentabilidade /dados/btg/rent
    orquestrador-btg --workers 2 --scheduler-url http://127.0.0.1:8082
    orquestrador-btg --data 2025-04-10 --baixar-novamente carteira   # BTG corrigiu o arquivo
    python -m etl_tasks.btg ...                           # o mesmo comando

Reproduz o guia original ``orquestrador_btg.py`` sobre o grafo Luigi, pelo mesmo executor de
``etl-run`` e ``etl-backfill`` (``etl_tasks.ops.driver``): as cargas do ``--tipo`` escolhido (e
tudo o que vem antes delas) rodam para um dia útil ANBIMA; etapas já concluídas são puladas, então
rodar o mesmo comando de novo depois de uma falha continua de onde parou. O ambiente (credenciais,
banco de dados, diretórios) é verificado antes de qualquer requisição à API. Os logs vão para o
console e para ``logs/orquestrador_btg_YYYYMMDD.log`` (``[paths] logs_dir``): início e fim de
cada etapa, erros com o detalhe, um resumo por tipo, o estado da data (o relatório de todos os
pipelines, também em ``output/reports/date=D/``), o registro da execução (também em
``output/runs.jsonl``) e uma última linha ``SUCESSO`` ou ``FALHA``.

Códigos de saída (para o cron): 0 sucesso (um dia não útil é um no-op bem-sucedido); 1 falha —
argumentos inválidos (``--data`` com ``--dias-atras``, data inválida, N negativo), ambiente
inválido (credenciais, banco de dados, diretório de destino sem permissão de escrita, luigid de
``--scheduler-url`` que não responde) ou uma tarefa que falhou; 10 outra execução da mesma data
está em andamento.

``--dias-atras N`` conta dias úteis ANBIMA antes de hoje em America/Sao_Paulo (padrão 1).
Para testes: a variável de ambiente ``ETL_TODAY=YYYY-MM-DD`` substitui "hoje".
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
from typing import TYPE_CHECKING, NoReturn

from etl_tasks.alerts import send_run_alert
from etl_tasks.cli.common import end_of_run
from etl_tasks.cli.parsers import document, one_line_config_errors
from etl_tasks.config import env, load_env, logs_root, redact_url
from etl_tasks.core.logs import setup_logging
from etl_tasks.error_boundary import guarded
from etl_tasks.errors import ConfigError
from etl_tasks.ops.driver import DateResult, RunRequest, run_date, run_environment
from etl_tasks.ops.lock import EXIT_ALREADY_RUNNING, AlreadyRunningError
from etl_tasks.ops.runs import RunRecord
from etl_tasks.pipelines import rerun_command
from etl_tasks.report import render_text
from etl_tasks.valid_dates import FIRST_DATE, DateOutOfRangeError, check_date, last_date

# The task graph, the calendar and the set-up checks (Luigi, Arrow, holidays) are imported where a
# run uses them, after the arguments parse: ``--help`` and a bad argument import none of them.
if TYPE_CHECKING:
    import luigi

    from etl_tasks.btg.extract import BtgExtract
    from etl_tasks.validate import Check

logger = logging.getLogger("etl_tasks.orquestrador_btg")

EXIT_OK = 0
EXIT_FAILURE = 1
PIPELINES = ["btg"]
# argparse speaks English; this command speaks its guide's Portuguese.
ARGPARSE_PT = (
    ("invalid choice:", "opção inválida:"),
    ("(choose from", "(escolha entre"),
    ("argument ", "argumento "),
    ("expected one argument", "esperado um valor"),
    ("unrecognized arguments:", "argumentos não reconhecidos:"),
    ("invalid int value:", "valor inteiro inválido:"),
    ("the following arguments are required:", "argumentos obrigatórios:"),
)
CHECK_NAMES_PT = {
    "credentials": "credenciais",
    "warehouse": "banco de dados",
    "python package": "pacote Python",
    "output directory": "diretório de saída",
    "logs directory": "diretório de logs",
}


def extracts() -> dict[str, type[BtgExtract]]:
    """The extract task of each tipo (its landing directory's parameter and ``.env`` key)."""
    from etl_tasks.btg.extract import BtgExtractCarteira, BtgExtractRentabilidade

    return {"carteira": BtgExtractCarteira, "rentabilidade": BtgExtractRentabilidade}


STEP_NAMES = {
    "BtgExtractCarteira": "extração da carteira",
    "BtgExtractRentabilidade": "extração da rentabilidade",
    "BtgTransformFundos": "processamento da carteira (fundos)",
    "BtgTransformPosicoes": "processamento da carteira (posições)",
    "BtgTransformRentabilidade": "processamento da rentabilidade",
    "BtgCrossCheckCarteira": "conferência carteira x rentabilidade",
    "BtgCrossCheckRentabilidade": "conferência rentabilidade x carteira",
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
        for english, portuguese in ARGPARSE_PT:
            message = message.replace(english, portuguese)
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="orquestrador-btg",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    document(parser, __doc__, "mostra a versão do etl_tasks (e do Luigi e do Python) e sai")
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
    parser.add_argument(
        "--baixar-novamente",
        choices=["carteira", "rentabilidade", "ambos"],
        default=None,
        metavar="TIPO",
        help="pede de novo ao BTG o relatório da data (carteira, rentabilidade ou ambos), depois "
        "que o BTG corrigiu um arquivo com erro; os arquivos da tentativa anterior ficam em "
        "<dir>/YYYY-MM-DD/anteriores/",
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
        from etl_tasks.calendar import today_in_sao_paulo

        return today_in_sao_paulo()
    try:
        return dt.date.fromisoformat(override)
    except ValueError:
        raise ConfigError(
            f"ETL_TODAY={override!r} não é uma data YYYY-MM-DD; corrija ou remova a variável."
        ) from None


def reference_date(data: str | None, dias_atras: int | None) -> dt.date:
    """The date to process: ``--data``, else ``--dias-atras`` business days before today."""
    if data is not None and dias_atras is not None:
        raise UsageError("use --data ou --dias-atras, não os dois")
    if data is not None:
        try:
            return check_date(dt.date.fromisoformat(data), "--data")
        except DateOutOfRangeError:
            raise UsageError(
                f"--data {data} fora do intervalo: use uma data entre {FIRST_DATE} e {last_date()}"
            ) from None
        except ValueError:
            raise UsageError(f"data inválida {data!r}: use YYYY-MM-DD, e.g. 2025-04-10") from None
    days = 1 if dias_atras is None else dias_atras
    if days < 0:
        raise UsageError(f"--dias-atras deve ser 0 ou mais, recebido {days}")
    if days > (today() - FIRST_DATE).days:  # more business days than calendar days back to it
        raise UsageError(f"--dias-atras {days} passa de {FIRST_DATE}: use um N menor")
    from etl_tasks.calendar import business_days_back

    return business_days_back(days, today())


def plan(args: argparse.Namespace) -> RunPlan:
    """Validate everything that can be checked before the first API request."""
    if args.workers < 1:
        raise UsageError("--workers deve ser pelo menos 1")
    from etl_tasks.btg.extract import ensure_writable
    from etl_tasks.btg.tasks import tipo_names

    date = reference_date(args.data, args.dias_atras)
    directories = {}
    for name in tipo_names(args.tipo):
        extract = extracts()[name]
        # --dir-carteira / --dir-rentabilidade share the extract parameter's name.
        chosen = getattr(args, extract.landing_param) or env(extract.landing_env)
        flag = "--" + extract.landing_param.replace("_", "-")
        if not chosen:
            raise ConfigError(
                f"{extract.landing_env} não está definido; coloque-o no .env ou use {flag}."
            )
        try:
            directories[name] = ensure_writable(Path(chosen), name)
        except ConfigError as error:
            cause = error.__cause__
            why = getattr(cause, "strerror", None) or str(cause or error)
            raise ConfigError(
                f"não é possível gravar no diretório de {name} {chosen} ({why}); crie-o, dê "
                f"permissão de escrita a este usuário ou escolha outro com {flag}."
            ) from None
    return RunPlan(args.tipo, date, directories)


def request_for(run: RunPlan, workers: int, scheduler_url: str | None) -> RunRequest:
    """The driver's request: the loads of the tipo(s), their tasks as the scope of the success
    rule, and the chosen landing directories as the run's environment (the extracts read them
    from there, so their task ids stay those of a plain ``luigi`` run)."""
    from etl_tasks.btg.tasks import tipo_loads, tipo_stage_tasks

    scope = [task.task_family for task in tipo_stage_tasks(run.tipo, run.date)]
    landing = {
        extracts()[name].landing_env: str(directory) for name, directory in run.directories.items()
    }
    return RunRequest(
        run.date,
        PIPELINES,
        workers,
        scheduler_url,
        roots=lambda: tipo_loads(run.tipo, run.date),
        scope=scope,
        env=landing,
    )


def setup_problems() -> list[Check]:
    """The set-up checks that need no API request (credentials, packages, luigi.cfg, the
    warehouse, directories): a wrong database must fail before the first ticket is asked for."""
    from etl_tasks.validate import run_checks

    return [check for check in run_checks(PIPELINES, apis=False) if not check.ok]


def check_line_pt(check: Check) -> str:
    name = check.name
    for english, portuguese in CHECK_NAMES_PT.items():
        name = name.replace(english, portuguese)
    return f"{name}: {check.detail}"


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
    import luigi

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


def summarize(run: RunPlan, result: DateResult) -> None:
    """A short line per tipo (funds, rows loaded)."""
    from etl_tasks.btg.tasks import tipo_names

    rows = {record.task_family: record.rows for record in result.scope.tasks}
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


def fail(record: RunRecord, message: str) -> int:
    """A problem found before the run: the reason, the run record, FALHA."""
    logger.error("não é possível executar: %s", message)
    end_of_run(record, EXIT_FAILURE, "FALHA", [])
    logger.info("%s", record.line_pt())
    logger.error("FALHA")
    return EXIT_FAILURE


@guarded("orquestrador-btg", config_exit=1, prefix="não é possível executar: ", last_line="FALHA")
@one_line_config_errors("orquestrador-btg", EXIT_FAILURE, label="erro de configuração")
def main(argv: Sequence[str] | None = None) -> int:
    load_env()
    log_path = setup_logging("orquestrador_btg", logs_root())
    arguments = list(sys.argv[1:] if argv is None else argv)
    record = RunRecord.start("orquestrador-btg", arguments, PIPELINES, [], log=log_path)
    try:
        args = build_parser().parse_args(arguments)
    except (UsageError, ConfigError) as error:
        return fail(record, str(error))
    from etl_tasks.btg.refetch import RefetchUsageError, forget_under_lock, refetch_tipos
    from etl_tasks.btg.tasks import tipo_names

    try:
        run = plan(args)
        refetch = (refetch_tipos(args.baixar_novamente, tipo_names(run.tipo))
                   if args.baixar_novamente else [])
    except (UsageError, ConfigError, RefetchUsageError) as error:
        return fail(record, str(error))
    record.dates = [run.date.isoformat()]
    directories = ", ".join(f"{name}={path}" for name, path in run.directories.items())
    logger.info(
        "orquestrador-btg: tipo %s, data %s, diretórios %s, log %s, execução %s",
        run.tipo,
        run.date,
        directories,
        log_path,
        record.run_id,
    )
    if args.scheduler_url:  # a dead luigid: one line and exit 1, before any lock or API call
        from etl_tasks.ops.preflight import SchedulerUnreachableError, check_scheduler

        try:
            check_scheduler(args.scheduler_url)
        except SchedulerUnreachableError:
            return fail(record, (
                f"o agendador central (luigid) em {redact_url(args.scheduler_url)} não responde: "
                "inicie-o (etl-scheduler --background ou make luigid) ou omita --scheduler-url "
                "para usar o agendador local"))
    request = request_for(run, args.workers, args.scheduler_url)
    with run_environment(record.run_id, request.env):  # the chosen directories, not the defaults
        problems = setup_problems()
    if problems:
        for check in problems:
            logger.error("ambiente inválido: %s", check_line_pt(check))
        return fail(record, "corrija o ambiente (etl-validate --pipeline btg lista tudo)")
    from etl_tasks.btg.extract import non_business_reason

    reason = non_business_reason(run.date)
    if reason:
        logger.info("%s: nada a fazer", reason)
    install_step_logging()
    # Another orquestrador-btg, etl-run --pipeline btg|all or backfill of this date: exit 10.
    if refetch:
        try:
            forgotten = forget_under_lock(refetch, run.date)
        except AlreadyRunningError as error:
            locked = error.in_progress()
        else:
            locked = None
            logger.info("baixar novamente %s de %s: etapas refeitas: %s", ", ".join(refetch),
                        run.date, ", ".join(forgotten) or "nenhuma (ainda não baixado)")
        if locked:
            logger.error("outra execução desta data está em andamento: %s", locked)
            end_of_run(record, EXIT_ALREADY_RUNNING, "LOCKED", [])
            logger.info("%s", record.line_pt())
            logger.error("FALHA")
            return EXIT_ALREADY_RUNNING
    result = run_date(request, record)
    if result.locked:
        logger.error("outra execução desta data está em andamento: %s", result.locked)
        end_of_run(record, EXIT_ALREADY_RUNNING, "LOCKED", [])
        logger.info("%s", record.line_pt())
        logger.error("FALHA")
        return EXIT_ALREADY_RUNNING
    if result.crash:
        logger.error("execução interrompida: %s", result.crash)
    summarize(run, result)
    print(render_text(result.state), end="")
    for error in result.scope.errors:
        logger.error("erro: %s", error)
    send_run_alert(result.scope.to_json(), rerun_command(run.date, PIPELINES))
    code = EXIT_OK if result.succeeded else EXIT_FAILURE
    end_of_run(record, code, result.status, result.tasks_run)
    logger.info("%s", record.line_pt())
    logger.info("SUCESSO" if result.succeeded else "FALHA")
    return code


if __name__ == "__main__":
    sys.exit(main())
