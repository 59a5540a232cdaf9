"""Product and review pages (being written)."""

from . import bp


@bp.route("/products")
def products():
    return "products"


@bp.route("/products/<sku>")
def product_page(sku):
    return sku


@bp.route("/reviews/<int:review_id>")
def review_page(review_id):
    return str(review_id)
