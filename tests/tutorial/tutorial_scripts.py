"""The AWS tutorial's own boto3 calls, run against a table this service wrote.

Usage: tutorial_scripts.py ENDPOINT TABLE
Prints one JSON object with what each call returned. Mirrors the tutorial's scripts
(get_item, query by author, query on CategoryIndex, update_item on the Formats map).
"""
import json
import sys
from decimal import Decimal

import boto3
from boto3.dynamodb.conditions import Key

endpoint, table_name = sys.argv[1], sys.argv[2]
dynamodb = boto3.resource(
    "dynamodb",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id="test",
    aws_secret_access_key="test",
)
table = dynamodb.Table(table_name)


def plain(value):
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


result = {
    "get_item": table.get_item(Key={"Author": "John Grisham", "Title": "The Rainmaker"})["Item"],
    "query_author": table.query(KeyConditionExpression=Key("Author").eq("John Grisham"))["Items"],
    "query_category": table.query(
        IndexName="CategoryIndex", KeyConditionExpression=Key("Category").eq("Suspense")
    )["Items"],
    "update_item": table.update_item(
        Key={"Author": "John Grisham", "Title": "The Rainmaker"},
        UpdateExpression="SET Formats.#audio = :id",
        ExpressionAttributeNames={"#audio": "Audiobook"},
        ExpressionAttributeValues={":id": "8WE3KPTP"},
        ReturnValues="ALL_NEW",
    )["Attributes"],
}
print(json.dumps(plain(result)))
