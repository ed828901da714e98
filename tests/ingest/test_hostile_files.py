"""Hostile and broken vendor files, each tried as a new user would.

Every file gets a clear message (file, line, column where it applies, what to do) and no
traceback; nothing is lost or invented: each physical record is loaded or rejected with its own
line, and `rows_read` is the number of records in the file.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import time

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_testkit import Env, counts, decision, write_csv

from bpo_kpi_cli.main import main
from ingest import IngestError, MappingError, load_mapping

H = ",".join(
    ["decision_id", "item_id", "vendor", "workflow", "priority", "reviewer_id", "decision",
     "policy", "enqueued_at", "decided_at"]
)  # fmt: skip
FIELDS = "check for an unquoted separator or a truncated line"
CLOSE = 'close the quote, or write a quote inside a value twice ("")'


def row(did: str, policy: str = "hs_1", sep: str = ",") -> str:
    return sep.join([did, f"i-{did}", "acme", "hate_speech", "p1", "rev-1", "remove", policy,
                     "2026-03-02T08:00:00Z", "2026-03-02T08:30:00Z"])  # fmt: skip


STRAY = row("d7", policy='"hs_1 and then')  # the quote opens a value never closed on its line
COL = STRAY.index('"') + 1


def rows(n: int, prefix: str = "d") -> list[str]:
    return [row(f"{prefix}{i}") for i in range(1, n + 1)]


def write_lines(path, lines, newline="\n"):
    path.write_bytes((newline.join(lines) + newline).encode())
    return path


def stray(line: int, row_of_its_own: int) -> str:
    """Reason for the quote of STRAY (opening its policy field, never closed)."""
    return (
        f"unclosed quote on line {line}, column {COL} (field 8, policy): the quoted value "
        f"swallows line {row_of_its_own}, which reads as a row of its own; {CLOSE}"
    )


def keys(env):
    return [k for (k,) in env.rows("decisions", "decision_id")]


def reject_lines(env, result):
    return [(line, reason) for line, _, reason in env.rejects(result.run_id)]


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# --- 1. unbalanced quotes ----------------------------------------------------------------------


def test_stray_quote_closed_later_loses_no_row(env):
    """The quote of line 8 is closed by one in line 14: DuckDB read lines 8-14 as one valid
    row ("read 995 ... reconciled"). Each of those lines is a row of its own."""
    good = rows(999)
    lines = [H, *good[:6], STRAY, *good[6:11], row("d12x", policy='x"'), *good[11:]]
    file = write_lines(env.path("stray.csv"), lines)
    result = env.one("decisions", file)
    assert counts(result) == (1001, 1000, 0, 0, 1)  # every data line is one record
    assert reject_lines(env, result) == [(8, stray(8, 9))]
    [(_, raw, _)] = env.rejects(result.run_id)
    assert raw == STRAY
    assert sorted(keys(env)) == sorted([f"d{i}" for i in range(1, 1000)] + ["d12x"])
    assert env.row("decisions", "decision_id", "d12x", "policy") == ('x"',)
    # Line numbers of rows after the rejected one are the physical ones.
    dup = write_lines(env.path("again.csv"), [H, row("z1"), STRAY, row("z1")])
    result = env.one("decisions", dup)
    assert reject_lines(env, result) == [
        (3, stray(3, 4)),
        (4, "duplicate decision_id z1 in this file (first on line 2); "
            "send corrections in a later file"),
    ]  # fmt: skip


def test_stray_quote_early_in_a_large_file_is_no_traceback(env):
    """Unclosed early, the quote used to swallow the rest of the file: Python's csv module
    raised `field larger than field limit (131072)`."""
    lines = [H, row("d1"), STRAY, *rows(3000, "e")]
    file = write_lines(env.path("early.csv"), lines)
    result = env.one("decisions", file)
    assert counts(result) == (3002, 3001, 0, 0, 1)
    assert reject_lines(env, result) == [(3, stray(3, 4))]


def test_stray_quote_before_lines_that_are_no_rows(env):
    """Never closed, and the lines after it do not look like rows: the quote is stray all the
    same, and each line after it ends rejected on its own line (nothing vanishes in one
    "row")."""
    lines = [H, row("d1"), STRAY, "some text", "more, text", row("d2")]
    file = write_lines(env.path("eof.csv"), lines)
    result = env.one("decisions", file)
    assert counts(result) == (5, 2, 0, 0, 3)
    assert reject_lines(env, result) == [
        (3, f"unclosed quote on line 3, column {COL} (field 8, policy): the quoted value "
            f"swallows line 6, which reads as a row of its own; {CLOSE}"),
        (4, "wrong number of fields (Expected Number of Columns: 10 Found: 1; separator is "
            f"comma): {FIELDS}"),
        (5, "wrong number of fields (Expected Number of Columns: 10 Found: 2; separator is "
            f"comma): {FIELDS}"),
    ]  # fmt: skip
    assert keys(env) == ["d1", "d2"]
    tail = write_lines(env.path("tail.csv"), [H, row("t1"), STRAY, "some text", "more text"])
    result = env.one("decisions", tail)
    assert counts(result) == (4, 1, 0, 0, 3)
    assert [line for line, _ in reject_lines(env, result)] == [3, 4, 5]
    assert reject_lines(env, result)[0][1].endswith(f"the quoted value is never closed; {CLOSE}")


def test_quoted_values_over_several_lines_still_load(env):
    """A comment with line breaks (and commas, and quotes written twice) is one value."""
    comment = 'line one, with a comma\nline "two"\n\nfour,five,six'
    header = ["audit_id", "decision_id", "auditor_id", "audited_at", "qa_decision", "comment"]
    data = [["a1", "d1", "q1", "2026-03-03T09:00:00Z", "remove", comment],
            ["a2", "d1", "q1", "2026-03-03T09:00:00Z", "approve", "short"]]  # fmt: skip
    file = write_csv(env.path("a.csv"), data, header)
    result = env.one("audits", file)
    assert counts(result) == (2, 2, 0, 0, 0)
    assert env.rows("qa_audits", "audit_id, comment") == [("a1", comment), ("a2", "short")]


def test_unclosed_quote_in_the_header_is_refused(env):
    file = write_lines(env.path("h.csv"), [H.replace("policy", '"policy'), row("d1")])
    col = H.index("policy") + 1
    with pytest.raises(IngestError, match=rf"line 1 \(the header\), column {col}: a quote opens"):
        env.ingest("decisions", file)


# --- 2. very wide rows and huge values ---------------------------------------------------------


def test_row_of_200000_fields_is_rejected_in_seconds(env, capsys):
    """DuckDB records one error per surplus field, each with the row's text: this file sat at
    "validating" for minutes. The line scan rejects the row before DuckDB sees it."""
    lines = [H, *rows(500), ",".join(["x"] * 200_010), *rows(499, "e")]
    file = write_lines(env.path("wide_fields.csv"), lines)
    env.close()
    started = time.perf_counter()
    code, out, _ = cli(capsys, "ingest", "decisions", str(file), "--db", str(env.db), "--quiet")
    assert time.perf_counter() - started < 30  # ~1 s here; minutes before
    assert code == 0
    assert "read 1,000 = 999 inserted + 0 updated + 0 unchanged + 0 stale + 1 rejected" in out
    assert "(reconciled" in out
    reason = (
        "wrong number of fields (Expected Number of Columns: 10 Found: 200010; separator is "
        f"comma): {FIELDS}"
    )
    assert f"rejected 1x: {reason}" in out
    again = Env.create(env.dir)
    try:
        [(line, raw, why)] = again.rejects(1)
        assert (line, why) == (502, reason)
        assert raw.startswith("x,x,x") and raw.endswith("[cut: 400,019 characters in all]")
    finally:
        again.close()


def test_huge_value_is_rejected_and_a_long_one_loads(env):
    long_ok = "y" * 1_500_000  # below the limit: loads, on the fast path and the careful one
    lines = [H, row("d1"), row("d2", policy="x" * 3_000_000), row("d3", policy=long_ok)]
    file = write_lines(env.path("huge.csv"), lines)
    started = time.perf_counter()
    result = env.one("decisions", file)
    assert time.perf_counter() - started < 30
    assert counts(result) == (3, 2, 0, 0, 1)
    assert reject_lines(env, result) == [
        (3, f"row longer than 2,000,000 characters ({len(lines[2]):,}; the longest value, "
            "3,000,000 characters, is in field 8, policy): shorten that value and re-send the "
            "row"),
    ]  # fmt: skip
    assert env.row("decisions", "decision_id", "d3", "length(policy)") == (1_500_000,)
    clean = write_lines(env.path("long.csv"), [H, row("d4", policy=long_ok)])
    assert counts(env.one("decisions", clean)) == (1, 1, 0, 0, 0)


# --- 3. a column named twice -------------------------------------------------------------------

TWICE = "column 'vendor' appears twice (columns 3 and 7); rename or remove one"


def test_duplicated_header_name_refuses_the_file(env, capsys):
    header = H.split(",")
    header[6] = " vendor "  # compared without surrounding spaces
    file = write_lines(env.path("twice.csv"), [",".join(header), row("d1")])
    with pytest.raises(IngestError) as err:
        env.ingest("decisions", file)
    assert str(err.value) == f"{file}: line 1 (the header): {TWICE}"
    env.close()
    code, out, errtext = cli(capsys, "ingest", "decisions", str(file), "--db", str(env.db))
    assert (code, out) == (1, "")
    assert TWICE in errtext and "nothing was loaded" in errtext


def test_duplicated_column_in_xlsx_and_parquet(env):
    frame = pd.DataFrame([decision("d1")])
    names = list(frame.columns)
    names[names.index("site")] = "vendor"
    xlsx = env.path("twice.xlsx")
    frame.set_axis(names, axis=1).to_excel(xlsx, index=False)
    message = r"row 1 \(the header\): column 'vendor' appears twice \(columns 3 and 4\); rename"
    with pytest.raises(IngestError, match=message):
        env.ingest("decisions", xlsx)
    table = pa.Table.from_arrays([pa.array(frame[c].astype(str)) for c in frame.columns], names)
    parquet = env.path("twice.parquet")
    pq.write_table(table, parquet)
    with pytest.raises(IngestError, match=r"column 'vendor' appears twice \(columns 3 and 4\)"):
        env.ingest("decisions", parquet)


def test_json_object_with_a_key_twice_is_rejected(env):
    good = json.dumps(decision("j1"))
    twice = json.dumps(decision("j2"))[:-1] + ', "vendor": "other"}'
    file = env.path("twice.jsonl")
    file.write_text(f"{good}\n{twice}\n")
    result = env.one("decisions", file)
    assert counts(result) == (2, 1, 0, 0, 1)
    assert reject_lines(env, result) == [
        (2, "key 'vendor' appears more than once in this object: remove all but one")
    ]


# --- 4. separator detection --------------------------------------------------------------------


def test_semicolons_inside_values_do_not_make_them_the_separator(env):
    """csv.Sniffer picked ';' for this comma-separated file (a quote next to a semicolon in
    three comments); every row then had one field."""
    header = "audit_id,decision_id,auditor_id,audited_at,qa_decision,comment"
    comment = 'agreed; "borderline"'
    lines = [header] + [
        f"a{i},d{i},q1,2026-03-03T09:00:00Z,remove," + (comment if i in (2, 5, 8) else "fine")
        for i in range(10)
    ]
    result = env.one("audits", write_lines(env.path("semi.csv"), lines))
    assert counts(result) == (10, 10, 0, 0, 0)
    assert env.row("qa_audits", "audit_id", "a2", "comment") == (comment,)
    lines = [H] + [row(f"d{i}", policy="hs_1; see notes" if i <= 3 else "hs_1") for i in range(10)]
    result = env.one("decisions", write_lines(env.path("semi2.csv"), lines))
    assert counts(result) == (10, 10, 0, 0, 0)
    assert env.row("decisions", "decision_id", "d1", "policy") == ("hs_1; see notes",)


def test_commas_inside_values_of_a_semicolon_file(env):
    lines = [H.replace(",", ";")] + [
        row(f"d{i}", policy="hs,1,2,3" if i % 2 else "hs_1", sep=";") for i in range(6)
    ]
    result = env.one("decisions", write_lines(env.path("s.csv"), lines))
    assert counts(result) == (6, 6, 0, 0, 0)
    assert env.row("decisions", "decision_id", "d1", "policy") == ("hs,1,2,3",)


def test_mapping_separator_and_quote_are_honoured(env, tmp_path):
    (tmp_path / "m.toml").write_text('[csv]\ndelimiter = "|"\nquote = "\'"\n')
    lines = [H.replace(",", "|"), row("d1", policy="'a|b'", sep="|"), row("d2", sep="|")]
    file = write_lines(env.path("p.csv"), lines)
    result = env.one("decisions", file, mapping=load_mapping(tmp_path / "m.toml"))
    assert counts(result) == (2, 2, 0, 0, 0)
    assert env.row("decisions", "decision_id", "d1", "policy") == ("a|b",)


# --- 5. compressed files -----------------------------------------------------------------------


def _zstd(data: bytes) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.CompressedOutputStream(sink, "zstd") as out:
        out.write(data)
    return sink.getvalue().to_pybytes()


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data)


CSV_TEXT = (H + "\n" + "\n".join(rows(5)) + "\n").encode()
JSONL_TEXT = "".join(json.dumps(decision(f"j{i}")) + "\n" for i in range(1, 4)).encode()
COMPRESSED = [
    ("d.csv.gz", _gzip, CSV_TEXT, 5),
    ("d.csv.zst", _zstd, CSV_TEXT, 5),
    ("d.tsv.gz", _gzip, CSV_TEXT.replace(b",", b"\t"), 5),
    ("d.jsonl.gz", _gzip, JSONL_TEXT, 3),
    ("d.jsonl.zst", _zstd, JSONL_TEXT, 3),
    ("gzip_named_plain.csv", _gzip, CSV_TEXT, 5),  # recognised by its first bytes
    ("zstd_named_plain.csv", _zstd, CSV_TEXT, 5),
]


@pytest.mark.parametrize(
    ("name", "compress", "text", "n"), COMPRESSED, ids=[c[0] for c in COMPRESSED]
)
def test_compressed_files_load(env, name, compress, text, n):
    file = env.path(name)
    file.write_bytes(compress(text))
    result = env.one("decisions", file)
    assert counts(result) == (n, n, 0, 0, 0)
    (sha,) = env.con.execute("SELECT sha256 FROM ingest_runs").fetchone()
    assert sha == hashlib.sha256(file.read_bytes()).hexdigest()  # of the bytes as stored


@pytest.mark.parametrize("compress", [_gzip, _zstd], ids=["gzip", "zstd"])
def test_compressed_file_with_broken_rows_reports_physical_lines(env, compress):
    lines = [H, row("d1"), STRAY, row("d2"), "d3,i-d3", row("d4", policy='"two\nlines"')]
    file = env.path("broken.csv.gz")
    file.write_bytes(compress(("\n".join(lines) + "\n").encode()))
    result = env.one("decisions", file)
    assert counts(result) == (5, 3, 0, 0, 2)
    assert reject_lines(env, result) == [
        (3, stray(3, 4)),
        (5, f"wrong number of fields (Expected Number of Columns: 10 Found: 2; separator is "
            f"comma): {FIELDS}"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "compress"),
    [("cut.csv.gz", _gzip), ("cut.csv.zst", _zstd), ("cut.jsonl.gz", _gzip), ("cut.csv", _gzip)],
)
def test_truncated_compressed_file_is_refused(env, capsys, name, compress):
    whole = compress((H + "\n" + "\n".join(rows(20000)) + "\n").encode())
    file = env.path(name)
    file.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(IngestError) as err:
        env.ingest("decisions", file)
    assert str(err.value).startswith(f"{file}: compressed file (")
    assert "is truncated or damaged" in str(err.value)
    assert str(err.value).endswith(": re-send it")
    env.close()
    code, out, errtext = cli(capsys, "ingest", "decisions", str(file), "--db", str(env.db))
    assert (code, out) == (1, "")
    assert "is truncated or damaged" in errtext
    assert "Traceback" not in errtext


# --- binary files and encodings ----------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("image.csv", PNG, "this is a PNG image, not a CSV or JSON Lines text file; check that "
                           "you picked the right file"),
        ("book.csv", b"PK\x03\x04" + bytes(200), "this is a ZIP archive (an .xlsx workbook is "
                                                 "one: if it is, name it .xlsx)"),
        ("noise.csv", bytes((i * 7919 + 13) % 256 for i in range(20000)), "does not look like "
                                                                          "text"),
        ("zeros.jsonl", bytes(5000), "does not look like text"),
    ],
    ids=["png", "zip", "noise", "zeros"],
)  # fmt: skip
def test_binary_files_are_refused_with_a_clear_message(env, name, content, message):
    file = env.path(name)
    file.write_bytes(content)
    with pytest.raises(IngestError) as err:
        env.ingest("decisions", file)
    assert str(err.value).startswith(f"{file}: ")
    assert message in str(err.value)
    assert "latin-1" not in str(err.value)  # no encoding advice for what is no text


def test_latin1_text_in_a_gzip_file_gets_the_encoding_advice(env):
    text = (H + "\n" + row("d1", policy="Grüße") + "\n").encode("latin-1")
    file = env.path("latin.csv.gz")
    file.write_bytes(gzip.compress(text))
    with pytest.raises(IngestError, match=r"not utf-8 text \(undecodable byte 0xfc on line 2\); "
                                          r"re-export the file as UTF-8, or set "
                                          r'encoding = "latin-1"'):  # fmt: skip
        env.ingest("decisions", file)


def test_undecodable_bytes_deep_in_a_compressed_file_name_their_line(env):
    body = "".join(row(f"d{i}") + "\n" for i in range(1500))  # > 64 KiB before the bad byte
    text = (H + "\n" + body).encode() + row("dx", policy="Größe").encode("latin-1") + b"\n"
    file = env.path("late.csv.zst")
    file.write_bytes(_zstd(text))
    with pytest.raises(IngestError, match="first undecodable bytes on line 1502"):
        env.ingest("decisions", file)


def test_json_line_longer_than_a_row_may_be_is_refused_clearly(env):
    file = env.path("long.jsonl")
    lines = [json.dumps(decision("j1")), json.dumps(decision("j2", policy="x" * 3_000_000))]
    file.write_text("\n".join(lines) + "\n")
    with pytest.raises(IngestError) as err:
        env.ingest("decisions", file)
    assert str(err.value) == (
        f"{file}: line 2 is longer than 2,000,000 bytes; JSON Lines rows must be shorter: "
        "shorten its longest value and re-send the file"
    )


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ('delimiter = ";;"', "must be one character other than a line break, not ';;'"),
        ('quote = ""', "must be one character other than a line break, not ''"),
        ("delimiter = '\"'", "delimiter and quote are the same character '\"'"),
    ],
)
def test_mapping_csv_options_are_checked(tmp_path, csv, message):
    (tmp_path / "m.toml").write_text(f"[csv]\n{csv}\n")
    with pytest.raises(MappingError, match=re.escape(message)):
        load_mapping(tmp_path / "m.toml")


def test_lines_ending_in_cr_alone(env):
    """Old Mac exports end lines with CR alone: rows and line numbers as for any other file."""
    file = write_lines(env.path("mac.csv"), [H, row("d1"), row("d2")], newline="\r")
    assert counts(env.one("decisions", file)) == (2, 2, 0, 0, 0)
    bad = write_lines(env.path("mac2.csv"), [H, row("d3"), "d4,i-d4", row("d5")], newline="\r")
    result = env.one("decisions", bad)
    assert counts(result) == (3, 2, 0, 0, 1)
    assert [line for line, _ in reject_lines(env, result)] == [3]


@pytest.mark.parametrize("bom", [True, False], ids=["bom", "no-bom"])
def test_utf16_text_without_a_utf16_mapping_gets_the_right_advice(env, tmp_path, bom):
    text = H + "\n" + row("d1") + "\n"
    file = env.path("wide_chars.csv")
    file.write_bytes(text.encode("utf-16") if bom else text.encode("utf-16-le"))
    with pytest.raises(IngestError, match='this is UTF-16 text; set encoding = "utf-16"'):
        env.ingest("decisions", file)
    if bom:
        (tmp_path / "u16.toml").write_text('encoding = "utf-16"\n')
        result = env.one("decisions", file, mapping=load_mapping(tmp_path / "u16.toml"))
        assert counts(result) == (1, 1, 0, 0, 0)


def test_header_name_longer_than_the_csv_field_limit(env):
    file = write_lines(env.path("long_header.csv"), ["id," + "n" * 200_000, "1,2"])
    with pytest.raises(IngestError, match=r"line 1 \(the header\) cannot be read"):
        env.ingest("decisions", file)
