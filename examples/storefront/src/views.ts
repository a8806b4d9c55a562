// The pages: the category list, one category's or author's books page by page, and one book,
// which a signed-in user can edit (formats, category, delete) with If-Match and conflict repair.

import { ApiError, type Api, type Book, type MergePatch, type Page, type Tagged } from "./api";
import { describeChanges } from "./conflict";
import { h, show } from "./dom";
import { href, type Route } from "./routes";

/** What the views need from the app. */
export interface Context {
  api: Api;
  signedIn(): boolean;
  /** Becomes false once the user has navigated elsewhere: late answers are then dropped. */
  current(): boolean;
}

function errorBox(err: unknown): HTMLElement {
  const message = err instanceof Error ? err.message : String(err);
  return h("p", { class: "error", role: "alert", "data-testid": "error" }, message);
}

function link(route: Route, text: string, testid?: string): HTMLAnchorElement {
  return h("a", { href: href(route), "data-testid": testid }, text);
}

/** GET /categories: every category with its number of books. */
export async function categoriesView(root: HTMLElement, ctx: Context): Promise<void> {
  const list = h("ul", { class: "catalogue", "data-testid": "categories" });
  const more = h("p");
  show(root, h("h1", {}, "Categories"), list, more);
  async function load(cursor?: string) {
    const page = await ctx.api.categories(cursor);
    if (!ctx.current()) return;
    for (const entry of page.items) {
      list.append(
        h("li", {}, link({ view: "category", name: entry.name, page: 1 }, entry.name), " ",
          h("span", { class: "count", "data-testid": "count" }, `${entry.books} ${entry.books === 1 ? "book" : "books"}`)),
      );
    }
    if (page.items.length === 0 && !cursor) list.append(h("li", {}, "No books yet."));
    show(more, page.next_cursor
      ? h("button", { type: "button", onclick: () => load(page.next_cursor ?? undefined).catch((e) => more.replaceChildren(errorBox(e))) }, "More categories")
      : null);
  }
  await load();
}

/** One page of a category's or an author's books, with a link to the next page. */
export async function booksView(root: HTMLElement, ctx: Context, route: Extract<Route, { view: "category" | "author" }>): Promise<void> {
  const page: Page = route.view === "category"
    ? await ctx.api.categoryBooks(route.name, route.cursor)
    : await ctx.api.authorBooks(route.name, route.cursor);
  if (!ctx.current()) return;
  const rows = page.items.map((book) =>
    h("li", {},
      link({ view: "book", author: book.author, title: book.title }, book.title, "book-link"),
      route.view === "category"
        ? h("span", {}, " by ", link({ view: "author", name: book.author, page: 1 }, book.author, "author-link"))
        : h("span", {}, " in ", link({ view: "category", name: book.category, page: 1 }, book.category)),
    ),
  );
  const nav = h("nav", { class: "pager" },
    h("span", { "data-testid": "page-number" }, `Page ${route.page}`),
    route.cursor ? link({ ...route, cursor: undefined, page: 1 }, "First page") : null,
    page.next_cursor
      ? link({ ...route, cursor: page.next_cursor, page: route.page + 1 }, "Next page", "next-page")
      : h("span", { class: "muted" }, "Last page"),
  );
  show(root,
    h("p", {}, link({ view: "categories" }, "All categories")),
    h("h1", {}, route.view === "category" ? `Category: ${route.name}` : `Author: ${route.name}`),
    rows.length ? h("ul", { class: "books", "data-testid": "books" }, ...rows) : h("p", {}, "No books."),
    nav,
  );
}

