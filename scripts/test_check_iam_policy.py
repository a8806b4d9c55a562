"""Self-test of scripts/check_iam_policy.py: a checker that never fails is worse
than none, so prove it rejects the two classic mistakes and accepts the real
template. Run: python -m pytest scripts/test_check_iam_policy.py"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE.parent / "deploy" / "cloudformation.yaml"

_spec = importlib.util.spec_from_file_location("check_iam_policy", HERE / "check_iam_policy.py")
checker = importlib.util.module_from_spec(_spec)
assert _spec.loader is not None
sys.modules[_spec.name] = checker  # dataclasses look their module up while executing it
_spec.loader.exec_module(checker)


def _role_template(statement: str) -> str:
    """A minimal template with one table and one role whose only statement is
    `statement` (YAML, short-form intrinsics allowed)."""
    return textwrap.dedent(
        """\
        Resources:
          Table:
            Type: AWS::DynamoDB::Table
            Properties:
              TableName: Books
          Role:
            Type: AWS::IAM::Role
            Properties:
              AssumeRolePolicyDocument: {}
              Policies:
                - PolicyName: p
                  PolicyDocument:
                    Version: "2012-10-17"
                    Statement:
        """
    ) + textwrap.indent(textwrap.dedent(statement), " " * 22)


def _run(tmp_path: Path, text: str, capsys) -> tuple[int, str]:
    path = tmp_path / "template.yaml"
    path.write_text(text, encoding="utf-8")
    code = checker.main(["check_iam_policy.py", str(path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_rejects_dynamodb_star_action(tmp_path, capsys):
    code, out = _run(tmp_path, _role_template("""\
        - Effect: Allow
          Action: dynamodb:*
          Resource: !GetAtt Table.Arn
        """), capsys)
    assert code == 1
    assert "wildcard action 'dynamodb:*'" in out


def test_rejects_star_resource(tmp_path, capsys):
    code, out = _run(tmp_path, _role_template("""\
        - Effect: Allow
          Action: [dynamodb:GetItem, dynamodb:Query]
          Resource: "*"
        """), capsys)
    assert code == 1
    assert "wildcard resource '*'" in out


@pytest.mark.parametrize(
    "statement, expected",
    [
        # all actions of all services include DynamoDB's
        ("- Effect: Allow\n  Action: '*'\n  Resource: !GetAtt Table.Arn\n", "wildcard action '*'"),
        ("- Effect: Allow\n  Action: dynamodb:Get*\n  Resource: !GetAtt Table.Arn\n", "wildcard action 'dynamodb:Get*'"),
        # every index of the table, via !Sub and via the long form
        ("- Effect: Allow\n  Action: dynamodb:Query\n  Resource: !Sub '${Table.Arn}/index/*'\n", "wildcard resource"),
        ("- Effect: Allow\n  Action: dynamodb:Query\n  Resource: {'Fn::Sub': 'arn:aws:dynamodb:*:*:table/Books'}\n", "wildcard resource"),
        # hidden in one branch of a condition
        ("- Effect: Allow\n  Action: dynamodb:GetItem\n  Resource: !If [C, !GetAtt Table.Arn, '*']\n", "wildcard resource '*'"),
        # a parameter could be anything at deploy time
        ("- Effect: Allow\n  Action: dynamodb:GetItem\n  Resource: !Ref SomeParameter\n", "cannot be checked"),
    ],
)
def test_rejects_other_wildcards(tmp_path, capsys, statement, expected):
    code, out = _run(tmp_path, _role_template(statement), capsys)
    assert code == 1
    assert expected in out


def test_rejects_managed_dynamodb_policy(tmp_path, capsys):
    text = _role_template("- Effect: Allow\n  Action: dynamodb:GetItem\n  Resource: !GetAtt Table.Arn\n")
    text = text.replace(
        "AssumeRolePolicyDocument: {}",
        "AssumeRolePolicyDocument: {}\n      ManagedPolicyArns: [arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess]",
    )
    code, out = _run(tmp_path, text, capsys)
    assert code == 1
    assert "AmazonDynamoDBFullAccess" in out


def test_ignores_wildcards_in_deny_and_unscopable_actions(tmp_path, capsys):
    code, out = _run(tmp_path, _role_template("""\
        - Effect: Allow
          Action: [dynamodb:GetItem]
          Resource: [!GetAtt Table.Arn, !Sub "${Table.Arn}/index/CategoryIndex"]
        - Effect: Allow
          Action: [xray:PutTraceSegments, xray:PutTelemetryRecords]
          Resource: "*"
        - Effect: Deny
          Action: dynamodb:*
          Resource: "*"
        - Effect: Deny
          Action: "*"
          NotResource: !GetAtt Table.Arn
        """), capsys)
    assert code == 0, out
    assert "1 DynamoDB statements, no wildcard" in out
    assert "1 other statements, 1 on '*' for unscopable actions only" in out


@pytest.mark.parametrize(
    "statement, expected",
    [
        # a wildcard action outside DynamoDB is as broad as inside it
        ("- Effect: Allow\n  Action: xray:*\n  Resource: '*'\n", "wildcard action 'xray:*'"),
        ("- Effect: Allow\n  Action: logs:*\n  Resource: !GetAtt Table.Arn\n", "wildcard action 'logs:*'"),
        # '*' for an action IAM can scope to a resource
        ("- Effect: Allow\n  Action: secretsmanager:GetSecretValue\n  Resource: '*'\n", "which IAM can scope"),
        ("- Effect: Allow\n  Action: s3:GetObject\n  Resource: !Sub 'arn:aws:s3:::bucket/*'\n", "which IAM can scope"),
        # one scopable action spoils the statement's right to '*'
        ("- Effect: Allow\n  Action: [xray:PutTraceSegments, sns:Publish]\n  Resource: '*'\n", "sns:Publish, which IAM can scope"),
        # hidden in one branch of a condition
        ("- Effect: Allow\n  Action: kms:Decrypt\n  Resource: !If [C, !GetAtt Table.Arn, '*']\n", "which IAM can scope"),
        ("- Effect: Allow\n  NotAction: dynamodb:*\n  Resource: '*'\n", "NotAction grants every other action"),
        ("- Effect: Allow\n  Action: xray:PutTraceSegments\n  NotResource: !GetAtt Table.Arn\n", "NotResource"),
    ],
)
def test_rejects_wildcards_outside_dynamodb(tmp_path, capsys, statement, expected):
    code, out = _run(tmp_path, _role_template(statement), capsys)
    assert code == 1, out
    assert expected in out


def test_standalone_policy_resources_are_checked(tmp_path, capsys):
    text = _role_template("- Effect: Allow\n  Action: dynamodb:GetItem\n  Resource: !GetAtt Table.Arn\n")
    text += textwrap.indent(textwrap.dedent(
        """\
          Tracing:
            Type: AWS::IAM::Policy
            Properties:
              PolicyName: t
              Roles: [!Ref Role]
              PolicyDocument:
                Statement:
                  - Effect: Allow
                    Action: xray:*
                    Resource: "*"
        """
    ), "  ")
    code, out = _run(tmp_path, text, capsys)
    assert code == 1
    assert "Tracing[0]: wildcard action 'xray:*'" in out


def test_accepts_real_template(capsys):
    code = checker.main(["check_iam_policy.py", str(TEMPLATE)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "no wildcard" in out
    report = checker.check_template(checker.load_template(TEMPLATE))
    # The API role and the migration role both touch DynamoDB; the execution role does not.
    assert report.roles == 3
    assert report.dynamodb_statements == 12
    # The tracing policy: X-Ray's PutTraceSegments, whose only resource is "*".
    assert report.policies == 1
    assert report.unscopable_statements == 1
