// portplan report: sort, search and filter the tables; a click on the diagram filters them to
// the rows of an edge or a box. Plain JavaScript, no library, nothing fetched.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("portplan-data").textContent);
  const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });
  // the diagram's selection: plan row indexes, or null for none
  let selected = null;
  let selectedFlows = null;

  function sortValue(row, index) {
    const cell = row.cells[index];
    return cell ? (cell.dataset.sort || cell.textContent.trim()) : "";
  }

  document.querySelectorAll("table.data").forEach(function (table) {
    Array.from(table.tBodies[0].rows).forEach(function (row, order) {
      row.dataset.order = String(order);
      row.dataset.text = row.textContent.toLowerCase();
    });
    table.querySelectorAll("thead th button.sort").forEach(function (button) {
      button.addEventListener("click", function () {
        const th = button.closest("th");
        const index = th.cellIndex;
        const ascending = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        const body = table.tBodies[0];
        const rows = Array.from(body.rows);
        rows.sort(function (a, b) {
          const order = collator.compare(sortValue(a, index), sortValue(b, index));
          return (ascending ? order : -order) || (Number(a.dataset.order) - Number(b.dataset.order));
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });

  function portMatches(spec, port) {
    if (!spec) { return false; }
    return spec.split(",").some(function (part) {
      const bounds = part.split("-");
      const low = Number(bounds[0]);
      const high = Number(bounds.length > 1 ? bounds[1] : bounds[0]);
      return port >= low && port <= high;
    });
  }

  function rowMatches(row, filters) {
    for (const filter of filters) {
      const value = filter.value.trim();
      if (!value) { continue; }
      const kind = filter.dataset.filter;
      if (kind === "search") {
        if (!row.dataset.text.includes(value.toLowerCase())) { return false; }
      } else if (kind === "port") {
        if (!/^\d+$/.test(value) || !portMatches(row.dataset.ports, Number(value))) { return false; }
      } else if (kind === "condition" || kind === "protocol") {
        if (row.dataset[kind] !== value) { return false; }
      } else {
        const values = (row.dataset[kind] || "").split("|");
        if (!values.includes(value)) { return false; }
      }
    }
    return true;
  }

  function applyFilters(table) {
    const filters = Array.from(document.querySelectorAll('[data-for="' + table.id + '"] [data-filter]'));
    const rows = Array.from(table.tBodies[0].rows);
    let shown = 0;
    rows.forEach(function (row) {
      let visible = rowMatches(row, filters);
      if (visible && selected !== null && table.dataset.kind === "matrix") {
        visible = selected.has(Number(row.dataset.row));
      }
      if (visible && selectedFlows !== null && table.dataset.kind === "vendor") {
        visible = (row.dataset.flows || "").split(" ").some(function (f) { return selectedFlows.has(f); });
      }
      row.hidden = !visible;
      shown += visible ? 1 : 0;
    });
    const count = document.getElementById(table.id + "-count");
    if (count) {
      count.textContent = "Showing " + shown + " of " + rows.length + " " + (table.dataset.unit || "rows");
    }
  }

  function applyAll() {
    document.querySelectorAll("table.data[data-filtered]").forEach(applyFilters);
  }

  document.querySelectorAll("[data-filter]").forEach(function (input) {
    input.addEventListener("input", applyAll);
    input.addEventListener("change", applyAll);
  });
  document.querySelectorAll("button.clear[data-clear]").forEach(function (button) {
    button.addEventListener("click", function () {
      document.querySelectorAll('[data-for="' + button.dataset.clear + '"] [data-filter]').forEach(function (input) {
        input.value = "";
      });
      applyAll();
    });
  });

  // -- the diagram ------------------------------------------------------------------------
  const status = document.getElementById("selection");
  const statusText = document.getElementById("selection-text");

  function select(element, view) {
    document.querySelectorAll("svg .selected").forEach(function (e) { e.classList.remove("selected"); });
    const info = (element.classList.contains("edge") ? data.views[view].edges : data.views[view].nodes)[element.id];
    if (!info) { return; }
    element.classList.add("selected");
    selected = new Set(info.rows);
    selectedFlows = new Set();
    document.querySelectorAll("#matrix tbody tr").forEach(function (row) {
      if (selected.has(Number(row.dataset.row))) { selectedFlows.add(row.dataset.flowid); }
    });
    statusText.textContent = "Diagram selection: " + info.label + " (" + info.rows.length + " rows)";
    status.hidden = false;
    applyAll();
  }

  function clearSelection() {
    document.querySelectorAll("svg .selected").forEach(function (e) { e.classList.remove("selected"); });
    selected = null;
    selectedFlows = null;
    status.hidden = true;
    applyAll();
  }

  document.querySelectorAll("figure.diagram").forEach(function (figure) {
    const view = figure.dataset.view;
    figure.querySelectorAll("g.edge, g.node").forEach(function (element) {
      element.setAttribute("tabindex", "0");
      element.setAttribute("role", "button");
      element.addEventListener("click", function () { select(element, view); });
      element.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          select(element, view);
        }
      });
    });
  });
  const clear = document.getElementById("selection-clear");
  if (clear) { clear.addEventListener("click", clearSelection); }

  document.querySelectorAll('input[name="view"]').forEach(function (radio) {
    radio.addEventListener("change", function () {
      document.querySelectorAll("figure.diagram").forEach(function (figure) {
        figure.hidden = figure.dataset.view !== radio.value;
      });
      clearSelection();
    });
  });

  // printed pages show the evidence that the screen folds away
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details.evidence").forEach(function (d) { d.open = true; });
  });
  applyAll();
})();
