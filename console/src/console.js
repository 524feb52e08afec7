// The console's progressive enhancement: GOV.UK Frontend's components (error summaries take focus,
// the service navigation collapses on narrow screens). Every page works without it.
import { initAll } from "./govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();
