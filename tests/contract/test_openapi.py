"""The REST contract: the OpenAPI 3.1 document the kernel serves, generated from the syscall table,
what every other path answers, and schemathesis against a running REST server."""
from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import httpx
import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syscalls import SyscallError, __version__
from syscalls.errors import ERRNO
from syscalls.openapi import document
from syscalls.spec import MAX_TEXT, Syscall
from syscalls.table import TABLE

DOC = document(TABLE)


def operation(name: str) -> dict[str, Any]:
    return DOC["paths"][f"/api/v1/syscalls/{name}"]["post"]


def request_schema(name: str) -> dict[str, Any]:
    return operation(name)["requestBody"]["content"]["application/json"]["schema"]


def validator(schema: dict[str, Any]) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for({**schema, "components": DOC["components"]})  # its refs resolved


def resolve(ref: dict[str, Any]) -> dict[str, Any]:
    *_, kind, name = ref["$ref"].split("/")
    return DOC["components"][kind][name]


# --- the document --------------------------------------------------------------------------------

def test_document_is_valid_openapi_3_1() -> None:
    from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR
    assert DOC["openapi"].startswith("3.1") and DOC["info"]["version"] == __version__
    assert [e.message for e in OPENAPI_31_VALIDATOR.iter_errors(DOC)] == []
    schemas = [*DOC["components"]["schemas"].values(), *(request_schema(n) for n in TABLE)]
    for schema in schemas:  # every schema is itself a valid JSON Schema (2020-12, OpenAPI 3.1's dialect)
        jsonschema_rs.meta.validate(schema)
    json.dumps(DOC, allow_nan=False)  # plain JSON: what a client parses


def test_every_syscall_is_an_operation_with_its_fields_errnos_and_auth() -> None:
    prefix = "/api/v1/syscalls/"
    assert {p.removeprefix(prefix) for p in DOC["paths"] if p.startswith(prefix)} == set(TABLE)
    bearer = DOC["components"]["securitySchemes"]["bearer"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    assert DOC["security"] == [{"bearer": []}]
    for name, spec in TABLE.items():
        op, schema = operation(name), request_schema(name)
        assert op["operationId"] == name and op["summary"] == spec.summary
        assert schema["additionalProperties"] is False
        assert list(schema["properties"]) == [f.name for f in spec.fields]
        assert schema.get("required", []) == [f.name for f in spec.fields if f.required]
        assert {f.name: f.default for f in spec.fields if not f.required} == {
            k: v["default"] for k, v in schema["properties"].items() if "default" in v}
        for code in spec.errors:  # each errno's HTTP status answers the envelope with that code
            failure = resolve(op["responses"][str(ERRNO[code][2])])["content"]["application/json"]["schema"]
            assert failure["properties"]["ok"] == {"const": False}
            assert code in failure["properties"]["error"]["allOf"][1]["properties"]["code"]["enum"]
        assert set(op["responses"]) == {"200", *(str(ERRNO[c][2]) for c in spec.errors)}
        media = "application/x-dataos-frames" if spec.binary else "application/x-ndjson" if spec.stream \
            else "application/json"
        assert list(op["responses"]["200"]["content"]) == [media]
    for public in ("/healthz", "/readyz", "/metrics", "/api/v1/syscalls", "/api/v1/openapi.json"):
        assert DOC["paths"][public]["get"]["security"] == []


def test_response_schemas_describe_the_typed_results() -> None:
    result = operation("user.get")["responses"]["200"]["content"]["application/json"]["schema"]
    assert result["properties"]["ok"] == {"const": True}
    user = resolve(result["properties"]["result"])
    assert set(user["required"]) == {"id", "type", "tags", "description", "created", "apikeys"}
    assert user["properties"]["type"] == {"enum": ["person", "application"]}
    assert user["properties"]["apikeys"]["items"] == {"$ref": "#/components/schemas/ApiKey"}
    assert resolve(user["properties"]["apikeys"]["items"])["properties"]["expires"] == {"type": ["string", "null"]}
    watch = operation("pod.watch")["responses"]["200"]["content"]["application/x-ndjson"]["schema"]
    assert watch["properties"]["item"] == {"$ref": "#/components/schemas/Pod"}


JSON_LEAF = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-2**64, max_value=2**64),
    # JSON Schema counts 2.0 as an integer, Python (and the decoder) does not: only fractions here
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer()),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"), max_size=8),
    st.sampled_from(["pause", "both", "overwrite", "person"]))
