// A photo over the limit is refused in the form, before hours of a phone's upload, with
// what was typed still there; the server checks it again.
document.addEventListener("change", function (event) {
  var input = event.target;
  if (!input.files || !input.dataset || !input.dataset.maxBytes) return;
  var file = input.files[0];
  var over = Boolean(file) && file.size > Number(input.dataset.maxBytes);
  input.setCustomValidity(over ? input.dataset.tooLarge : "");
  if (over) input.reportValidity();
});
