"""Progress bars on stderr, drawn by tqdm: `Bar` for any count of work, `EvalProgress` for the eval
runner (records done, with running accuracy, errors and over-length counts in the postfix).

A bar appears only for work longer than DELAY seconds, unless asked to draw from the start; a
disabled bar writes nothing at all.
"""

from __future__ import annotations

import sys

from tqdm import tqdm

DELAY = 1.0  # seconds of work before a bar appears: quick commands print nothing
MININTERVAL = 0.2  # seconds between redraws
FORMAT = "{desc} {percentage:5.1f}%|{bar:24}| {n_fmt}/{total_fmt} [{elapsed}, ETA {remaining}]{postfix}"


class Bar:
    """One tqdm bar on stderr. Its last frame is drawn once, by close(): tqdm's update() would draw
    it too, and a captured stderr (a log, CI) would then show the finished bar twice."""

    def __init__(self, total: int, desc: str, enabled: bool = True, delay: float | None = None):
        self.total = total
        self._tqdm = tqdm(
            total=total,
            desc=desc,
            file=sys.stderr,
            disable=not enabled,
            delay=DELAY if delay is None else delay,
            mininterval=MININTERVAL,
            bar_format=FORMAT,
            dynamic_ncols=True,
        )

    def update(self, amount: int = 1, postfix: str | None = None) -> None:
        if postfix is not None:
            self._tqdm.set_postfix_str(postfix, refresh=False)
        if self._tqdm.n + amount >= self.total:
            self._tqdm.n += amount  # the last step: close() draws the finished bar
        else:
            self._tqdm.update(amount)

    def close(self) -> None:
        self._tqdm.close()

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EvalProgress:
    """The eval runner's bar: records done, with running accuracy (strict, the headline), errors and
    over-length counts.

    Reads only `status` and `strict` of each record (a store.Record; core imports no later stage)."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled = total, enabled
        self.done = self.correct = self.scored = self.errors = self.over = 0
        # --progress asked for it: draw from the first record, not after the usual second.
        self.bar = Bar(total, "eval", enabled, delay=0.0)

    def update(self, record) -> None:
        self.done += 1
        self.scored += record.status == "ok"
        self.correct += bool(record.strict)  # a fresh record always has its strict score
        self.errors += record.status == "error"
        self.over += record.status == "over_length"
        if self.enabled:
            self.bar.update(1, postfix=self.line())

    def line(self) -> str:
        acc = f"{self.correct / self.scored:.3f}" if self.scored else "-"
        return f"acc {acc} err {self.errors} over {self.over}"

    def close(self) -> None:
        self.bar.close()
