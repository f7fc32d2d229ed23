// fhircrm app: small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Move focus to the main region after a page change so keyboard users start at the content.
  const notice = document.querySelector(".notice");
  if (notice) notice.setAttribute("tabindex", "-1");
  countTicked();
});

// The worklist's bulk bar says how many rows are ticked, so the shared picker's reach is plain before "Assign ticked".
function countTicked() {
  const out = document.getElementById("ticked");
  if (!out) return;
  const ticked = document.querySelectorAll("input[name=ids][form=bulk]:checked").length;
  out.textContent = ticked ? `(${ticked} ticked)` : "(tick rows below)";
}
document.addEventListener("change", (event) => {
  if (event.target.matches && event.target.matches("input[name=ids][form=bulk]")) countTicked();
});
document.addEventListener("fhircrm:swapped", countTicked);
document.addEventListener("fhircrm:merged", countTicked);
