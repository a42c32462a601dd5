/* Sort (click a header) and filter (type in the box) the report's long tables. Reads and writes
   text only (textContent), never markup; without script the page reads the same. */
(function () {
  "use strict";
  function key(row, index) {
    var cell = row.cells[index];
    if (!cell) { return [2, ""]; }
    var value = cell.getAttribute("data-v");
    if (value !== null && value !== "" && !isNaN(parseFloat(value))) { return [0, parseFloat(value)]; }
    var text = cell.textContent.trim().toLowerCase();
    return text === "\u2014" || text === "" ? [2, ""] : [1, text];
  }
  function compare(a, b) {
    if (a[0] !== b[0]) { return a[0] - b[0]; }
    if (a[1] < b[1]) { return -1; }
    return a[1] > b[1] ? 1 : 0;
  }
  function makeSortable(table) {
    var head = table.tHead && table.tHead.rows[0];
    var body = table.tBodies[0];
    if (!head || !body) { return; }
    Array.prototype.forEach.call(head.cells, function (th, index) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = th.textContent;
      button.title = "Sort by " + th.textContent;
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(head.cells, function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var rows = Array.prototype.map.call(body.rows, function (row, position) {
          return { row: row, key: key(row, index), position: position };
        });
        rows.sort(function (a, b) {
          var order = compare(a.key, b.key);
          if (a.key[0] === 2 || b.key[0] === 2) { return order || a.position - b.position; }
          return (ascending ? order : -order) || a.position - b.position;
        });
        var fragment = document.createDocumentFragment();
        rows.forEach(function (item) { fragment.appendChild(item.row); });
        body.appendChild(fragment);
      });
    });
  }
  function addFilter(table) {
    var body = table.tBodies[0];
    var wrap = table.parentNode;
    if (!body || body.rows.length < 8 || !wrap || !wrap.parentNode) { return; }
    var tools = document.createElement("div");
    tools.className = "table-tools";
    var label = document.createElement("label");
    label.textContent = "Filter ";
    var input = document.createElement("input");
    input.type = "search";
    input.placeholder = "Type to show matching rows";
    input.setAttribute("aria-controls", table.id);
    label.appendChild(input);
    var count = document.createElement("span");
    count.textContent = body.rows.length + " rows";
    tools.appendChild(label);
    tools.appendChild(count);
    wrap.parentNode.insertBefore(tools, wrap);
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      var shown = 0;
      Array.prototype.forEach.call(body.rows, function (row) {
        var match = !needle || row.textContent.toLowerCase().indexOf(needle) !== -1;
        row.hidden = !match;
        if (match) { shown += 1; }
      });
      count.textContent = needle ? shown + " of " + body.rows.length + " rows" : body.rows.length + " rows";
    });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    makeSortable(table);
    addFilter(table);
  });
}());
