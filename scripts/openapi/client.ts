// A frontend's view of the bookstore API, written only against the types that openapi-typescript
// generates from openapi/openapi.json (scripts/check-openapi.sh generates them into generated/ and
// type-checks this file with `tsc --strict --noEmit`). If the document loses an operation, a schema,
// a field, a header or an error response that a client relies on, this file stops compiling.
//
// Nothing here runs in the checks: it only has to type-check.

import type { components, operations, paths } from "./generated/bookstore";

// ---- The resources, as a frontend names them -------------------------------------------------

export type Book = components["schemas"]["Book"];
export type Page = components["schemas"]["Page"];
export type Problem = components["schemas"]["Problem"];
export type ProblemField = components["schemas"]["ProblemField"];
export type NewBook = components["schemas"]["NewBookRequest"];
export type PutBookBody = paths["/books/{author}/{title}"]["put"]["requestBody"]["content"]["application/json"];
export type FormatPatch = paths["/books/{author}/{title}/formats"]["patch"]["requestBody"]["content"]["application/json"];
export type MergePatch = paths["/books/{author}/{title}"]["patch"]["requestBody"]["content"]["application/merge-patch+json"];
export type FormatId = paths["/books/{author}/{title}/formats/{format}"]["put"]["requestBody"]["content"]["application/json"];
export type ListQuery = NonNullable<operations["listAuthorBooks"]["parameters"]["query"]>;
export type SortOrder = components["schemas"]["SortOrder"];
export type CataloguePage = components["schemas"]["CataloguePage"];
export type NameCount = components["schemas"]["NameCount"];
export type CatalogueQuery = NonNullable<operations["listCategories"]["parameters"]["query"]>;

// ---- Compile-time assertions about the document ----------------------------------------------

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
type Json<R> = R extends { content: { "application/json": infer B } } ? B : never;
type ProblemJson<R> = R extends { content: { "application/problem+json": infer B } } ? B : never;

// Every single-book success answers a Book; listings answer a Page.
export type _getBook200 = Assert<Equal<Json<operations["getBook"]["responses"][200]>, Book>>;
export type _putBook200 = Assert<Equal<Json<operations["putBook"]["responses"][200]>, Book>>;
export type _putBook201 = Assert<Equal<Json<operations["putBook"]["responses"][201]>, Book>>;
export type _createBook201 = Assert<Equal<Json<operations["createBook"]["responses"][201]>, Book>>;
export type _patch200 = Assert<Equal<Json<operations["patchBookFormats"]["responses"][200]>, Book>>;
export type _mergePatch200 = Assert<Equal<Json<operations["mergePatchBook"]["responses"][200]>, Book>>;
export type _putFormat200 = Assert<Equal<Json<operations["putBookFormat"]["responses"][200]>, Book>>;
export type _deleteFormat200 = Assert<Equal<Json<operations["deleteBookFormat"]["responses"][200]>, Book>>;
export type _authorPage = Assert<Equal<Json<operations["listAuthorBooks"]["responses"][200]>, Page>>;
export type _categoryPage = Assert<Equal<Json<operations["listCategoryBooks"]["responses"][200]>, Page>>;
export type _categories = Assert<Equal<Json<operations["listCategories"]["responses"][200]>, CataloguePage>>;
export type _authors = Assert<Equal<Json<operations["listAuthors"]["responses"][200]>, CataloguePage>>;
export type _authorsQuery = Assert<Equal<NonNullable<operations["listAuthors"]["parameters"]["query"]>, CatalogueQuery>>;

// Errors a client has to handle are documented as problem+json.
export type _get404 = Assert<Equal<ProblemJson<operations["getBook"]["responses"][404]>, Problem>>;
export type _put401 = Assert<Equal<ProblemJson<operations["putBook"]["responses"][401]>, Problem>>;
export type _put412 = Assert<Equal<ProblemJson<operations["putBook"]["responses"][412]>, Problem>>;
export type _put422 = Assert<Equal<ProblemJson<operations["putBook"]["responses"][422]>, Problem>>;
export type _create409 = Assert<Equal<ProblemJson<operations["createBook"]["responses"][409]>, Problem>>;
export type _delete404 = Assert<Equal<ProblemJson<operations["deleteBook"]["responses"][404]>, Problem>>;
export type _patch404 = Assert<Equal<ProblemJson<operations["patchBookFormats"]["responses"][404]>, Problem>>;
export type _mergePatch412 = Assert<Equal<ProblemJson<operations["mergePatchBook"]["responses"][412]>, Problem>>;
export type _mergePatch415 = Assert<Equal<ProblemJson<operations["mergePatchBook"]["responses"][415]>, Problem>>;
export type _list400 = Assert<Equal<ProblemJson<operations["listAuthorBooks"]["responses"][400]>, Problem>>;
export type _categories400 = Assert<Equal<ProblemJson<operations["listCategories"]["responses"][400]>, Problem>>;
export type _get503 = Assert<Equal<ProblemJson<operations["getBook"]["responses"][503]>, Problem>>;

