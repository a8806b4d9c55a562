"""DynamoDB capacity units per route, measured on dynoxide (bench/capacity.sh).

dynoxide computes ConsumedCapacity by DynamoDB's billing rules (item sizes, 4 KB read units,
1 KB write units, index writes). This script stores the benchmark's books through the service's
own `seed` (so items have exactly the attributes the service writes), then sends each route's
DynamoDB request as src/repository builds it, with ReturnConsumedCapacity=INDEXES, and prints
the units each consumed: median, minimum and maximum over the sampled keys.

    python3 bench/capacity.py BOOKSTORE_BINARY ENGINE_PORT OUT_DIR
"""

import json
import os
import random
import statistics
import subprocess
import sys
import time

import boto3

TABLE = "Books"
PAGE = 20  # the default page; the repository asks for one more item to know whether more follow
SAMPLES = 50


def units(resp):
    c = resp.get("ConsumedCapacity") or {}
    table = (c.get("Table") or {}).get("CapacityUnits", c.get("CapacityUnits", 0.0))
    index = sum(v.get("CapacityUnits", 0.0) for v in (c.get("GlobalSecondaryIndexes") or {}).values())
    return table, index


def main():
    binary, port, out = sys.argv[1], sys.argv[2], sys.argv[3]
    env = dict(os.environ, AWS_ENDPOINT_URL_DYNAMODB=f"http://127.0.0.1:{port}", AWS_REGION="us-east-1",
               AWS_ACCESS_KEY_ID="capacity", AWS_SECRET_ACCESS_KEY="capacity", BOOKSTORE_TABLE=TABLE,
               AWS_EC2_METADATA_DISABLED="true", RUST_LOG="warn")
    books_file = os.path.join(out, "books.json")
    subprocess.run([binary, "migrate"], env=env, check=True)
    subprocess.run([binary, "seed", books_file], env=env, check=True)
    with open(books_file, encoding="utf-8") as f:
        books = json.load(f)
    db = boto3.client("dynamodb", endpoint_url=env["AWS_ENDPOINT_URL_DYNAMODB"], region_name="us-east-1",
                      aws_access_key_id="capacity", aws_secret_access_key="capacity")
    rng = random.Random(7)
    sample = rng.sample(books, SAMPLES)
    authors = sorted({b["author"] for b in books})
    categories = sorted({b["category"] for b in books})
    key = lambda b: {"Author": {"S": b["author"]}, "Title": {"S": b["title"]}}
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    routes = {
        "GET /books/{author}/{title} (GetItem, strongly consistent)": [
            db.get_item(TableName=TABLE, Key=key(b), ConsistentRead=True, ReturnConsumedCapacity="INDEXES")
            for b in sample],
        f"GET /authors/{{author}}/books, page of {PAGE} (Query, strongly consistent)": [
            db.query(TableName=TABLE, KeyConditionExpression="#a = :a", ExpressionAttributeNames={"#a": "Author"},
                     ExpressionAttributeValues={":a": {"S": a}}, Limit=PAGE + 1, ConsistentRead=True,
                     ReturnConsumedCapacity="INDEXES")
            for a in rng.sample(authors, min(SAMPLES, len(authors)))],
        f"GET /categories/{{category}}/books, page of {PAGE} (Query on CategoryIndex, eventually consistent)": [
            db.query(TableName=TABLE, IndexName="CategoryIndex", KeyConditionExpression="#c = :c",
                     ExpressionAttributeNames={"#c": "Category"}, ExpressionAttributeValues={":c": {"S": c}},
                     Limit=PAGE + 1, ReturnConsumedCapacity="INDEXES")
            for c in categories],
        "PATCH /books/{author}/{title}/formats (UpdateItem)": [
            db.update_item(TableName=TABLE, Key=key(b),
                           UpdateExpression="SET #f.#n = :v, #u = :now ADD #v :one",
                           ConditionExpression="attribute_exists(#a)",
                           ExpressionAttributeNames={"#f": "Formats", "#n": "Audiobook", "#u": "UpdatedAt",
                                                     "#v": "Version", "#a": "Author"},
                           ExpressionAttributeValues={":v": {"S": "CAPACITY1"}, ":now": {"S": now},
                                                      ":one": {"N": "1"}},
                           ReturnValues="ALL_NEW", ReturnConsumedCapacity="INDEXES")
            for b in sample],
        "DELETE /books/{author}/{title} (DeleteItem)": [
            db.delete_item(TableName=TABLE, Key=key(b), ReturnValues="ALL_OLD", ReturnConsumedCapacity="INDEXES")
            for b in sample],
    }
    print("| route | table units: median (min–max) | CategoryIndex units: median (min–max) | items read |")
    print("|---|---:|---:|---:|")
    for route, responses in routes.items():
        t = [units(r)[0] for r in responses]
        i = [units(r)[1] for r in responses]
        n = [r.get("Count", 1) for r in responses]
        print(f"| {route} | {statistics.median(t):g} ({min(t):g}–{max(t):g}) | "
              f"{statistics.median(i):g} ({min(i):g}–{max(i):g}) | {statistics.median(n):g} |")
    sizes = [len(json.dumps(b)) for b in books]
    print(f"\n{len(books)} books, {len(authors)} authors, {len(categories)} categories "
          f"(bench/gen_data.py); JSON size per book: median {statistics.median(sizes):g} bytes")


if __name__ == "__main__":
    main()
