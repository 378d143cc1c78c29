"""Tables and GIS layers as they arrive: text encodings, delimiters, header spellings, messy numbers.

:func:`read_layer` is the one reader of GIS layers (GeoJSON, GeoPackage, Shapefile, ...) for facilities, road
lines, boundaries and population: any reader failure becomes one :class:`~access15.errors.InputError`.

Chinese facility lists are usually exported from Excel or WPS as CSV in GBK or in UTF-8 with a byte
order mark, sometimes with semicolons or tabs, with Chinese headers and numbers such as ``40张`` or
``1,200``. :func:`read_table` reads all of these as text (every column a string) and says how it read
them; :func:`parse_numbers` turns a text column into numbers and, for each value it cannot take, proposes
the number the user probably meant. Complexity O(rows x columns), vectorised in pandas.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputError

#: Encodings tried in order. GBK (a superset of GB2312) is what Chinese Excel/WPS writes by default.
ENCODINGS = ("utf-8-sig", "gbk")

#: Header spellings recognised for the facility name and category when the configured ones are absent.
NAME_HEADERS = ("name", "名称", "名字", "机构名称", "设施名称", "title")
CATEGORY_HEADERS = ("category", "类别", "类型", "分类", "设施类别")


@dataclass(frozen=True)
class TableInfo:
    """How a table was read: its text ``encoding`` (``"utf-8"``, ``"utf-8-sig"`` when it had a BOM, ``"gbk"``,
    or ``"xlsx"`` for an Excel workbook) and its ``delimiter`` (``""`` for a workbook)."""

    encoding: str
    delimiter: str


#: File name endings read as tables (text, or the first sheet of an Excel workbook) rather than GIS layers.
TEXT_SUFFIXES = (".csv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")  # .xls (Excel 97-2003) is recognised to be refused with the fix


def is_table(path: Path) -> bool:
    """True for a file read by :func:`read_table` (CSV/TXT text or an Excel workbook), False for a GIS file."""
    return path.suffix.lower() in TEXT_SUFFIXES + EXCEL_SUFFIXES


def _read_workbook(path: Path) -> tuple[pd.DataFrame, TableInfo]:
    """The first sheet of an Excel workbook (openpyxl) as strings, empty cells NA, the first row the header."""
    if path.suffix.lower() == ".xls":
        raise InputError(path, "old Excel 97-2003 workbooks (.xls) are not read",
                         "save it as .xlsx (Excel Workbook) or as CSV UTF-8")
    try:
        raw = pd.read_excel(path, sheet_name=0, header=None, dtype=str, engine="openpyxl")
    except Exception as exc:  # noqa: BLE001 - openpyxl raises several types for broken workbooks
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(path, f"cannot read the workbook ({first})", "save the sheet as CSV (UTF-8)") from None
    raw = raw.dropna(axis=1, how="all")  # columns Excel keeps formatted but empty
    if raw.empty:
        raise InputError(path, "the first sheet is empty", "put a header row and data rows on the first sheet")
    header = [str(c).strip() if pd.notna(c) else f"column {i + 1}" for i, c in enumerate(raw.iloc[0])]
    if len(header) != len(set(header)):
        dup = sorted({c for c in header if header.count(c) > 1})
        raise InputError(path, f"duplicate column names {', '.join(dup)}", "give every column its own header")
    df = raw.iloc[1:].reset_index(drop=True)
    df.columns = header
    df = df.apply(lambda col: col.str.strip())  # per column (a few), as read_csv's skipinitialspace
    return df, TableInfo("xlsx", "")


def sniff_encoding(raw: bytes) -> str | None:
    """The first of UTF-8 (with BOM), UTF-8 and GBK that decodes ``raw``; ``None`` when none does."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    for enc in ("utf-8", "gbk"):
        try:
            raw.decode(enc)
            return enc
        except UnicodeDecodeError:
            continue
    return None


def _sniff_delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] > 0 else ","