NUMBERS = [-2**63 - 1, -2**63, -2, -1, 0, 1, 604800, 604801, 2**63 - 1, 2**63, 2**64, -0.5, 0.5, 604800.5]
LONG = "x" * (MAX_TEXT + 1)
EDGES = [*NUMBERS, "", "x" * MAX_TEXT, LONG, None, True, [], {}, [2**63], {"k": 2**63}, {LONG: 1},
         [{"k": [LONG]}], [{"k": {LONG: 1}}], [{"k": [-2**63 - 1]}]]  # around every bound: tried in every field
JSON = st.recursive(st.sampled_from(NUMBERS) | JSON_LEAF, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6)
AGREE = settings(max_examples=100, deadline=None, database=None, derandomize=True,
                 suppress_health_check=list(HealthCheck))


def decodes(spec: Syscall, request: Any) -> bool:
    """Whether the decoder takes `request`; a refusal is EINVAL naming the field."""
    try:
        spec.decode(request)
        return True
    except SyscallError as e:
        assert e.code == "EINVAL" and ("field" in e.details or not isinstance(request, dict)), e
        return False


@pytest.mark.parametrize("name", sorted(TABLE))
def test_request_schema_accepts_exactly_what_the_decoder_accepts(name: str) -> None:
    spec, schema = TABLE[name], request_schema(name)
    whole = validator(schema)
    each = {f.name: (replace(spec, fields=(f,)), validator(schema["properties"][f.name]))
            for f in spec.fields}

    def field_agrees(field: str, value: Any) -> None:  # a field's value alone, judged by the real decoder
        alone, valid = each[field]
        assert valid.is_valid(value) == decodes(alone, {field: value}), (field, value)

    for field in each:
        for value in EDGES:
            field_agrees(field, value)
    if each:
        AGREE(given(st.sampled_from(sorted(each)), JSON)(field_agrees))()

    @AGREE
    @given(st.dictionaries(st.sampled_from([*each, "extra"]), JSON, max_size=len(each) + 1) | JSON)
    def request_agrees(request: Any) -> None:  # which fields, and what a request may be at all
        assert whole.is_valid(request) == decodes(spec, request), (request, list(whole.iter_errors(request))[:1])

    request_agrees()


# --- the document served, and every other path ------------------------------------------------------

