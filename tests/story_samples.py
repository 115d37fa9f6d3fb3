"""Small hand-written articles for the story tests: one event told three ways, and a hard negative.

- WIRE: a wire report of an EU sanctions package.
- SYNDICATED: the same wire copy on another site, new headline, last paragraph trimmed.
- OTHER_OUTLET: the same event written up independently.
- NEXT_PACKAGE: same actors, same vocabulary, a different event: the following package, nine days later.
- BAKE_SALE: nothing to do with any of it.
"""

WIRE = {
    "id": "wire0000000000001",
    "title": "EU adopts 14th sanctions package against Russia, targeting LNG transshipment",
    "text": (
        "BRUSSELS — European Union governments on Monday adopted a 14th package of sanctions against Russia, "
        "banning for the first time the transshipment of Russian liquefied natural gas through EU ports and "
        "adding 116 individuals and entities to the bloc's asset freeze list.\n"
        "The package, agreed by ambassadors last week after Hungary dropped its objections, also targets "
        "the so-called shadow fleet of tankers that carries Russian oil around the price cap, listing 27 "
        "vessels that will be barred from EU ports.\n"
        "\"This hard-hitting package will further deny Russia access to key technologies,\" the European "
        "Commission president said in a statement. Officials said the LNG measure would take effect after a "
        "nine-month transition period.\n"
        "Russia's foreign ministry called the measures illegitimate and said Moscow would respond. "
        "Gas traders in Zeebrugge said the transshipment ban would reroute cargoes rather than cut Russian "
        "exports, because the package stops short of banning imports of Russian LNG into the bloc."
    ),
    "url": "https://wire.example.com/eu-14th-package",
    "source": "wire.example.com",
    "published": "2024-06-24T10:00:00Z",
    "entities": [{"canonical": "European Union", "label": "ORG", "count": 2},
                 {"canonical": "Russia", "label": "GPE", "count": 5},
                 {"canonical": "Hungary", "label": "GPE", "count": 1},
                 {"canonical": "Zeebrugge", "label": "GPE", "count": 1}],
}

SYNDICATED = {
    **WIRE,
    "id": "synd0000000000002",
    "title": "Brussels bans Russian LNG transshipment in new sanctions round",
    "text": WIRE["text"].rsplit("\n", 1)[0],
    "url": "https://daily.example.org/world/2024/06/24/brussels-lng",
    "source": "daily.example.org",
    "published": "2024-06-24T11:30:00Z",
}

OTHER_OUTLET = {
    "id": "other000000000003",
    "title": "EU's 14th sanctions package hits Russian LNG re-exports and shadow fleet tankers",
    "text": (
        "The European Union agreed its 14th round of sanctions on Russia on Monday. For the first time the "
        "measures touch liquefied natural gas: EU ports such as Zeebrugge may no longer be used to transship "
        "Russian LNG to other markets, after a transition of nine months.\n"
        "The package adds 116 names to the asset freeze list and bars 27 shadow fleet tankers from EU ports. "
        "Hungary had held up the deal for weeks. Moscow said it would retaliate against what it called "
        "illegitimate measures."
    ),
    "url": "https://news.example.net/eu-russia-lng-sanctions",
    "source": "news.example.net",
    "published": "2024-06-24T15:00:00Z",
    "entities": [{"canonical": "European Union", "label": "ORG", "count": 1},
                 {"canonical": "Russia", "label": "GPE", "count": 2},
                 {"canonical": "Zeebrugge", "label": "GPE", "count": 1},
                 {"canonical": "Hungary", "label": "GPE", "count": 1},
                 {"canonical": "Moscow", "label": "GPE", "count": 1}],
}

NEXT_PACKAGE = {
    "id": "next0000000000004",
    "title": "EU weighs 15th sanctions package against Russia aimed at Chinese suppliers",
    "text": (
        "BRUSSELS — The European Commission on Wednesday proposed a 15th package of sanctions against Russia, "
        "aimed at Chinese companies that supply drone components and machine tools to the Russian arms "
        "industry, diplomats said.\n"
        "The proposal would add 40 firms, most of them registered in Hong Kong and mainland China, to the "
        "export ban list. Ambassadors will discuss it on Friday; Hungary and Slovakia have asked for more "
        "time to study the measures.\n"
        "Beijing said it firmly opposed unilateral sanctions and would protect the rights of Chinese firms."
    ),
    "url": "https://wire.example.com/eu-15th-package-proposal",
    "source": "wire.example.com",
    "published": "2024-07-03T09:00:00Z",
    "entities": [{"canonical": "European Commission", "label": "ORG", "count": 1},
                 {"canonical": "Russia", "label": "GPE", "count": 2},
                 {"canonical": "China", "label": "GPE", "count": 2},
                 {"canonical": "Hong Kong", "label": "GPE", "count": 1},
                 {"canonical": "Hungary", "label": "GPE", "count": 1},
                 {"canonical": "Slovakia", "label": "GPE", "count": 1},
                 {"canonical": "Beijing", "label": "GPE", "count": 1}],
}

BAKE_SALE = {
    "id": "bake0000000000005",
    "title": "Village bake sale raises money for school roof",
    "text": (
        "Volunteers in Little Hadham sold more than 400 cakes, pies and scones on Saturday, raising enough "
        "money to repair the leaking roof of the primary school. The head teacher thanked parents and the "
        "parish council for their help."
    ),
    "url": "https://local.example.co.uk/bake-sale",
    "source": "local.example.co.uk",
    "published": "2024-06-24T12:00:00Z",
    "entities": [{"canonical": "Little Hadham", "label": "GPE", "count": 1}],
}

ALL = (WIRE, SYNDICATED, OTHER_OUTLET, NEXT_PACKAGE, BAKE_SALE)
