"""Title, URL and date from a page's head (transforms/page_text.page_metadata)."""

from transforms.page_text import page_metadata


def test_og_title_and_canonical_url_win():
    html = ('<html><head><title>Site | Story</title><meta property="og:title" content="Story &amp; more">'
            '<meta property="og:url" content="https://e.org/og"><link rel="canonical" href="https://e.org/c">'
            '<meta property="article:published_time" content="2024-05-14T06:30:00Z"></head><body>x</body></html>')
    assert page_metadata(html) == {"title": "Story & more", "url": "https://e.org/c",
                                   "published": "2024-05-14T06:30:00Z"}


def test_a_bare_page():
    assert page_metadata("<html><head><title> A\n title </title></head><body><title>no</title></body>") == {
        "title": "A title", "url": "", "published": ""}
    assert page_metadata("not html at all") == {"title": "", "url": "", "published": ""}
