"""Write the bad-input corpus (tests/test_corpus.py) as a table into docs/inputs.md: each input, the verdict
both ``validate`` and ``run`` give, and what ``run`` says (its error, or its first warning), from real runs.

    python scripts/corpus_table.py            # rewrites the block between the corpus markers of docs/inputs.md
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "inputs.md"
BEGIN, END = "<!-- corpus:begin -->", "<!-- corpus:end -->"


def _corpus():
    spec = importlib.util.spec_from_file_location("access15_corpus", ROOT / "tests" / "test_corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclasses look themselves up there)
    spec.loader.exec_module(module)
    return module


def _cell(text: str) -> str:
    text = re.sub(r"/\S*/(case|good)/", "", text)  # the temporary folder of the run
    return text.replace("|", "\\|").replace("\n", " ")


def table() -> str:
    corpus = _corpus()
    rows = ["| input | verdict (validate = run) | what access15 says |", "| --- | --- | --- |"]
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(corpus.CASES):
            path = corpus._write(case, Path(tmp) / f"c{i}" / "case")
            verdict, msgs, _ = corpus._run(path)
            said = msgs[0] if msgs else (case.says or "nothing (notes only)")
            if case.says and msgs:
                said += f" *({case.says})*"
            rows.append(f"| {_cell(case.name)} | {verdict} | {_cell(said)} |")
    return "\n".join(rows)


def main() -> int:
    text = DOC.read_text(encoding="utf-8")
    block = f"{BEGIN}\n{table()}\n{END}"
    if BEGIN in text:
        text = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _m: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
