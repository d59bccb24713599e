"""The course runner finds the lessons in order and rejects a prefix that matches none."""
import pytest

from toygrad import course


def test_lessons_are_found_in_order():
    names = [p.name for p in course.lessons()]
    assert "05_grokking.py" in names and names == sorted(names)
    assert [p.name for p in course.lessons(["05"])] == ["05_grokking.py"]


def test_an_unknown_prefix_is_a_clear_error():
    with pytest.raises(ValueError, match=r"no lesson starts with \['99'\]"):
        course.lessons(["99"])
