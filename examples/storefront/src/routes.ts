// Hash routes, so the app is static files any server can serve (no history fallback needed).

/** A place in the app. */
export type Route =
  | { view: "categories" }
  | { view: "category"; name: string; cursor?: string; page: number }
  | { view: "author"; name: string; cursor?: string; page: number }
  | { view: "book"; author: string; title: string };

const enc = encodeURIComponent;

/** The hash link to a route. */
export function href(route: Route): string {
  switch (route.view) {
    case "categories":
      return "#/";
    case "category":
    case "author": {
      const query = route.cursor ? `?page=${route.page}&cursor=${enc(route.cursor)}` : "";
      return `#/${route.view}/${enc(route.name)}${query}`;
    }
    case "book":
      return `#/book/${enc(route.author)}/${enc(route.title)}`;
  }
}

/** The route of a location hash; anything unknown is the category list. */
export function parse(hash: string): Route {
  const [path, queryString = ""] = hash.replace(/^#/, "").split("?", 2);
  let parts: string[];
  try {
    parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  } catch {
    return { view: "categories" };
  }
  const query = new URLSearchParams(queryString);
  const cursor = query.get("cursor") || undefined;
  const page = cursor ? Math.max(2, Number(query.get("page")) || 2) : 1;
  if ((parts[0] === "category" || parts[0] === "author") && parts.length === 2) {
    return { view: parts[0], name: parts[1], cursor, page };
  }
  if (parts[0] === "book" && parts.length === 3) return { view: "book", author: parts[1], title: parts[2] };
  return { view: "categories" };
}
