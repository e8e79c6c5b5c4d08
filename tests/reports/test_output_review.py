"""A study's result table: read from CSV, then audited against its margins and the
tables the study published before (reports/output_review.py). No database needed."""

from __future__ import annotations

import csv
import io
import json

import pytest

from reports import output_review
from reports.output_review import (
    MAX_BYTES,
    MAX_COLUMNS,
    MAX_PROBLEMS,
    MAX_ROWS,
    ResultTable,
    ResultTableError,
    parse_result_table,
    review_table,
)
from reports.suppression import Table, attacker_intervals

MINIMUM_N, WIDTH = 10, 5


def parsed(text: str, name: str = "results.csv") -> ResultTable:
    return parse_result_table(text.encode(), name=name)


def problems_of(data: bytes) -> list[tuple[int, int, str]]:
    with pytest.raises(ResultTableError) as caught:
        parse_result_table(data, name="results.csv")
    return [(p.line, p.column, p.message) for p in caught.value.problems]


def hidden_keys(review) -> set[tuple[str, str]]:
    return {(cell.row, cell.column) for cell in review.cells if cell.hidden}


class Audit:
    """The attacker's equations built by hand, independently of the module: tables
    with all their margins, and links between cells of two tables."""

    def __init__(self) -> None:
        self.counts: list[int] = []
        self.sums: list[tuple[int, list[int]]] = []
        self.at: dict[tuple[str, str, str], int] = {}  # (table, row, column) -> cell

    def add(self, name: str, rows: dict[str, list[int]], columns: list[str]) -> None:
        def cell(row: str, column: str, count: int) -> int:
            self.at[name, row, column] = len(self.counts)
            self.counts.append(count)
            return self.at[name, row, column]

        grid = [[cell(row, column, count) for column, count in zip(columns, counts, strict=True)]
                for row, counts in rows.items()]  # fmt: skip
        row_totals = [cell(row, "Total", sum(counts)) for row, counts in rows.items()]
        column_totals = [cell("Total", column, sum(counts[at] for counts in rows.values()))
                         for at, column in enumerate(columns)]  # fmt: skip
        grand = cell("Total", "Total", sum(map(sum, rows.values())))
        self.sums += list(zip(row_totals, grid, strict=True))
        for at, total in enumerate(column_totals):
            self.sums.append((total, [line[at] for line in grid]))
        self.sums += [(grand, row_totals), (grand, column_totals)]

    def link(self, first: str, second: str, keys) -> None:
        self.sums += [(self.at[first, *key], [self.at[second, *key]]) for key in keys]

    def intervals(self, hidden: dict[str, set[tuple[str, str]]]):
        cells = {self.at[name, *key] for name, keys in hidden.items() for key in keys}
        found = attacker_intervals(Table(self.counts, self.sums), cells)
        return {key: found[cell] for key, cell in self.at.items() if cell in found}


# The audit ----------------------------------------------------------------------------

SEX = "Grade,F,M,Total\n3,4,20,24\n4,15,30,45\nTotal,19,50,69\n"


def test_a_small_cell_its_margins_give_away_is_hidden_with_complements():
    audit = Audit()
    audit.add("t", {"3": [4, 20], "4": [15, 30]}, ["F", "M"])
    alone = audit.intervals({"t": {("3", "F")}})
    assert alone["t", "3", "F"].width == 0  # 24 - 20: hidden alone, recovered exactly

    review = review_table(parsed(SEX), minimum_n=MINIMUM_N, width=WIDTH)

    small = next(cell for cell in review.cells if (cell.row, cell.column) == ("3", "F"))
    assert small.status == "primary" and small.high - small.low >= WIDTH
    assert (review.primary, review.hidden) == (1, 1 + review.complementary)
    assert review.complementary >= 1
    # Audited again on the hand-built equations: the pattern holds.
    again = audit.intervals({"t": hidden_keys(review)})
    assert again["t", "3", "F"].width >= WIDTH


def test_without_margins_a_small_cell_needs_no_complement():
    review = review_table(parsed("Grade,F,M\n3,4,20\n4,15,30\n"), minimum_n=10, width=5)
    assert hidden_keys(review) == {("3", "F")}
    assert review.complementary == 0


def test_a_small_margin_is_primary_too():
    table = parsed("Grade,F,M,Total\n3,4,5,9\n4,15,30,45\nTotal,19,35,54\n")
    review = review_table(table, minimum_n=MINIMUM_N, width=WIDTH)
    primary = {(cell.row, cell.column) for cell in review.cells if cell.status == "primary"}
    assert primary == {("3", "F"), ("3", "M"), ("3", "Total")}
    assert all(cell.high - cell.low >= WIDTH for cell in review.cells if cell.status == "primary")


