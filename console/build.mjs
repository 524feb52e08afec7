// Builds the console's assets into dist/ from the pinned npm packages: no network, no CDN.
//   dist/<name>.<hash>.<ext>  content-hashed files (served with a year's cache)
//   dist/manifest.json        logical name -> hashed file name, read by api/console/assets.py
//   dist/test/axe.min.js      axe-core, for the browser tests only (never served)
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as sass from "sass";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
const modules = join(here, "node_modules");
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "test"), { recursive: true });

const manifest = {};
function emit(name, content) {
  const hash = createHash("sha256").update(content).digest("hex").slice(0, 12);
  const dot = name.lastIndexOf(".");
  const hashed = `${name.slice(0, dot)}.${hash}${name.slice(dot)}`;
  writeFileSync(join(dist, hashed), content);
  manifest[name] = hashed;
}

// GOV.UK Frontend, compiled with our settings: no GDS Transport (a GOV.UK-only typeface), no crown.
const css = sass.compile(join(here, "src", "console.scss"), {
  loadPaths: [modules], style: "compressed", quietDeps: true, silenceDeprecations: ["import"],
});
emit("console.css", css.css);
emit("govuk-frontend.min.js", readFileSync(join(modules, "govuk-frontend/dist/govuk/govuk-frontend.min.js")));
// console.js imports GOV.UK Frontend by its hashed name
emit("console.js", readFileSync(join(here, "src", "console.js"), "utf8")
  .replace("./govuk-frontend.min.js", `./${manifest["govuk-frontend.min.js"]}`));

// bpmn-js: the navigated viewer (read-only, pan and zoom) and its stylesheets
emit("bpmn-viewer.js", readFileSync(join(modules, "bpmn-js/dist/bpmn-navigated-viewer.production.min.js")));
emit("diagram-js.css", readFileSync(join(modules, "bpmn-js/dist/assets/diagram-js.css")));
emit("bpmn-js.css", readFileSync(join(modules, "bpmn-js/dist/assets/bpmn-js.css")));
emit("case-diagram.js", readFileSync(join(here, "src", "case-diagram.js")));

copyFileSync(join(modules, "axe-core/axe.min.js"), join(dist, "test", "axe.min.js"));
writeFileSync(join(dist, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`console assets: ${Object.keys(manifest).length} files in ${dist}`);
