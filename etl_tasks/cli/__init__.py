"""Command-line entry points: etl-run, etl-validate, orquestrador-btg, and the demo."""
