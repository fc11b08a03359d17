"""BTG Pactual fund reports pipeline: carteira (ANBIMA XML 4.01 portfolios) and rentabilidade
(NAV performance) from the "API FaaS" ticket endpoints into MySQL (api-contract.md PART B).

Modules: ``anbima`` parses and checks the ANBIMA XML 4.01 files; the client, extract, transform
and load stages build on it.
"""
