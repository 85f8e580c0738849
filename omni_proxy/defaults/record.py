"""Default ``record``: queue the record for the batch writer."""

from __future__ import annotations

from ..plugins import hookimpl
from ..storage.recorder import Recorder
from ..types import RequestRecord


class RecordPlugin:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    @hookimpl(trylast=True)
    def record(self, event: RequestRecord) -> None:
        self.recorder.put(event)
