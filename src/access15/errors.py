"""One-line, actionable errors for bad input.

Every problem a user can fix (a missing file, a bad column, a malformed config) is raised as an
:class:`InputError` whose message names the file, the row or the field, and what to do. The CLI prints
the message on one line and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations

from os import PathLike

from .text import message


def one_line(text: str) -> str:
    """``text`` with its line breaks written out as ``\\n`` and ``\\r``: a value taken from a user's file (a
    column name such as ``"lon\\nlat"``) cannot break a message over two lines."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


class Access15Error(Exception):
    """Base class of every error access15 raises on purpose."""

    def text(self, lang: str = "en") -> str:
        """The message in ``lang`` (:func:`access15.text.message`)."""
        return message(lang, str(self))


class InputError(Access15Error):
    """An input file, value or config entry that access15 cannot use.

    Parameters
    ----------
    source
        The file (or config section) the problem is in.
    problem
        What is wrong, in a few words.
    fix
        What the user should do about it.
    row, field
        Where in ``source`` the problem is, when known. ``row`` is 1-based as a person counts data rows.
    """

    def __init__(
        self,
        source: str | PathLike | None,
        problem: str,
        fix: str = "",
        *,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.source = None if source is None else one_line(str(source))
        self.problem = one_line(problem)
        self.fix = one_line(fix)
        self.row = row
        self.field = None if field is None else one_line(field)
        where = [p for p in (self.source, None if row is None else f"row {row}",
                             None if field is None else f"field '{self.field}'") if p]
        msg = (", ".join(where) + ": " if where else "") + self.problem.rstrip(".")
        if self.fix:
            msg += ". " + (self.fix if self.fix.endswith(("?", "!")) else self.fix.rstrip(".") + ".")
        super().__init__(msg)

    def text(self, lang: str = "en") -> str:
        """The one-line message in ``lang`` ("en": ``str(self)``; "zh": the Chinese frame and the Chinese form of
        the problem and the fix from the message table, :func:`access15.text.message`)."""
        if lang != "zh":
            return str(self)
        where = [p for p in (self.source, None if self.row is None else f"第 {self.row} 行",
                             None if self.field is None else f"字段 '{self.field}'") if p]
        msg = ("，".join(where) + "：" if where else "") + message(lang, self.problem.rstrip("."))
        if self.fix:
            fix = message(lang, self.fix.rstrip(".?!"))
            msg += "。" + fix + ("" if fix.endswith(("。", "？", "！", "?", "!")) else "。")
        return msg


class _Finding(UserWarning):
    """A finding about the inputs that does not stop the analysis: ``problem``, what to do (``fix``) and where
    (``source``, a file or config section). ``str()`` is the one line shown to the user."""

    def __init__(self, problem: str, fix: str = "", source: str | PathLike | None = None) -> None:
        self.problem, self.fix = one_line(str(problem)), one_line(fix)
        self.source = None if source is None else one_line(str(source))
        super().__init__((f"{self.source}: " if self.source else "") + self.problem + (f"; {self.fix}" if self.fix else ""))


class AccessWarning(_Finding):
    """A problem that does not stop the analysis but that the user must see (e.g. an empty category): a figure
    may not mean what it seems. ``run`` prints it and records it in ``run.json``; ``validate`` lists it."""


class AccessNote(_Finding):
    """Something the user should know that does not put a figure in doubt (e.g. facilities outside the study
    area, which still serve the people inside)."""
