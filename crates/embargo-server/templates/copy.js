// Adds a working "Copy" button to each element with data-copy="ID": it copies the text of
// the element with that id. Without JavaScript the button stays hidden and the text is
// there to select.
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source || !navigator.clipboard) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(source.textContent).then(function () {
      button.textContent = "Copied";
    }, function () {
      button.textContent = "Select the text to copy it";
    });
  });
});
