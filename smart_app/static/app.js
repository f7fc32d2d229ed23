// fhircrm app: small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Move focus to the main region after a page change so keyboard users start at the content.
  const notice = document.querySelector(".notice");
  if (notice) notice.setAttribute("tabindex", "-1");
});
