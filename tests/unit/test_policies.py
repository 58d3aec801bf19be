"""Organisation rules in reconciler.yaml `policies:`: each violation is a validation error naming the
file, the line and the rule; a policy that cannot be read names its line and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config import load_settings
from reconciler.desired import load_directory
from reconciler.errors import ConfigError
from reconciler.validate import validate


def _with_policies(org: Path, policies: str) -> list[str]:
    with (org / "reconciler.yaml").open("a", encoding="utf-8") as f:
        f.write("policies:\n" + policies)
    return [str(i) for i in validate(load_directory(org)).errors]


def _edit(path: Path, old: str, new: str) -> None:
    path.write_text(path.read_text("utf-8").replace(old, new), "utf-8")


def test_the_example_directory_has_no_policies_and_no_policy_errors(org: Path):
    assert not [i for i in validate(load_directory(org)).issues if "policy" in i.message]


def test_a_person_without_a_leader_violates_every_person_has_a_leader(org: Path):
    _edit(org / "users" / "bob.yaml", 'leader_user_id: "@zhaolei"\n', "")
    errors = _with_policies(org, '  every_person_has_a_leader: {except: ["@zhaolei"]}\n')
    assert errors == [
        f"{org}/users/bob.yaml:2:1: policy every_person_has_a_leader: the person has no leader; declare "
        "leader_user_id, or add them to policies.every_person_has_a_leader.except in reconciler.yaml"
    ]


def test_the_founder_needs_no_exception_to_have_no_leader(org: Path):
    with (org / "reconciler.yaml").open("a", encoding="utf-8") as f:
        f.write('founder: "@zhaolei"\n')
    assert _with_policies(org, "  every_person_has_a_leader: true\n") == []


def test_an_exception_that_names_nobody_is_an_error_on_its_line(org: Path):
    errors = _with_policies(org, '  every_person_has_a_leader:\n    except: ["@zhaolei", "@nobody"]\n')
    assert len(errors) == 1
    assert errors[0].startswith(f"{org}/reconciler.yaml:11:3: policies: policy every_person_has_a_leader: except")
    assert "'nobody' matches no user file" in errors[0]


def test_a_leader_outside_all_the_person_s_departments_violates_leader_shares_a_department(org: Path):
    errors = _with_policies(org, "  leader_shares_a_department: true\n")
    lisi = next(e for e in errors if "/lisi.yaml" in e)
    assert lisi == (
        f"{org}/users/lisi.yaml:8:1: leader_user_id: policy leader_shares_a_department: the leader @zhaolei is in "
        "Product (@product), none of this person's departments (Engineering (@engineering)); choose a leader in one "
        "of them, or add the department"
    )
    assert not any("/bob.yaml" in e for e in errors)  # Bob and his leader are both in Product


def test_a_crowded_department_is_reported_on_its_alias_line(org: Path):
    errors = _with_policies(org, "  max_direct_members: 3\n")
    assert [e.split(": policy")[0] for e in errors] == [
        f"{org}/departments.yaml:3:1: engineering",
        f"{org}/departments.yaml:4:1: product",
    ]
    assert "Engineering (@engineering) has 4 direct members" in errors[0] and "at most 3 are allowed" in errors[0]


def test_required_fields_apply_per_employee_type_and_to_everyone(org: Path):
    _edit(org / "users" / "emma.yaml", "job_title:", "# job_title:")
    errors = _with_policies(org, '  required_fields:\n    "3": [city]\n    "*": [job_title]\n')
    assert f"{org}/users/emma.yaml:2:1: policy required_fields: job_title is required for everyone; declare it" in (
        errors
    )
    outsourced = f"{org}/users/emma.yaml:2:1: policy required_fields: city is required for employee_type 3 (outsourced)"
    assert outsourced + "; declare it" in errors
    assert len(errors) == 2  # the others are employee_type 1 and have a job_title


@pytest.mark.parametrize(
    "policies, line, message",
    [
        (
            "  max_direct_memberz: 3\n",
            "11:3",
            "policies.max_direct_memberz: unknown rule; did you mean 'max_direct_members'?",
        ),
        ("  max_direct_members: 0\n", "11:3", "policies.max_direct_members: expected a whole number ≥ 1, got 0"),
        (
            "  leader_shares_a_department: yes please\n",
            "11:3",
            "policies.leader_shares_a_department: expected true or false",
        ),
        ("  every_person_has_a_leader: {except: '@ceo'}\n", "11:31", "expected a list of handles like ['@ceo']"),
        (
            "  required_fields: {1: [emial]}\n",
            "11:21",
            "policies.required_fields.1: 'emial' is not a user field; did you mean",
        ),
        (
            "  required_fields: {intern: [email]}\n",
            "11:3",
            "'intern' is not an employee_type; use 1 (regular), 2 (intern)",
        ),
        ("  - every_person_has_a_leader\n", "10:1", "policies: expected a mapping of rules"),
    ],
)
def test_a_policy_that_cannot_be_read_names_its_line_and_the_fix(org: Path, policies: str, line: str, message: str):
    with (org / "reconciler.yaml").open("a", encoding="utf-8") as f:
        f.write("policies:\n" + policies)
    with pytest.raises(ConfigError) as caught:
        load_settings(org)
    assert str(caught.value).startswith(f"{org}/reconciler.yaml:{line}: ")
    assert message in str(caught.value)