def test_a_table_with_no_small_cell_is_shown_whole():
    review = review_table(parsed("Grade,F,M,Total\n3,14,20,34\n4,15,30,45\nTotal,29,50,79\n"),
                          minimum_n=MINIMUM_N, width=WIDTH)  # fmt: skip
    assert (review.hidden, review.primary, review.complementary) == (0, 0, 0)
    assert len(review.cells) == 9
    assert all(cell.status == "shown" and cell.low is None for cell in review.cells)


# Grade 5 is small in both tables; the grade totals are the same students in each.
RACE = "Grade,A,W,Total\n3,20,30,50\n4,25,35,60\n5,2,5,7\nTotal,47,70,117\n"
SEX_BY_GRADE = "Grade,F,M,Total\n3,24,26,50\n4,28,32,60\n5,3,4,7\nTotal,55,62,117\n"
# As approved, the grade-by-sex table hid grade 5 and grade 4 (grade 3's total is shown).
SEX_HIDDEN = {("5", "F"), ("5", "M"), ("5", "Total"), ("4", "F"), ("4", "M"), ("4", "Total")}


def race_and_sex_audit() -> Audit:
    audit = Audit()
    audit.add("race", {"3": [20, 30], "4": [25, 35], "5": [2, 5]}, ["A", "W"])
    audit.add("sex", {"3": [24, 26], "4": [28, 32], "5": [3, 4]}, ["F", "M"])
    grade_totals = [(grade, "Total") for grade in ("3", "4", "5")]
    audit.link("race", "sex", [*grade_totals, ("Total", "Total")])
    return audit


def test_an_earlier_table_sharing_the_grade_totals_forces_more_complements():
    race, sex = parsed(RACE, "race.csv"), parsed(SEX_BY_GRADE, "sex.csv")
    alone = review_table(race, minimum_n=MINIMUM_N, width=WIDTH)
    # Safe on its own, but it hides grade 3's total, which the earlier table shows:
    # grade 5's total is then 117 - 50 - 60, to the student.
    assert ("5", "Total") in hidden_keys(alone) and ("4", "Total") not in hidden_keys(alone)
    leaked = race_and_sex_audit().intervals({"race": hidden_keys(alone), "sex": SEX_HIDDEN})
    assert leaked["race", "5", "Total"].width == 0

    linked = review_table(race, minimum_n=MINIMUM_N, width=WIDTH, earlier=[(sex, SEX_HIDDEN)])

    assert ("4", "Total") in hidden_keys(linked) - hidden_keys(alone)
    safe = race_and_sex_audit().intervals({"race": hidden_keys(linked), "sex": SEX_HIDDEN})
    for cell in linked.cells:
        if cell.status == "primary":
            assert safe["race", cell.row, cell.column].width >= WIDTH
            assert cell.high - cell.low >= WIDTH


def test_a_new_table_may_not_uncover_a_small_count_an_earlier_one_hid():
    # The earlier table hid F in grade 3 with the grade totals (its M is shown): the new
    # table, with no small cell of its own, would show those totals and so F = 43 - 40.
    sex = parsed("Grade,F,M,Total\n3,3,40,43\n4,30,32,62\nTotal,33,72,105\n", "sex.csv")
    sex_hidden = {("3", "F"), ("4", "F"), ("3", "Total"), ("4", "Total")}
    race = parsed("Grade,A,W,Total\n3,20,23,43\n4,25,37,62\nTotal,45,60,105\n", "race.csv")
    assert review_table(race, minimum_n=MINIMUM_N, width=WIDTH).hidden == 0

    review = review_table(race, minimum_n=MINIMUM_N, width=WIDTH, earlier=[(sex, sex_hidden)])

    assert {("3", "Total"), ("4", "Total")} <= hidden_keys(review)
    assert review.primary == 0 and review.complementary == review.hidden
    before = Audit()
    before.add("sex", {"3": [3, 40], "4": [30, 32]}, ["F", "M"])
    assert before.intervals({"sex": sex_hidden})["sex", "3", "F"].width >= WIDTH
    audit = Audit()
    audit.add("race", {"3": [20, 23], "4": [25, 37]}, ["A", "W"])
    audit.add("sex", {"3": [3, 40], "4": [30, 32]}, ["F", "M"])
    audit.link("race", "sex", [("3", "Total"), ("4", "Total"), ("Total", "Total")])
    shown = audit.intervals({"race": set(), "sex": sex_hidden})
    assert shown["sex", "3", "F"].width == 0  # 43 - 40, had the new table been shown whole
    after = audit.intervals({"race": hidden_keys(review), "sex": sex_hidden})
    assert after["sex", "3", "F"].width >= WIDTH


