"""`flask products import|list` and the catalog's demo data."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from forum.catalog import services as catalog
from forum.catalog.demo import PRODUCTS, load_catalog
from forum.catalog.models import Product, Review
from forum.demo import DEMO_SEED, load_staff_and_members
from forum.extensions import db
from moderation.audit import verify_chain
from moderation.models import ModerationLog

GOOD_CSV = (
    "sku,name,description\n"
    'CAB-1,USB-C cable,"Braided, 2 m\nSecond line of the description"\n'
    'MON-27,27" monitor,  Keeps its spaces  \n'
)


def _products():
    db.session.expire_all()
    return {p.sku: p for p in db.session.scalars(select(Product))}


def test_import_creates_then_updates_by_sku(runner, tmp_path):
    path = tmp_path / "products.csv"
    path.write_text(GOOD_CSV, encoding="utf-8")
    result = runner.invoke(args=["products", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated, 0 unchanged" in result.output
    products = _products()
    assert products["CAB-1"].description == "Braided, 2 m\nSecond line of the description"
    assert (
        products["MON-27"].name == '27" monitor' and products["MON-27"].description == "  Keeps its spaces  "
    )

    path.write_text(
        "sku,name,description\nCAB-1,USB-C cable (2 m),Braided\nHDMI-2,HDMI cable,\n", encoding="utf-8"
    )
    result = runner.invoke(args=["products", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 created, 1 updated, 0 unchanged" in result.output
    products = _products()
    assert len(products) == 3 and products["CAB-1"].name == "USB-C cable (2 m)" and products["MON-27"].active


def test_import_accepts_crlf_bom_and_an_active_column(runner, tmp_path):
    path = tmp_path / "products.csv"
    path.write_bytes(
        "\ufeffsku,name,description,active\r\nA-1,Älpha,Désc,yes\r\nB-2,Beta,,no\r\n".encode("utf-8")
    )
    result = runner.invoke(args=["products", "import", str(path)])
    assert result.exit_code == 0, result.output
    products = _products()
    assert (products["A-1"].name, products["A-1"].active, products["B-2"].active) == ("Älpha", True, False)


def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_imported(runner, tmp_path):
    path = tmp_path / "products.csv"
    path.write_text(
        "sku,name,description\n"
        "OK-1,Fine,good\n"
        ",No sku,x\n"  # line 3
        "HAS SPACE,Name,x\n"  # line 4
        "OK-2,,x\n"  # line 5
        "OK-1,Duplicate,x\n"  # line 6
        "OK-3,Too,many,columns\n"  # line 7
        "OK-4\n"  # line 8
        "OK-5,Fine too,x\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["products", "import", str(path)])
    assert result.exit_code == 1
    output = result.output
    assert "Nothing was imported" in output
    for line in (
        "line 3: sku",
        "line 4: sku",
        "line 5: name",
        "line 6: sku OK-1 appears twice",
        "line 7: too many columns",
        "line 8: too few columns",
    ):
        assert line in output, (line, output)
    assert _products() == {}


def test_non_utf8_file_is_a_clear_error(runner, tmp_path):
    path = tmp_path / "products.csv"
    path.write_bytes("sku,name,description\nX-1,Caf\u00e9,x\n".encode("latin-1"))
    result = runner.invoke(args=["products", "import", str(path)])
    assert result.exit_code == 1
    assert (
        "not UTF-8" in result.output and "line 2" in result.output and "Nothing was imported" in result.output
    )
    assert _products() == {}


def test_missing_header_and_missing_file(runner, tmp_path):
    path = tmp_path / "products.csv"
    path.write_text("code,title\nX,Y\n", encoding="utf-8")
    result = runner.invoke(args=["products", "import", str(path)])
    assert result.exit_code == 1 and "sku,name,description" in result.output
    result = runner.invoke(args=["products", "import", str(tmp_path / "missing.csv")])
    assert result.exit_code != 0 and "does not exist" in result.output


def test_nul_in_csv_is_refused(runner, tmp_path):
    path = tmp_path / "products.csv"
    path.write_bytes(b"sku,name,description\nX-1,Nul\x00name,x\n")
    result = runner.invoke(args=["products", "import", str(path)])
    assert result.exit_code == 1 and "line 2" in result.output
    assert _products() == {}


def test_list_shows_published_counts_and_averages(runner, product, make_user, publish):
    publish(make_user(), product, 5)
    publish(make_user(), product, 2)
    catalog.submit_review(make_user(), product, 1, "Pending", "Not counted.")
    db.session.add(Product(sku="OLD-1", name="Old thing", description="", active=False))
    db.session.commit()
    result = runner.invoke(args=["products", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["SKU", "ACTIVE", "REVIEWS", "AVERAGE", "NAME"]
    row = next(line for line in lines if line.startswith(product.sku)).split()
    assert row[1:4] == ["yes", "2", "3.50"]
    old = next(line for line in lines if line.startswith("OLD-1")).split()
    assert old[1:4] == ["no", "0", "-"]


def test_list_when_empty(runner):
    result = runner.invoke(args=["products", "list"])
    assert result.exit_code == 0 and "No products yet" in result.output


def _load(app, loader):
    rng = random.Random(DEMO_SEED)
    with app.test_request_context("/"):
        lines = list(loader(rng))
        db.session.commit()
    return lines


def test_demo_catalog_has_every_state_and_loads_once(app):
    _load(app, load_staff_and_members)
    lines = _load(app, load_catalog)
    assert any(line.startswith("Products: 30 created") for line in lines)
    statuses = dict(db.session.execute(select(Review.status, func.count()).group_by(Review.status)).all())
    assert {"published", "pending", "rejected", "withdrawn", "superseded"} <= set(statuses)
    assert statuses["published"] > 100
    # A replacement waits while the review it replaces stays published.
    waiting = db.session.scalars(
        select(Review).where(Review.status == "pending", Review.replaces_id.is_not(None))
    ).all()
    assert waiting and all(db.session.get(Review, r.replaces_id).status == "published" for r in waiting)
    rejected = db.session.scalars(select(Review).where(Review.status == "rejected")).all()
    assert all(r.decision_reason for r in rejected)
    low = db.session.scalar(select(func.count()).where(Review.status == "published", Review.rating <= 2))
    assert low >= 20  # low ratings are published like any other
    assert len({r.body for r in db.session.scalars(select(Review))}) > 50
    assert len(PRODUCTS) == db.session.scalar(select(func.count()).select_from(Product))
    assert verify_chain().ok
    log_rows = db.session.scalar(select(func.count()).select_from(ModerationLog))

    again = _load(app, load_catalog)
    assert any("none added" in line for line in again)
    assert db.session.scalar(select(func.count()).select_from(ModerationLog)) == log_rows
    assert db.session.scalar(select(func.count()).select_from(Product)) == 30


def test_reimport_without_active_column_keeps_a_withdrawn_product_inactive(runner, tmp_path):
    path = tmp_path / "products.csv"
    path.write_text("sku,name,description,active\nA-1,Alpha,x,no\n", encoding="utf-8")
    assert runner.invoke(args=["products", "import", str(path)]).exit_code == 0
    path.write_text("sku,name,description\nA-1,Alpha 2,x\nB-1,Beta,y\n", encoding="utf-8")
    result = runner.invoke(args=["products", "import", str(path)])
    assert "1 created, 1 updated" in result.output
    products = _products()
    assert (products["A-1"].name, products["A-1"].active, products["B-1"].active) == ("Alpha 2", False, True)
    path.write_text("sku,name,description,active\nA-1,Alpha 2,x,maybe\n", encoding="utf-8")
    result = runner.invoke(args=["products", "import", str(path)])
    assert result.exit_code == 1 and "line 2: active must be yes or no" in result.output