def test_the_kernel_serves_its_document_without_credentials(http) -> None:
    r = httpx.get(http.url + "/api/v1/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.headers["x-dataos-version"] == __version__
    assert r.json() == json.loads(json.dumps(DOC))  # the kernel serves every syscall in the table


@pytest.mark.parametrize("method, path, status, code", [
    ("GET", "/", 404, "ENOENT"),
    ("GET", "/index.html", 404, "ENOENT"),
    ("GET", "/api/v2/syscalls", 404, "ENOENT"),
    ("POST", "/api/v1/syscalls/", 404, "ENOENT"),
    ("GET", "/healthz/", 404, "ENOENT"),  # no redirect to a page: an answer
    ("GET", "/%ff%fe/%00", 404, "ENOENT"),
    ("GET", "/api/v1/syscalls/user.get", 405, "ENOSYS"),
    ("PUT", "/api/v1/syscalls/user.get", 405, "ENOSYS"),
    ("POST", "/healthz", 405, "ENOSYS"),
    ("DELETE", "/api/v1/openapi.json", 405, "ENOSYS"),
    ("PATCH", "/api/v1/syscalls", 405, "ENOSYS"),
])
def test_every_other_path_answers_the_error_envelope(http, method: str, path: str, status: int, code: str) -> None:
    r = httpx.request(method, http.url + path, content=b"{}")
    assert r.status_code == status and r.headers["content-type"] == "application/json", r.text
    body = r.json()
    assert body["ok"] is False and body["error"]["code"] == code, body
    assert body["error"]["message"] and "\n" not in body["error"]["message"]
    if status == 405:
        assert r.headers["allow"]


def test_a_bug_outside_the_kernel_answers_eio_in_the_envelope() -> None:
    from kernel.api import create_app

    class Buggy:  # answers what JSON cannot carry: the REST layer fails after the kernel answered
        handlers, started = {"auth.whoami": None}, "2026-01-01T00:00:00Z"

        def call(self, token, name, request):
            return {"id": object()}

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(Buggy()), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://kernel") as client:
            return await client.post("/api/v1/syscalls/auth.whoami")

    r = asyncio.run(post())
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert r.json()["error"]["code"] == "EIO" and "TypeError" in r.json()["error"]["message"]


# --- schemathesis against the running REST server -----------------------------------------------------

SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
NASTY = st.one_of(  # what the generated requests also carry, anywhere in the body
    st.sampled_from([2**63, -2**63 - 1, 2**64, 10**30]),
    st.builds(lambda a, bad, b: a + bad + b, st.text(max_size=3), st.sampled_from([*SURROGATES, "\0"]),
              st.text(max_size=3)))
OPERATIONS = [(path, method.upper()) for path, item in sorted(DOC["paths"].items()) for method in item]


@pytest.fixture(scope="module")
def api(http):
    """The document the server serves, loaded by schemathesis, and the operator's credentials."""
    import schemathesis
    schema = schemathesis.openapi.from_url(http.url + "/api/v1/openapi.json")
    schema.config.update(base_url=http.url)
    schema.config.generation.update(with_security_parameters=False, allow_x00=False)  # NUL: from NASTY
    return schema, {"Authorization": f"Bearer {http.op.token}"}


def nasty_cases(operation, mode):
    """schemathesis' cases for `mode`, a third with a NASTY value put in a field (or a new key); a
    watch (pod.watch, resource.watch) is bounded in time (0.05 s) unless its timeout must be refused anyway."""
    fields = operation.body[0].definition["schema"].get("properties", {}) if operation.body else {}
    nested = NASTY | st.lists(NASTY, min_size=1, max_size=2) | st.dictionaries(NASTY.filter(
        lambda v: isinstance(v, str)), NASTY, min_size=1, max_size=1)

    @st.composite
    def cases(draw):
        case = draw(operation.as_strategy(generation_mode=mode))
        if isinstance(case.body, dict) and draw(st.integers(0, 2)) == 0:
            case.body[draw(st.sampled_from([*fields, "x"]))] = draw(nested)
        if operation.path.endswith(("/pod.watch", "/resource.watch")):
            body = case.body if isinstance(case.body, dict) else {}
            timeout, bounds = body.get("timeout"), fields["timeout"]
            if not (type(timeout) in (int, float) and not bounds["minimum"] <= timeout <= bounds["maximum"]):
                case.body = {**body, "timeout": 0.05}
        return case
    return cases()


@pytest.mark.slow
@pytest.mark.parametrize("path, method", OPERATIONS, ids=[p.rpartition("/")[2] for p, _ in OPERATIONS])
def test_schemathesis_finds_no_server_error_and_no_answer_off_the_contract(api, path: str, method: str) -> None:
    """Generated requests (valid, invalid, and with lone surrogates, NULs and integers past 2^63) get
    no 5xx; every answer is one the document lists, in its schema; without the token, EAUTH."""
    import requests
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi import checks
    schema, auth = api
    operation = schema[path][method]
    session = requests.Session()
    verify = [not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
              checks.response_schema_conformance, checks.response_headers_conformance,
              checks.negative_data_rejection, checks.ignored_auth]
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if operation.body else [GenerationMode.POSITIVE]
    for mode in modes:
        @settings(max_examples=12, deadline=None, database=None, derandomize=True, print_blob=False,
                  suppress_health_check=list(HealthCheck))
        @given(nasty_cases(operation, mode))
        def answers_by_the_contract(case) -> None:
            response = case.call(session=session, headers=auth, timeout=30)
            case.validate_response(response, checks=verify, headers=auth)

        answers_by_the_contract()

