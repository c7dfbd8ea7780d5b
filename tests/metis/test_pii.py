"""PII tag suggestions from column names and from profiled values."""
from __future__ import annotations

import pytest

from kernel.metis.pii import by_name, by_values, is_card, is_iban, is_phone, suggest


@pytest.mark.parametrize("name, tag", [
    ("email", "PII.Email"), ("e_mail", "PII.Email"), ("eMail", "PII.Email"), ("contact_email", "PII.Email"),
    ("EMAIL_ADDRESS", "PII.Email"), ("mail", "PII.Email"),
    ("phone", "PII.PhoneNumber"), ("phoneNumber", "PII.PhoneNumber"), ("mobile", "PII.PhoneNumber"),
    ("tel", "PII.PhoneNumber"),
    ("first_name", "PII.Name"), ("lastName", "PII.Name"), ("FULL_NAME", "PII.Name"), ("name", "PII.Name"),
    ("surname", "PII.Name"), ("customer_name", "PII.Name"),
    ("birth_date", "PII.DateOfBirth"), ("dob", "PII.DateOfBirth"), ("date_of_birth", "PII.DateOfBirth"),
    ("birthdate", "PII.DateOfBirth"),
    ("ssn", "PII.SocialSecurityNumber"), ("social_security_number", "PII.SocialSecurityNumber"),
    ("address", "PII.Address"), ("billing_address", "PII.Address"), ("street", "PII.Address"),
    ("zip", "PII.Address"), ("ZIPCode", "PII.Address"), ("postcode", "PII.Address"), ("postal_code", "PII.Address"),
    ("ip_address", "PII.IPAddress"), ("ipAddress", "PII.IPAddress"), ("client_ip", "PII.IPAddress"),
    ("credit_card", "PII.CreditCardNumber"), ("card_number", "PII.CreditCardNumber"),
    ("iban", "PII.BankAccount"), ("bank_account", "PII.BankAccount"),
])
def test_names_that_are_pii(name, tag):
    assert by_name(name) == {tag}


@pytest.mark.parametrize("name", [
    "product_name", "table_name", "file_name", "company_name", "hotel_name", "id", "description", "zipper_color",
    "email_count", "is_email_verified", "has_phone", "email_domain", "address_type", "telemetry", "shipping",
    "birthplace",
])
def test_names_that_are_not_pii(name):
    assert by_name(name) == set()


def test_a_postal_address_is_not_an_ip_or_mailbox_address():
    assert by_name("email_address") == {"PII.Email"} and by_name("ip_address") == {"PII.IPAddress"}


def stats(*values, top=()):
    low, high = (min(values), max(values)) if values else (None, None)
    return {"min": low, "max": high, "null_pct": 0.0, "distinct": len(values), "top": [[v, 1] for v in top]}


@pytest.mark.parametrize("values, tag", [
    (("ana@example.com", "zoe@example.org"), "PII.Email"),
    (("+49 30 1234567", "+1 (555) 123-4567"), "PII.PhoneNumber"),
    (("(030) 123-4567", "030 1234 567"), "PII.PhoneNumber"),
    (("123-45-6789", "234-56-7890"), "PII.SocialSecurityNumber"),
    (("4111 1111 1111 1111", "5500-0000-0000-0004"), "PII.CreditCardNumber"),
    (("DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432"), "PII.BankAccount"),
    (("10.0.0.1", "192.168.1.20"), "PII.IPAddress"),
])
def test_values_that_are_pii(values, tag):
    assert by_values(stats(*values)) == {tag}


@pytest.mark.parametrize("values", [
    ("2024-01-15", "2024-12-31"), ("12345678", "99999999"), ("1234567.89", "2.5"), ("EU", "US"),
    ("1234567890123456", "1234567890123457"),  # 16 digits, not Luhn-valid
    ("DE00 3704 0044 0532 0130 00", "GB00WEST12345698765432"),  # IBAN shape, bad check digits
    ("000-12-3456", "666-12-3456"),  # never issued SSN areas
    ("not an email@", "a@b"),
])
def test_values_that_are_not_pii(values):
    assert by_values(stats(*values)) == set()


def test_most_values_must_match():
    assert by_values(stats("a@example.com", "n/a", top=["b@example.com", "c@example.com"])) == {"PII.Email"}
    assert by_values(stats("a@example.com", "n/a", top=["x", "y"])) == set()
    assert by_values(stats(1, 2)) == set() and by_values(None) == set() and by_values(stats()) == set()


def test_suggest_combines_names_and_values():
    columns = [{"name": "contact", "type": "VARCHAR", "nullable": True},
               {"name": "product_name", "type": "VARCHAR", "nullable": True},
               {"name": "email", "type": "VARCHAR", "nullable": True},
               {"name": "email_opt_in", "type": "BOOLEAN", "nullable": True},
               {"name": "mobile", "type": "BOOLEAN", "nullable": True},
               {"name": "ip", "type": "VARCHAR", "nullable": True}]
    profile = {"sampled": False, "sample_rows": 2, "columns": {
        "contact": stats("ana@example.com", "bo@example.com"), "product_name": stats("Widget", "Gadget"),
        "email": stats("ana@example.com", "bo@example.com"), "ip": stats("10.0.0.1", "10.0.0.2")}}
    assert suggest(columns, profile) == {"contact": ["PII.Email"], "email": ["PII.Email"], "ip": ["PII.IPAddress"]}
    assert suggest(columns, None) == {"email": ["PII.Email"], "ip": ["PII.IPAddress"]}


def test_value_checks():
    assert is_card("4111111111111111") and not is_card("4111111111111112") and not is_card("0000000000000000")
    assert is_iban("de89370400440532013000") and not is_iban("DE8937040044053201300X")
    assert not is_phone("192.168.100.100") and not is_phone("2024-01-15 10:00") and is_phone("+4915112345678")
