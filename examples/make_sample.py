"""Generate the chess sample that `examples/demo.py` loads.

The output is committed (`examples/data/players.jsonl`, `examples/data/games.jsonl`), so the demo
runs offline and every clone loads the same rows. Run this script only to change the sample:

    python examples/make_sample.py

It is deterministic: the same seed always writes byte-identical files. It uses the standard
library only.

The data is synthetic but shaped like an online chess site's API: players with per-time-class
ratings (a nested object, flattened by dlt into columns), and games with both sides' players
(nested objects), the opening (ECO code and name) and the opening's moves (a nested list, which
dlt loads into the child table `games__opening_moves`). Opening lines are real book moves;
results follow the Elo expectation of the two ratings, so the numbers look plausible.
"""

from __future__ import annotations

import json
import random
import string
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

SEED = 20240301
N_PLAYERS = 120
N_GAMES = 260
DATA_DIR = Path(__file__).parent / "data"
MONTH_START = datetime(2024, 3, 1, tzinfo=timezone.utc)

# country -> (first names, last names)
# fmt: off
NAMES: dict[str, tuple[list[str], list[str]]] = {
    "US": (["Ethan", "Olivia", "Mason", "Emily", "Daniel", "Grace", "Ryan", "Chloe"],
           ["Walker", "Brooks", "Hayes", "Turner", "Reed", "Foster", "Coleman", "Price"]),
    "IN": (["Arjun", "Rohan", "Ananya", "Vikram", "Priya", "Karthik", "Sneha", "Aditya"],
           ["Sharma", "Iyer", "Reddy", "Nair", "Gupta", "Rao", "Menon", "Kulkarni"]),
    "NO": (["Lars", "Ingrid", "Sindre", "Kristine", "Frode", "Nora", "Eirik"],
           ["Hansen", "Johansen", "Olsen", "Larsen", "Berg", "Haugen", "Dahl"]),
    "RU": (["Ivan", "Daria", "Sergey", "Elena", "Dmitry", "Polina", "Artem"],
           ["Volkov", "Smirnov", "Kuznetsov", "Popova", "Sokolov", "Morozova", "Orlov"]),
    "DE": (["Lukas", "Matthias", "Lena", "Jonas", "Sophie", "Felix", "Hannah"],
           ["Keller", "Wagner", "Becker", "Hoffmann", "Schulz", "Richter", "Krause"]),
    "FR": (["Maxime", "Etienne", "Marie", "Jules", "Pauline", "Laurent", "Camille"],
           ["Bernard", "Moreau", "Lefevre", "Girard", "Rousseau", "Fontaine", "Mercier"]),
    "ES": (["Pablo", "David", "Lucia", "Jaime", "Carmen", "Alvaro", "Marta"],
           ["Garcia", "Martinez", "Lopez", "Sanchez", "Romero", "Navarro", "Iglesias"]),
    "BR": (["Rafael", "Luis", "Juliana", "Mateus", "Gabriela", "Thiago"],
           ["Silva", "Souza", "Oliveira", "Costa", "Pereira", "Almeida"]),
    "CN": (["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao"],  # family name first
           ["Wei", "Fang", "Jun", "Min", "Jing", "Hao", "Lei"]),
    "NL": (["Daan", "Sanne", "Eline", "Bram", "Anne", "Lucas"],
           ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Mulder"]),
    "PL": (["Jan", "Piotr", "Alina", "Mateusz", "Monika", "Kacper"],
           ["Nowak", "Kowalski", "Wisniewski", "Wojcik", "Kaminska", "Lewandowski"]),
    "UA": (["Vasyl", "Anna", "Mariya", "Andrii", "Olena", "Taras"],
           ["Shevchenko", "Bondarenko", "Kovalenko", "Tkachenko", "Melnyk", "Kravets"]),
    "AR": (["Facundo", "Santiago", "Candela", "Diego", "Florencia"],
           ["Gonzalez", "Fernandez", "Rodriguez", "Acosta", "Benitez"]),
    "GB": (["Oliver", "George", "Amelia", "Harry", "Isla", "Jack"],
           ["Adams", "Howell", "Jones", "Hughes", "Taylor", "Pritchard"]),
    "HU": (["Bence", "Zsofia", "Peter", "Reka", "Gergely"],
           ["Nagy", "Kovacs", "Toth", "Szabo", "Horvath"]),
}
COUNTRY_WEIGHTS = {
    "US": 14, "IN": 14, "NO": 4, "RU": 8, "DE": 8, "FR": 7, "ES": 7, "BR": 6, "CN": 6,
    "NL": 5, "PL": 5, "UA": 5, "AR": 4, "GB": 7, "HU": 3,
}
# fmt: on
HANDLE_WORDS = [
    "knight",
    "rook",
    "bishop",
    "pawn",
    "castle",
    "gambit",
    "fianchetto",
    "zugzwang",
    "endgame",
    "blitz",
    "tempo",
    "outpost",
    "checkmate",
    "sac",
    "fork",
    "pin",
    "skewer",
    "storm",
    "tactics",
    "opening",
    "dragon",
    "najdorf",
    "berlin",
    "london",
    "caro",
]
TITLES = [("GM", 4), ("IM", 5), ("FM", 8), ("CM", 4), ("NM", 4), (None, 75)]
TITLE_BASE = {"GM": 2650, "IM": 2450, "FM": 2300, "CM": 2150, "NM": 2100, None: 1450}

# (ECO, name, book moves, popularity weight) -- real opening lines
# fmt: off
OPENINGS: list[tuple[str, str, str, int]] = [
    ("B90", "Sicilian Defense: Najdorf Variation", "e4 c5 Nf3 d6 d4 cxd4 Nxd4 Nf6 Nc3 a6", 9),
    ("B30", "Sicilian Defense: Old Sicilian", "e4 c5 Nf3 Nc6", 6),
    ("B22", "Sicilian Defense: Alapin Variation", "e4 c5 c3", 5),
    ("C65", "Ruy Lopez: Berlin Defense", "e4 e5 Nf3 Nc6 Bb5 Nf6", 6),
    ("C60", "Ruy Lopez", "e4 e5 Nf3 Nc6 Bb5", 4),
    ("C50", "Italian Game: Giuoco Piano", "e4 e5 Nf3 Nc6 Bc4 Bc5", 8),
    ("C44", "Scotch Game", "e4 e5 Nf3 Nc6 d4 exd4 Nxd4", 4),
    ("C42", "Petrov's Defense", "e4 e5 Nf3 Nf6", 3),
    ("C41", "Philidor Defense", "e4 e5 Nf3 d6", 3),
    ("C02", "French Defense: Advance Variation", "e4 e6 d4 d5 e5", 4),
    ("B12", "Caro-Kann Defense: Advance Variation", "e4 c6 d4 d5 e5", 5),
    ("B01", "Scandinavian Defense: Mieses-Kotroc Variation", "e4 d5 exd5 Qxd5 Nc3 Qa5", 5),
    ("B07", "Pirc Defense", "e4 d6 d4 Nf6 Nc3 g6", 2),
    ("B06", "Modern Defense", "e4 g6", 2),
    ("D02", "Queen's Pawn Game: London System", "d4 d5 Nf3 Nf6 Bf4", 8),
    ("D20", "Queen's Gambit Accepted", "d4 d5 c4 dxc4", 3),
    ("D37", "Queen's Gambit Declined", "d4 d5 c4 e6 Nc3 Nf6 Nf3 Be7", 5),
    ("D10", "Slav Defense", "d4 d5 c4 c6", 4),
    ("E20", "Nimzo-Indian Defense", "d4 Nf6 c4 e6 Nc3 Bb4", 3),
    ("E92", "King's Indian Defense: Classical Variation",
     "d4 Nf6 c4 g6 Nc3 Bg7 e4 d6 Nf3 O-O Be2 e5", 4),
    ("A80", "Dutch Defense", "d4 f5", 2),
    ("A20", "English Opening: King's English Variation", "c4 e5", 3),
    ("A05", "Zukertort Opening", "Nf3 Nf6", 3),
]
# fmt: on
TIME_CONTROLS = {
    "bullet": (["60+0", "60+1", "120+1"], 30),
    "blitz": (["180+0", "180+2", "300+0", "300+3"], 50),
    "rapid": (["600+0", "600+5", "900+10"], 20),
}


def make_players(rng: random.Random) -> list[dict[str, Any]]:
    players: list[dict[str, Any]] = []
    seen: set[str] = set()
    countries = list(COUNTRY_WEIGHTS)
    while len(players) < N_PLAYERS:
        country = rng.choices(countries, weights=[COUNTRY_WEIGHTS[c] for c in countries])[0]
        first, last = (rng.choice(part) for part in NAMES[country])
        title = rng.choices([t for t, _ in TITLES], weights=[w for _, w in TITLES])[0]
        username = _handle(rng, first, last)
        if username.lower() in seen:
            continue
        seen.add(username.lower())
        base = TITLE_BASE[title] + (rng.gauss(0, 120) if title else rng.gauss(0, 380))
        ratings = {
            tc: int(min(3300, max(400, base + rng.gauss(0, 90) + shift)))
            for tc, shift in (("bullet", 40), ("blitz", 0), ("rapid", -30))
        }
        joined = date(2012, 1, 1) + timedelta(days=rng.randrange(0, 12 * 365))
        streamer = rng.random() < (0.35 if title in ("GM", "IM") else 0.05)
        followers = int(rng.lognormvariate(4.5 + (2.5 if streamer else 0), 1.2))
        players.append(
            {
                "username": username,
                "name": f"{first} {last}",
                "title": title,
                "country": country,
                "joined": joined.isoformat(),
                "ratings": ratings,
                "is_streamer": streamer,
                "followers": followers,
            }
        )
    return players


def _handle(rng: random.Random, first: str, last: str) -> str:
    style = rng.randrange(5)
    word = rng.choice(HANDLE_WORDS)
    first = first.split("-")[0].lower()
    last = last.replace(" ", "").lower()
    if style == 0:
        return f"{first}_{last}{rng.randrange(1, 100)}"
    if style == 1:
        return f"{word.capitalize()}{first.capitalize()}"
    if style == 2:
        return f"{first[:1]}{last}"
    if style == 3:
        other = rng.choice([w for w in HANDLE_WORDS if w != word])
        return f"{word}_{other}{rng.randrange(10, 1000)}"
    return f"{last}{word.capitalize()}{rng.randrange(1980, 2011)}"


def make_games(rng: random.Random, players: list[dict[str, Any]]) -> list[dict[str, Any]]:
    games = []
    ids: set[str] = set()
    starts = sorted(rng.randrange(0, 31 * 24 * 3600) for _ in range(N_GAMES))
    for offset in starts:
        game_id = "".join(rng.choices(string.ascii_letters + string.digits, k=8))
        if game_id in ids:
            continue
        ids.add(game_id)
        games.append(_game(rng, players, game_id, MONTH_START + timedelta(seconds=offset)))
    return games


def _game(
    rng: random.Random, players: list[dict[str, Any]], game_id: str, started: datetime
) -> dict[str, Any]:
    time_class = rng.choices(list(TIME_CONTROLS), weights=[w for _, w in TIME_CONTROLS.values()])[0]
    time_control = rng.choice(TIME_CONTROLS[time_class][0])
    white, black = _pair(rng, players, time_class)
    rw = white["ratings"][time_class] + rng.randint(-25, 25)
    rb = black["ratings"][time_class] + rng.randint(-25, 25)
    expected = 1 / (1 + 10 ** ((rb - rw - 35) / 400))  # ~35 points for the first move
    draw = min(0.45, max(0.03, 0.04 + (rw + rb - 2000) / 2000 * 0.25))
    roll = rng.random()
    score = 1.0 if roll < expected * (1 - draw) else 0.0 if roll < 1 - draw else 0.5
    result = {1.0: "1-0", 0.0: "0-1", 0.5: "1/2-1/2"}[score]
    if score == 0.5:
        termination = rng.choices(
            ["agreement", "repetition", "stalemate", "insufficient_material"], [5, 4, 1, 2]
        )[0]
    else:
        timeout_weight = 35 if time_class == "bullet" else 15
        termination = rng.choices(
            ["resignation", "checkmate", "timeout"], [55, 25, timeout_weight]
        )[0]
    eco, name, line, _ = rng.choices(OPENINGS, weights=[o[3] for o in OPENINGS])[0]
    book = line.split()
    plies = max(len(book) + 6, int(rng.gauss(85 if score == 0.5 else 70, 25)))
    base_s, inc_s = (int(x) for x in time_control.split("+"))
    per_ply = (base_s / 50 + inc_s) * rng.uniform(0.6, 1.2)
    duration = min(2 * base_s + plies * inc_s, int(plies * per_ply)) + rng.randrange(5, 30)
    k = 10 if time_class == "rapid" else 8
    return {
        "game_id": game_id,
        "rated": rng.random() < 0.9,
        "time_class": time_class,
        "time_control": time_control,
        "started_at": _ts(started),
        "ended_at": _ts(started + timedelta(seconds=duration)),
        "white": {
            "username": white["username"],
            "rating": rw,
            "rating_diff": round(k * (score - expected)),
        },
        "black": {
            "username": black["username"],
            "rating": rb,
            "rating_diff": round(k * ((1 - score) - (1 - expected))),
        },
        "result": result,
        "termination": termination,
        "opening": {"eco": eco, "name": name},
        "ply_count": plies,
        "opening_moves": [{"ply": i + 1, "san": san} for i, san in enumerate(book)],
    }


def _pair(
    rng: random.Random, players: list[dict[str, Any]], time_class: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    first = rng.choice(players)
    rating = first["ratings"][time_class]
    near = [p for p in players if p is not first and abs(p["ratings"][time_class] - rating) < 250]
    if not near:
        near = sorted(
            (p for p in players if p is not first),
            key=lambda p: abs(p["ratings"][time_class] - rating),
        )[:3]
    second = rng.choice(near)
    return (first, second) if rng.random() < 0.5 else (second, first)


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")


def main() -> None:
    rng = random.Random(SEED)
    players = make_players(rng)
    games = make_games(rng, players)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    write_jsonl(DATA_DIR / "players.jsonl", players)
    write_jsonl(DATA_DIR / "games.jsonl", games)
    for name in ("players.jsonl", "games.jsonl"):
        path = DATA_DIR / name
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
