"""``portplan catalog`` and ``portplan show``: the bundled products, and one product in its
vendor document's own shape."""

from __future__ import annotations

import click

from portplan.cli._files import width, write_output
from portplan.cli._options import InputPath, common_options, format_option, output_option
from portplan.cli._plan import load_product_arg
from portplan.load.catalog import catalog_ids, load_catalog_product
from portplan.report.listing import catalog_listing
from portplan.report.show import show_tables, shown_tables_text

__all__ = ["catalog_cmd", "show_cmd"]


@click.command("catalog")
@format_option("table", "json")
@common_options
def catalog_cmd(fmt: str) -> None:
    """List the products bundled with portplan."""
    products = [load_catalog_product(pid) for pid in catalog_ids()]
    click.echo(catalog_listing(products, fmt, width=width()), nl=False)


@click.command("show")
@click.argument("product", type=InputPath(path_type=str))
@format_option("table", "md", "csv", "json")
@output_option()
@common_options
def show_cmd(product: str, fmt: str, output: str | None, overwrite: bool) -> None:
    """Render PRODUCT (a catalog id or a product file) in its vendor document's own shape.

    PRODUCT may be '-' to read a product file from standard input.
    """
    model, inputs = load_product_arg(product)
    heading = f"{model.document.title} ({model.id})"
    text = shown_tables_text(
        show_tables(model), fmt, heading=heading, notes=model.document.notes, width=width()
    )
    write_output(output, text.encode(), inputs, overwrite=overwrite)
