"""The function allowlist: ordinary scalar, aggregate and window functions over values.

Functions are matched by sqlglot expression class (``exp.Func.key``), so one entry covers every
dialect's spelling. Nothing that reads files or URLs, generates tables, or reveals engine or
session state is listed; anything not listed (including every function sqlglot does not know,
``exp.Anonymous``, unless its DuckDB name is in `ALLOWED_DUCKDB_NAMES`) is refused.
"""
from __future__ import annotations

from sqlglot import exp

from .model import shown

_CLASSES = """
and or xor case if coalesce nullif nvl2 greatest least equalnull decodecase exists columns collate
cast trycast try typeof

ascii bitlength bytelength chr concat concatws contains endswith startswith initcap left right
length lower upper levenshtein jarowinklersimilarity overlay pad repeat replace reverse space split
splitpart strposition stuff substring substringindex translate trim unicode format soundex
regexpcount regexpextract regexpextractall regexpfullmatch regexpilike regexplike regexpreplace
regexpsplit regexpsubstr regexpinstr md5 md5digest sha sha2 hex unhex lowerhex tobase64 frombase64
encode decode normalize tochar numbertostr stringtoarray

abs acos acosh asin asinh atan atan2 atanh cbrt ceil cos cosh cot degrees exp factorial floor ln
log pi pow radians round sign sin sinh sqrt tan tanh trunc isnan isinf rand safedivide widthbucket

currentdate currenttime currenttimestamp localtime localtimestamp date dateadd datediff datesub
datetrunc datetimetrunc timestamptrunc timetrunc datebin datefromparts day dayname dayofmonth
dayofweek dayofweekiso dayofyear extract hour minute second month monthname quarter week weekofyear
year yearofweek yearofweekiso lastday makeinterval strtodate strtotime timetostr timestrtotime
timestrtodate timestrtounix strtounix unixtotime unixtostr unixtotimestr timetounix timestamp
timestampadd timestampdiff timestampsub timeadd timesub timediff datetime datetimeadd datetimesub
datetimediff timestampfromparts timefromparts datetodatestr datestrtodate tsordstodate
tsordstotimestamp tsordsadd tsordsdiff tsordstotime tsordstodatestr tsordstodatetime ditodate
datetodi monthsbetween todays

avg count countif sum min max median mode quantile approxquantile approxdistinct anyvalue argmax
argmin arrayagg arrayconcatagg groupconcat stddev stddevpop stddevsamp variance variancepop corr
covarpop covarsamp first last kurtosis skewness percentilecont percentiledisc logicaland logicalor
booland boolor bitwiseandagg bitwiseoragg bitwisexoragg grouping

rownumber rank denserank percentrank cumedist ntile lag lead firstvalue lastvalue nthvalue

array arraycontains arraysize arrayslice arrayfilter transform arraysort arraydistinct arrayconcat
arrayappend arrayprepend arrayposition arrayintersect arraytostring arraysum arraymin arraymax
arrayreverse arrayany arrayall arrayfirst arraylast arrayoverlaps arraycompact arrayremove explode
unnest flatten struct structextract map varmap mapfromentries mapkeys mapsize mapcontainskey list
toarray generateseries

jsonextract jsonextractscalar parsejson jsonobject jsonarray jsonformat jsonkeys jsontype
jsonarrayagg jsonobjectagg jsonexists checkjson uuid
"""
ALLOWED_CLASSES: frozenset[str] = frozenset(_CLASSES.split())
"""Allowed ``exp.Func`` keys."""

ALLOWED_DUCKDB_NAMES: frozenset[str] = frozenset("""
date_part datepart now age printf hash strip_accents list_extract list_element list_reduce
list_aggregate octet_length strlen epoch_us epoch_ns regexp_split_to_array histogram to_json
bit_count suffix prefix nfc_normalize list_has_any list_has_all array_has_any array_has_all
""".split())
"""Allowed DuckDB functions that sqlglot parses as ``exp.Anonymous``, by lowercase name."""

def function_name(node: exp.Func) -> str:
    """The name to show for a function call (see `shown`)."""
    name = node.name if isinstance(node, (exp.Anonymous, exp.AnonymousAggFunc)) else node.sql_name()
    return shown(name.lower())


def is_allowed(node: exp.Func) -> bool:
    if isinstance(node, exp.Anonymous):
        return node.name.lower() in ALLOWED_DUCKDB_NAMES
    if isinstance(node, exp.AnonymousAggFunc):
        return False
    return node.key in ALLOWED_CLASSES
