// The bookstore API, through openapi-fetch and the types openapi-typescript generates from the
// committed OpenAPI document (openapi.d.ts; `npm run gen` regenerates it). Every failure becomes an
// ApiError carrying the problem+json body, so views show the service's own title and detail.

import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./openapi";

export type Book = components["schemas"]["Book"];
export type Page = components["schemas"]["Page"];
export type Problem = components["schemas"]["Problem"];
export type MergePatch = paths["/books/{author}/{title}"]["patch"]["requestBody"]["content"]["application/merge-patch+json"];
export type CataloguePage = paths["/categories"]["get"]["responses"][200]["content"]["application/json"];
export type CatalogueEntry = CataloguePage["items"][number];

/** A book with the ETag it was served with: the If-Match of the next write. */
export interface Tagged {
  book: Book;
  etag: string;
}

/** A failed call: the HTTP status, the problem+json body if there was one, and Retry-After. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly problem?: Problem,
    readonly etag?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Seconds from a Retry-After header (delay-seconds or an HTTP date), if it has a usable one. */
export function retryAfterSeconds(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

function isProblem(body: unknown): body is Problem {
  return typeof body === "object" && body !== null && "title" in body && "status" in body;
}

function failure(response: Response, body: unknown): ApiError {
  const problem = isProblem(body) ? body : undefined;
  const title = problem?.title || response.statusText || `HTTP ${response.status}`;
  let message: string;
  if (response.status === 429 || response.status === 503) {
    const seconds = retryAfterSeconds(response.headers.get("Retry-After"));
    message = seconds === undefined ? `${title}: try again in a few seconds` : `${title}: try again in ${seconds} s`;
  } else {
    const fields = (problem?.errors ?? []).map((e) => `${e.field}: ${e.message}`);
    message = [title, problem?.detail, ...fields].filter(Boolean).join(" — ");
  }
  return new ApiError(message, response.status, problem, response.headers.get("ETag") ?? undefined);
}

/** The typed client, with the bearer token of the signed-in user on every write. */
export function makeApi(baseUrl: string, token: () => string | undefined) {
  const client = createClient<paths>({ baseUrl });
  const auth: Middleware = {
    onRequest({ request }) {
      const bearer = token();
      if (bearer && request.method !== "GET" && request.method !== "HEAD") {
        request.headers.set("Authorization", `Bearer ${bearer}`);
      }
      return request;
    },
  };
  client.use(auth);

  // openapi-fetch throws only when fetch itself does (service down, CORS refused).
  async function call<T extends { response: Response; error?: unknown; data?: unknown }>(go: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await go();
    } catch (err) {
      throw new ApiError(`Cannot reach the bookstore API at ${baseUrl} (${(err as Error).message})`, 0);
    }
    if (!result.response.ok) throw failure(result.response, result.error);
    return result;
  }

  function tagged(result: { data?: Book; response: Response }): Tagged {
    const etag = result.response.headers.get("ETag");
    if (!result.data || !etag) throw new ApiError("The service answered without a book or its ETag", result.response.status);
    return { book: result.data, etag };
  }

  const bookPath = (author: string, title: string) => ({ path: { author, title } });

  return {
    async categories(cursor?: string, limit = 50): Promise<CataloguePage> {
      const r = await call(() => client.GET("/categories", { params: { query: { limit, cursor } } }));
      return r.data!;
    },
    async categoryBooks(category: string, cursor?: string, limit = 10): Promise<Page> {
      const r = await call(() =>
        client.GET("/categories/{category}/books", { params: { path: { category }, query: { limit, cursor } } }),
      );
      return r.data!;
    },
    async authorBooks(author: string, cursor?: string, limit = 10): Promise<Page> {
      const r = await call(() =>
        client.GET("/authors/{author}/books", { params: { path: { author }, query: { limit, cursor } } }),
      );
      return r.data!;
    },
    async book(author: string, title: string): Promise<Tagged> {
      return tagged(await call(() => client.GET("/books/{author}/{title}", { params: bookPath(author, title) })));
    },
    /** RFC 7396 merge patch, only if the book still has the ETag `etag`. */
    async mergePatch(author: string, title: string, etag: string, patch: MergePatch): Promise<Tagged> {
      return tagged(
        await call(() =>
          client.PATCH("/books/{author}/{title}", {
            params: { ...bookPath(author, title), header: { "If-Match": etag } },
            headers: { "Content-Type": "application/merge-patch+json" },
            body: patch,
          }),
        ),
      );
    },
    /** Deletes the book, only if it still has the ETag `etag`. */
    async deleteBook(author: string, title: string, etag: string): Promise<void> {
      await call(() =>
        client.DELETE("/books/{author}/{title}", { params: { ...bookPath(author, title), header: { "If-Match": etag } } }),
      );
    },
  };
}

/** The API as the views use it. */
export type Api = ReturnType<typeof makeApi>;
