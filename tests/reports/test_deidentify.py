"""k-anonymity of research extracts: every released class holds k records, the chosen
generalisation loses the least, refusals, ℓ-diversity, the hierarchies, and the loss."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from reports.deidentify import (
    Hierarchy,
    anonymise,
    birth_year_hierarchy,
    flag_hierarchy,
    grade_hierarchy,
    race_hierarchy,
    school_hierarchy,
    sex_hierarchy,
)

SCHOOLS = {f"Elementary {i}": "elementary" for i in range(6)} | {
    "Middle 1": "middle",
    "Middle 2": "middle",
    "High 1": "high",
    "Academy": "other",
}
GRADES_AT = {
    "elementary": ["PK", "KG", "01", "02", "03", "04", "05"],
    "middle": ["06", "07", "08"],
    "high": ["09", "10", "11", "12"],
    "other": ["UG", "09", "13"],
}
RACES = (  # with US-district-like shares
    ("White", 50),
    ("Hispanic or Latino", 25),
    ("Black or African American", 13),
    ("Asian", 5),
    ("Two or more races", 4),
    ("American Indian or Alaska Native", 1),
    ("Native Hawaiian or Other Pacific Islander", 1),
    ("unknown", 1),
)
FLAGS = (("iep", "IEP", 0.14), ("el", "English learner", 0.1), ("frl", "free meals", 0.5),
         ("homeless", "homeless", 0.03))  # fmt: skip


def grade_number(grade: str) -> int:
    return {"PK": -1, "KG": 0}.get(grade) or (int(grade) if grade.isdigit() else 14)


def population(n: int, seed: int) -> dict[str, list]:
    """Students of a small district: schools of uneven size, grades that fit the school,
    birth years that fit the grade (some held back), skewed race and program shares."""
    rng = random.Random(seed)
    schools = list(SCHOOLS)
    sizes = [rng.uniform(0.5, 2) for _ in schools]
    races, race_shares = zip(*RACES, strict=True)
    columns: dict[str, list] = {name: [] for name in ("school", "grade", "birth_year", "sex")}
    columns |= {"race_ethnicity": [], "score": []} | {flag: [] for flag, _, _ in FLAGS}
    for _ in range(n):
        school = rng.choices(schools, sizes)[0]
        grade = rng.choice(GRADES_AT[SCHOOLS[school]])
        held_back = rng.random() < 0.15
        columns["school"].append(school)
        columns["grade"].append(grade)
        year = 2018 - grade_number(grade) - held_back
        columns["birth_year"].append(None if rng.random() < 0.005 else year)
        columns["sex"].append(rng.choices(["F", "M", "X"], [49, 49, 2])[0])
        columns["race_ethnicity"].append(rng.choices(races, race_shares)[0])
        for flag, _, share in FLAGS:
            columns[flag].append(None if rng.random() < 0.01 else rng.random() < share)
        columns["score"].append(None if rng.random() < 0.1 else rng.randint(1, 4))
    return columns


def all_hierarchies() -> list[Hierarchy]:
    return [
        school_hierarchy(SCHOOLS),
        grade_hierarchy(),
        birth_year_hierarchy(),
        sex_hierarchy(),
        race_hierarchy(),
        *(flag_hierarchy(flag, label) for flag, label, _ in FLAGS),
    ]


def released_classes(result, hierarchies) -> Counter:
    """Class sizes of the released records, counted here rather than trusted."""
    rows = zip(*(result.values[h.column] for h in hierarchies), strict=True)
    return Counter(row for row, kept in zip(rows, result.kept, strict=True) if kept)


# --- k, counted independently ----------------------------------------------------------


def test_every_released_class_has_at_least_k_records():
    columns, hierarchies = population(5000, seed=11), all_hierarchies()
    result = anonymise(columns, hierarchies, k=10, sensitive=["score"])

    assert result.refused is None
    sizes = released_classes(result, hierarchies)
    assert sizes and min(sizes.values()) >= 10
    assert min(sizes.values()) == result.k_achieved
    assert result.suppressed == int((~result.kept).sum()) <= 0.05 * 5000
    assert sum(sizes.values()) == 5000 - result.suppressed


def test_released_labels_are_the_hierarchies_labels_at_the_chosen_levels():
    columns, hierarchies = population(2000, seed=5), all_hierarchies()
    result = anonymise(columns, hierarchies, k=5)

    for h in hierarchies:
        level = result.levels[h.column]
        assert result.level_names[h.column] == h.level_names[level]
        assert result.values[h.column] == [h.generalise(v, level) for v in columns[h.column]]


def test_suppressed_records_are_exactly_those_in_classes_below_k():
    columns, hierarchies = population(3000, seed=8), all_hierarchies()
    result = anonymise(columns, hierarchies, k=15, max_suppressed_share=0.1)

    rows = list(zip(*(result.values[h.column] for h in hierarchies), strict=True))
    everyone = Counter(rows)
    assert result.kept.tolist() == [everyone[row] >= 15 for row in rows]
    assert len(result.kept) == 3000  # suppressed records keep their place and labels


# --- the chosen node is the least loss -------------------------------------------------


def reference_best(columns, hierarchies, k, share):
    """Every node of the lattice, its classes counted and its loss summed as a fraction,
    record by record: the least (loss, height, levels), or None if nothing is feasible."""
    n = len(columns[hierarchies[0].column])
    labels = [
        [[h.generalise(v, level) for v in columns[h.column]] for level in range(len(h.level_names))]
        for h in hierarchies
    ]
    top = tuple(len(h.level_names) - 1 for h in hierarchies)
    best = None
    for node in itertools.product(*(range(len(h.level_names)) for h in hierarchies)):
        if node == top:
            continue
        rows = list(zip(*(labels[i][level] for i, level in enumerate(node)), strict=True))
        sizes = Counter(rows)
        suppressed = sum(size for size in sizes.values() if size < k)
        if suppressed > share * n or suppressed == n:
            continue
        loss = sum(
            (penalty(labels[i], level, row[i]) for row in rows if sizes[row] >= k
             for i, level in enumerate(node)),
            Fraction(suppressed * len(node)),
        ) / (n * len(node))  # fmt: skip
        if best is None or (loss, sum(node), node) < best:
            best = (loss, sum(node), node)
    return best


def penalty(column_labels, level, label) -> Fraction:
    exact = set(column_labels[0])
    if len(exact) == 1:
        return Fraction(0)
    under = {e for e, g in zip(column_labels[0], column_labels[level], strict=True) if g == label}
    return Fraction(len(under) - 1, len(exact) - 1)


@pytest.mark.parametrize(
    ("seed", "k", "share"),
    [(1, 2, 0.05), (2, 5, 0.05), (3, 10, 0.1), (4, 3, 0.0), (5, 20, 0.02), (6, 8, 0.3)],
)
def test_the_chosen_generalisation_has_the_least_loss_of_all_feasible_ones(seed, k, share):
    columns = population(300, seed)
    hierarchies = [school_hierarchy(SCHOOLS), grade_hierarchy(), birth_year_hierarchy(),
                   sex_hierarchy(), flag_hierarchy("iep", "IEP")]  # fmt: skip
    result = anonymise(columns, hierarchies, k=k, max_suppressed_share=share)

    loss, _, node = reference_best(columns, hierarchies, k, share)
    assert tuple(result.levels[h.column] for h in hierarchies) == node
    assert result.information_loss == pytest.approx(float(loss), abs=1e-12)


def test_of_equal_losses_the_lower_generalisation_wins():
    # Exact grades: 3 suppressed records cost 1 each. Bands: the same 3 are alone in
    # "3-5" and "9-12" and "6-8" covers one exact grade, so the loss is the same 0.03.
    grades = ["07"] * 97 + ["03", "04", "11"]
    result = anonymise({"grade": grades}, [grade_hierarchy()], k=10)

    assert result.levels == {"grade": 0}
    assert result.suppressed == 3
    assert result.information_loss == pytest.approx(0.03)


def test_of_equal_losses_and_heights_the_smaller_level_tuple_wins():
    # Together every class has 5; either column alone has classes of 10 and a loss of
    # 0.5. Releasing sex, (0, 1), comes before releasing the flag, (1, 0), even though
    # the search meets (1, 0) first.
    columns = {"sex": ["F", "M"] * 10, "iep": [True] * 5 + [False] * 10 + [True] * 5}
    result = anonymise(columns, [sex_hierarchy(), flag_hierarchy("iep", "IEP")], k=10)

    assert result.levels == {"sex": 0, "iep": 1}
    assert result.information_loss == 0.5
    assert result.suppressed == 0


# --- refusals --------------------------------------------------------------------------


def test_refused_when_every_record_differs():
    schools = {f"S{i}": ("elementary" if i % 2 else "high") for i in range(12)}
    columns = {"school": list(schools), "sex": ["F", "M"] * 6}
    result = anonymise(columns, [school_hierarchy(schools), sex_hierarchy()], k=10)

    assert result.refused is not None
    assert "k=10 cannot be reached without suppressing 100.0% of the records" in result.refused
    assert not result.kept.any()
    assert result.k_achieved == 0
    assert result.suppressed == 12
    assert result.information_loss == 1.0


def test_refused_when_there_are_fewer_records_than_k():
    result = anonymise({"sex": ["F"] * 9}, [sex_hierarchy()], k=10, sensitive=())

    assert result.refused is not None and "k=10" in result.refused
    assert result.kept.tolist() == [False] * 9
    assert result.k_achieved == 0


def test_a_refusal_names_the_least_suppression_any_generalisation_needs():
    result = anonymise({"sex": ["F"] * 20 + ["M"] * 8 + ["X"] * 2}, [sex_hierarchy()], k=10)

    assert result.refused is not None
    assert "without suppressing 33.3% of the records" in result.refused
    assert not result.kept.any()


def test_a_larger_suppression_allowance_releases_what_was_refused():
    result = anonymise(
        {"sex": ["F"] * 20 + ["M"] * 8 + ["X"] * 2},
        [sex_hierarchy()],
        k=10,
        max_suppressed_share=0.34,
    )

    assert result.refused is None
    assert result.kept.tolist() == [True] * 20 + [False] * 10
    assert result.k_achieved == 20


def test_a_share_of_records_is_allowed_to_the_whole_record():
    # 0.29 * 100 is 28.999... in floating point: 29 suppressed records are still allowed.
    sexes = ["F"] * 71 + [f"X{i}" for i in range(29)]
    result = anonymise({"sex": sexes}, [sex_hierarchy()], k=10, max_suppressed_share=0.29)

    assert result.refused is None
    assert result.suppressed == 29


def test_refused_when_there_is_no_quasi_identifier():
    result = anonymise({"score": [1, 2, 3]}, [], k=2, sensitive=["score"])

    assert result.refused is not None
    assert not result.kept.any()


# --- ℓ-diversity -----------------------------------------------------------------------


def outcomes_by_grade():
    grades = ["01"] * 6 + ["05"] * 6 + ["09"] * 6 + ["12"]
    outcome = ["met"] * 6 + ["met", "not met"] * 3 + ["met", "not met", "exceeded"] * 2 + ["met"]
    partly_blank = ["met", None, "", "met", "met", "met"] + ["met", "not met"] * 3
    partly_blank += ["not met"] * 6 + [None]
    return {"grade": grades, "outcome": outcome, "partly_blank": partly_blank}


def test_a_class_with_one_outcome_is_blanked():
    columns = outcomes_by_grade()
    result = anonymise(
        columns,
        [grade_hierarchy()],
        k=5,
        sensitive=["outcome", "partly_blank"],
        max_suppressed_share=0.1,
    )

    assert result.levels == {"grade": 0}
    assert result.kept.tolist() == [True] * 18 + [False]
    # Grade 01 all "met": blanked. The suppressed grade-12 record is not released at all.
    assert result.blanked["outcome"].tolist() == [True] * 6 + [False] * 13
    assert result.l_diversity["outcome"] == 2
    # Blanks are no outcome: "met" and two blanks is still one outcome.
    assert result.blanked["partly_blank"].tolist() == [True] * 6 + [False] * 6 + [True] * 6 + [
        False
    ]
    assert result.l_diversity["partly_blank"] == 2


def test_min_l_sets_how_many_outcomes_a_class_needs():
    columns = outcomes_by_grade()
    result = anonymise(
        columns, [grade_hierarchy()], k=5, sensitive=["outcome"], min_l=3,
        max_suppressed_share=0.1,
    )  # fmt: skip

    assert result.blanked["outcome"].tolist() == [True] * 12 + [False] * 7
    assert result.l_diversity["outcome"] == 3


def test_l_diversity_is_zero_when_every_class_was_blanked():
    columns = {"grade": ["01"] * 5 + ["05"] * 5, "outcome": ["met"] * 5 + ["not met"] * 5}
    result = anonymise(columns, [grade_hierarchy()], k=5, sensitive=["outcome"])

    assert result.levels == {"grade": 0}
    assert result.blanked["outcome"].all()
    assert result.l_diversity["outcome"] == 0


# --- information loss ------------------------------------------------------------------


def test_no_loss_when_already_k_anonymous_at_the_exact_values():
    columns = {"grade": ["01"] * 10 + ["07"] * 12, "sex": ["F", "M"] * 11}
    result = anonymise(columns, [grade_hierarchy(), sex_hierarchy()], k=5)

    assert result.levels == {"grade": 0, "sex": 0}
    assert result.information_loss == 0
    assert result.suppressed == 0
    assert result.k_achieved == 5


def test_the_loss_of_a_band_is_the_share_of_exact_values_it_covers():
    # "PK-2" covers 2 of the 3 exact grades: (2 - 1) / (3 - 1) = 0.5 for half the records.
    result = anonymise({"grade": ["01"] * 5 + ["02"] * 5 + ["07"] * 10}, [grade_hierarchy()], k=10)

    assert result.levels == {"grade": 1}
    assert result.values["grade"] == ["PK-2"] * 10 + ["6-8"] * 10
    assert result.information_loss == pytest.approx(0.25)


def test_the_loss_stays_between_zero_and_one_and_grows_with_k():
    columns, hierarchies = population(2000, seed=3), all_hierarchies()
    losses = [anonymise(columns, hierarchies, k=k).information_loss for k in (2, 10, 50)]

    assert all(0 < loss < 1 for loss in losses)
    assert losses == sorted(losses)


# --- the hierarchies -------------------------------------------------------------------


def levels_of(hierarchy: Hierarchy, value) -> list[str]:
    return [hierarchy.generalise(value, level) for level in range(len(hierarchy.level_names))]


def test_school_hierarchy():
    h = school_hierarchy({"Lincoln Elementary": "elementary", "Roosevelt High": "high"})

    assert h.column == "school"
    assert h.level_names == ("school", "school level", "district")
    assert levels_of(h, "Lincoln Elementary") == ["Lincoln Elementary", "elementary", "*"]
    assert levels_of(h, "Roosevelt High") == ["Roosevelt High", "high", "*"]
    assert levels_of(h, "Unlisted Charter") == ["Unlisted Charter", "other", "*"]
    assert levels_of(h, None) == ["unknown", "other", "*"]


@pytest.mark.parametrize(
    ("grade", "band"),
    [("PK", "PK-2"), ("KG", "PK-2"), ("01", "PK-2"), ("02", "PK-2"), ("03", "3-5"),
     ("05", "3-5"), ("06", "6-8"), ("08", "6-8"), ("09", "9-12"), ("12", "9-12"),
     ("13", "other"), ("PS", "other"), ("UG", "other"), ("Other", "other")],
)  # fmt: skip
def test_grade_hierarchy(grade, band):
    h = grade_hierarchy()

    assert (h.column, h.level_names) == ("grade", ("grade", "grade band", "all grades"))
    assert levels_of(h, grade) == [grade, band, "*"]


def test_grade_hierarchy_unknown_grade():
    assert levels_of(grade_hierarchy(), "") == ["unknown", "other", "*"]


def test_birth_year_hierarchy():
    h = birth_year_hierarchy()

    assert h.column == "birth_year" and len(h.level_names) == 4
    assert levels_of(h, 2010) == ["2010", "2010-2011", "2008-2011", "*"]
    assert levels_of(h, 2011) == ["2011", "2010-2011", "2008-2011", "*"]
    assert levels_of(h, 2015) == ["2015", "2014-2015", "2012-2015", "*"]
    assert levels_of(h, None) == ["unknown", "unknown", "unknown", "*"]


def test_birth_year_bands_nest():
    """Each 2-year band lies inside one wider band, so generalising never splits a group."""
    h = birth_year_hierarchy()
    wider = {}
    for year in range(1990, 2030):
        assert wider.setdefault(h.generalise(year, 1), h.generalise(year, 2)) == h.generalise(
            year, 2
        )


def test_sex_hierarchy():
    h = sex_hierarchy()

    assert h.column == "sex" and len(h.level_names) == 2
    assert levels_of(h, "F") == ["F", "*"]
    assert levels_of(h, None) == ["unknown", "*"]


@pytest.mark.parametrize(
    ("group", "merged"),
    [("White", "White"), ("Black or African American", "Black or African American"),
     ("Hispanic or Latino", "Hispanic or Latino"), ("Asian", "Asian"),
     ("American Indian or Alaska Native", "all other groups"),
     ("Native Hawaiian or Other Pacific Islander", "all other groups"),
     ("Two or more races", "all other groups"), ("unknown", "all other groups")],
)  # fmt: skip
def test_race_hierarchy(group, merged):
    h = race_hierarchy()

    assert h.column == "race_ethnicity"
    assert h.level_names == ("race/ethnicity", "race/ethnicity (merged)", "all")
    assert levels_of(h, group) == [group, merged, "*"]


def test_flag_hierarchy():
    h = flag_hierarchy("iep", "IEP")

    assert (h.column, h.level_names) == ("iep", ("IEP", "not released"))
    assert levels_of(h, True) == ["yes", "*"]
    assert levels_of(h, False) == ["no", "*"]
    assert levels_of(h, None) == ["unknown", "*"]


def test_a_hierarchy_whose_levels_do_not_nest_is_rejected():
    def generalise(year, level):  # 2-year bands, then 5-year bands that cut them
        if level == 0:
            return str(year)
        if level == 3:
            return "*"
        width = 2 if level == 1 else 5
        return str(year - year % width)

    h = Hierarchy("birth_year", ("year", "2", "5", "all"), generalise)
    with pytest.raises(ValueError, match="splits"):
        anonymise({"birth_year": list(range(2010, 2020)) * 3}, [h], k=2)


# --- the arguments ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "kwargs"),
    [
        ({"sex": ["F", "M"]}, {"k": 1}),
        ({"grade": ["01", "02"]}, {"k": 2}),
        ({"sex": ["F", "M"]}, {"k": 2, "sensitive": ["score"]}),
        ({"sex": ["F", "M"], "score": [1]}, {"k": 2, "sensitive": ["score"]}),
    ],
)
def test_bad_arguments_are_refused_loudly(columns, kwargs):
    with pytest.raises(ValueError):
        anonymise(columns, [sex_hierarchy()], **kwargs)


def test_the_same_input_gives_the_same_output():
    columns, hierarchies = population(1500, seed=9), all_hierarchies()
    first = anonymise(columns, hierarchies, k=5, sensitive=["score"])
    second = anonymise(columns, hierarchies, k=5, sensitive=["score"])

    assert first.levels == second.levels
    assert first.values == second.values
    assert np.array_equal(first.kept, second.kept)
    assert np.array_equal(first.blanked["score"], second.blanked["score"])
    assert first.information_loss == second.information_loss
