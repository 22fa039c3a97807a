"""A deterministic synthetic corpus: news-like paragraphs, seeded, sized in chunks.

`generate(folder, chunks)` writes about `chunks` chunks' worth of .txt files (at the
project's 200-token chunks with 30 overlap) and returns
questions whose answers are in it, so query benchmarks ask about things that are there.
The same seed and size always give byte-identical files, so re-ingest is truly unchanged.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

# Measured with this generator at chunk_size 200 / overlap 30: ~4.8 characters a cl100k
# token, and sentence boundaries plus file ends leave ~155 new tokens a chunk.
CHARS_PER_CHUNK = 752
CHUNKS_PER_FILE = 10

FIRST = (
    "Amara Okafor Lucas Brennan Mei Takahashi Rafael Ortega Ingrid Solberg Tomasz Nowak "
    "Priya Raman Samuel Achebe Elena Petrova Jonas Weber Fatima Haddad Diego Alvarez "
    "Hannah Lindqvist Kenji Mori Aisha Bello Victor Lemaire Sofia Marino Omar Khalil "
    "Grace Mwangi Henrik Dahl Camila Rojas Arjun Mehta Nadia Rahman Felix Braun"
).split()
ROLES = (
    "finance minister|chief economist|mayor|spokesperson|director general|lead researcher|"
    "chief executive|union leader|health commissioner|energy secretary|central bank governor|"
    "opposition leader|port authority chair|climate envoy|trade representative"
).split("|")
ORGS = (
    "the Northern Grid Authority|Helios Semiconductors|the Coastal Water Board|Meridian Bank|"
    "the National Rail Company|Atlas Logistics|the Institute for Public Health|Verdant Foods|"
    "the Federal Statistics Office|Kestrel Aerospace|the River Basin Commission|Orion Telecom|"
    "the Metropolitan Transit Agency|Borealis Mining|the Agricultural Research Council"
).split("|")
CITIES = (
    "Lisbon Nairobi Osaka Montreal Krakow Valparaiso Tromso Accra Hamburg Cebu Tbilisi "
    "Rosario Gdansk Mombasa Porto Adelaide Leipzig Cusco Dakar Aarhus"
).split()
TOPICS = (
    "water tariffs|battery recycling|rail electrification|wheat exports|flood defences|"
    "chip manufacturing|hospital staffing|port automation|wind auctions|housing permits|"
    "fishing quotas|broadband rollout|copper prices|school meals|bus fares|drought relief|"
    "vaccine supply|steel tariffs|airport expansion|pension reform"
).split("|")
MONTHS = (
    "January February March April May June July August September October November December"
).split()
VERBS = "announced|proposed|approved|delayed|cancelled|defended|criticised|postponed".split("|")
THINGS = (
    "a new levy|a pilot programme|an emergency fund|a price cap|a joint venture|"
    "a five-year plan|a hiring freeze|a tender|a review panel|a subsidy scheme"
).split("|")

SENTENCES = (
    "{person}, the {role} of {org}, said the decision on {topic} would be reviewed by {month}.",
    "Officials in {city} reported that spending on {topic} rose by {pct} percent last year.",
    "According to {org}, about {num} households were affected by changes to {topic}.",
    "The plan, first discussed in {city} in {month} {year}, aims to cut costs by {pct} percent.",
    "Critics argued that {thing} for {topic} would mostly benefit large firms in {city}.",
    "{person} told reporters that {org} had {verb} {thing} after months of negotiations.",
    "A report published in {month} estimated the cost at {money} over the next decade.",
    "Residents of {city} were asked to comment on the proposals before {month} {day}.",
    "Analysts at {org} expect demand for {topic} to grow steadily until {year}.",
    "The committee voted {votes} in favour, with several members asking for more detail.",
    "In a statement, {org} said it remained committed to transparency on {topic}.",
    "Previous attempts to reform {topic} stalled in {year} amid legal challenges.",
    "Unions in {city} warned that {thing} could cost as many as {num} jobs.",
    "The figures, released on {month} {day}, showed a decline of {pct} percent.",
    "{person} said the government would publish the full assessment of {topic} by {year}.",
    "Engineers found that the existing network in {city} was built mostly before {year}.",
    "Negotiations between {org} and local councils resumed on {month} {day}, {year}.",
    "Supporters say {thing} will bring stability; opponents call it a short-term fix.",
    "Independent auditors reviewed {num} contracts linked to {topic} in {city}.",
    "The measure takes effect on {month} {day} and will be reviewed after {num2} months.",
)


@dataclass(frozen=True)
class Fact:
    """One fact planted in a file: a question, its answer and the file that holds it."""

    question: str
    answer: str
    source: str


def _fill(rng: random.Random, template: str, subject: dict[str, str]) -> str:
    values = {
        "person": subject["person"] if rng.random() < 0.5 else _person(rng),
        "role": rng.choice(ROLES),
        "org": subject["org"] if rng.random() < 0.6 else rng.choice(ORGS),
        "city": subject["city"] if rng.random() < 0.6 else rng.choice(CITIES),
        "topic": subject["topic"] if rng.random() < 0.7 else rng.choice(TOPICS),
        "month": rng.choice(MONTHS),
        "day": str(rng.randint(1, 28)),
        "year": str(rng.randint(1995, 2031)),
        "pct": str(rng.randint(2, 48)),
        "num": f"{rng.randint(2, 900) * 100:,}",
        "num2": str(rng.randint(6, 36)),
        "money": f"{rng.randint(2, 90)} million euros",
        "votes": f"{rng.randint(7, 15)} to {rng.randint(1, 6)}",
        "verb": rng.choice(VERBS),
        "thing": rng.choice(THINGS),
    }
    text = template.format(**values)
    return text[0].upper() + text[1:]


def _person(rng: random.Random) -> str:
    i = rng.randrange(0, len(FIRST) - 1, 2)
    return f"{FIRST[i]} {FIRST[i + 1]}"


def _document(rng: random.Random, n: int, target_chars: int) -> tuple[str, list[Fact]]:
    name = f"doc_{n:06d}.txt"
    subject = {
        "person": _person(rng),
        "org": rng.choice(ORGS),
        "city": rng.choice(CITIES),
        "topic": rng.choice(TOPICS),
    }
    # A planted fact with a unique code, so a question has exactly one right file.
    code = f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}{rng.randint(100, 999)}-{n}"
    verb, thing = rng.choice(VERBS), rng.choice(THINGS)
    fact = (
        f"Under reference {code}, {subject['org']} {verb} {thing} for {subject['topic']} "
        f"in {subject['city']}, a move led by {subject['person']}."
    )
    title = f"{subject['topic'].capitalize()} in {subject['city']}"
    paragraphs: list[str] = []
    size = len(title) + 2
    plant_at = rng.randint(0, 3)
    while size < target_chars:
        sentences = [_fill(rng, rng.choice(SENTENCES), subject) for _ in range(rng.randint(3, 7))]
        if len(paragraphs) == plant_at:
            sentences.insert(rng.randint(0, len(sentences)), fact)
        para = " ".join(sentences)
        paragraphs.append(para)
        size += len(para) + 2
    facts = [
        Fact(f"What did {subject['org']} do under reference {code}?", f"{verb} {thing}", name),
        Fact(f"Who led the move under reference {code}?", subject["person"], name),
    ]
    return title + "\n\n" + "\n\n".join(paragraphs) + "\n", facts


def generate(folder: Path, chunks: int, *, seed: int = 7) -> list[Fact]:
    """Write ~`chunks` chunks of text as files in `folder` (replacing it); return its facts."""
    folder = Path(folder)
    marker = folder / ".synth.json"
    spec = {"chunks": chunks, "seed": seed, "version": 1}
    if marker.exists() and json.loads(marker.read_text()).get("spec") == spec:
        return [Fact(**f) for f in json.loads(marker.read_text())["facts"]]
    if folder.exists():
        for old in folder.glob("*.txt"):
            old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    files = max(1, round(chunks / CHUNKS_PER_FILE))
    per_file = chunks / files * CHARS_PER_CHUNK
    facts: list[Fact] = []
    for n in range(files):
        target = int(per_file * rng.uniform(0.6, 1.4)) if files > 1 else int(per_file)
        text, found = _document(rng, n, target)
        (folder / found[0].source).write_text(text, encoding="utf-8")
        facts += found
    marker.write_text(json.dumps({"spec": spec, "facts": [f.__dict__ for f in facts]}))
    return facts


def questions(facts: list[Fact], n: int, *, seed: int = 11) -> list[Fact]:
    """A fixed sample of `n` planted facts to ask about."""
    rng = random.Random(seed)
    return rng.sample(facts, min(n, len(facts)))