/** One book; editable when signed in. */
export async function bookView(root: HTMLElement, ctx: Context, route: Extract<Route, { view: "book" }>): Promise<void> {
  let state: Tagged = await ctx.api.book(route.author, route.title);
  if (!ctx.current()) return;
  const message = h("div", { "data-testid": "message" });
  const conflict = h("div", { "data-testid": "conflict-area" });
  const details = h("div");

  function note(text: string) {
    show(message, h("p", { class: "ok", role: "status" }, text));
  }

  // Every write: one request with If-Match; a 412 opens the conflict panel instead of failing.
  async function write(what: string, change: MergePatch | "delete"): Promise<void> {
    show(message);
    show(conflict);
    try {
      if (change === "delete") {
        await ctx.api.deleteBook(state.book.author, state.book.title, state.etag);
        showDeleted();
        return;
      }
      state = await ctx.api.mergePatch(state.book.author, state.book.title, state.etag, change);
      render();
      note(`Saved: ${what} (version ${state.book.version}).`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 412) showConflict(what, change, err);
      else show(message, errorBox(err));
    }
  }

  function showConflict(what: string, change: MergePatch | "delete", err: ApiError) {
    const theirs = err.problem?.current ?? null;
    const changes = describeChanges(state.book, theirs);
    const actions: Node[] = [];
    if (theirs && err.etag) {
      const next: Tagged = { book: theirs, etag: err.etag };
      actions.push(
        h("button", { type: "button", "data-testid": "apply-mine", onclick: () => { state = next; render(); write(what, change); } },
          "Apply my change on top"),
        h("button", { type: "button", "data-testid": "keep-theirs", onclick: () => { state = next; render(); show(conflict); note("Kept the stored version; your change was not applied."); } },
          "Keep their version"),
      );
    } else {
      actions.push(link({ view: "categories" }, "Back to the categories"));
    }
    show(conflict,
      h("section", { class: "conflict", role: "alert", "data-testid": "conflict" },
        h("h2", {}, "Someone else changed this book"),
        h("p", {}, `Your change (${what}) was not saved: the book changed after this page loaded it.`),
        h("p", {}, "What changed:"),
        h("ul", { "data-testid": "conflict-changes" }, ...changes.map((c) => h("li", {}, c))),
        h("p", {}, ...actions),
      ),
    );
  }

  function showDeleted() {
    const { author, title, category } = state.book;
    show(root,
      h("p", { class: "ok", role: "status", "data-testid": "deleted" }, `Deleted “${title}” by ${author}.`),
      h("p", {}, link({ view: "category", name: category, page: 1 }, `Back to ${category}`), " · ",
        link({ view: "author", name: author, page: 1 }, `Other books by ${author}`)),
    );
  }

  function editor(book: Book): HTMLElement {
    if (!ctx.signedIn()) return h("p", { class: "muted" }, "Sign in to edit this book.");
    const formatName = h("input", { name: "format", placeholder: "Hardcover", required: true, "aria-label": "Format name" });
    const formatId = h("input", { name: "id", placeholder: "J4SUKVGU", required: true, "aria-label": "Format id" });
    const category = h("input", { name: "category", value: book.category, required: true, "aria-label": "Category" });
    return h("section", { class: "editor" },
      h("h2", {}, "Edit"),
      h("form", { "data-testid": "add-format", onsubmit: (e: Event) => {
        e.preventDefault();
        write(`add format ${formatName.value}`, { formats: { [formatName.value]: formatId.value } });
      } }, formatName, formatId, h("button", { type: "submit" }, "Add format")),
      h("form", { "data-testid": "change-category", onsubmit: (e: Event) => {
        e.preventDefault();
        write(`category ${category.value}`, { category: category.value });
      } }, category, h("button", { type: "submit" }, "Change category")),
      h("p", {}, h("button", { type: "button", class: "danger", "data-testid": "delete", onclick: () => {
        if (confirm(`Delete “${state.book.title}”?`)) write("delete the book", "delete");
      } }, "Delete book")),
    );
  }

  function render() {
    const book = state.book;
    const formats = Object.entries(book.formats ?? {}).sort(([a], [b]) => a.localeCompare(b));
    show(details,
      h("h1", { "data-testid": "book-title" }, book.title),
      h("p", {}, "by ", link({ view: "author", name: book.author, page: 1 }, book.author, "author-link"),
        " · category ", link({ view: "category", name: book.category, page: 1 }, book.category, "category-link")),
      h("p", { class: "muted", "data-testid": "version" }, `Version ${book.version}`, book.updated_at ? `, updated ${book.updated_at}` : ""),
      h("h2", {}, "Formats"),
      formats.length
        ? h("table", { "data-testid": "formats" },
            ...formats.map(([name, id]) => h("tr", { "data-format": name },
              h("th", {}, name), h("td", {}, id),
              ctx.signedIn()
                ? h("td", {}, h("button", { type: "button", "data-testid": `remove-${name}`, onclick: () => write(`remove format ${name}`, { formats: { [name]: null } }) }, "Remove"))
                : null)))
        : h("p", { "data-testid": "formats" }, "No formats."),
      editor(book),
    );
  }

  render();
  show(root, details, conflict, message);
}

export { errorBox };
