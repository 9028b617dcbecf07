"""The demo's live terminal view (rich): the simulated clock, traffic, and what happened."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from mlpulse.demo import script
from mlpulse.demo.day import Feed, Progress


def clock_text(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%H:%M:%S")


def feed_line(at: float, text: str, style: str) -> Text:
    line = Text(f"{clock_text(at)}  ", style="dim")
    line.append(text, style=style)
    return line


class LiveView:
    """A renderable: ``rich.live.Live(LiveView(...))`` redraws it a few times a second."""

    def __init__(self, progress: Progress, feed: Feed, *, url: str, lines: int = 14) -> None:
        self.progress = progress
        self.feed = feed
        self.url = url
        self.lines = lines

    def __rich__(self) -> RenderableType:
        p = self.progress
        done = (p.now - script.DAY_START) / script.DAY_END
        wall = time.perf_counter() - p.wall_started
        head = Table.grid(expand=True)
        head.add_column(ratio=1)
        head.add_column(justify="right")
        head.add_row(
            Text.assemble(
                ("simulated ", "dim"), (clock_text(p.now), "bold"), (f"  day {done:.0%}", "dim")
            ),
            Text(f"{wall:.0f} s wall · dashboard {self.url}", style="dim"),
        )
        traffic = Table(expand=True, box=None, pad_edge=False)
        for column in ("model", "serving", "requests", "errors", "clicks", "revenue"):
            traffic.add_column(
                column, justify="left" if column in ("model", "serving") else "right"
            )
        traffic.add_row("recs", p.serving["recs"], f"{p.requests['recs']:,}",
                        f"{p.errors['recs']:,}", f"{p.clicks:,}", f"{p.revenue:,.0f}")  # fmt: skip
        traffic.add_row("fraud", p.serving["fraud"], f"{p.requests['fraud']:,}", "0", "", "")
        events = Group(*(feed_line(*entry) for entry in self.feed.entries[-self.lines :]))
        return Panel(
            Group(head, ProgressBar(total=1.0, completed=min(done, 1.0)), traffic, Text(), events),
            title="mlpulse demo: a day of production",
            border_style="blue",
        )
