// Draws each diagram on the page with the bpmn-js viewer (read-only; drag to pan, Ctrl + wheel to
// zoom) and marks where the case is: data-active, data-completed and data-failed list element ids.
// The same facts are written out as text beside the diagram, for people who cannot see it.
(function () {
  "use strict";
  function ids(value) { return (value || "").split(" ").filter(Boolean); }

  async function draw(container) {
    const viewer = new window.BpmnJS({ container: container });
    try {
      const response = await fetch(container.dataset.xmlUrl, { credentials: "same-origin" });
      if (!response.ok) throw new Error("the diagram could not be loaded (" + response.status + ")");
      await viewer.importXML(await response.text());
    } catch (error) {
      container.textContent = "The diagram could not be drawn: " + error.message;
      container.dataset.state = "failed";
      return;
    }
    const canvas = viewer.get("canvas");
    const registry = viewer.get("elementRegistry");
    const marks = [["rf-completed", container.dataset.completed], ["rf-active", container.dataset.active],
                   ["rf-failed", container.dataset.failed]];
    for (const [marker, list] of marks) {
      for (const id of ids(list)) {
        if (registry.get(id)) canvas.addMarker(id, marker);
      }
    }
    canvas.zoom("fit-viewport", "auto");
    const focus = ids(container.dataset.active)[0];
    if (focus && registry.get(focus) && container.dataset.zoom === "active") {
      canvas.zoom(0.9);
      const el = registry.get(focus);
      const box = canvas.viewbox();
      canvas.viewbox({ x: el.x + el.width / 2 - box.width / 2, y: el.y + el.height / 2 - box.height / 2,
                       width: box.width, height: box.height });
    }
    container.dataset.state = "drawn";
  }

  for (const container of document.querySelectorAll(".rf-diagram[data-xml-url]")) {
    draw(container);
  }
})();
