"""Column-level lineage of sql-stack jobs, and the datasets a query reads."""
from __future__ import annotations


import pytest

from kernel.metis.lineage import datasets_read, sql_stack_lineage

ORDERS = "dataos://lakehouse:retail/orders"
CUSTOMERS = "dataos://lakehouse:retail/customers"
PRODUCTS = "dataos://lakehouse:retail/products"
VIA = "resource://public/workflow/daily-revenue"
CATALOG = {
    ORDERS: ["order_id", "customer_id", "product_id", "quantity", "amount", "ordered_at", "region"],
    CUSTOMERS: ["customer_id", "name", "email", "phone", "birth_date", "city", "country", "region"],
    PRODUCTS: ["product_id", "name", "category", "price"],
}
DAILY_REVENUE = {  # the demo's workflow (dataos_shell/demo/manifests.yaml)
    "inputs": [{"name": "orders", "dataset": ORDERS}],
    "steps": [{"name": "revenue", "sql": "SELECT CAST(ordered_at AS DATE) AS day, region, count(*) AS orders, "
                                         "sum(amount) AS revenue FROM orders GROUP BY ALL ORDER BY day, region"}],
    "outputs": [{"name": "revenue", "dataset": "dataos://lakehouse:retail/daily_revenue", "format": "parquet",
                 "options": {"saveMode": "overwrite"}}],
}


def job(steps: list[tuple[str, str]], output: str, inputs: list[dict] | None = None) -> dict:
    return {"inputs": inputs or [{"name": "orders", "dataset": ORDERS}],
            "steps": [{"name": name, "sql": sql} for name, sql in steps],
            "outputs": [{"name": output, "dataset": "dataos://lakehouse:reports/out"}]}


def upstream(spec: dict, columns_of=CATALOG.get) -> dict[str, dict]:
    """{input urn: columns} of the job's one output dataset."""
    (found,) = sql_stack_lineage(spec, columns_of, VIA).values()
    assert all(entry["via"] == VIA for entry in found["upstream"])
    return {entry["urn"]: entry["columns"] for entry in found["upstream"]}


def test_the_demo_job_traces_each_column_and_leaves_count_star_to_the_dataset():
    assert sql_stack_lineage(DAILY_REVENUE, CATALOG.get, VIA) == {
        "dataos://lakehouse:retail/daily_revenue": {"upstream": [{"urn": ORDERS, "via": VIA, "columns": {
            "day": [[ORDERS, "ordered_at"]],
            "region": [[ORDERS, "region"]],
            "revenue": [[ORDERS, "amount"]],
        }}]}}  # `orders` is count(*): from no column, so under no upstream's columns


def test_a_join_across_a_dataset_and_a_query_input_traces_each_column_to_its_input():
    spec = job(inputs=[{"name": "orders", "dataset": ORDERS},
                       {"name": "c", "query": "SELECT customer_id, upper(name) AS customer, country AS nation, region "
                                              "FROM lakehouse.retail.customers WHERE region = 'EU'"}],
               steps=[("eu", "SELECT o.order_id, o.amount, c.customer, "
                             "CASE WHEN c.nation = 'DE' THEN o.amount * 1.19 ELSE o.amount END AS gross, "
                             "row_number() OVER (PARTITION BY c.region ORDER BY o.ordered_at) AS n "
                             "FROM orders AS o JOIN c ON o.customer_id = c.customer_id"),
                      ("revenue", "SELECT customer, sum(gross) AS gross, max(n) AS orders FROM eu GROUP BY ALL")],
               output="revenue")
    assert upstream(spec) == {
        CUSTOMERS: {"customer": [[CUSTOMERS, "name"]], "gross": [[CUSTOMERS, "country"]],
                    "orders": [[CUSTOMERS, "region"]]},
        ORDERS: {"gross": [[ORDERS, "amount"]], "orders": [[ORDERS, "ordered_at"]]},
    }


def test_select_star_is_expanded_with_the_catalog_columns():
    spec = job([("recent", "SELECT * EXCLUDE (customer_id) FROM orders WHERE ordered_at > DATE '2024-01-01'")],
               "recent")
    columns = [c for c in CATALOG[ORDERS] if c != "customer_id"]
    assert upstream(spec) == {ORDERS: {c: [[ORDERS, c]] for c in columns}}


def test_unknown_columns_fall_back_to_dataset_level():
    spec = job([("recent", "SELECT * FROM orders")], "recent")
    assert upstream(spec, lambda urn: None) == {ORDERS: {}}
    joined = job([("j", "SELECT o.amount, c.name FROM orders o JOIN customers c USING (customer_id)")], "j",
                 inputs=[{"name": "orders", "dataset": ORDERS}, {"name": "customers", "dataset": CUSTOMERS}])
    assert upstream(joined, {ORDERS: CATALOG[ORDERS]}.get) == {ORDERS: {}, CUSTOMERS: {}}


