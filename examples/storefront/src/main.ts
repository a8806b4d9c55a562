// The storefront: loads config.json, then renders the page the location hash names.

import "./style.css";
import { makeApi } from "./api";
import { completePopupCallback, signIn, type Session } from "./auth";
import { loadConfig, type Config } from "./config";
import { h, show } from "./dom";
import { parse } from "./routes";
import { bookView, booksView, categoriesView, errorBox, type Context } from "./views";

let session: Session | undefined;
let navigation = 0;

function token(): string | undefined {
  if (session && Date.now() >= session.expiresAt) session = undefined;
  return session?.accessToken;
}

function header(config: Config, rerender: () => void): void {
  const top = document.getElementById("top")!;
  const status = h("span", { "data-testid": "auth-status" });
  const bar = h("nav", { class: "bar" }, h("a", { href: "#/", class: "brand" }, "Bookstore"), status);
  function draw(problem?: unknown) {
    if (token()) {
      show(status, `Signed in as ${session!.name} `,
        h("button", { type: "button", "data-testid": "sign-out", onclick: () => { session = undefined; draw(); rerender(); } }, "Sign out"));
    } else {
      show(status,
        h("button", { type: "button", "data-testid": "sign-in", onclick: () => {
          signIn(config).then((s) => { session = s; draw(); rerender(); }).catch((e) => draw(e));
        } }, "Sign in"),
        problem ? errorBox(problem) : null);
    }
  }
  draw();
  show(top, bar);
}

async function start(): Promise<void> {
  const app = document.getElementById("app")!;
  let config: Config;
  try {
    config = await loadConfig();
  } catch (err) {
    show(app, errorBox(err));
    return;
  }
  const api = makeApi(config.apiBaseUrl, token);

  async function render() {
    const mine = ++navigation;
    const ctx: Context = { api, signedIn: () => token() !== undefined, current: () => mine === navigation };
    const route = parse(location.hash);
    show(app, h("p", { class: "muted" }, "Loading…"));
    try {
      if (route.view === "categories") await categoriesView(app, ctx);
      else if (route.view === "book") await bookView(app, ctx, route);
      else await booksView(app, ctx, route);
    } catch (err) {
      if (ctx.current()) show(app, errorBox(err));
    }
  }

  header(config, render);
  window.addEventListener("hashchange", render);
  await render();
}

if (!completePopupCallback()) void start();
