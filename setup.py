"""Packaging for etl_tasks: `pip install -e .` puts the package and its commands on PATH.

    pip install -e .              # from a checkout (what `make install` does)
    python -m build               # or `pip wheel --no-deps .`: a wheel and an sdist in dist/
    pip install dist/etl_tasks-*.whl

The `luigi` script does not add the current directory to sys.path, so the package must be
installed for `luigi --module etl_tasks RunAll ...` to find it. The cron-safe Luigi defaults ship
as package data (etl_tasks/defaults.cfg); MANIFEST.in puts requirements*.txt, README.md,
luigi.cfg and .env.example into the sdist, which reads requirements.txt to build.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def requirements(name: str) -> list[str]:
    lines = (HERE / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith(("#", "-r"))]


setup(
    name="etl_tasks",
    version="0.1.0",
    description=(
        "Daily API -> warehouse batch pipelines (Twitch -> PostgreSQL, BTG -> MySQL) on Luigi"
    ),
    long_description=(
        (HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else ""
    ),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["etl_tasks", "etl_tasks.*", "etl_sandbox", "etl_sandbox.*"]),
    package_data={
        "etl_tasks": ["defaults.cfg", "**/*.sql", "**/*.xml", "**/*.html"],
        "etl_sandbox": ["*.md", "**/*.xml", "**/*.json"],
    },
    install_requires=requirements("requirements.txt"),
    extras_require={
        "dev": ["pytest>=8", "ruff>=0.5"],
        "history": ["sqlalchemy<2"],
    },
    entry_points={
        "console_scripts": [
            "etl-run=etl_tasks.cli.run:main",
            "etl-validate=etl_tasks.cli.validate:main",
            "etl-sandbox=etl_sandbox.server:main",
            "orquestrador-btg=etl_tasks.btg.orquestrador:main",
            "etl-backfill=etl_tasks.cli.backfill:main",
            "etl-invalidate=etl_tasks.cli.invalidate:main",
            "etl-scheduler=etl_tasks.cli.scheduler:main",
        ]
    },
)
