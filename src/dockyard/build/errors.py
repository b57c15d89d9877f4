"""DockerfileError: a bad Dockerfile, pointing at the file, line and column.

It is an :class:`InvalidArgument` (the caller's input is wrong), so the API maps
it to 400 without knowing about the builder. The message reads like docker's::

    Dockerfile:7: unknown instruction: FORM (did you mean FROM?)
      7 | FORM busybox
        | ^
"""

from __future__ import annotations

import difflib

from dockyard.errors import InvalidArgument


class DockerfileError(InvalidArgument):
    """A Dockerfile problem with its location; ``str()`` shows the caret line."""

    def __init__(self, reason: str, *, filename: str = "Dockerfile", line: int = 0,
                 column: int = 1, source: str = "", hint: str = "") -> None:
        self.reason = reason
        self.filename = filename
        self.line = line
        self.column = max(1, column)
        self.source = source
        self.hint = hint
        super().__init__(self._format())

    def _format(self) -> str:
        where = f"{self.filename}:{self.line}" if self.line else self.filename
        head = f"{where}: {self.reason}"
        if self.hint:
            head += f" ({self.hint})"
        if not self.source:
            return head
        num = str(self.line)
        pad = " " * len(num)
        shown = self.source.replace("\t", " ")
        caret = " " * (self.column - 1) + "^"
        return f"{head}\n  {num} | {shown}\n  {pad} | {caret}"


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """A 'did you mean X?' hint for a misspelt word, or '' when nothing is close."""
    close = difflib.get_close_matches(word.upper(), [c.upper() for c in choices], n=1,
                                      cutoff=0.6)
    return f"did you mean {close[0]}?" if close else ""




class StepFailed(InvalidArgument):
    """A RUN step exited non-zero: the command, its exit code and its output's tail
    (docker's words: "The command '...' returned a non-zero code: N")."""

    def __init__(self, command: str, code: int, tail: list[str], where: str = "") -> None:
        self.command = command
        self.code = code
        self.tail = tail
        msg = f"The command '{command}' returned a non-zero code: {code}"
        if where:
            msg = f"{where}: {msg}"
        if tail:
            msg += "\n--- last output lines ---\n" + "\n".join(tail)
        super().__init__(msg)


__all__ = ["DockerfileError", "StepFailed", "did_you_mean"]