def test_earlier_hidden_cells_must_exist():
    sex = parsed(SEX)
    with pytest.raises(ValueError, match="no cell"):
        review_table(sex, minimum_n=10, width=5, earlier=[(sex, {("9", "F")})])


def test_when_no_pattern_is_found_every_interior_cell_is_hidden(monkeypatch):
    def gives_up(*args, **kwargs):
        raise RuntimeError("no cell left to hide, yet the audit still fails")

    monkeypatch.setattr(output_review, "protect", gives_up)
    review = review_table(parsed(SEX), minimum_n=MINIMUM_N, width=WIDTH)
    assert review.gave_up
    interior = {(cell.row, cell.column) for cell in review.cells if "Total" not in
                (cell.row, cell.column)}  # fmt: skip
    assert interior <= hidden_keys(review)
    assert all(cell.high - cell.low >= WIDTH for cell in review.cells if cell.status == "primary")
    # Grade 3 has 4 students, 2 and 2: with its total shown, each is within 0..4.
    tiny = parsed("Grade,F,M,Total\n3,2,2,4\n4,15,30,45\nTotal,17,32,49\n")
    review = review_table(tiny, minimum_n=3, width=WIDTH)
    assert review.gave_up and ("3", "Total") in hidden_keys(review)
    assert all(cell.high - cell.low >= WIDTH for cell in review.cells if cell.status == "primary")


def test_the_grid_and_the_published_csv_never_show_a_hidden_count():
    review = review_table(parsed(SEX), minimum_n=MINIMUM_N, width=WIDTH)
    grid = review.grid()
    assert [[(cell.row, cell.column) for cell in row] for row in grid] == [
        [("3", "F"), ("3", "M"), ("3", "Total")],
        [("4", "F"), ("4", "M"), ("4", "Total")],
        [("Total", "F"), ("Total", "M"), ("Total", "Total")],
    ]
    published = list(csv.reader(io.StringIO(review.published_csv(MINIMUM_N))))
    assert published[0] == ["Grade", "F", "M", "Total"]
    for line, row in zip(published[1:], grid, strict=True):
        assert line[0] == row[0].row
        for text, cell in zip(line[1:], row, strict=True):
            expected = {"shown": str(cell.count), "primary": "n<10", "complementary": "*"}
            assert text == expected[cell.status]
    assert published[1][1] == "n<10"
    assert "4" not in published[1][1:]  # grade 3's F, though "4" labels a row


# Parsing ------------------------------------------------------------------------------


def test_a_table_with_totals_anywhere_is_read():
    table = parsed(" Grade , All ,F,M\n3, 24 , 4,20\nTOTAL,69,19,50\n4,45,15,30\n")
    assert table == ResultTable(
        name="results.csv",
        row_labels=("3", "4"),
        column_labels=("F", "M"),
        counts=((4, 20), (15, 30)),
        row_totals=(24, 45),
        column_totals=(19, 50),
        grand_total=69,
        row_heading="Grade",
    )


def test_a_table_without_totals_has_none():
    table = parsed("Grade,F,M\n3,4,20\n")
    assert (table.row_totals, table.column_totals, table.grand_total) == (None, None, None)
    table = parsed("Grade,F,M,Total\n3,4,20,24\n")
    assert (table.row_totals, table.column_totals, table.grand_total) == ((24,), None, None)


def test_a_bom_a_semicolon_and_a_quoted_thousands_separator_are_accepted():
    data = '\ufeffGrade;F;M;Total\r\n3;"1,234";20;1254\r\n4;15; 30 ;45\r\n'.encode()
    table = parse_result_table(data, name="semicolons.csv")
    assert table.row_heading == "Grade"
    assert table.counts == ((1234, 20), (15, 30))
    assert parsed("Grade\tF\tM\n3\t4\t20\n").counts == ((4, 20),)
    assert parsed('Grade,F,M\n3,"1,234",20\n').counts == ((1234, 20),)


def test_every_problem_is_listed_at_once_with_its_line_and_column():
    data = (
        b"Grade;F;M;M;Total\n"  # 1: M twice
        b"3;1;2;3;6\n"
        b"4;1;x;3;4\n"  # 3: not a number
        b"3;1;2;3;6\n"  # 4: grade 3 twice
        b"5;1;2;3\n"  # 5: a cell short
        b"6;-1;2;3;4\n"  # 6: negative
        b"7; ;2;3;5\n"  # 7: blank
        b"8;1,234;2;3;1239\n"  # 8: a thousands separator, not quoted
        b"9;1;2;3;7\n"  # 9: 1 + 2 + 3 is not 7
    )
    found = problems_of(data)
    assert [(line, column) for line, column, _ in found] == [
        (1, 4), (3, 3), (4, 1), (5, 5), (6, 2), (7, 2), (8, 2), (9, 5),
    ]  # fmt: skip
    messages = [message for _, _, message in found]
    for expected, message in zip(
        ["repeats column 3", "not a whole number", "repeats line 2", "4 cells where the header",
         "negative", "blank", "must be quoted", "not the sum"],
        messages, strict=True,
    ):  # fmt: skip
        assert expected in message


