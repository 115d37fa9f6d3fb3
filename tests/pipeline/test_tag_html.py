"""``newsmon tag page.html``: a saved article page is an article too, its main text extracted."""

import json
import shutil

from pipeline.cli import main
from tests.conftest import FIXTURES

PAGES = FIXTURES / "pages"


def test_tag_an_html_page_as_json(capsys, tmp_path):
    page = tmp_path / "page.html"
    shutil.copy(PAGES / "tagesschau-rheinmetall-datenleck.html", page)
    status = main(["tag", str(page), "--json"])
    out, _ = capsys.readouterr()
    assert status == 0
    [line] = out.splitlines()
    article = json.loads(line)
    assert article["text_source"] == "fulltext"
    assert article["title"].startswith("Daten von Rheinmetall gehackt")
    assert article["url"] == "https://www.tagesschau.de/investigativ/ndr/rheinmetall-datenleck-101.html"
    assert article["language"] == "de"
    assert [topic["id"] for topic in article["topics"]] == ["cyberattack"]
    # The evidence quotes the article's body, not its navigation or related links.
    assert any("Rheinmetall" in quote for topic in article["topics"] for quote in topic["evidence"])


def test_a_folder_of_pages_and_text_files(capsys, tmp_path):
    shutil.copy(PAGES / "threatpost-android-ransomware.html", tmp_path / "a.html")
    shutil.copy(FIXTURES.parent.parent / "seeds" / "000_aa5d093c1f1fedc9.txt", tmp_path / "b.txt")
    status = main(["tag", str(tmp_path), "--json"])
    out, _ = capsys.readouterr()
    assert status == 0
    articles = [json.loads(line) for line in out.splitlines()]
    assert [a.get("text_source", "") for a in articles] == ["fulltext", ""]


def test_a_consent_wall_is_no_article(capsys, tmp_path):
    page = tmp_path / "wall.html"
    shutil.copy(PAGES / "bad-cookie-wall.html", page)
    status = main(["tag", str(page), "--json"])
    out, err = capsys.readouterr()
    assert status == 1 and out == ""
    assert f"newsmon: {page}: ArticleReadError: a cookie or consent wall, no article text" in err.splitlines()
