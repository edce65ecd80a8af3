"""The values file (polyarch.model.values): tags written keeping comments, clear problems."""

from __future__ import annotations

import pytest

from polyarch.core.errors import UsageError
from polyarch.model.values import read_registry, write_tag


VALUES = """\
# chart values
image:
  registry: "reg.example:5000/team"  # where images live
  tag: old   # replaced by deploy-build
other: [1, 2]
"""


def test_values_file_tag_is_written_keeping_comments(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text(VALUES)
    values.chmod(0o640)
    assert read_registry(values) == "reg.example:5000/team"
    write_tag(values, "abc1234")
    text = values.read_text()
    assert "tag: abc1234" in text
    assert "# chart values" in text and "# where images live" in text and "# replaced by deploy-build" in text
    assert '"reg.example:5000/team"' in text
    assert oct(values.stat().st_mode & 0o777) == oct(0o640)
    assert [p.name for p in tmp_path.iterdir()] == ["values.yaml"]


@pytest.mark.parametrize("text, expected", [("image:\n  registry:\n", ""), ("image:\n  registry: null\n", ""), ("other: 1\n", "")])
def test_empty_registries_read_as_empty(tmp_path, text, expected):
    values = tmp_path / "values.yaml"
    values.write_text(text)
    assert read_registry(values) == expected


def test_values_file_problems_are_clear(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        read_registry(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("image: [unclosed\n")
    with pytest.raises(UsageError, match="not valid YAML"):
        read_registry(bad)
    flat = tmp_path / "flat.yaml"
    flat.write_text("replicas: 2\n")
    with pytest.raises(UsageError, match="no `image:` mapping"):
        write_tag(flat, "x")
    assert flat.read_text() == "replicas: 2\n"


def test_write_tag_sets_ref_keys_and_keeps_comments(tmp_path):
    from polyarch.model.values import write_tag

    path = tmp_path / "values.yaml"
    path.write_text("# top comment\nimage:\n  registry: r  # where\n  tag: old\nconfig:\n  TERMINAL_IMAGE: \"\"\n")
    write_tag(path, "abc1234", (("config.TERMINAL_IMAGE", "r/term:abc1234"),))
    text = path.read_text()
    assert "# top comment" in text and "# where" in text
    from polyarch.model.values import read_values

    data = read_values(path)
    assert data["image"]["tag"] == "abc1234" and data["config"]["TERMINAL_IMAGE"] == "r/term:abc1234"
    assert '"r/term:abc1234"' in text  # the value's quoting style is kept


def test_write_tag_refuses_a_missing_parent_and_leaves_the_file(tmp_path):
    from polyarch.core.errors import UsageError
    from polyarch.model.values import write_tag

    path = tmp_path / "values.yaml"
    original = "image:\n  tag: old\n"
    path.write_text(original)
    with pytest.raises(UsageError, match="no `config:` mapping"):
        write_tag(path, "new", (("config.TERMINAL_IMAGE", "x"),))
    assert path.read_text() == original
