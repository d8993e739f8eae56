"""A rich progress bar for long work, shown on a terminal's stderr only."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)
from rich.progress import Progress as RichProgress

from dbapp.cli._common import err
from dbapp.load import Progress


class RichBar(Progress):
    """Bytes and MB/s for loads, documents for re-extraction; counts of documents and rejects."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.bar: RichProgress | None = None
        self.task: TaskID | None = None
        self.unit = "documents"
        self.docs = self.rejects = 0

    def start(self, total: int | None, unit: str) -> None:
        self.unit = unit
        amount = (
            (DownloadColumn(), TransferSpeedColumn())
            if unit == "bytes"
            else (MofNCompleteColumn(),)
        )
        self.bar = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            *amount,
            TextColumn("{task.fields[docs]:,} docs, {task.fields[rejects]:,} rejected"),
            TimeElapsedColumn(),
            console=err,
        )
        self.bar.start()
        self.task = self.bar.add_task(self.description, total=total, docs=0, rejects=0)

    def advance(self, nbytes: int, documents: int, rejects: int) -> None:
        if self.bar is None or self.task is None:
            return
        self.docs += documents
        self.rejects += rejects
        step = nbytes if self.unit == "bytes" else documents
        self.bar.update(self.task, advance=step, docs=self.docs, rejects=self.rejects)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
