"""Warehouse tables of the BTG pipeline, declared once as :class:`TableSpec`.

Three fact tables, each replaced per date partition:

* ``btg_fundos`` — one row per fund and position date: the ANBIMA 4.01 ``<header>``
  (identity, administrator/manager/custodian, NAV per quota, quotas, net assets and its parts).
* ``btg_posicoes`` — one row per position element of a fund's file. The key is
  ``(cnpj_fundo, data_posicao, secao, ordem)``: ``ordem`` is the element's 1-based order within its
  section in the file. No natural key is unique — the same bond (ISIN) can appear twice in one
  section (bought on different dates, or one line in guarantee), provisions and cash carry no ISIN —
  and a fund has exactly one file per date (the transform refuses duplicates), so the file order is
  the key that never collides. Identifiers are kept (``isin``, ``codigo_ativo``, ``cnpj_emissor``)
  and every field of the element survives verbatim in ``campos`` (JSON), so nothing of the file is
  lost to the flattening.
* ``btg_rentabilidade`` — one row per fund and reference date from NAVPerformance: quotas, net
  assets, flows and returns. Returns arrive in **percent**; they are stored as **fractions**
  (``0.0548 %`` → ``0.000548``), converted exactly once in the transform, and every such column
  ends in ``_frac``. The CDI (``CDIE``) figures get columns of their own; every requested indexer's
  figures stay in ``diferenca_indexadores`` (JSON, percent, as received).

Numbers are DECIMAL, never floating point: quantities and unit prices ``decimal(28,8)``, money
``decimal(20,2)``, NAVPerformance quotes ``decimal(34,14)``, fractions ``decimal(24,14)``; how a
value gets there (exact or rounded, and when) is the precision policy in
:mod:`etl_tasks.btg.precision`. A changed declaration reaches an existing warehouse through the
schema task, which migrates the live column (:mod:`etl_tasks.warehouse.migrate`).
Column order here is the transform's output order (:func:`arrow_schema`); text columns are
``utf8mb4`` in MySQL (accented fund names round-trip).
"""

from __future__ import annotations

from etl_tasks.warehouse.model import Column, TableSpec, not_null

QUANTITY = "decimal(28,8)"  # quotas, quantities, unit prices (ANBIMA: 8 decimals)
MONEY = "decimal(20,2)"  # values in BRL to the cent (up to 10^18)
QUOTE = "decimal(34,14)"  # NAVPerformance quotes: the API sends 10-12 decimals (B5)
FRACTION = "decimal(24,14)"  # returns and ratios as fractions (percent / 100), 12 percent decimals

BTG_FUNDOS = TableSpec(
    name="btg_fundos",
    partition_column="data_posicao",
    columns=(
        not_null("cnpj", "text"),
        not_null("data_posicao", "date"),
        Column("isin", "text"),
        not_null("nome", "text"),
        Column("nome_administrador", "text"),
        Column("cnpj_administrador", "text"),
        Column("nome_gestor", "text"),
        Column("cnpj_gestor", "text"),
        Column("nome_custodiante", "text"),
        Column("cnpj_custodiante", "text"),
        not_null("valor_cota", QUANTITY),
        not_null("quantidade_cotas", QUANTITY),
        not_null("patrimonio_liquido", MONEY),
        not_null("valor_ativos", MONEY),
        not_null("valor_receber", MONEY),
        not_null("valor_pagar", MONEY),
        Column("valor_cotas_emitir", MONEY),
        Column("valor_cotas_resgatar", MONEY),
        Column("codigo_anbima", "text"),
        Column("tipo_fundo", "integer"),  # ANBIMA fund-type code
        Column("nivel_risco", "text"),  # AA | MA | MM | BB
        not_null("posicoes", "integer"),  # position elements in the file (rows in btg_posicoes)
        not_null("arquivo", "text"),  # landing file (and ZIP member) the row came from
        not_null("extracted_at", "timestamp"),
    ),
    primary_key=("cnpj", "data_posicao"),
    indexes=(("nome",),),
)

