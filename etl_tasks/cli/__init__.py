"""Command-line entry points: parse the arguments, call ``etl_tasks.ops``, present the result."""