@pytest.mark.parametrize("source, expected", [
    ({"name": "orders", "dataset": ORDERS}, {ORDERS: {c: [[ORDERS, c]] for c in CATALOG[ORDERS]}}),
    ({"name": "orders", "query": "SELECT o.order_id, p.price * o.quantity AS total FROM lakehouse.retail.orders o "
                                 "JOIN lakehouse.retail.products p USING (product_id)"},
     {ORDERS: {"order_id": [[ORDERS, "order_id"]], "total": [[ORDERS, "quantity"]]},
      PRODUCTS: {"total": [[PRODUCTS, "price"]]}}),
])
def test_an_output_can_be_an_input_itself(source, expected):
    assert upstream(job([], "orders", inputs=[source])) == expected


def test_unparsable_step_sql_falls_back_to_the_inputs_it_names():
    spec = job(inputs=[{"name": "orders", "dataset": ORDERS}, {"name": "products", "dataset": PRODUCTS},
                       {"name": "customers", "dataset": CUSTOMERS}],
               steps=[("broken", "SELEC region, FROM orders JOIN products ON ((("),
                      ("fine", "SELECT region, count(*) AS n FROM broken GROUP BY region")],
               output="fine")
    assert upstream(spec) == {ORDERS: {}, PRODUCTS: {}}


@pytest.mark.parametrize("sql", [
    "SELECT * FROM nowhere",                              # no such input or step
    "SELECT amount FROM orders; SELECT 1",                # not one query
    "SELECT nosuch FROM orders",                          # a column the input does not have
    "SELECT x.* FROM orders",                             # sqlglot raises
])
def test_sql_that_cannot_be_traced_degrades_without_raising(sql):
    assert upstream(job([("s", sql)], "s")) in ({ORDERS: {}}, {})


def test_unions_scalar_subqueries_and_qualify_are_traced():
    spec = job([("s", "SELECT region AS label, (SELECT max(amount) FROM orders) AS top FROM orders "
                      "UNION ALL SELECT CAST(order_id AS TEXT), quantity FROM orders "
                      "QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY amount) = 1")], "s")
    assert upstream(spec) == {ORDERS: {"label": [[ORDERS, "order_id"], [ORDERS, "region"]],
                                       "top": [[ORDERS, "amount"], [ORDERS, "quantity"]]}}


def test_only_the_datasets_an_output_reaches_are_upstream_and_outputs_to_one_dataset_merge():
    spec = job(inputs=[{"name": "orders", "dataset": ORDERS}, {"name": "products", "dataset": PRODUCTS}],
               steps=[("a", "SELECT region AS label FROM orders"), ("b", "SELECT category AS label FROM products")],
               output="a")
    assert upstream(spec) == {ORDERS: {"label": [[ORDERS, "region"]]}}
    spec["outputs"].append({"name": "b", "dataset": spec["outputs"][0]["dataset"], "options": {"saveMode": "append"}})
    assert upstream(spec) == {ORDERS: {"label": [[ORDERS, "region"]]}, PRODUCTS: {"label": [[PRODUCTS, "category"]]}}


def test_names_keep_the_catalog_spelling_and_the_sql_spelling_of_aliases():
    catalog = {ORDERS: ["OrderID", "Amount"]}
    spec = job([("s", "SELECT orderid, amount * 2 AS DoubleAmount, max(amount) FROM Orders GROUP BY ALL"),
                ("t", "SELECT * FROM s")], "t")  # DuckDB names `max(amount)` itself: left out
    assert upstream(spec, catalog.get) == {ORDERS: {"orderid": [[ORDERS, "OrderID"]],
                                                    "DoubleAmount": [[ORDERS, "Amount"]]}}
    assert upstream(job([], "orders"), catalog.get) == {ORDERS: {"OrderID": [[ORDERS, "OrderID"]],
                                                                 "Amount": [[ORDERS, "Amount"]]}}


@pytest.mark.parametrize("sql, read", [
    ("SELECT * FROM lake.shop.orders o JOIN lake.crm.people p ON p.id = o.person_id",
     ["dataos://lake:shop/orders", "dataos://lake:crm/people"]),
    ("SELECT * FROM (SELECT id FROM lake.shop.orders) t WHERE id IN (SELECT id FROM lake.shop.returns)",
     ["dataos://lake:shop/orders", "dataos://lake:shop/returns"]),
    ("WITH recent AS (SELECT * FROM lake.shop.orders) SELECT * FROM recent", ["dataos://lake:shop/orders"]),
    ("SELECT * FROM orders", []),  # a CTE or step name is not a dataset
    ("SELEKT nonsense", []),
])
def test_datasets_read(sql, read):
    assert datasets_read(sql) == read
