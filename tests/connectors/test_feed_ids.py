"""Feed item ids that never drift: the same items fetched directly and through a redirect, with
their tracking parameters changed, get the same ids."""

from connectors.feed_lists import Feed
from connectors.feeds import poll_feeds
from tests.connectors.test_feeds import KEYS, NOW, OPTIONS
from transforms.normalize import normalize_article

RSS = "application/rss+xml; charset=utf-8"


def rss(items):
    body = "".join(f"<item><title>{title}</title>{extra}<description>{title} text.</description></item>"
                   for title, extra in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'
            f"<link>https://news.example/</link>{body}</channel></rss>").encode()


FIRST = rss([
    # A bare GUID: RSS takes it for a permalink (isPermaLink defaults to true).
    ("Bare guid", "<guid>article-88213</guid><link>/news/a?utm_source=rss</link>"),
    ("Permalink guid", "<guid>https://news.example/b?id=7&amp;utm_source=rss&amp;fbclid=XYZ</guid>"),
    ("Link only", "<link>https://News.Example:443/c/../c/?b=2&amp;a=1&amp;utm_campaign=spring</link>"),
])
SECOND = rss([
    ("Bare guid", "<guid>article-88213</guid><link>/news/a?utm_source=email&amp;utm_medium=share</link>"),
    ("Permalink guid", "<guid>https://news.example/b?utm_medium=social&amp;id=7&amp;gclid=abc</guid>"),
    ("Link only", "<link>https://news.example/c/?a=1&amp;b=2&amp;mc_cid=42#comments</link>"),
])


def ids(polled):
    return {article["title"]: normalize_article(article)["id"] for article in polled.articles}


def test_the_same_items_through_a_redirect_and_with_other_tracking_parameters_keep_their_ids(
        feed_server, redis_db):
    feed_server.queue("wire", (200, FIRST, {"Content-Type": RSS}))
    feed_server.queue("wire-moved", (200, SECOND, {"Content-Type": RSS}))
    direct = poll_feeds([Feed(feed_server.url("/dynamic/wire"))], redis_db, KEYS, now=NOW, allow_private=True,
                        options=OPTIONS)
    moved = poll_feeds([Feed(feed_server.url("/redirect/302?to=/dynamic/wire-moved"))], redis_db, KEYS, now=NOW,
                       allow_private=True, options=OPTIONS)
    assert len(ids(direct)) == 3 and len(set(ids(direct).values())) == 3
    assert ids(moved) == ids(direct)
    bare = next(a for a in moved.articles if a["title"] == "Bare guid")
    assert bare["id"] == "127.0.0.1#article-88213"  # scoped by the listed host, not resolved against a URL
    assert bare["url"] == feed_server.url("/news/a?utm_source=email&utm_medium=share")  # the link still resolves
