#!/usr/bin/env python3
"""Generates the benchmark's data set and the URL lists the load generator picks from.

    gen_data.py OUT_DIR BASE_URL [AUTHORS] [BOOKS_PER_AUTHOR] [CATEGORIES]

Writes, deterministically (fixed random seed):
  OUT_DIR/books.json       the seed file for `bookstore seed` (also read by examples/bench_ceiling.rs)
  OUT_DIR/urls-get.txt     GET /books/{author}/{title}, one line per book
  OUT_DIR/urls-author.txt  GET /authors/{author}/books?limit=20, one line per author
  OUT_DIR/urls-category.txt GET /categories/{category}/books?limit=20, one line per category
  OUT_DIR/urls-patch.txt   PATCH /books/{author}/{title}/formats, one line per book
  OUT_DIR/urls-page100.txt GET /categories/{category}/books?limit=100 (the compression runs)
  OUT_DIR/urls-catalogue.txt GET /categories (one line: the storefront's first screen)

Names have spaces and (for some categories) non-ASCII letters, so percent-decoding is exercised.
"""
import json
import os
import random
import sys
from urllib.parse import quote

CATEGORY_NAMES = [
    "Suspense", "Thriller", "Science Fiction", "Fantasy", "Romance", "Mystery", "Horror",
    "Biography", "History", "Poetry", "Travel", "Cooking", "Science", "Philosophy",
    "Children's Books", "Young Adult", "Graphic Novels", "Business", "Self-Help", "Policier Français",
]


def seg(s: str) -> str:
    """A path segment, percent-encoded ("/" included)."""
    return quote(s, safe="")


def main() -> None:
    out, base = sys.argv[1], sys.argv[2].rstrip("/")
    authors = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    per_author = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    n_categories = int(sys.argv[5]) if len(sys.argv) > 5 else 20
    categories = [
        CATEGORY_NAMES[i] if i < len(CATEGORY_NAMES) else f"Category {i:03d}"
        for i in range(n_categories)
    ]
    rng = random.Random(20260101)
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

    def ident() -> str:
        return "".join(rng.choice(alphabet) for _ in range(8))

    books = []
    for a in range(authors):
        author = f"Author {a:03d}"
        for t in range(per_author):
            books.append({
                "author": author,
                "title": f"Title {a:03d}-{t:02d}",
                # Spread every author over the categories, and every category over the authors.
                "category": categories[(a * 7 + t) % n_categories],
                "formats": {"Hardcover": ident(), "Paperback": ident()},
            })
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "books.json"), "w", encoding="utf-8") as f:
        json.dump(books, f, ensure_ascii=False)

    def write(name: str, lines) -> None:
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)

    write("urls-get.txt", (f"{base}/books/{seg(b['author'])}/{seg(b['title'])}" for b in books))
    write("urls-patch.txt",
          (f"{base}/books/{seg(b['author'])}/{seg(b['title'])}/formats" for b in books))
    write("urls-author.txt",
          (f"{base}/authors/{seg(f'Author {a:03d}')}/books?limit=20" for a in range(authors)))
    write("urls-category.txt",
          (f"{base}/categories/{seg(c)}/books?limit=20" for c in categories))
    write("urls-page100.txt",
          (f"{base}/categories/{seg(c)}/books?limit=100" for c in categories))
    write("urls-catalogue.txt", [f"{base}/categories"])
    print(f"{len(books)} books, {authors} authors, {n_categories} categories -> {out}")


if __name__ == "__main__":
    main()