// Headers a client reads or sends are named in the document.
export type _getETag = operations["getBook"]["responses"][200]["headers"]["ETag"];
export type _putLocation = operations["putBook"]["responses"][201]["headers"]["Location"];
export type _createLocation = operations["createBook"]["responses"][201]["headers"]["Location"];
export type _ifMatch = NonNullable<operations["putBook"]["parameters"]["header"]>["If-Match"];
export type _ifNoneMatch = NonNullable<operations["getBook"]["parameters"]["header"]>["If-None-Match"];
export type _retryAfter = operations["getBook"]["responses"][503]["headers"]["Retry-After"];
export type _wwwAuthenticate = operations["putBook"]["responses"][401]["headers"]["WWW-Authenticate"];

// The document is strict where the API is: unknown fields, missing fields and unknown orders fail.
// @ts-expect-error: `colour` is not a field of the PUT body (additionalProperties: false)
export const _unknownField: PutBookBody = { category: "Suspense", colour: "red" };
// @ts-expect-error: `category` is required
export const _missingCategory: PutBookBody = { formats: {} };
// @ts-expect-error: `order` is asc or desc
export const _badOrder: ListQuery = { order: "sideways" };
// @ts-expect-error: `limit` is a number
export const _badLimit: ListQuery = { limit: "20" };
// @ts-expect-error: a merge patch cannot change the key
export const _patchAuthor: MergePatch = { author: "Ann" };
// @ts-expect-error: a format is set to an id or removed with null, nothing else
export const _patchFormatNumber: MergePatch = { formats: { Hardcover: 5 } };
export const _patchRemove: MergePatch = { formats: { Paperback: null, Audiobook: "8WE3KPTP" } };
// @ts-expect-error: the catalogue filters by name_prefix, not title_prefix
export const _cataloguePrefix: CatalogueQuery = { title_prefix: "Sus" };
// @ts-expect-error: a count is a number
export const _countText: NameCount = { name: "Suspense", books: "12" };
// @ts-expect-error: a batch is { books: [...] }, not a bare array
export const _bareBatch: components["schemas"]["BatchRequest"] = [];

// ---- A typed fetch client, as a frontend would write it --------------------------------------

export class ApiError extends Error {
  constructor(public readonly problem: Problem) {
    super(`${problem.status} ${problem.title}: ${problem.detail}`);
  }
  /** For a 422: "field: message" for every invalid field. */
  fieldErrors(): string[] {
    return (this.problem.errors ?? []).map((e: ProblemField) => `${e.field}: ${e.message}`);
  }
}

export interface Tagged<T> {
  body: T;
  etag: string | null;
}

const seg = encodeURIComponent;

