"""The default taxonomy (seeds/topics.yaml) on news-style paragraphs: true positives and hard negatives.

Topic matching needs no NER: articles are plain {"title": ..., "text": ...} dicts.
"""

import pytest

from tests.conftest import SEED_ARTICLE
from transforms.text import analyze, term_tokens
from transforms.topics import tag_topics

TOPICS = ["arctic_militarization", "sanctions", "cyberattack", "arms_control", "diplomacy", "detention",
          "energy_infrastructure"]

# (topic, title, text): each article must carry the topic.
TRUE_POSITIVES = [
    ("arctic_militarization",
     "Russia's Northern Fleet stages drills in Barents Sea as NATO watches",
     "More than 20 warships and submarines of Russia's Northern Fleet put to sea on Tuesday for a week of "
     "live-fire drills in the Barents Sea, the Defence Ministry in Moscow said. Long-range Tu-142 patrol "
     "aircraft flew over the area, and coastal missile batteries on the Kola Peninsula fired at mock targets. "
     "Norway's armed forces said they were monitoring the manoeuvres closely but saw no sign of a threat. "
     "Analysts say Moscow has reopened dozens of Soviet-era bases across the region since 2014."),
    ("arctic_militarization",
     "U.S. bombers land in Norway for first time",
     "Four B-1B Lancer bombers touched down at Ørland air station in central Norway on Monday. The deployment, "
     "the first of its kind on Norwegian soil, is meant to show that the alliance can operate in the High "
     "North, a U.S. Air Force spokesman said. About 200 airmen will accompany the aircraft for the next three "
     "weeks. Russia's embassy in Oslo called the move provocative and said it would take 'countermeasures'."),
    ("arctic_militarization",
     "Canada to spend billions modernising continental air defences",
     "Ottawa will invest C$38.6 billion over two decades to upgrade NORAD, the joint air-defence command it "
     "runs with the United States. Defence Minister Anita Anand said the plan includes new over-the-horizon "
     "radar systems able to detect cruise missiles approaching over the Arctic. The government will also "
     "buy air-to-air refuelling aircraft and upgrade four northern airfields so that fighter jets can be "
     "stationed there. Inuit leaders asked to be consulted before construction begins."),
    ("arctic_militarization",
     "Allied troops train above the Arctic Circle",
     "Some 30,000 troops from 13 countries are taking part in Cold Response, a biennial NATO exercise in "
     "northern Norway. For the first time, Finnish and Swedish units are training alongside allied marines "
     "in war games above the Arctic Circle, practising amphibious landings in temperatures of minus 30. "
     "Commanders said the drills were defensive and had been announced to Moscow months in advance."),
    ("arctic_militarization",
     "Pentagon strategy warns of China's growing polar ambitions",
     "China, which calls itself a 'near-Arctic state', has sent research vessels north almost every summer "
     "for a decade. In its new Arctic strategy, the Pentagon says Beijing could use civilian science as "
     "cover for a future military presence in the Arctic, including submarine operations under the ice. "
     "The document calls for more cold-weather training for U.S. troops stationed in Alaska."),

    ("sanctions",
     "EU adopts new package of measures against Moscow",
     "The European Union on Monday adopted its twelfth package of sanctions against Russia, banning imports "
     "of Russian diamonds from January. The package also tightens enforcement of the G7 price cap on Russian "
     "crude by requiring shipowners to prove what they paid for cargoes. Hungary had threatened to block the "
     "measures until the last minute. Officials in Brussels said a thirteenth package was already being drafted."),
    ("sanctions",
     "Washington adds dozens of Chinese firms to trade blacklist",
     "The Commerce Department added 31 Chinese companies to its Entity List on Friday, cutting them off "
     "from American chips and software without a licence. Officials said several of the firms had supplied "
     "components to Russia's military through intermediaries in Hong Kong. Beijing's commerce ministry said "
     "it firmly opposed the move and would take necessary steps to protect Chinese companies. The new export "
     "controls take effect immediately."),
    ("sanctions",
     "Arab League votes to punish Damascus",
     "The Arab League voted on Sunday to suspend Syria's membership and impose economic sanctions on the "
     "government of President Bashar al-Assad. The measures include a freeze on Syrian government assets in "
     "Arab countries and a halt to dealings with the central bank. Damascus called the decision illegal and a "
     "violation of the league's charter. Eighteen of the 22 members voted in favour."),
    ("sanctions",
     "Treasury targets tanker network moving Iranian oil",
     "The U.S. Treasury on Thursday sanctioned six shipping companies based in the United Arab Emirates and "
     "Hong Kong for helping Iran's Revolutionary Guards sell oil to buyers in Asia. The Office of Foreign "
     "Assets Control said the network had moved hundreds of millions of dollars' worth of crude. Any assets "
     "the firms hold in the United States are frozen."),

    ("cyberattack",
     "Ransomware attack forces hospitals to divert ambulances",
     "A ransomware attack on a health system that runs 30 hospitals in four states forced emergency rooms to "
     "turn away ambulances on Thursday, officials said. The attackers encrypted electronic patient records and "
     "demanded a payment in cryptocurrency. Staff reverted to paper charts while the FBI investigated. A "
     "criminal gang that operates from Russia later claimed responsibility on its leak site."),
    ("cyberattack",
     "Chinese spies breached U.S. government email, Microsoft says",
     "A group of hackers backed by the Chinese state broke into the email accounts of about two dozen "
     "organisations, including several U.S. government agencies, Microsoft said on Tuesday. The intruders "
     "used a forged authentication key to read messages for more than a month before the breach was "
     "spotted. The State Department noticed unusual activity in its cloud logs and alerted the company."),
    ("cyberattack",
     "Danish ministries knocked offline by pro-Russian hacktivists",
     "Websites of Denmark's defence and finance ministries were unreachable for several hours on Wednesday "
     "after a distributed denial-of-service attack. A pro-Russian group claimed responsibility on Telegram, "
     "saying it was punishing Copenhagen for sending weapons to Ukraine. The government's cyber security "
     "centre said no data had been stolen."),

    ("arms_control",
     "Putin suspends last nuclear treaty with Washington",
     "President Vladimir Putin said on Tuesday that Russia would suspend its participation in New START, the "
     "last remaining treaty that limits the U.S. and Russian strategic arsenals. The 2010 pact caps each "
     "side at 1,550 deployed strategic warheads and allows on-site inspections. Secretary of State Antony "
     "Blinken called the decision deeply unfortunate and irresponsible."),
    ("arms_control",
     "Russian lawmakers vote to revoke test-ban ratification",
     "Russia's lower house of parliament voted unanimously on Wednesday to withdraw its ratification of the "
     "Comprehensive Nuclear-Test-Ban Treaty. Officials in Moscow said the move merely brings Russia into line "
     "with the United States, which signed but never ratified the pact, and that Russia would not resume "
     "testing unless Washington did. Western diplomats warned that it could trigger a new arms race."),
    ("arms_control",
     "Seoul and Washington urge Pyongyang to return to talks",
     "South Korea and the United States called on North Korea to resume negotiations on its nuclear weapons "
     "programme after the North fired another intercontinental ballistic missile into the sea. Pyongyang "
     "has rejected every offer of talks since 2019, saying its arsenal is not up for negotiation. Experts "
     "believe the country may have assembled as many as 50 nuclear warheads."),

    ("diplomacy",
     "Wang Yi and Blinken hold talks in Washington ahead of summit",
     "China's top diplomat Wang Yi met Secretary of State Antony Blinken in Washington on Thursday for talks "
     "meant to prepare a meeting between the two countries' presidents. Both sides described the "
     "conversation as candid and constructive. Wang also met National Security Adviser Jake Sullivan. It was "
     "the first visit to the United States by a Chinese foreign minister in five years."),
    ("diplomacy",
     "Saudi Arabia and Iran agree to restore ties in China-brokered deal",
     "Saudi Arabia and Iran agreed on Friday to restore diplomatic relations and reopen their embassies "
     "within two months, ending a seven-year rift. The agreement was announced in Beijing after four days of "
     "talks between the two countries' national security officials. Foreign ministers from both sides are "
     "expected to meet soon to arrange the exchange of ambassadors."),
    ("diplomacy",
     "Commerce secretary meets Chinese premier in Beijing",
     "U.S. Commerce Secretary Gina Raimondo met Chinese Premier Li Qiang in Beijing on Tuesday, the latest "
     "in a string of cabinet-level visits meant to stabilise relations. She later held a roundtable with the "
     "CEOs of American companies operating in China, who complained of raids and exit bans. Ambassador "
     "Nicholas Burns, who attended both meetings, said the talks were frank. Raimondo told reporters that "
     "Washington would not negotiate on national security."),
    ("diplomacy",
     "Poland expels Russian diplomats, summons envoy",
     "Poland ordered 45 Russian diplomats to leave the country on Wednesday, accusing them of working for "
     "Russian intelligence. The foreign ministry in Warsaw summoned Russia's ambassador to hand him the "
     "list. Moscow promised a response in kind. Relations between the two countries are at their lowest "
     "point since the end of the Cold War."),

    ("detention",
     "Russia arrests Wall Street Journal reporter on spying charges",
     "Russia's Federal Security Service said on Thursday it had detained Evan Gershkovich, a reporter for "
     "the Wall Street Journal, in Yekaterinburg on suspicion of spying for the United States. The newspaper "
     "denied the allegation and demanded his immediate release. A Moscow court ordered him held in pre-trial "
     "custody for two months. He is the first American journalist arrested in Russia on espionage charges "
     "since the Cold War."),
    ("detention",
     "Hong Kong police arrest pro-democracy activists",
     "Police in Hong Kong arrested four pro-democracy activists on Saturday under the national security "
     "law, accusing them of inciting subversion online. The arrests came days before the anniversary of the "
     "Tiananmen Square crackdown. Rights groups said the four had only posted messages commemorating the "
     "victims. If convicted they face up to ten years in prison."),
    ("detention",
     "Iranian court jails French tourist for eight years",
     "A court in Iran has sentenced a French citizen to eight years in prison on espionage charges, his "
     "family said on Tuesday. The 28-year-old was arrested while cycling through the country in 2022 and has "
     "been held in Mashhad ever since. Paris says several French nationals are being used as bargaining "
     "chips by Tehran and has urged its citizens not to travel to Iran."),

    ("energy_infrastructure",
     "Finland investigates damage to Baltic gas pipeline",
     "Finnish authorities said on Tuesday that damage to the Balticconnector gas pipeline between Finland "
     "and Estonia was probably caused by outside activity. The operator shut the pipeline on Sunday after "
     "a sudden pressure drop. A data cable on the sea floor was damaged around the same time. Officials "
     "said supplies to Finnish customers were not at risk because the country can import LNG instead."),
    ("energy_infrastructure",
     "Russian strikes knock out power across Ukraine",
     "Russia launched dozens of missiles and drones at Ukraine's energy infrastructure overnight, hitting "
     "thermal power plants and substations in six regions. The national grid operator, Ukrenergo, "
     "introduced emergency blackouts in Kyiv and Kharkiv. Engineers were working to restore supply before "
     "temperatures fall below freezing later this week."),
    ("energy_infrastructure",
     "Largest U.S. fuel pipeline restarts after shutdown",
     "Colonial Pipeline restarted its 5,500-mile network on Wednesday evening, five days after a ransomware "
     "attack forced the company to shut the system that carries almost half the fuel used on the East Coast. "
     "Petrol stations from Virginia to Georgia ran dry as drivers rushed to fill up. The company said it "
     "would take several days for deliveries to return to normal."),
    ("energy_infrastructure",
     "Germany opens its first floating LNG terminal",
     "Chancellor Olaf Scholz opened Germany's first floating liquefied natural gas terminal in the North Sea "
     "port of Wilhelmshaven on Saturday, less than a year after construction began. The terminal can supply "
     "about six percent of the country's gas demand. Two more LNG terminals are due to start operating "
     "this winter as Berlin replaces Russian pipeline gas."),

    # Phrasings the tuned taxonomy must still catch.
    ("arctic_militarization",
     "Marines rehearse landings in northern Norway",
     "Several hundred U.S. Marines stormed a beach near Tromsø on Thursday in a landing rehearsal with "
     "Norwegian coastal rangers. Commanders said the exercise in northern Norway tested how fast reinforcements "
     "could reach the alliance's northern flank in winter. Russian diplomats called it a provocation."),
    ("sanctions",
     "Britain freezes tycoon's assets despite football club stake",
     "Britain froze the assets of a Russian metals tycoon on Tuesday, accusing him of helping to finance the "
     "war in Ukraine. He owns a minority stake in a Premier League football club, which said its matches "
     "would go ahead as planned. His lawyers said he would challenge the decision."),
    ("sanctions",
     "EU ministers agree restrictive measures on Iranian drone makers",
     "European Union foreign ministers agreed on Monday to restrictive measures against eight Iranian "
     "companies that they said had supplied drones to Russia. The listed firms face an asset freeze and "
     "European companies may no longer sell them components."),
    ("sanctions",
     "Security Council renews arms embargo",
     "The Security Council voted on Friday to extend for another year the sanctions imposed on armed groups "
     "in the country, including an arms embargo and travel restrictions on their leaders. Two members "
     "abstained."),
    ("cyberattack",
     "Ministers' email accounts hacked, government says",
     "Unknown attackers hacked the email accounts of three cabinet ministers and read messages for weeks "
     "before the breach was found, the government said on Friday. Officials did not say who was behind it."),
    ("diplomacy",
     "Warsaw recalls its ambassador after spy arrests",
     "Poland recalled its ambassador from Minsk for consultations on Monday and summoned Belarus's charge "
     "d'affaires, after two Polish citizens were arrested on spying charges. The foreign ministry said "
     "relations had reached a new low."),
    ("diplomacy",
     "High-level talks resume after two-year freeze",
     "India and China held high-level talks in New Delhi on Tuesday for the first time in two years, "
     "discussing the disputed border and the return of pilgrims. The two sides agreed to meet again in "
     "Beijing before the end of the year."),
    ("detention",
     "Court orders journalist held for two months",
     "A court in Minsk ordered him held for two months on Friday, a day after security officers picked up "
     "the journalist at his home. Colleagues said he had been locked up for his reporting on the protests."),
    ("energy_infrastructure",
     "Drones strike oil refinery deep inside Russia",
     "Ukrainian drones struck an oil refinery in the Samara region overnight, starting a fire that took "
     "several hours to put out, the regional governor said. The refinery processes about 7 million tons of "
     "crude a year."),
    ("energy_infrastructure",
     "Reactor restart eases winter power worries",
     "A nuclear reactor at the country's largest power plant returned to service on Sunday after a "
     "three-month outage, easing concerns about winter electricity supplies, the grid operator said."),
]

