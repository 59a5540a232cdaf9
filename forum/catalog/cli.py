from flask.cli import AppGroup

products_cli = AppGroup("products", help="Import and list products.")