export class BookstoreClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  private headers(extra: Record<string, string | null | undefined> = {}, contentType?: string): Headers {
    const h = new Headers({ Accept: "application/json, application/problem+json" });
    if (contentType) h.set("Content-Type", contentType);
    if (this.token) h.set("Authorization", `Bearer ${this.token}`);
    for (const [k, v] of Object.entries(extra)) if (v != null) h.set(k, v);
    return h;
  }

  private async send<T>(
    method: string,
    path: string,
    init: { body?: unknown; headers?: Record<string, string | null | undefined>; contentType?: string } = {},
  ): Promise<Tagged<T>> {
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: this.headers(init.headers, init.body === undefined ? undefined : (init.contentType ?? "application/json")),
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    if (!res.ok) {
      const problem = (await res.json()) as Problem;
      throw new ApiError(problem);
    }
    const body = (res.status === 204 ? undefined : await res.json()) as T;
    return { body, etag: res.headers.get("ETag") };
  }

  /** GET /books/{author}/{title}; null when If-None-Match matched (304). */
  async getBook(
    p: operations["getBook"]["parameters"]["path"],
    h: NonNullable<operations["getBook"]["parameters"]["header"]> = {},
  ): Promise<Tagged<Book> | null> {
    const res = await fetch(`${this.baseUrl}/books/${seg(p.author)}/${seg(p.title)}`, {
      headers: this.headers({ "If-None-Match": h["If-None-Match"] }),
    });
    if (res.status === 304) return null;
    if (!res.ok) throw new ApiError((await res.json()) as Problem);
    const book = (await res.json()) as Json<operations["getBook"]["responses"][200]>;
    return { body: book, etag: res.headers.get("ETag") };
  }

  /** PUT /books/{author}/{title}: create (201) or replace (200). */
  putBook(
    p: operations["putBook"]["parameters"]["path"],
    body: PutBookBody,
    h: NonNullable<operations["putBook"]["parameters"]["header"]> = {},
  ): Promise<Tagged<Book>> {
    return this.send<Book>("PUT", `/books/${seg(p.author)}/${seg(p.title)}`, {
      body,
      headers: { "If-Match": h["If-Match"], "If-None-Match": h["If-None-Match"] },
    });
  }

  /** PATCH /books/{author}/{title} (JSON Merge Patch): category and formats in one write. */
  mergePatchBook(
    p: operations["mergePatchBook"]["parameters"]["path"],
    body: MergePatch,
    h: NonNullable<operations["mergePatchBook"]["parameters"]["header"]> = {},
  ): Promise<Tagged<Book>> {
    return this.send<Book>("PATCH", `/books/${seg(p.author)}/${seg(p.title)}`, {
      body,
      headers: { "If-Match": h["If-Match"] },
      contentType: "application/merge-patch+json",
    });
  }

  /** POST /books: create; ApiError with status 409 if it exists. */
  createBook(body: operations["createBook"]["requestBody"]["content"]["application/json"]): Promise<Tagged<Book>> {
    return this.send<Book>("POST", "/books", { body });
  }

  /** DELETE /books/{author}/{title}. */
  async deleteBook(
    p: operations["deleteBook"]["parameters"]["path"],
    h: NonNullable<operations["deleteBook"]["parameters"]["header"]> = {},
  ): Promise<void> {
    await this.send<undefined>("DELETE", `/books/${seg(p.author)}/${seg(p.title)}`, {
      headers: { "If-Match": h["If-Match"] },
    });
  }

  /** PATCH /books/{author}/{title}/formats. */
  patchBookFormats(p: operations["patchBookFormats"]["parameters"]["path"], body: FormatPatch): Promise<Tagged<Book>> {
    return this.send<Book>("PATCH", `/books/${seg(p.author)}/${seg(p.title)}/formats`, { body });
  }

  /** PUT /books/{author}/{title}/formats/{format}. */
  putBookFormat(p: operations["putBookFormat"]["parameters"]["path"], body: FormatId): Promise<Tagged<Book>> {
    return this.send<Book>("PUT", `/books/${seg(p.author)}/${seg(p.title)}/formats/${seg(p.format)}`, { body });
  }

  /** DELETE /books/{author}/{title}/formats/{format}. */
  deleteBookFormat(p: operations["deleteBookFormat"]["parameters"]["path"]): Promise<Tagged<Book>> {
    return this.send<Book>("DELETE", `/books/${seg(p.author)}/${seg(p.title)}/formats/${seg(p.format)}`);
  }

  /** POST /books/batch. */
  async batchPutBooks(books: NewBook[]): Promise<components["schemas"]["BatchResponse"]> {
    const body: operations["batchPutBooks"]["requestBody"]["content"]["application/json"] = { books };
    return (await this.send<components["schemas"]["BatchResponse"]>("POST", "/books/batch", { body })).body;
  }

  private static query(q: ListQuery): string {
    const s = new URLSearchParams();
    if (q.limit !== undefined) s.set("limit", String(q.limit));
    if (q.cursor !== undefined) s.set("cursor", q.cursor);
    if (q.order !== undefined) s.set("order", q.order);
    if (q.title_prefix !== undefined) s.set("title_prefix", q.title_prefix);
    const text = s.toString();
    return text ? `?${text}` : "";
  }

  /** GET /authors/{author}/books: one page. */
  async listAuthorBooks(p: operations["listAuthorBooks"]["parameters"]["path"], q: ListQuery = {}): Promise<Page> {
    return (await this.send<Page>("GET", `/authors/${seg(p.author)}/books${BookstoreClient.query(q)}`)).body;
  }

  /** GET /categories/{category}/books: one page. */
  async listCategoryBooks(
    p: operations["listCategoryBooks"]["parameters"]["path"],
    q: NonNullable<operations["listCategoryBooks"]["parameters"]["query"]> = {},
  ): Promise<Page> {
    return (await this.send<Page>("GET", `/categories/${seg(p.category)}/books${BookstoreClient.query(q)}`)).body;
  }

  private static catalogueQuery(q: CatalogueQuery): string {
    const s = new URLSearchParams();
    if (q.limit !== undefined) s.set("limit", String(q.limit));
    if (q.cursor !== undefined) s.set("cursor", q.cursor);
    if (q.order !== undefined) s.set("order", q.order);
    if (q.name_prefix !== undefined) s.set("name_prefix", q.name_prefix);
    const text = s.toString();
    return text ? `?${text}` : "";
  }

  /** GET /categories: one page of categories with their book counts. */
  async listCategories(q: CatalogueQuery = {}): Promise<CataloguePage> {
    return (await this.send<CataloguePage>("GET", `/categories${BookstoreClient.catalogueQuery(q)}`)).body;
  }

  /** GET /authors: one page of authors with their book counts. */
  async listAuthors(q: NonNullable<operations["listAuthors"]["parameters"]["query"]> = {}): Promise<CataloguePage> {
    return (await this.send<CataloguePage>("GET", `/authors${BookstoreClient.catalogueQuery(q)}`)).body;
  }

  /** Every category, walking next_cursor until it is null: a storefront's first screen. */
  async *allCategories(order: SortOrder = "asc"): AsyncGenerator<NameCount> {
    let cursor: string | undefined;
    do {
      const page: CataloguePage = await this.listCategories({ order, limit: 100, cursor });
      yield* page.items;
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
  }

  /** Every book of an author, walking next_cursor until it is null. */
  async *allAuthorBooks(author: string, order: SortOrder = "asc"): AsyncGenerator<Book> {
    let cursor: string | undefined;
    do {
      const page: Page = await this.listAuthorBooks({ author }, { order, limit: 100, cursor });
      yield* page.items;
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
  }
}

// ---- What a UI does with the results -----------------------------------------------------------

/** A line for a book list: reads every Book field a UI shows. */
export function describe(book: Book): string {
  const formats = Object.entries(book.formats)
    .map(([name, id]: [string, string]) => `${name} (${id})`)
    .join(", ");
  const created = book.created_at ? ` since ${new Date(book.created_at).toISOString()}` : "";
  const updated = book.updated_at ? `, updated ${book.updated_at}` : "";
  const version: number = book.version;
  return `${book.title} by ${book.author} [${book.category}] v${version}: ${formats || "no formats"}${created}${updated}`;
}

/** Add an audiobook unless someone else changed the book meanwhile (If-Match with the ETag). */
export async function addAudiobook(api: BookstoreClient, author: string, title: string, id: string): Promise<Book> {
  const current = await api.getBook({ author, title });
  if (current === null) throw new Error("unreachable without If-None-Match");
  const patched = await api.patchBookFormats({ author, title }, { add: { Audiobook: id }, remove: [] });
  const replaced = await api.putBook(
    { author, title },
    { category: patched.body.category, formats: { ...patched.body.formats, Audiobook: id } },
    { "If-Match": current.etag ?? "*" },
  );
  return replaced.body;
}

/** A form's error summary from a problem document. */
export function problemMessage(e: unknown): string {
  if (e instanceof ApiError) {
    const p: Problem = e.problem;
    const fields = e.fieldErrors();
    const where = p.instance ? ` at ${p.instance}` : "";
    return `${p.title} (${p.status}, ${p.type})${where}: ${p.detail}${fields.length ? ` [${fields.join("; ")}]` : ""}`;
  }
  return String(e);
}

export async function demo(baseUrl: string, token: string): Promise<string[]> {
  const api = new BookstoreClient(baseUrl, token);
  const lines: string[] = [];
  const rainmaker = await api.getBook({ author: "John Grisham", title: "The Rainmaker" });
  if (rainmaker) lines.push(describe(rainmaker.body));
  await api.putBookFormat({ author: "John Grisham", title: "The Rainmaker", format: "Audiobook" }, { id: "8WE3KPTP" });
  await api.deleteBookFormat({ author: "John Grisham", title: "The Rainmaker", format: "Audiobook" });
  const moved = await api.mergePatchBook(
    { author: "John Grisham", title: "The Rainmaker" },
    { category: "Legal thriller", formats: { Audiobook: "8WE3KPTP", Paperback: null } },
    { "If-Match": rainmaker?.etag ?? "*" },
  );
  lines.push(describe(moved.body));
  for await (const book of api.allAuthorBooks("John Grisham")) lines.push(describe(book));
  for await (const c of api.allCategories()) lines.push(`${c.name} (${c.books})`);
  const authors: CataloguePage = await api.listAuthors({ name_prefix: "J", limit: 10, order: "desc" });
  lines.push(authors.items.map((a: NameCount) => `${a.name}: ${a.books}`).join(", "));
  const suspense: Page = await api.listCategoryBooks({ category: "Suspense" }, { limit: 2, order: "desc" });
  lines.push(`${suspense.items.length} suspense books, more: ${suspense.next_cursor != null}`);
  const created = await api.batchPutBooks([{ author: "Ann", title: "Yes/No", category: "Puzzles", formats: null }]);
  lines.push(`batch: ${created.created} created, ${created.replaced} replaced`);
  try {
    await api.createBook({ author: "Ann", title: "Yes/No", category: "Puzzles" });
  } catch (e) {
    lines.push(problemMessage(e));
  }
  await api.deleteBook({ author: "Ann", title: "Yes/No" });
  lines.push(describe(await addAudiobook(api, "John Grisham", "The Rainmaker", "8WE3KPTP")));
  return lines;
}
