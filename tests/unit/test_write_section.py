"""layout.write_section: generated tables inside hand-written Markdown pages."""

from mtjexplore.study import layout


def test_appends_then_replaces_only_its_own_section(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\nHand-written text.\n")
    layout.write_section(page, "table", "| a |\n|---|\n| 1 |", made_by="me")
    layout.write_section(page, "other", "second", made_by="me")
    layout.write_section(page, "table", "| a |\n|---|\n| 2 |", made_by="me")
    text = page.read_text()
    assert text.startswith("# Title\n\nHand-written text.\n\n<!-- table: written by me -->\n| a |")
    assert "| 2 |" in text and "| 1 |" not in text
    assert text.count("<!-- table: written by me -->") == 1 and text.count("<!-- /table -->") == 1
    assert text.index("<!-- /table -->") < text.index("<!-- other: written by me -->")


def test_idempotent_and_keeps_what_follows(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("before\n\n<!-- t: written by x -->\nold\n<!-- /t -->\nafter\n")
    layout.write_section(page, "t", "new", made_by="x")
    once = page.read_text()
    layout.write_section(page, "t", "new", made_by="x")
    assert page.read_text() == once == "before\n\n<!-- t: written by x -->\nnew\n\n<!-- /t -->\n\nafter\n"
