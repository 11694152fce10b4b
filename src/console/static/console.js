// "All <Subject> permissions" ticks or clears the subject's boxes as it is toggled. The
// form works without this: the server grants the whole subject when it is ticked.
document.addEventListener("change", (event) => {
  const all = event.target.closest("input[data-subject]");
  if (!all) return;
  for (const box of document.querySelectorAll(`input[data-in="${all.dataset.subject}"]`)) {
    box.checked = all.checked;
  }
});
