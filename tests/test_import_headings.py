"""What the draft makes of the document's headings: the product's name, and so the component
that listens on the ports of rows that name no listener, is a heading only when every table
stands under it; a Markdown document's front matter is no text of it, its title is the
document's heading."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from portplan.cli import cli
from portplan.importer import Format, read_source

_TABLE = "| Port | Protocol | Purpose |\n|---|---|---|\n| {port} | TCP | {purpose} |\n"


def _draft(tmp_path: Path, text: str) -> dict:
    doc = tmp_path / "vendor-ports.md"
    doc.write_text(text)
    out = tmp_path / "product.yaml"
    result = CliRunner().invoke(cli, ["import", str(doc), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    return yaml.safe_load(out.read_text())


def test_a_section_heading_is_not_the_listener_of_the_sections_after_it(tmp_path: Path) -> None:
    draft = _draft(
        tmp_path,
        "## Control plane\n\n"
        + _TABLE.format(port=6443, purpose="API server")
        + "\n## Worker nodes\n\n"
        + _TABLE.format(port=10250, purpose="Kubelet API"),
    )
    names = {ident: c["name"] for ident, c in draft["components"].items()}
    by_port = {flow["ports"][0]: flow for flow in draft["flows"]}
    # the worker nodes' port is not drafted open on the control plane
    assert names[by_port[10250]["to"]] != "Control plane"
    assert names[by_port[6443]["to"]] == names[by_port[10250]["to"]] == "vendor-ports"
    assert draft["name"] == "vendor-ports"
    assert draft["document"]["title"] == "vendor-ports"


def test_the_heading_every_table_stands_under_names_the_product(tmp_path: Path) -> None:
    draft = _draft(
        tmp_path,
        "# Acme Server ports\n\n## Control plane\n\n"
        + _TABLE.format(port=6443, purpose="API server")
        + "\n## Worker nodes\n\n"
        + _TABLE.format(port=10250, purpose="Kubelet API"),
    )
    assert draft["name"] == draft["document"]["title"] == "Acme Server ports"
    assert {flow["to"] for flow in draft["flows"]} == {"acme_server_ports"}


def test_front_matter_is_no_prose_and_its_title_heads_the_document() -> None:
    """Documentation sites keep a page's title in front matter (Kubernetes: ``title: Ports and
    Protocols``): its keys were read as a paragraph, a note of the first table, and one key
    alone, over the closing ``---``, as a setext heading ``title: ...``."""
    table = "| Port | Protocol |\n|---|---|\n| 6443 | TCP |\n"
    (first,) = read_source(
        (
            "---\ntitle: Ports and Protocols\ncontent_type: reference\nweight: 40\n---\n\n"
            "Intro.\n\n## Control plane\n\n" + table
        ).encode(),
        file="doc.md",
        format=Format.MARKDOWN,
    ).tables
    assert first.section == ("Ports and Protocols", "Control plane")
    assert first.notes == ("Intro.",)
    assert str(first.rows[0].cells[0].where) == "doc.md:13:3"
    (alone,) = read_source(
        ("---\ntitle: 'Agent ports'\n---\n" + table).encode(),
        file="doc.md",
        format=Format.MARKDOWN,
    ).tables
    assert alone.section == ("Agent ports",)
    assert alone.notes == ()
    for unclosed in ("---\ntitle: x\n\n", "Intro.\n\n---\ntitle: x\n---\n"):
        # only a closed block at the very start is front matter
        (later,) = read_source(
            (unclosed + table).encode(), file="d.md", format=Format.MARKDOWN
        ).tables
        assert later.section == ()


def test_a_heading_s_attributes_are_not_its_title() -> None:
    """Hugo, Pandoc and kramdown give a heading its anchor after it (``## Node(s) {#node}``):
    the section was titled with the braces, and so the product's sections."""
    table = "| Port | Protocol |\n|---|---|\n| 10250 | TCP |\n"
    for heading in ("## Node(s) {#node}", "## Node(s) {: #node .wide}", "## Node(s) {.wide #n}"):
        (read,) = read_source(
            f"# Ports\n\n{heading}\n\n{table}".encode(), file="d.md", format=Format.MARKDOWN
        ).tables
        assert read.section == ("Ports", "Node(s)"), heading
    (kept,) = read_source(
        f"## Ports {{TCP}}\n\n{table}".encode(), file="d.md", format=Format.MARKDOWN
    ).tables
    assert kept.section == ("Ports {TCP}",)  # braces that set no anchor or class are text


def test_a_table_in_a_tab_holds_only_where_that_tab_applies(tmp_path: Path) -> None:
    """RKE2 writes its CNI rules in MDX tabs (``<TabItem value="Canal">``, ``"Cilium"``...) under
    one heading, a table per CNI: the reader picks one.  The tags were read as notes and every
    tab's table drafted open always, the ports of four CNIs at once.  A tab now titles its
    table, and the table's section holds only where that tab is chosen."""
    rule = "| Port | Protocol | Source | Destination |\n|---|---|---|---|\n| {} | UDP | A | B |\n"
    draft = _draft(
        tmp_path,
        "# Rules\n\n" + rule.format(6443).replace("UDP", "TCP") + "\n## CNI rules\n\n"
        '<Tabs groupId="cni-rules" queryString>\n<TabItem value="Canal">\n\n'
        + rule.format(8472)
        + '\n</TabItem>\n<TabItem value="Cilium" label="Cilium (eBPF)">\n\n'
        + rule.format(51871)
        + "\n</TabItem>\n</Tabs>\n\n## After\n\n"
        + rule.format(4789),
    )
    sections = [(s["title"], s.get("note"), s.get("condition")) for s in draft["sections"]]
    assert sections == [
        ("Rules", None, None),
        ("Canal", None, "cni_rules == canal"),
        ("Cilium (eBPF)", None, "cni_rules == cilium"),
        ("After", None, None),
    ]
    assert draft["features"]["cni_rules"]["choices"] == ["canal", "cilium"]
    assert [f["section"] for f in draft["flows"]] == [s["id"] for s in draft["sections"]]


def test_a_set_of_tabs_and_a_condition_of_the_same_name_are_two_features(tmp_path: Path) -> None:
    """A set of tabs is a feature of choices; a Condition cell is one that is on or off.  Named
    alike (``groupId="cni-rules"``, a condition ``cni-rules``), they shared one id: a traceback
    (KeyError 'choices') where the condition came first, a draft that does not validate
    ("feature 'cni_rules' is a choice") where the tabs did."""
    conditioned = (
        "| Port | Protocol | Source | Destination | Condition |\n|---|---|---|---|---|\n"
        "| 6443 | TCP | A | B | cni-rules |\n"
    )
    tabs = (
        '<Tabs groupId="cni-rules">\n<TabItem value="Canal">\n\n'
        "| Port | Protocol | Source | Destination |\n|---|---|---|---|\n| 8472 | UDP | A | B |\n"
        "\n</TabItem>\n</Tabs>\n"
    )
    for order, (first, second) in enumerate(((conditioned, tabs), (tabs, conditioned))):
        folder = tmp_path / str(order)
        folder.mkdir()
        draft = _draft(folder, f"# Rules\n\n{first}\n## More\n\n{second}")
        by_port = {flow["ports"][0]: flow for flow in draft["flows"]}
        sections = {s["id"]: s for s in draft["sections"]}
        chosen = sections[by_port[8472]["section"]]["condition"]
        feature, choice = chosen.split(" == ")
        assert draft["features"][feature]["choices"] == [choice] == ["canal"]
        condition = by_port[6443]["condition"]
        assert condition != feature and "choices" not in draft["features"][condition]


def test_a_front_matter_title_over_several_lines_is_read_whole() -> None:
    """``title: >-`` (a YAML block scalar) puts the title on the lines under its key: the
    product, and the component listening on its ports, were named ``>-``."""
    table = "| Port | Protocol |\n|---|---|\n| 6443 | TCP |\n"
    for front in (
        "title: >-\n  Acme Server\n  ports\nweight: 3\n",
        "title: |\n  Acme Server ports\n",
        "title: Acme Server\n  ports\n",
        'title: "Acme Server\n  ports"\ndraft: false\n',
    ):
        (read,) = read_source(
            f"---\n{front}---\n\n{table}".encode(), file="doc.md", format=Format.MARKDOWN
        ).tables
        assert read.section == ("Acme Server ports",), front


def test_a_tab_is_not_the_heading_that_names_the_product(tmp_path: Path) -> None:
    """A page with no heading over its one tab's table: the tab ends the table's section, and
    was taken for the document's title, naming the product, and the component listening on
    the ports every tab's reader needs, after one CNI ("Canal")."""
    draft = _draft(
        tmp_path,
        'Intro.\n\n<Tabs groupId="cni">\n<TabItem value="Canal">\n\n'
        + _TABLE.format(port=8472, purpose="VXLAN")
        + "\n</TabItem>\n</Tabs>\n",
    )
    assert draft["name"] == draft["document"]["title"] == "vendor-ports"
    (flow,) = draft["flows"]
    assert draft["components"][flow["to"]]["name"] == "vendor-ports"
    assert [s["title"] for s in draft["sections"]] == ["Canal"]