def read_table(path: Path) -> tuple[pd.DataFrame, TableInfo]:
    """Read a delimited text file, or the first sheet of an Excel workbook (.xlsx), as strings (empty cells
    are NA).

    Raises
    ------
    InputError : the file is empty, binary, in an encoding other than UTF-8/GBK, or not a table.
    """
    if path.suffix.lower() in EXCEL_SUFFIXES:
        return _read_workbook(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read the file ({exc.strerror})", "check the path and permissions") from None
    if not raw.strip():
        raise InputError(path, "the file is empty", "export the table again with a header row and data rows")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(path, "the file is UTF-16 text (Excel 'Unicode text')",
                         "save it as 'CSV UTF-8 (comma delimited)' instead")
    if b"\x00" in raw[:4096]:
        raise InputError(path, "the file is binary, not a text table",
                         "export the table as CSV (UTF-8 or GBK, comma-separated)")
    enc = sniff_encoding(raw)
    if enc is None:
        raise InputError(path, "the text is neither UTF-8 nor GBK", "save the CSV as UTF-8")
    text = raw.decode(enc)
    sep = _sniff_delimiter(text.lstrip("\ufeff").splitlines()[0] if text.strip() else "")
    try:
        df = pd.read_csv(io.StringIO(text.lstrip("\ufeff")), sep=sep, dtype=str, keep_default_na=False,
                         na_values=[""], skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(path, f"cannot parse as a table ({first})",
                         "save it as comma-separated UTF-8 text with one header row") from None
    lines = text.lstrip("\ufeff").splitlines()  # "\r" ends a line too, as for pandas' parser
    header = [c.strip() for c in next(csv.reader(io.StringIO(lines[0] if lines else ""), delimiter=sep), [])]
    df.columns = [str(c).strip() for c in df.columns]
    if len(header) != len(set(header)):  # (pandas would have renamed a repeat to "name.1")
        dup = sorted({c for c in header if header.count(c) > 1})
        raise InputError(path, f"duplicate column names {', '.join(dup)}", "give every column its own header")
    return df, TableInfo(enc, sep)


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")


def suggest_number_text(text: str) -> str | None:
    """The number a person most likely meant by ``text``, with every digit as typed ("116.325310°" ->
    "116.325310", "40张" -> "40", "1,200" -> "1200", "３５" -> "35", "116,325310" -> "116.325310");
    ``None`` when ``text`` holds no single number."""
    t = unicodedata.normalize("NFKC", str(text)).strip()
    t = re.sub(r"(?<=\d),(?=\d{3}\b)", "", t)  # thousands separators: 1,200
    t = re.sub(r"^([-+]?\d+),(\d+)$", r"\1.\2", t)  # a decimal comma: 116,325310
    found = _NUMBER.findall(t)
    return found[0].lstrip("+") if len(found) == 1 else None


def suggest_number(text: str) -> float | None:
    """The number a person most likely meant by ``text`` ("40张" -> 40, "1,200" -> 1200, "３５" -> 35) as a
    float; see :func:`suggest_number_text` for the digits as typed (use that one in messages)."""
    found = suggest_number_text(text)
    return float(found) if found is not None else None


def number_fix(text: str, what: str, short: bool = False) -> str:
    """The advice for a value that is not a plain number: "write the plain number 116.325310" ("write 40" when
    ``short``; every digit as typed, so nothing is rounded away) or "fill in ``what`` as a plain number"."""
    guess = suggest_number_text(text)
    if guess is None:
        return f"fill in {what} as a plain number"
    return f"write {guess}" if short else f"write the plain number {guess}"


def parse_numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Text -> float64 (NaN for empty cells).

    Returns
    -------
    numbers : float array, NaN where empty or unparseable.
    bad : bool array, True where a non-empty value is not a plain number (see :func:`suggest_number`).
    """
    s = values.astype("string").str.strip()
    num = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = (s.notna() & (s != "")).to_numpy(dtype=bool, na_value=False) & ~np.isfinite(num)
    num[bad] = np.nan
    return num, bad


def number_error(path: Path, values: pd.Series, bad: np.ndarray, field: str, what: str) -> InputError:
    """The :class:`InputError` for the first unparseable value of a column, with a suggested fix."""
    i = int(np.flatnonzero(bad)[0])
    text = values.iloc[i]
    fix = number_fix(text, what)
    more = int(bad.sum()) - 1
    if more:
        fix += f" ({more} more rows like it; run 'access15 validate' to list them)"
    return InputError(path, f"'{text}' is not a number", fix, row=i + 1, field=field)


def resolve_column(columns: list[str], configured: str | None, aliases: tuple[str, ...]) -> str | None:
    """``configured`` when present, else the first column whose header is one of ``aliases``."""
    cols = [str(c) for c in columns]
    if configured and configured in cols:
        return configured
    lower = {c.strip().lower(): c for c in cols}
    return next((lower[a] for a in aliases if a in lower), None)


#: Advice when a facility file cannot be read as a GIS layer.
GIS_FIX = "use GeoJSON, GeoPackage, Shapefile or CSV with lon/lat columns"



#: Advice when a boundary file cannot be read.
BOUNDARY_FIX = "use a GeoJSON or GeoPackage of polygons"



def read_layer(path: Path, layer: str | None, what: str, fix: str) -> gpd.GeoDataFrame:
    """Read a GIS layer (GeoJSON, GeoPackage, Shapefile, ...) with pyogrio.

    Any failure of the reader becomes one :class:`InputError`, "cannot read ``what`` (first line of the
    reader's message)", with ``fix`` as the advice.
    """
    try:
        return gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError(path, f"cannot read {what} ({first})", fix) from None



def require_geometry(gdf: pd.DataFrame, path: Path, what: str) -> gpd.GeoDataFrame:
    """The layer itself when it has a geometry column, else an InputError (e.g. a table without shapes)."""
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf._geometry_column_name not in gdf.columns:
        raise InputError(path, "the layer has no geometry", f"use a GIS layer of {what}, or a CSV with lon/lat columns"
                         if what == "points" else f"use a GeoJSON or GeoPackage of {what}")
    return gdf
