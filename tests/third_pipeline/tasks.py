"""The third pipeline's two stages: an extract that makes three rows, a transform that keeps two.

    luigi --module tests.third_pipeline.tasks ThirdTransformItems --date D --local-scheduler
"""

from __future__ import annotations

import datetime as dt

import luigi
import pyarrow as pa

from etl_tasks.core.stage import StageOutput, StageTask

SCHEMA = pa.schema([pa.field("id", pa.int64())])


class ThirdExtractItems(StageTask):
    """Three items, as if fetched from an API."""

    pipeline, stage, entity = "third", "extract", "items"

    def produce(self) -> StageOutput:
        return StageOutput(SCHEMA, [pa.table({"id": [1, 2, 3]}, schema=SCHEMA)],
                           extra={"notes": ["3 items fetched"]})


class ThirdTransformItems(StageTask):
    """The odd items."""

    pipeline, stage, entity = "third", "transform", "items"

    def requires(self) -> ThirdExtractItems:
        return ThirdExtractItems(date=self.date)

    def produce(self) -> StageOutput:
        return StageOutput(SCHEMA, [pa.table({"id": [1, 3]}, schema=SCHEMA)])


def stage_tasks(date: dt.date) -> list[StageTask]:
    return [ThirdExtractItems(date=date), ThirdTransformItems(date=date)]


def final_tasks(date: dt.date) -> list[luigi.Task]:
    return [ThirdTransformItems(date=date)]


__all__ = ["ThirdExtractItems", "ThirdTransformItems"]
