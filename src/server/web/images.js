// Images from the user: picked, dropped or pasted files → data: URLs the API accepts.

/** A File → `data:image/...;base64,...`. */
export function readDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

const imageFiles = (list) => [...(list ?? [])].filter((f) => f.type.startsWith("image/"));

/**
 * Calls `onImages(dataUrls)` for images dropped on `target`, picked with `input`, or pasted anywhere
 * in the page while `active()` is true (the tab is shown).
 */
export function acceptImages({ target, input, active, onImages }) {
  const take = async (files) => {
    const images = imageFiles(files);
    if (images.length) onImages(await Promise.all(images.map(readDataUrl)));
  };
  target.addEventListener("dragover", (e) => {
    e.preventDefault();
    target.classList.add("dragging");
  });
  target.addEventListener("dragleave", () => target.classList.remove("dragging"));
  target.addEventListener("drop", (e) => {
    e.preventDefault();
    target.classList.remove("dragging");
    take(e.dataTransfer?.files);
  });
  document.addEventListener("paste", (e) => {
    const files = imageFiles(e.clipboardData?.files);
    if (!active()) return;
    if (files.length) {
      e.preventDefault();
      take(files);
    }
  });
  input?.addEventListener("change", () => {
    take(input.files);
    input.value = "";
  });
}

/** A thumbnail of a data: URL. */
export function thumb(url, title = "") {
  const img = document.createElement("img");
  img.src = url;
  img.alt = title;
  img.className = "thumb";
  return img;
}