# (topic, title, text): articles that share the topic's vocabulary but must NOT carry it.
HARD_NEGATIVES = [
    ("arctic_militarization",
     "Arctic sea ice shrinks to second-lowest level on record",
     "Arctic sea ice reached its annual minimum on September 16, covering 4.23 million square kilometres, "
     "the second-lowest in the 45-year satellite record, scientists at the National Snow and Ice Data "
     "Center said. Researchers aboard the German icebreaker Polarstern, which drifted through the central "
     "Arctic frozen into the pack for a year, found the ice had thinned by half since the 1990s. The team "
     "deployed autonomous floats that will keep measuring ocean temperatures through the winter. Climate "
     "models suggest the Arctic Ocean could be ice-free in summer before 2050."),
    ("arctic_militarization",
     "Warming Arctic releases carbon from thawing permafrost",
     "Permafrost thaw across the Siberian Arctic is releasing methane faster than expected, according to a "
     "study published on Wednesday. Ground-based sensors at a research base on Svalbard recorded a sharp "
     "rise in emissions during the warmest summer on record. The authors warn that the feedback could "
     "undermine the security of buildings, roads and pipelines built on frozen ground."),
    ("arctic_militarization",
     "Record number of tourists head north for the northern lights",
     "Tour operators in Tromsø say bookings for this winter are up 40 percent on last year. The city, the "
     "largest in the Norwegian Arctic, has become the base for most northern-lights excursions, and hotels "
     "are full from November to March. In Svalbard, expedition cruise ships now bring more visitors "
     "each summer than the archipelago has residents. Local officials worry about the impact on polar bears "
     "and fragile tundra, and from next year tourists must be accompanied by a licensed guide."),
    ("arctic_militarization",
     "Greenland's capital welcomes first direct flights from Europe",
     "Nuuk's new international runway opened on Thursday, allowing larger jets to land in Greenland's "
     "capital for the first time. Tourism officials hope the airport will bring thousands of extra visitors "
     "a year to see the icebergs of Disko Bay and the Arctic wilderness. Hotel capacity in the city is being "
     "expanded to cope."),

    ("sanctions",
     "Everton docked ten points for breaching spending rules",
     "Everton were deducted ten points by the Premier League on Friday after an independent commission found "
     "the club had breached profit and sustainability rules. The sanction drops the Merseyside club into the "
     "relegation zone. Everton said they were shocked and disappointed and would appeal. Fans are planning a "
     "protest before Sunday's home game."),
    ("sanctions",
     "Club sanctioned by league over crowd trouble",
     "The club was sanctioned by the league on Tuesday after fans threw flares onto the pitch during last "
     "month's derby. It must play its next two home games behind closed doors and pay a fine of 50,000 "
     "euros. The club's chairman said he accepted the punishment but called for better stewarding across "
     "football. Three supporters have been banned from the stadium for life."),

    ("sanctions",
     "Partizan to play without spectators after flares halt game",
     "Partizan Belgrade will play their next two EuroLeague home games without spectators after the "
     "basketball competition sanctioned the club for crowd trouble during the match against Real Madrid. "
     "Play was stopped for 20 minutes in the third quarter when flares were thrown onto the court. The "
     "club was also fined 80,000 euros and said it would not appeal."),
    ("sanctions",
     "Council extends fee waiver for market traders",
     "Street traders in the city centre will not have to pay licence fees for another year after the "
     "council extended a waiver introduced during the pandemic. Councillors said the waiver had helped 120 "
     "small businesses survive. The cost to the city budget is estimated at 300,000 pounds."),

    ("cyberattack",
     "Cyber Monday sales hit record as shoppers hunt for deals",
     "Shoppers in the United States spent a record $12.4 billion online on Cyber Monday, up almost 10 "
     "percent on last year, according to Adobe Analytics. Discounts on electronics, toys and clothing drew "
     "buyers, and nearly half of purchases were made on phones. Retailers also reported heavy use of 'buy "
     "now, pay later' plans. Consumer groups reminded shoppers to watch for fake delivery texts and to use "
     "strong passwords."),
    ("cyberattack",
     "Students build flood-warning app at city hackathon",
     "More than 200 students took part in the city's annual hackathon over the weekend, building apps in 24 "
     "hours. The winning team created a flood-warning tool that sends alerts to residents' phones. Judges "
     "said the standard of the projects was the highest in the event's history."),

    ("arms_control",
     "Georgia's Vogtle reactor enters commercial operation",
     "The fourth reactor at the Vogtle nuclear power plant in Georgia entered commercial operation on "
     "Monday, making the site the largest generator of clean electricity in the United States. The project "
     "finished seven years late and billions of dollars over budget, and the utility had to announce a new "
     "start date more than once. Utility executives said the two new "
     "units would run for 60 to 80 years. Regulators are reviewing the final cost before customers' bills "
     "are adjusted."),
    ("arms_control",
     "Utilities scramble for reactor fuel as Russian supply is cut off",
     "American utilities that run nuclear power plants are searching for new sources of fuel after Congress "
     "banned imports of Russian enriched uranium. Russia supplied about a quarter of the enrichment "
     "services used by U.S. reactors last year. Urenco said it would expand its enrichment plant in New "
     "Mexico by 15 percent, and Centrus is producing small amounts of fuel for advanced reactors in Ohio. "
     "Analysts expect fuel costs to rise, though fuel is a small share of a plant's operating cost."),

    ("diplomacy",
     "Chipmakers resume merger talks",
     "Executives at the two chipmakers have resumed merger talks after a three-month pause, people familiar "
     "with the matter said. Both boards are said to favour a diplomatic approach to the merger talks, "
     "avoiding public statements until the terms are settled. Shareholders of the smaller company would "
     "receive a premium of about 30 percent. Antitrust regulators in Europe are expected to take a close look."),
    ("diplomacy",
     "Union and carmaker return to the negotiating table",
     "Union leaders and the carmaker returned to the negotiating table on Monday after a two-week strike at "
     "three assembly plants. The union's president struck a diplomatic tone, saying both sides wanted a fair "
     "deal. Workers are seeking a 20 percent raise over four years. The company said it had held "
     "consultations with suppliers about the cost of a longer stoppage."),

    ("detention",
     "Parents angry after pupils given detention over shoes",
     "Dozens of pupils at a secondary school in Kent were given detention on the first day of term for "
     "wearing the wrong shoes. Parents said the school had changed its uniform policy without warning. The "
     "head teacher said the rules were published in the summer and applied to all students. A spokesman for "
     "the national union of teachers said detention was a matter for individual schools."),
    ("detention",
     "Driver fined after parking outside hospital during father's cardiac arrest",
     "A man who left his car parked in a loading bay while his father was treated for a cardiac arrest has "
     "been fined 70 pounds. The car was held at the council's pound for two days and he had to pay "
     "release charges on top of the fine. The council said it would review the charges after the story was "
     "reported by a local newspaper. Parking wardens issued more than 2,000 tickets outside the hospital "
     "last year."),

    ("detention",
     "Father's fight for his children goes to Tokyo court",
     "A French citizen who has not seen his two children since his Japanese wife left home with them in "
     "2018 asked a Tokyo court on Monday to grant him joint custody. Japan does not recognise shared "
     "custody after divorce, and foreign parents say the system leaves them with no way to see their "
     "children. Lawmakers are debating a change to the civil code."),

    ("energy_infrastructure",
     "Outage stalls build pipelines for thousands of developers",
     "A configuration error at a major code-hosting service left thousands of software teams unable to run "
     "their continuous-integration pipelines for six hours on Tuesday. Builds queued up and deployments were "
     "delayed across the industry. The company said a faulty update to its job scheduler had caused the "
     "outage and that no data was lost. Engineers have added checks to the release pipeline to prevent a "
     "repeat."),
    ("energy_infrastructure",
     "Drugmaker's pipeline boosts shares",
     "Shares of the drugmaker rose 8 percent after it reported strong results from two late-stage trials in "
     "its oncology pipeline. Analysts said the pipeline could power growth for the rest of the decade as "
     "older medicines lose patent protection. The company plans to file for approval next year."),

    # Everyday senses of the tuned vocabulary.
    ("arctic_militarization",
     "Arctic Monkeys play to 60,000 under tight security",
     "Arctic Monkeys played the first of two stadium shows on Saturday, with extra security staff deployed "
     "at every gate after counterfeit tickets were found on sale online. Fans queued for hours."),
    ("sanctions",
     "Council sanctions harbour festival after noise study",
     "The city council sanctioned a three-day harbour festival on Tuesday after an independent study found "
     "noise levels within legal limits. Councillors said the sanctions on late-night music would stay."),
    ("sanctions",
     "Bowler banned for ball tampering",
     "The board banned the fast bowler for six months and fined him, and his captain was sanctioned for "
     "failing to report the incident. The cricket board's chief said the game's integrity came first."),
    ("sanctions",
     "Agencies count the cost of software breach",
     "Federal agencies are still assessing what intruders took during months inside their networks, "
     "officials said. The White House promised a response that would go beyond sanctions."),
    ("cyberattack",
     "Ten kitchen hacks to cut your energy bill",
     "Cooking pasta with the lid on and switching off the oven early are two of the hacks our testers rated "
     "highest. Readers sent in dozens more, and the best hack of all turned out to be a shopping list."),
    ("cyberattack",
     "Card outage was a faulty update, not a cyberattack, bank says",
     "The bank said on Wednesday that a faulty software update had stopped card payments for six hours and "
     "that it was not a cyberattack. No customer data was affected."),
    ("cyberattack",
     "Taiwan reports record air incursions",
     "Taiwan's defence ministry reported 45 intrusions by Chinese military aircraft into its air defence "
     "identification zone on Sunday, the most this year. Jets were scrambled to shadow them."),
    ("diplomacy",
     "Sanctions list grows as embassy protests",
     "The foreign ministry said in a statement that 40 more companies had been added to its sanctions list. "
     "A spokesman for the embassy called the decision illegitimate."),
    ("diplomacy",
     "Mediator joins car strike talks",
     "The labour secretary was sent as an envoy of the White House to the talks between the carmaker and the "
     "union, whose members have been on strike for three weeks. Both sides are back at the bargaining table."),
    ("diplomacy",
     "A diplomat's widow remembers",
     "Her late husband, a diplomat for four decades, recalled in his memoirs the night the embassy was "
     "stormed. She has now given his papers to a university library."),
    ("detention",
     "Conference held hostage by one delegation, chair says",
     "The treaty review conference ended without a final document on Friday. \"This conference has been held "
     "hostage by one state,\" a Western ambassador said."),
    ("detention",
     "Spy series review: a detained journalist and a diplomat's secrets",
     "In the new spy series, a journalist is detained at a border crossing in the first episode and "
     "arrested on espionage charges by the third. The screenplay piles on twists until the final episode."),
    ("energy_infrastructure",
     "Sugar refinery to close",
     "A sugar refinery that has operated on the river for more than a century will close next year with the "
     "loss of 300 jobs, its owner said, blaming energy costs and cheap imports."),
    ("energy_infrastructure",
     "Satellite images show new hangars at Arctic air base",
     "Four new hangars and a fuel depot have appeared at the remote air base, satellite images show. "
     "Analysts said the runway was now long enough for heavy bombers."),
]