def test_totals_that_do_not_add_up_are_pointed_at():
    found = problems_of(b"Grade,F,M,Total\n3,1,2,3\n4,3,4,8\nTotal,4,7,12\n")
    assert [(line, column) for line, column, _ in found] == [(3, 4), (4, 3), (4, 4), (4, 4)]
    assert "row's counts, 7" in found[0][2]
    assert "column's counts, 6" in found[1][2]
    assert "sum of the row totals, 11" in found[2][2]
    assert "sum of the column totals, 11" in found[3][2]


def test_labels_and_totals_that_are_missing_or_doubled():
    assert problems_of(b"Grade,F,,Total,All\n3,1,2,3,3\n")[:2] == [
        (1, 3, "a blank column label"),
        (1, 5, "a second total column"),
    ]
    assert problems_of(b"Grade,F\n,4\n") == [(2, 1, "a blank row label")]
    assert problems_of(b"Grade,F\nTotal,8\n3,4\nAll,8\n4,4\n") == [(4, 1, "a second total row")]


def test_a_table_needs_a_row_and_a_column_of_counts():
    assert problems_of(b"Grade,Total\n3,5\n") == [(1, 2, "the header names no column of counts")]
    assert problems_of(b"Grade,F,M\n") == [(2, 1, "no row of counts under the header")]
    assert problems_of(b"Grade,F\nTotal,5\n") == [(3, 1, "no row of counts under the header")]


def test_an_empty_file_is_refused():
    assert problems_of(b"") == [(1, 1, "the file is empty")]
    assert problems_of(b"\xef\xbb\xbf\n  \n,,\n") == [(1, 1, "the file is empty")]


def test_bytes_that_are_not_utf8_are_pointed_at():
    found = problems_of(b"Grade,F\n3,\xe9\n4,\xff1\n")
    assert [(line, column) for line, column, _ in found] == [(2, 3), (3, 3)]
    assert "not UTF-8" in found[0][2]


def test_an_oversized_file_is_refused_before_decoding(monkeypatch):
    def decoded(data):
        raise AssertionError("decoded")

    monkeypatch.setattr(output_review, "_decoded", decoded)
    found = problems_of(b"\xff" * (MAX_BYTES + 1))
    assert len(found) == 1 and "larger than 2,000,000 bytes" in found[0][2]


def test_too_many_rows_stop_the_reading():
    rows = "".join(f"{at},1\n" for at in range(MAX_ROWS + 1))
    # Past the limit nothing is read: the bad line after it is never reported.
    found = problems_of(f"Grade,F\n{rows}bad,x\n".encode())
    assert found == [(MAX_ROWS + 2, 1, f"more than {MAX_ROWS} rows of counts: not read further")]
    assert len(parsed(f"Grade,F\n{rows[: rows.rindex(str(MAX_ROWS))]}").row_labels) == MAX_ROWS


def test_too_many_columns_stop_the_reading():
    header = ",".join(["Grade", *(f"c{at}" for at in range(MAX_COLUMNS + 1))])
    found = problems_of(f"{header}\n3,x\n".encode())
    assert found == [(1, MAX_COLUMNS + 2, f"more than {MAX_COLUMNS} columns of counts")]


def test_problems_past_the_limit_are_counted_not_listed():
    rows = "".join(f"{at},x\n" for at in range(MAX_PROBLEMS + 5))
    found = problems_of(f"Grade,F\n{rows}".encode())
    assert len(found) == MAX_PROBLEMS + 1
    assert found[-1][2] == "and 5 more problems"


def test_a_huge_count_is_refused():
    assert "a count above" in problems_of(b"Grade,F\n3,99999999999999999999\n")[0][2]


def test_the_error_reads_as_its_problems():
    with pytest.raises(ResultTableError, match=r"line 2, column 2: a blank count"):
        parse_result_table(b"Grade,F\n3,\n", name="x.csv")


# Storing ------------------------------------------------------------------------------


def test_a_table_survives_a_json_round_trip():
    for text in (SEX, "Grade,F,M\n3,4,20\n", "Grade,F,M,Total\n3,4,20,24\n"):
        table = parsed(text)
        stored = json.loads(json.dumps(table.to_json()))
        assert ResultTable.from_json(stored) == table


def test_a_stored_table_whose_shape_is_wrong_is_refused():
    stored = parsed(SEX).to_json()
    stored["counts"] = [[4, 20]]
    with pytest.raises(ValueError, match="do not match"):
        ResultTable.from_json(stored)
