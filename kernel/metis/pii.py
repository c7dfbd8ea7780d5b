"""PII tag suggestions for a dataset's columns, from their names and from their profiled values.

A suggestion is never applied by itself (see `model.py`): a user accepts it as a tag, and a
tag such as `PII.Email` is what masks the column in the Gateway.

Names are split into lower-case words (`firstName`, `FIRST_NAME`, `first-name` → first, name)
and matched against words and phrases per tag; qualifiers such as `count`, `verified` or a
leading `is`/`has` (`email_count`, `is_phone_verified`) and BOOLEAN columns are no PII. Values
are the profile's string min, max and top values: a column is tagged when more than half of
them match a pattern (email, phone, SSN, Luhn-valid card number, mod-97-valid IBAN, IP address).
"""
from __future__ import annotations

import ipaddress
import re

EMAIL, PHONE, NAME, BIRTH = "PII.Email", "PII.PhoneNumber", "PII.Name", "PII.DateOfBirth"
SSN, ADDRESS, IP, CARD, BANK = ("PII.SocialSecurityNumber", "PII.Address", "PII.IPAddress", "PII.CreditCardNumber",
                                "PII.BankAccount")
TAGS = (EMAIL, PHONE, NAME, BIRTH, SSN, ADDRESS, IP, CARD, BANK)

#: tag -> (single words, phrases of consecutive words)
NAMES: dict[str, tuple[frozenset[str], tuple[tuple[str, ...], ...]]] = {
    EMAIL: (frozenset({"email", "mail", "emailaddress", "mailaddress"}), ()),
    PHONE: (frozenset({"phone", "mobile", "tel", "telephone", "cellphone", "phonenumber", "mobilephone", "fax",
                       "msisdn"}), (("cell", "phone"), ("cell", "number"))),
    NAME: (frozenset({"firstname", "lastname", "fullname", "surname", "forename", "givenname", "familyname",
                      "middlename", "maidenname"}),
           (("first", "name"), ("last", "name"), ("full", "name"), ("given", "name"), ("family", "name"),
            ("middle", "name"), ("maiden", "name"), ("sur", "name"))),
    BIRTH: (frozenset({"dob", "birthdate", "birthday", "dateofbirth"}),
            (("birth", "date"), ("date", "of", "birth"), ("birth", "day"))),
    SSN: (frozenset({"ssn", "socialsecurity", "socialsecuritynumber"}), (("social", "security"),)),
    ADDRESS: (frozenset({"address", "addr", "street", "streetaddress", "zip", "zipcode", "postcode", "postalcode"}),
              (("postal", "code"), ("post", "code"))),
    IP: (frozenset({"ip", "ipv4", "ipv6", "ipaddress", "ipaddr"}), (("remote", "addr"),)),
    CARD: (frozenset({"creditcard", "cardnumber", "ccnumber"}),
           (("credit", "card"), ("card", "number"), ("card", "no"), ("card", "num"), ("cc", "number"),
            ("cc", "num"), ("cc", "no"))),
    BANK: (frozenset({"iban", "bankaccount"}), (("bank", "account"),)),
}
#: `<who>_name` is a person's name; any other `<thing>_name` (product, table, file…) is not
PERSONS = frozenset({"customer", "employee", "person", "contact", "patient", "client", "member", "student", "guest",
                     "passenger", "holder", "cardholder", "recipient", "sender", "applicant", "candidate"})
#: words that make a column about PII rather than PII itself
QUALIFIERS = frozenset({"count", "cnt", "verified", "confirmed", "flag", "enabled", "opt", "optin", "optout", "sent",
                        "opened", "bounced", "template", "type", "status", "format", "length", "len", "valid",
                        "domain", "provider"})
#: an address of a machine or a mailbox is not a postal address
NOT_POSTAL = frozenset({"ip", "ipv4", "ipv6", "email", "mail", "mac", "web", "url", "wallet", "server", "host",
                        "remote"})

WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
EMAIL_VALUE = re.compile(r"[A-Za-z0-9._%+'\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
PHONE_VALUE = re.compile(r"(\+|\(\+?)?\d[\d\s().\-]{5,22}\d")
DATE_VALUE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}.*|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")
SSN_SHAPE = re.compile(r"\d{3}-\d{2}-\d{4}")
SSN_VALUE = re.compile(r"(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}")
CARD_VALUE = re.compile(r"\d(?:[ \-]?\d){12,18}")
IBAN_VALUE = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")


def suggest(columns: list[dict], profile: dict | None) -> dict[str, list[str]]:
    """Column name -> the PII tags suggested for it (only columns with at least one)."""
    stats = (profile or {}).get("columns") or {}
    out = {}
    for column in columns:
        if column.get("type", "").upper() == "BOOLEAN":
            continue
        found = by_name(column["name"]) | by_values(stats.get(column["name"]))
        if found:
            out[column["name"]] = [tag for tag in TAGS if tag in found]
    return out


def words(name: str) -> list[str]:
    return [w.lower() for w in WORDS.findall(name)]


def by_name(name: str) -> set[str]:
    """The tags a column's name alone suggests."""
    tokens = words(name)
    present = set(tokens)
    if not tokens or present & QUALIFIERS or tokens[0] in ("is", "has"):
        return set()
    found = {tag for tag, (single, phrases) in NAMES.items()
             if present & single or any(_phrase(tokens, p) for p in phrases)}
    if tokens == ["name"] or (tokens[-1] == "name" and len(tokens) > 1 and tokens[-2] in PERSONS):
        found.add(NAME)
    if present & NOT_POSTAL:
        found.discard(ADDRESS)
    return found


def _phrase(tokens: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(tokens[i:i + n]) == phrase for i in range(len(tokens) - n + 1))


def by_values(stats: dict | None) -> set[str]:
    """The tags a column's profiled values suggest (most of its string min, max and top values match)."""
    if not stats:
        return set()
    values = [stats.get("min"), stats.get("max"), *(pair[0] for pair in stats.get("top") or ())]
    values = [v.strip() for v in values if isinstance(v, str) and v.strip()]
    if not values:
        return set()
    return {tag for tag, test in VALUE_TESTS.items() if sum(map(test, values)) * 2 > len(values)}


def is_email(value: str) -> bool:
    return EMAIL_VALUE.fullmatch(value) is not None


def is_ssn(value: str) -> bool:
    return SSN_VALUE.fullmatch(value) is not None


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def is_phone(value: str) -> bool:
    """7 to 15 digits written like a phone number (a leading `+` or `(`, or groups split by spaces or
    dashes), and not like a date, an IP address or an SSN."""
    if not PHONE_VALUE.fullmatch(value) or DATE_VALUE.fullmatch(value) or SSN_SHAPE.fullmatch(value) or is_ip(value):
        return False
    digits = sum(c.isdigit() for c in value)
    return 7 <= digits <= 15 and (value[0] in "+(" or re.search(r"\d[\s\-]+\(?\d", value) is not None)


def is_card(value: str) -> bool:
    if not CARD_VALUE.fullmatch(value):
        return False
    digits = [int(c) for c in value if c.isdigit()]
    return len(set(digits)) > 1 and luhn(digits)


def luhn(digits: list[int]) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def is_iban(value: str) -> bool:
    text = value.replace(" ", "").upper()
    if not IBAN_VALUE.fullmatch(text):
        return False
    return int("".join(str(int(c, 36)) for c in text[4:] + text[:4])) % 97 == 1


VALUE_TESTS = {EMAIL: is_email, PHONE: is_phone, SSN: is_ssn, CARD: is_card, BANK: is_iban, IP: is_ip}
