() => {
  // A click on a citation link in the chat ("#qa-cite-<turn>-<number>", or "…-<copy>" for the same
  // statement in another article) asks the server to open it in the source panel, through the page's
  // hidden request box.
  document.addEventListener(
    "click",
    (event) => {
      const link = event.target.closest && event.target.closest("a.qa-cite");
      if (!link) return;
      event.preventDefault();
      const box = document.querySelector("#qa-cite-request textarea, #qa-cite-request input");
      if (!box) return;
      box.value = link.getAttribute("href").slice(1) + ":" + Date.now();
      box.dispatchEvent(new Event("input", { bubbles: true }));
    },
    true,
  );
  // The source panel's "Show an English machine translation" button is part of the panel's HTML; it
  // presses the page's hidden translate button, whose event asks the server (and is its API).
  document.addEventListener(
    "click",
    (event) => {
      const button = event.target.closest && event.target.closest("#qa-source-panel button.qa-translate");
      if (!button) return;
      event.preventDefault();
      const hidden = document.querySelector("#qa-translate-request");
      const target = hidden && (hidden.tagName === "BUTTON" ? hidden : hidden.querySelector("button"));
      if (!target) return;
      button.disabled = true;
      button.textContent = "Translating …";
      target.click();
    },
    true,
  );
  // Scroll the article in the source panel so the highlighted sentence sits in the upper third.
  window.qaScrollToCited = () => {
    let tries = 0;
    const scroll = () => {
      const mark = document.querySelector("#qa-source-panel mark.qa-cited");
      const article = mark && mark.closest(".qa-article");
      if (!article) {
        if (tries++ < 20) setTimeout(scroll, 50);
        return;
      }
      article.scrollTop = Math.max(0, mark.offsetTop - article.clientHeight / 3);
      mark.classList.add("qa-flash");
      setTimeout(() => mark.classList.remove("qa-flash"), 1200);
    };
    setTimeout(scroll, 30);
  };
}
