"""Word lists and strings the Twitch sandbox builds its data from.

Besides plausible Portuguese/English text, some titles and descriptions are deliberately hostile to
naive loaders (:data:`NASTY_TEXT`): tabs, newlines, CR/LF, backslashes, quotes, the literal strings
``\\N`` and ``NULL``, the empty string, emoji and accents. Every one of them must survive
extract -> Parquet -> COPY / LOAD DATA unchanged.
"""

from __future__ import annotations

ADJECTIVES: tuple[str, ...] = (
    "pixel", "turbo", "lunar", "brava", "doce", "feroz", "calmo", "rapido", "neon", "velho",
    "quantum", "sonic", "mystic", "frosty", "golden", "silent", "crazy", "lucky", "shadow", "royal",
    "tropical", "cosmic", "retro", "urban", "wild", "happy", "sleepy", "tiny", "mega", "ultra",
)
NOUNS: tuple[str, ...] = (
    "paloma", "tatu", "jaguar", "capivara", "arara", "sabia", "boto", "mico", "tucano", "onca",
    "falcon", "panda", "otter", "wizard", "ninja", "pirate", "knight", "gamer", "streamer", "coder",
    "fox", "wolf", "bear", "raven", "tiger", "shark", "dragon", "cactus", "mango", "pudim",
)
# Localized display names (Twitch allows non-ASCII display names that differ from the login).
LOCALIZED_NAMES: tuple[str, ...] = (
    "Conceição", "JoãoGamer", "Ângela", "Açaí", "Pão_de_Queijo", "Coração", "Estêvão", "Inês",
    "Lulú", "Tatá", "Ñandú", "Zoë", "Renée", "Chloé", "José", "Gonçalves",
)

# (language code, weight out of 32) — Brazilian-heavy, like the pipeline's audience.
LANGUAGES: tuple[tuple[str, int], ...] = (
    ("pt", 12), ("en", 10), ("es", 4), ("de", 1), ("fr", 1), ("ja", 1), ("it", 1), ("other", 2),
)
LANGUAGE_TABLE: tuple[str, ...] = tuple(code for code, weight in LANGUAGES for _ in range(weight))
LANGUAGE_CODES: tuple[str, ...] = tuple(code for code, _ in LANGUAGES)
assert len(LANGUAGE_TABLE) == 32

# (name, igdb id or "") — names are unique; several have no IGDB id, as on Twitch.
GAMES: tuple[tuple[str, str], ...] = (
    ("Just Chatting", ""), ("League of Legends", "115"), ("Counter-Strike 2", "242408"),
    ("Grand Theft Auto V", "1020"), ("Valorant", "126459"), ("Minecraft", "121"),
    ("Fortnite", "1905"), ("Dota 2", "2963"), ("Pokémon Scarlet", "191930"),
    ("Free Fire", "109311"), ("Music", ""), ("Art", ""), ("Software and Game Development", ""),
    ("Xadrez", "46069"), ("Rocket League", "11198"), ("EA Sports FC 25", "300976"),
    ("Apex Legends", "114795"), ("Elden Ring", "119133"), ("Stardew Valley", "17000"),
    ("Tibia", "2367"), ("Ragnarök Online", "2016"), ("Teamfight Tactics", ""),
    ("Hollow Knight", "14593"), ("Celeste", "26226"), ("Sports", ""), ("ASMR", ""),
    ("Talk Shows & Podcasts", ""), ("Slots", ""), ("Retro", ""), ("Among Us", "111469"),
    ("Rainbow Six Siege", "7360"), ("World of Warcraft", "123"), ("Baldur's Gate 3", "119171"),
    ("The Sims 4", "3212"), ("Paladins", "25311"), ("Hades II", "217600"),
    ("Café com Código ☕", ""), ("Speedrunners: “Quotes” Edition", ""), ("Balatro", "251833"),
    ("Marvel Rivals", "294041"), ("Street Fighter 6", "191692"), ("Overwatch 2", "125174"),
)

TAGS: tuple[str, ...] = (
    "Português", "English", "Español", "Brasil", "Speedrun", "Chill", "Competitivo",
    "NoBackseating", "Educacional", "LGBTQIAPlus", "Gameplay", "Variety", "FPS", "RPG",
    "Música", "Programação", "Ranked", "Casual",
)

TITLES: tuple[str, ...] = (
    "manhã de papo ☕", "Speedrun de Pokémon — tentativa nº 37", "jogando com inscritos 🎮",
    "ranked até o diamante!", "Café e código: refatorando o ETL", "chill stream, come hang out",
    "¡Vamos! partidas rápidas", "noite de terror 👻 (não assistam sozinhos)",
    "DROP ATIVO — !drops", "subathon dia 3 ⏰", "aprendendo Rust do zero", "rumo ao top 500",
    "ASMR sussurrado em português", "Tibia: caçando na Roshamuul", "Just vibing 🎶",
    "torneio beneficente — ajude o abrigo 🐶", "primeira vez jogando Elden Ring",
    "配信テスト", "Reação aos trailers da semana", "maratona de Stardew 🌱",
)

# Deliberately awkward strings; each must round-trip byte for byte through the pipelines.
NASTY_TEXT: tuple[str, ...] = (
    "tab\tseparated\ttitle",
    "linha 1\nlinha 2",
    "windows\r\nline ending",
    "back\\slash C:\\jogos\\save",
    'aspas "duplas" e \'simples\'',
    "\\N",
    "NULL",
    "",
    "null",
    "emoji 🎮🔥 e acentuação: ção, ã, é, ü",
    "vírgula, ponto-e-vírgula; e |pipe|",
    "  espaços nas pontas  ",
    'mistura: "\\N"\t\\t NULL\n',
)

DESCRIPTIONS: tuple[str, ...] = (
    "",
    "Speedruns e conversa.",
    "Streamer brasileira, lives de segunda a sexta 💜",
    "Programando ao vivo: Python, SQL e café.",
    "Variety streamer. Business: contato@example.com",
    "Jogos antigos, histórias novas. 🕹️",
    "Just a chill person playing games.",
    "Campeão regional 2023 🏆 — coaching nas DMs",
)

VIDEO_DESCRIPTIONS: tuple[str, ...] = (
    "",
    "VOD completo da live.",
    "Melhores momentos 🔥",
    "Tutorial: como configurar o ambiente",
    "Full stream VOD",
)

CLIP_TITLES: tuple[str, ...] = (
    "a risada", "CLUTCH 1v4", "que susto 😱", "o chat não acreditou", "speedrun WR?",
    "bug bizarro", "gg wp", "dança da vitória 💃", "momento épico", "rage quit",
)

CLIP_EMOTES: tuple[str, ...] = (
    "Kappa", "PogChamp", "LUL", "BibleThump", "Kreygasm", "SeemsGood", "ResidentSleeper",
    "VoHiYo", "DansGame", "HeyGuys",
)
CLIP_ADJECTIVES: tuple[str, ...] = (
    "Brave", "Tender", "Quiet", "Lucky", "Fierce", "Gentle", "Clever", "Sleepy", "Happy", "Shy",
    "Bold", "Swift", "Calm", "Witty", "Proud", "Fancy",
)
CLIP_ANIMALS: tuple[str, ...] = (
    "Owl", "Capybara", "Jaguar", "Macaw", "Otter", "Panda", "Falcon", "Toucan", "Sloth", "Tapir",
    "Llama", "Gecko", "Heron", "Koala", "Lynx", "Moose",
)