def article(title, text):
    return {"title": title, "text": text}


def topic_ids(tagged):
    return [topic["id"] for topic in tagged["topics"]]


def test_every_default_topic_has_true_positives_and_hard_negatives(taxonomy):
    assert sorted(taxonomy) == sorted(TOPICS)
    for topic in TOPICS:
        assert sum(t == topic for t, _, _ in TRUE_POSITIVES) >= 2, topic
        assert sum(t == topic for t, _, _ in HARD_NEGATIVES) >= 2, topic


def check_hit(hit, title, text):
    """A hit's score, terms and evidence are real: each evidence sentence contains a matched term."""
    assert 0 < hit["score"] <= 1
    assert hit["terms"] and hit["evidence"]
    full = " ".join(f"{title}\n{text}".split())
    term_keys = [term_tokens(term) for term in hit["terms"]]
    for sentence in hit["evidence"]:
        assert sentence in full
        tokens = analyze(sentence).tokens
        assert any(tokens[i:i + len(key)] == list(key) for key in term_keys for i in range(len(tokens))), sentence


@pytest.mark.parametrize(("topic", "title", "text"), TRUE_POSITIVES, ids=[f"{t}-{i}" for i, (t, _, _) in
                                                                        enumerate(TRUE_POSITIVES)])
def test_true_positive(topic_matcher, topic, title, text):
    tagged = tag_topics(article(title, text), topic_matcher)
    assert topic in topic_ids(tagged)
    check_hit(next(hit for hit in tagged["topics"] if hit["id"] == topic), title, text)


