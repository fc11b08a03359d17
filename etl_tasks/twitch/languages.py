"""Stream languages for walking the live snapshot in parallel partitions.

Get Streams (api-contract.md A5.4) filters on ``language``: "an ISO 639-1 two-letter language code,
or ``other`` if the broadcast uses a language not in the list of supported stream languages", at
most 100 values per request. Every live stream therefore has exactly one of the ISO 639-1 codes or
``other`` (plus ``asl``, which Twitch lists among broadcast languages), so walking these partitions
one by one returns the same snapshot as one walk of the unfiltered list; but the partitions can be
walked at the same time, where one cursor can only be followed page after page.
"""

from __future__ import annotations

ISO_639_1: tuple[str, ...] = (
    "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg",
    "bh", "bi", "bm", "bn", "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv",
    "cy", "da", "de", "dv", "dz", "ee", "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi",
    "fj", "fo", "fr", "fy", "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he", "hi", "ho", "hr",
    "ht", "hu", "hy", "hz", "ia", "id", "ie", "ig", "ii", "ik", "io", "is", "it", "iu", "ja",
    "jv", "ka", "kg", "ki", "kj", "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw",
    "ky", "la", "lb", "lg", "li", "ln", "lo", "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml",
    "mn", "mr", "ms", "mt", "my", "na", "nb", "nd", "ne", "ng", "nl", "nn", "no", "nr", "nv",
    "ny", "oc", "oj", "om", "or", "os", "pa", "pi", "pl", "ps", "pt", "qu", "rm", "rn", "ro",
    "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk", "sl", "sm", "sn", "so", "sq", "sr",
    "ss", "st", "su", "sv", "sw", "ta", "te", "tg", "th", "ti", "tk", "tl", "tn", "to", "tr",
    "ts", "tt", "tw", "ty", "ug", "uk", "ur", "uz", "ve", "vi", "vo", "wa", "wo", "xh", "yi",
    "yo", "za", "zh", "zu",
)
STREAM_LANGUAGES: tuple[str, ...] = (*ISO_639_1, "asl", "other")
# The languages with most live streams on Twitch: each one is walked on its own.
BIG_LANGUAGES = ("en", "es", "pt", "de", "ru", "fr", "ja", "ko", "zh", "it", "pl", "tr", "ar",
                 "th", "other")
MAX_VALUES_PER_FILTER = 100


def language_partitions() -> list[list[str]]:
    """Every stream language exactly once: the big ones alone, the rest in groups of at most 100
    (the filter's limit). Deterministic."""
    rest = [code for code in STREAM_LANGUAGES if code not in BIG_LANGUAGES]
    groups = [rest[i:i + MAX_VALUES_PER_FILTER] for i in range(0, len(rest), MAX_VALUES_PER_FILTER)]
    return [[code] for code in BIG_LANGUAGES] + groups