BTG_POSICOES = TableSpec(
    name="btg_posicoes",
    partition_column="data_posicao",
    columns=(
        not_null("cnpj_fundo", "text"),
        not_null("data_posicao", "date"),
        not_null("secao", "text"),  # titpublico, titprivado, debenture, acoes, cotas, caixa, ...
        not_null("ordem", "integer"),  # 1-based order of the element within its section
        Column("isin", "text"),
        Column("codigo_ativo", "text"),  # codativo / coddeb / cnpjfundo / isininstituicao / codprov
        Column("cnpj_emissor", "text"),  # titprivado/debenture issuer, cotas: the invested fund
        Column("quantidade_disponivel", QUANTITY),
        Column("quantidade_garantia", QUANTITY),
        Column("preco_compra", QUANTITY),  # pucompra
        Column("preco_posicao", QUANTITY),  # puposicao
        Column("valor_financeiro_disponivel", MONEY),  # valorfindisp
        Column("valor_financeiro_garantia", MONEY),  # valorfinemgar
        Column("saldo", MONEY),  # caixa
        Column("valor", MONEY),  # provisao / outrasdespesas
        Column("credito_debito", "text"),  # provisao: C | D
        # Contribution to valorativos/patliq (ANBIMA B4.1): valorfindisp for securities,
        # round(qtdisponivel x puposicao, 2) for fund quotas, saldo for cash, +/- valor for
        # provisions; NULL for sections outside the composition (despesas, derivatives...).
        Column("valor_mercado", MONEY),
        Column("data_vencimento", "date"),
        Column("indexador", "text"),
        Column("percentual_indexador_frac", FRACTION),  # percindex / 100
        not_null("campos", "json"),  # every field of the element as text, as in the file
        not_null("extracted_at", "timestamp"),
    ),
    primary_key=("cnpj_fundo", "data_posicao", "secao", "ordem"),
    indexes=(("isin",), ("cnpj_emissor",)),
)

BTG_RENTABILIDADE = TableSpec(
    name="btg_rentabilidade",
    partition_column="data_referencia",
    columns=(
        not_null("cnpj", "text"),
        not_null("data_referencia", "date"),
        not_null("nome_fundo", "text"),
        Column("conta", "text"),
        Column("classe_hierarquia", "text"),
        not_null("cota_liquida", QUOTE),
        Column("cota_bruta", QUOTE),
        not_null("patrimonio_liquido", MONEY),
        not_null("quantidade_cotas", QUANTITY),
        Column("aplicacoes", MONEY),
        Column("resgates", MONEY),
        # Fund's nominal return (nominalQuoteList, else profitability), percent / 100.
        Column("ret_day_frac", FRACTION),
        Column("ret_month_frac", FRACTION),
        Column("ret_year_frac", FRACTION),
        Column("ret_12m_frac", FRACTION),
        Column("ret_24m_frac", FRACTION),
        Column("ret_36m_frac", FRACTION),
        # CDI's own return (VariacaoIndexador of CDIE), percent / 100.
        Column("cdi_ret_day_frac", FRACTION),
        Column("cdi_ret_month_frac", FRACTION),
        Column("cdi_ret_year_frac", FRACTION),
        Column("cdi_ret_12m_frac", FRACTION),
        Column("cdi_ret_24m_frac", FRACTION),
        Column("cdi_ret_36m_frac", FRACTION),
        Column("cdi_ret_accum_frac", FRACTION),
        # Fund return as a fraction of CDI's (NominalVsIndexador of CDIE): 104.38 % -> 1.0438.
        Column("cdi_ratio_day_frac", FRACTION),
        Column("cdi_ratio_month_frac", FRACTION),
        Column("cdi_ratio_year_frac", FRACTION),
        Column("cdi_ratio_12m_frac", FRACTION),
        Column("cdi_ratio_24m_frac", FRACTION),
        Column("cdi_ratio_36m_frac", FRACTION),
        Column("cdi_ratio_accum_frac", FRACTION),
        Column("diferenca_indexadores", "json"),  # quotaProfitabilityDifference, percent, verbatim
        not_null("extracted_at", "timestamp"),
    ),
    primary_key=("cnpj", "data_referencia"),
    indexes=(("nome_fundo",),),
)

BTG_TABLES: tuple[TableSpec, ...] = (BTG_FUNDOS, BTG_POSICOES, BTG_RENTABILIDADE)
TABLES_BY_NAME: dict[str, TableSpec] = {spec.name: spec for spec in BTG_TABLES}
