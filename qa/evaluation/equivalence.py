"""Whether an answer gives what a gold alias gives, in German or English.

Gold aliases are spans of German articles (sometimes with an English form), answers are German or
English sentences. Both are read as facts: dates ("28. Februar 2008" = "February 28, 2008" =
"28.2.2008"; a month alone or a year alone only matches that much), quantities (value, scale and
unit: "1,2 Millionen" = "1.2 million" = "1 200 000"; "zwei" = "two"; "Hunderte" = "hundreds";
"30 Prozent" = "30 %"; "Euro" = "€" = "EUR"), and content words, compared after a small bilingual
mapping and the light transliteration of ``qa.answering.support`` ("Lawrow" = "Lavrov"). An answer
matches an alias when it holds the alias's dates and quantities, its content words (all of a short
alias or a list, most of a long descriptive one, the surname of a name) and changes no unit or
currency the aliases give for a number.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from bm25s.stopwords import STOPWORDS_EN, STOPWORDS_GERMAN

from qa.answering.support import fold

# The bilingual lexicon: small and general, no answer of an evaluation set in mind.

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            "Januar Jänner Jan January",
            "Februar Feber Feb Febr February",
            "März Maerz Mär Mar March",
            "April Apr",
            "Mai May",
            "Juni Jun June",
            "Juli Jul July",
            "August Aug",
            "September Sept Sep",
            "Oktober Okt Oct October",
            "November Nov",
            "Dezember Dez Dec December",
        ],
        start=1,
    )
    for name in names.split()
}
NUMBER_WORDS = {
    word: float(value)
    for value, words in (
        pair.split(":")
        for pair in """
        1:eins,one 2:zwei,two 3:drei,three 4:vier,four 5:fünf,five 6:sechs,six 7:sieben,seven 8:acht,eight
        9:neun,nine 10:zehn,ten 11:elf,eleven 12:zwölf,twelve 20:zwanzig,twenty 30:dreißig,thirty 40:vierzig,forty
        50:fünfzig,fifty 60:sechzig,sixty 70:siebzig,seventy 80:achtzig,eighty 90:neunzig,ninety
        100:hundert,hundred 1000:tausend,thousand
        """.split()
    )
    for word in words.split(",")
}
SCALES = {
    word: float(value)
    for word, value in (
        pair.split(":")
        for pair in """
        tausend:1e3 thousand:1e3 k:1e3 million:1e6 millionen:1e6 millions:1e6 mio:1e6 mill:1e6 m:1e6
        milliarde:1e9 milliarden:1e9 mrd:1e9 billion:1e9 billions:1e9 bn:1e9 billionen:1e12 trillion:1e12
        hundert:1e2 hundred:1e2 dutzend:12 dozen:12
        """.split()
    )
}
VAGUE = {
    word: float(value)
    for word, value in (
        pair.split(":")
        for pair in """
        hunderte:1e2 hunderten:1e2 hundreds:1e2 tausende:1e3 tausenden:1e3 thousands:1e3 dutzende:12
        dutzenden:12 dozens:12 zehntausende:1e4 tens:10
        """.split()
    )
}
#: unit: its words, then after ";" its phrases.
_UNIT_WORDS = """
EUR: € eur euro euros
USD: $ us$ usd dollar dollars
GBP: £ gbp pfund pound pounds
CHF: chf franken francs franc
RUB: rubel roubles rubles
JPY: yen
CNY: yuan renminbi
cent: cent cents
%: % prozent percent pct;per cent
pp: prozentpunkte prozentpunkt;percentage points
km: km kilometer kilometern kilometre kilometres kilometers
m: meter metern metre metres meters
cm: cm zentimeter centimetres centimeters
mm: mm millimeter millimetres millimeters
km2: quadratkilometer quadratkilometern;square kilometres;square kilometers
kg: kg kilogramm kilo kilos kilograms kilogrammes
g: gramm grams
t: tonne tonnen tonnes tons ton
l: liter litre litres liters
ha: hektar hectares
h: stunde stunden hour hours
min: minute minuten minutes
s: sekunde sekunden seconds second
day: tag tage tagen day days
week: woche wochen week weeks
month: monat monate monaten months
year: jahr jahre jahren year years;year old;years old;jahre alt
°: ° grad degrees
MW: mw megawatt
GW: gw gigawatt
kWh: kwh kilowattstunden
"""
UNITS = {
    word: unit
    for unit, words in (line.split(": ", 1) for line in _UNIT_WORDS.strip().splitlines())
    for word in words.split(";")[0].split() + words.split(";")[1:]
}
TRANSLATIONS = dict(
    pair.split(":")
    for pair in """
    austria:österreich austrian:österreichisch germany:deutschland german:deutsch switzerland:schweiz swiss:schweizer
    france:frankreich french:französisch italy:italien italian:italienisch spain:spanien spanish:spanisch
    netherlands:niederlande dutch:niederländisch belgium:belgien luxembourg:luxemburg denmark:dänemark
    danish:dänisch sweden:schweden swedish:schwedisch norway:norwegen norwegian:norwegisch finland:finnland
    iceland:island ireland:irland irish:irisch britain:großbritannien british:britisch england:england
    scotland:schottland poland:polen polish:polnisch czechia:tschechien czech:tschechisch slovakia:slowakei
    hungary:ungarn hungarian:ungarisch slovenia:slowenien croatia:kroatien serbia:serbien bosnia:bosnien
    albania:albanien macedonia:mazedonien greece:griechenland greek:griechisch bulgaria:bulgarien
    romania:rumänien moldova:moldau ukraine:ukraine belarus:weißrussland russia:russland russian:russisch
    lithuania:litauen latvia:lettland estonia:estland turkey:türkei turkish:türkisch cyprus:zypern
    georgia:georgien armenia:armenien azerbaijan:aserbaidschan europe:europa european:europäisch
    america:amerika american:amerikanisch canada:kanada mexico:mexiko brazil:brasilien argentina:argentinien
    china:china chinese:chinesisch japan:japan japanese:japanisch india:indien indian:indisch iran:iran
    iraq:irak syria:syrien syrian:syrisch lebanon:libanon jordan:jordanien egypt:ägypten libya:libyen
    tunisia:tunesien morocco:marokko algeria:algerien africa:afrika asia:asien australia:australien
    indonesia:indonesien korea:korea yemen:jemen qatar:katar arabia:arabien afghanistan:afghanistan
    ethiopia:äthiopien kenya:kenia zealand:seeland
    monday:montag tuesday:dienstag wednesday:mittwoch thursday:donnerstag friday:freitag saturday:samstag
    sunday:sonntag
    federal:bundes constitutional:verfassungs court:gericht supreme:oberst parliament:parlament
    government:regierung ministry:ministerium chancellor:kanzler president:präsident mayor:bürgermeister
    party:partei election:wahl elections:wahlen police:polizei army:armee university:universität
    church:kirche school:schule schools:schulen hospital:spital council:rat commission:kommission
    interior:innen foreign:außen finance:finanz defence:verteidigung defense:verteidigung
    health:gesundheit education:bildung justice:justiz economy:wirtschaft chamber:kammer
    agriculture:landwirtschaft industry:industrie central:zentral world:welt war:krieg peace:frieden
    refugees:flüchtlinge refugee:flüchtling asylum:asyl border:grenze children:kinder people:menschen
    lake:see river:fluss island:insel city:stadt state:staat north:nord south:süd east:ost west:west
    united:vereinigt states:staaten kingdom:königreich union:union republic:republik surgery:operation
    facial:gesichts face:gesicht photographers:fotografen photographer:fotograf forces:kräfte force:kraft
    number:zahl numbers:zahlen independent:unabhängig new:neu ethics:ethik
    woman:weiblich women:weiblich female:weiblich frau:weiblich frauen:weiblich
    male:männlich mann:männlich männer:männlich
    """.split()
)
ENGLISH_STOPWORDS = frozenset(
    """
    a an the and or but if of at by for with about against between into through during before after above below
    to from up down in out on off over under again further then once here there when where why how all any both
    each few more most other some such no nor not only own same so than too very can will just should now
    i me my myself we our ours ourselves you your yours yourself he him his himself she her hers herself it its
    itself they them their theirs themselves what which who whom this that these those am is are was were be
    been being have has had having do does did doing would could may might must shall also yes
    make makes made get gets got take took give gave called known according around almost nearly approximately
    roughly some several many much per since
    rund etwa knapp fast mehr als über insgesamt bisher laut seit ja nein
    """.split()
)
TITLES = frozenset(
    fold(word)
    for word in """
    dr prof mag ing mr mrs ms sir herr frau president präsident chancellor kanzler bundeskanzler minister
    pope papst king könig queen königin general bishop bischof coach trainer chef chief judge richter
    mayor bürgermeister senator governor gouverneur prince prinz saint sankt st
    """.split()
)
GENERIC_NOUNS = frozenset(
    fold(word)
    for word in """
    university universität region court gericht council rat party partei club klub city stadt republic republik
    union bank group gruppe house haus lake see river fluss island insel street straße airport flughafen station
    bahnhof school schule hospital ministry ministerium commission kommission company association verband
    institute institut museum theater theatre festival prize preis award cup league liga war krieg act gesetz
    agreement abkommen treaty vertrag communications news times post zeitung magazine barracks kaserne
    """.split()
)


_STOP = frozenset(STOPWORDS_EN) | frozenset(STOPWORDS_GERMAN) | ENGLISH_STOPWORDS
_MONTH = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
_DAY = r"(?P<d>[0-3]?\d)"
_YEAR = r"(?:,?\s+(?P<y>\d{4})(?!\d))?"
_DATES = (
    re.compile(rf"(?<![\d.,]){_DAY}(?:\.|st|nd|rd|th)?\s*(?:of\s+)?(?P<m>{_MONTH})(?![^\W\d_])\.?{_YEAR}"),
    re.compile(rf"(?P<m>{_MONTH})(?![^\W\d_])\.?\s+{_DAY}(?:st|nd|rd|th)?(?![\d.,]?\d){_YEAR}"),
    re.compile(rf"(?P<m>{_MONTH})(?![^\W\d_])\.?{_YEAR}"),
    re.compile(r"(?<![\d.,])(?P<d>[0-3]?\d)\.(?P<mn>[01]?\d)\.(?P<y>\d{4})?(?![\d])"),
    re.compile(r"(?<![\d.,])(?P<y>\d{4})-(?P<mn>[01]\d)-(?P<d>[0-3]\d)(?!\d)"),
    re.compile(r"(?<![\d.,])(?P<dec>1\d\d0|20\d0)(?:s|er|ern|er-jahren)(?![^\W\d_])", re.IGNORECASE),
)
_SPACE_THOUSANDS = re.compile(r"(?<![\d.,])(\d{1,3})((?:[ \u00a0\u202f\u2009]\d{3})+)(?![\d.,]?\d)")
_TOKEN = re.compile(r"(?P<num>\d+(?:[.,]\d+)*)(?P<suffix>[^\W\d_]{0,5})(?![\w])|(?P<word>\w+)|(?P<sym>[€$£%°])")
_LIST = re.compile(r",|\s(?:und|and|sowie|&)\s")
_OR = re.compile(r"\s(?:or|oder)\s")
_LINKERS = ("", "s", "es", "n", "en")
_ENDINGS = ("innen", "ern", "en", "er", "es", "em", "e", "n", "s")


@dataclass(frozen=True, slots=True)
class Date:
    day: int | None = None
    month: int | None = None
    year: int | None = None
    decade: int | None = None


@dataclass(frozen=True, slots=True)
class Quantity:
    value: float
    unit: str | None = None
    vague: bool = False
    year_like: bool = False


@dataclass(frozen=True, slots=True)
class Word:
    text: str  # as written
    key: str  # translated and folded
    capital: bool


@dataclass(slots=True)
class Facts:
    dates: list[Date] = field(default_factory=list)
    quantities: list[Quantity] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)  # content words, in order
    codes: list[str] = field(default_factory=list)  # tokens of letters and digits: "WD40", "6P"


def answer_matches(answer: str, aliases: Iterable[str]) -> bool:
    """The answer gives what one of the aliases gives and changes no unit the aliases give."""
    aliases = [alias for alias in aliases if alias and alias.strip()]
    if not aliases or not answer:
        return False
    said = facts(answer)
    if _changes_a_unit(said, [facts(alias) for alias in aliases]):
        return False
    return any(gives(answer, said, option) for alias in aliases for option in _options(alias))


def gives(answer: str, said: Facts, alias: str) -> bool:
    """The answer (``said`` are its facts) holds the alias's dates, quantities and enough of its
    words (see the module)."""
    wanted = facts(alias)
    if _padded(alias).strip() and _padded(alias) in _padded(answer) and not (wanted.dates or wanted.quantities):
        return True
    if _yes_no(alias) is not None:
        return _yes_no(answer.split()[0] if answer.split() else "") == _yes_no(alias)
    if not all(any(_same_date(d, have) for have in said.dates) for d in wanted.dates):
        return False
    if not all(_has_quantity(said, q) for q in wanted.quantities):
        return False
    if not all(code.lower() in {c.lower() for c in said.codes} for code in wanted.codes):
        return False
    if wanted.dates or wanted.quantities or wanted.codes:
        return True  # the number or date is the fact; the words around it ("Paletten") restate the question
    if not wanted.words:
        return False  # only function words, and they are not in the answer as written
    if _is_name(alias, wanted.words):
        return _has_name(said.words, wanted.words)
    found = sum(1 for w in wanted.words if _word_found(w, said.words))
    n = len(wanted.words)
    needed = n if n <= 2 or (_LIST.search(alias) and _short_items(alias)) else n // 2 + 1
    return found >= needed


def facts(text: str) -> Facts:
    text = unicodedata.normalize("NFC", text).replace("\u2019", "'")
    text = _SPACE_THOUSANDS.sub(lambda m: m.group(1) + re.sub(r"\D", "", m.group(2)), text)
    out = Facts()
    for pattern in _DATES:
        text = pattern.sub(lambda m: _take_date(m, out), text)
    tokens = [m for m in _TOKEN.finditer(text)]
    i = 0
    while i < len(tokens):
        i = _read(tokens, i, out)
    return out


def _take_date(match: re.Match, out: Facts) -> str:
    groups = match.groupdict()
    if groups.get("dec"):
        out.dates.append(Date(decade=int(groups["dec"])))
        return " "
    month = MONTHS[groups["m"]] if groups.get("m") else int(groups["mn"]) if groups.get("mn") else None
    day = int(groups["d"]) if groups.get("d") else None
    if month is None or not 1 <= month <= 12 or (day is not None and not 1 <= day <= 31):
        return match.group(0)
    out.dates.append(Date(day, month, int(groups["y"]) if groups.get("y") else None))
    return " "


def _read(tokens: list[re.Match], i: int, out: Facts) -> int:
    """Reads the fact at token i into ``out``; returns the index of the next unread token."""
    token = tokens[i]
    if token.group("sym"):
        return i + 1
    if token.group("num"):
        suffix = token.group("suffix").lower()
        if suffix and suffix not in ("st", "nd", "rd", "th") and suffix not in SCALES and suffix not in UNITS:
            out.codes.append(token.group(0))
            return i + 1
        value, plain = _number(token.group("num"))
        return _quantity(tokens, i, value, out, plain=plain and not suffix, scale_or_unit=suffix)
    word = token.group("word")
    lower = word.lower()
    if any(c.isdigit() for c in word):
        out.codes.append(word)
        return i + 1
    if lower in NUMBER_WORDS:
        value = NUMBER_WORDS[lower]
        if i + 1 < len(tokens) and (tokens[i + 1].group("word") or "").lower() in NUMBER_WORDS:
            following = NUMBER_WORDS[tokens[i + 1].group("word").lower()]
            if value >= 20 and following < 10:  # twenty-five
                return _quantity(tokens, i + 1, value + following, out)
        return _quantity(tokens, i, value, out)
    if lower in VAGUE:
        out.quantities.append(Quantity(VAGUE[lower], vague=True))
        return i + 1
    if lower in _STOP or lower in UNITS or lower in SCALES or len(word) < 2:
        return i + 1
    out.words.append(Word(word, _key(word), word[0].isupper()))
    return i + 1


def _quantity(tokens: list[re.Match], i: int, value: float, out: Facts, plain: bool = False, scale_or_unit="") -> int:
    unit = _unit_before(tokens, i)
    j = i + 1
    if scale_or_unit in SCALES:
        value *= SCALES[scale_or_unit]
    elif scale_or_unit in UNITS:
        unit = UNITS[scale_or_unit]
    elif j < len(tokens) and _lower(tokens[j]) in SCALES:
        value *= SCALES[_lower(tokens[j])]
        j += 1
    if unit is None and j < len(tokens):
        pair = f"{_lower(tokens[j])} {_lower(tokens[j + 1])}" if j + 1 < len(tokens) else ""
        if pair in UNITS:
            unit, j = UNITS[pair], j + 2
        elif _lower(tokens[j]) in UNITS:
            unit, j = UNITS[_lower(tokens[j])], j + 1
        elif _lower(tokens[j]).startswith(("jährig", "jaehrig")):
            unit, j = "year", j + 1
    year_like = plain and unit is None and value == int(value) and 1000 <= value <= 2099
    out.quantities.append(Quantity(value, unit, year_like=year_like))
    return j


def _unit_before(tokens: list[re.Match], i: int) -> str | None:
    if i == 0:
        return None
    before = _lower(tokens[i - 1])
    return UNITS.get(before) if before in ("€", "$", "£", "eur", "usd", "gbp", "chf", "us$") else None


def _lower(token: re.Match) -> str:
    return token.group(0).lower()


def _number(raw: str) -> tuple[float, bool]:
    """The value of "1.200.000", "1,2", "12.818", "1,200.5"; and whether it was written plain."""
    seps = re.findall(r"[.,]", raw)
    if not seps:
        return float(raw), True
    groups = re.split(r"[.,]", raw)
    if len(set(seps)) == 2:  # "1.234,5" or "1,234.5": the last separator is the decimal one
        whole, decimal = re.sub(r"[.,]", "", "".join(raw.rsplit(seps[-1], 1)[0])), groups[-1]
        return float(f"{whole}.{decimal}"), False
    if all(len(g) == 3 for g in groups[1:]) and len(groups[0]) <= 3 and (len(seps) > 1 or groups[0] != "0"):
        return float("".join(groups)), False
    if len(seps) == 1:
        return float(raw.replace(",", ".")), False
    return float("".join(groups)), False


def _key(word: str) -> str:
    lower = word.lower()
    return fold(TRANSLATIONS.get(lower, lower))


def _stem(key: str) -> str:
    for ending in _ENDINGS:
        if key.endswith(ending) and len(key) - len(ending) >= 4:
            return key[: -len(ending)]
    return key


_KNOWN = frozenset(fold(value) for value in TRANSLATIONS.values())


def same_key(wanted: str, have: str, name: bool = False) -> bool:
    """``have`` (a word of the answer) is ``wanted`` (a word of the alias) or an inflection, a
    compound holding it, or for names a close spelling; words of the bilingual map match only their
    own inflections, so "Austria" never matches "Australia"."""
    if wanted == have or _stem(wanted) == _stem(have):
        return True
    if wanted in _KNOWN and have in _KNOWN:
        return False
    prefix = len(_common_prefix(wanted, have))
    if prefix >= 5 and prefix >= len(wanted) - 4 and len(have) >= len(wanted) - 4:
        return True
    if len(wanted) >= 4 and (have.startswith(wanted) or have.endswith(wanted)):
        return True
    if len(wanted) == 3 and wanted in _KNOWN and have.endswith(wanted):
        return True
    return (
        name
        and len(wanted) >= 5
        and abs(len(wanted) - len(have)) <= 3
        and SequenceMatcher(None, wanted, have).ratio() >= 0.8
    )


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _word_found(wanted: Word, said: list[Word]) -> bool:
    name = wanted.capital and wanted.key not in _KNOWN
    if any(same_key(wanted.key, w.key, name) for w in said):
        return True
    return any(_compound(wanted.key, [w.key for w in said[i : i + 4]]) for i in range(len(said)))


def _compound(wanted: str, keys: list[str]) -> bool:
    """``wanted`` is made of the successive words ``keys`` ("bundes" "verfassungs" "gericht")."""
    rest, used = wanted, 0
    for key in keys:
        part = next((p for p in (key, _stem(key)) if len(p) >= 3 and rest.startswith(p)), None)
        if part is None:
            break
        rest, used = rest[len(part) :], used + 1
        if not rest:
            break
        rest = next((rest[len(link) :] for link in _LINKERS[::-1] if link and rest.startswith(link) and used), rest)
    return used >= 2 and (not rest or rest in _ENDINGS)


def _is_name(alias: str, words: list[Word]) -> bool:
    """Two or three capitalised words, titles aside, the last of them no common noun."""
    parts = [w for w in words if w.key not in TITLES]
    return (
        2 <= len(parts) <= 3
        and len(alias.split()) == len(words)
        and all(w.capital for w in parts)
        and parts[-1].key not in GENERIC_NOUNS
        and parts[-1].key not in _KNOWN
    )


def _has_name(said: list[Word], wanted: list[Word]) -> bool:
    """The surname is there, and no other first name stands right before it."""
    parts = [w for w in wanted if w.key not in TITLES]
    surname, first = parts[-1], parts[:-1]
    for i, word in enumerate(said):
        if not same_key(surname.key, word.key, name=True):
            continue
        before = said[i - 1] if i else None
        if before is None or not before.capital or before.key in TITLES:
            return True
        if any(same_key(f.key, before.key, name=True) for f in first):
            return True
    return False


def _has_quantity(said: Facts, wanted: Quantity) -> bool:
    for have in said.quantities:
        if have.vague != wanted.vague or not math.isclose(have.value, wanted.value, rel_tol=1e-9):
            continue
        if have.unit is None or wanted.unit is None or have.unit == wanted.unit:
            return True
    return wanted.year_like and any(d.year == wanted.value for d in said.dates)


def _same_date(wanted: Date, have: Date) -> bool:
    if wanted.decade is not None:
        return have.decade == wanted.decade or (have.year is not None and have.year // 10 * 10 == wanted.decade)
    return all(
        getattr(wanted, name) is None or getattr(wanted, name) == getattr(have, name)
        for name in ("day", "month", "year")
    )


def _changes_a_unit(said: Facts, aliases: list[Facts]) -> bool:
    """A number of the answer carries another unit than every alias that gives the number one."""
    units: dict[float, set[str]] = {}
    for alias in aliases:
        for q in alias.quantities:
            if q.unit:
                units.setdefault(q.value, set()).add(q.unit)
    return any(
        q.unit
        and q.value in units
        and q.unit not in units[q.value]
        and not any(p.value == q.value and p.unit in units[q.value] for p in said.quantities)
        for q in said.quantities
    )


def _options(alias: str) -> list[str]:
    """The alias, and each side of an "or" in it ("Minimalität oder Unzerlegbarkeit")."""
    sides = [side.strip() for side in _OR.split(alias)]
    return [alias, *sides] if len(sides) > 1 and all(sides) else [alias]


def _short_items(alias: str) -> bool:
    return all(len(item.split()) <= 3 for item in _LIST.split(alias) if item.strip())


def _yes_no(text: str) -> bool | None:
    first = text.strip().lower().rstrip(".!,")
    return True if first in ("ja", "yes") else False if first in ("nein", "no") else None


def _padded(text: str) -> str:
    words = re.findall(r"\w+", text.lower())
    return f" {' '.join(words)} "