@pytest.mark.parametrize(("topic", "title", "text"), HARD_NEGATIVES, ids=[f"not-{t}-{i}" for i, (t, _, _) in
                                                                        enumerate(HARD_NEGATIVES)])
def test_hard_negative(topic_matcher, topic, title, text):
    tagged = tag_topics(article(title, text), topic_matcher)
    assert topic not in topic_ids(tagged)


def test_tag_topics_keeps_the_article_and_sorts_by_score(topic_matcher):
    original = article("Sanctions and more sanctions", "The EU imposed sanctions. An ambassador was expelled "
                                                       "and the foreign minister spoke. Hackers struck too.")
    original["id"] = "abc"
    tagged = tag_topics(original, topic_matcher)
    assert tagged["id"] == "abc" and tagged["title"] == original["title"] and "topics" not in original
    scores = [hit["score"] for hit in tagged["topics"]]
    assert scores == sorted(scores, reverse=True)
    assert topic_ids(tagged)[0] == "sanctions"
    assert set(topic_ids(tagged)) == {"sanctions", "diplomacy", "cyberattack"}


def test_an_unrelated_article_has_no_topics(topic_matcher):
    tagged = tag_topics(article("Local bakery wins award", "The bakery on Main Street won a regional prize "
                                "for its sourdough. The owner thanked her staff and customers."), topic_matcher)
    assert tagged["topics"] == []


def test_seed_article_carries_all_seven_topics(topic_matcher):
    title, text = SEED_ARTICLE.read_text(encoding="utf-8").split("\n", 1)
    tagged = tag_topics(article(title, text), topic_matcher)
    assert sorted(topic_ids(tagged)) == sorted(TOPICS)
    for hit in tagged["topics"]:
        check_hit(hit, title, text)
