#!/usr/bin/env python3
"""Fail if a CloudFormation template grants access through a wildcard.

cfn-lint checks that a template is valid, not that it is least-privilege; a
`dynamodb:*` on `*` deploys fine and would let the API drop the table. This
check keeps the roles in deploy/cloudformation.yaml honest as they evolve.

Rules, for every Allow statement of every IAM policy in the template whose
actions can reach DynamoDB (a `dynamodb:` action, or a pattern such as `*` that
matches one):
  * no action may contain a wildcard (`*` or `?`);
  * every resource must be verifiable and free of wildcards: `*`, an ARN ending
    in `*` or `/*`, or `*` anywhere in it (all regions, all tables...) fail;
    so does a resource that cannot be checked statically (a Ref to a parameter).
  * no AWS-managed DynamoDB policy (AmazonDynamoDB*) may be attached: they all
    use wildcard resources.
Every other Allow statement (X-Ray, Secrets Manager, KMS...):
  * no action may contain a wildcard, and NotAction / NotResource are refused;
  * a wildcard resource (`*`, or `*` in an ARN) is accepted only when every
    action of the statement is one IAM cannot scope to a resource
    (UNSCOPABLE_ACTIONS, e.g. xray:PutTraceSegments); a Ref to a parameter is
    accepted (its AllowedPattern constrains it).
Deny statements are skipped: a broad Deny only narrows access.

Usage: check_iam_policy.py TEMPLATE [TEMPLATE...]; exit 0 when clean, 1 with one
line per problem otherwise, 2 when a template cannot be read.
"""

from __future__ import annotations

import fnmatch
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

# Actions whose only valid Resource is "*" (the service authorizes no resource ARN for
# them), so a statement made of these alone may use it. Add to this list only after
# checking the service's "Actions, resources, and condition keys" page in the IAM docs.
UNSCOPABLE_ACTIONS = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    }
)

POLICY_DOCUMENT_TYPES = {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"}
ROLE_TYPE = "AWS::IAM::Role"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation's short-form intrinsics (!Ref, !Sub...)
    as their long form ({"Ref": ...}, {"Fn::Sub": ...}), so the rest of the code
    sees one shape whichever form the template uses."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        # !GetAtt Res.Attr.Sub -> ["Res", "Attr.Sub"], as the long form has it.
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict:
    with path.open(encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise ValueError(f"{path}: not a CloudFormation template (no Resources mapping)")
    return data


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _is_no_value(node: Any) -> bool:
    return isinstance(node, dict) and node.get("Ref") == "AWS::NoValue"


def _expand_if(node: Any) -> list:
    """Both branches of Fn::If (either may be deployed); drop AWS::NoValue."""
    if isinstance(node, dict) and set(node) == {"Fn::If"}:
        args = node["Fn::If"]
        if isinstance(args, list) and len(args) == 3:
            return _expand_if(args[1]) + _expand_if(args[2])
    return [] if _is_no_value(node) else [node]


def _strings(node: Any) -> Iterable[str]:
    """Every string leaf (for actions: an intrinsic may hide a literal in it)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, dict):
        for item in node.values():
            yield from _strings(item)


@dataclass
class Report:
    roles: int = 0
    policies: int = 0
    dynamodb_statements: int = 0
    other_statements: int = 0
    unscopable_statements: int = 0
    problems: list[str] = field(default_factory=list)


def _resource_texts(node: Any, resources: dict) -> list[tuple[str, bool]]:
    """What a Resource entry can resolve to, as (text, verifiable) pairs. The text
    keeps ${...} placeholders, which never contain a wildcard themselves."""
    out: list[tuple[str, bool]] = []
    for item in _expand_if(node):
        if isinstance(item, str):
            out.append((item, True))
        elif isinstance(item, dict) and "Fn::Sub" in item:
            template = item["Fn::Sub"]
            template = template[0] if isinstance(template, list) else template
            out.append((str(template), isinstance(template, str)))
        elif isinstance(item, dict) and "Fn::GetAtt" in item:
            target = _as_list(item["Fn::GetAtt"])
            name = str(target[0]) if target else "?"
            out.append((f"<{name}.{'.'.join(map(str, target[1:]))}>", name in resources))
        elif isinstance(item, dict) and "Ref" in item:
            name = str(item["Ref"])
            # A resource's Ref is its physical id/ARN; a parameter could be "*".
            out.append((f"<Ref {name}>", name in resources or name.startswith("AWS::")))
        elif isinstance(item, dict) and "Fn::Join" in item:
            args = item["Fn::Join"]
            if isinstance(args, list) and len(args) == 2 and isinstance(args[1], list):
                parts = [_resource_texts(p, resources) for p in args[1]]
                text = str(args[0]).join(p[0][0] if len(p) == 1 else "<?>" for p in parts)
                ok = all(len(p) == 1 and p[0][1] for p in parts)
                out.append((text, ok))
            else:
                out.append(("<Fn::Join>", False))
        else:
            out.append((f"<{next(iter(item)) if isinstance(item, dict) else type(item).__name__}>", False))
    return out


def _touches_dynamodb(action: str) -> bool:
    service = action.split(":", 1)[0] if ":" in action else action
    return fnmatch.fnmatchcase("dynamodb", service.lower())


def _shape_problems(where: str, statement: dict, actions: list[str], action_kind: str, resource_kind: str, report: Report) -> list:
    """The rules every Allow statement follows (no wildcard action, no NotResource, a
    Resource present); returns the statement's Resource entries for the caller's own rules."""
    for action in actions:
        if "*" in action or "?" in action:
            report.problems.append(f"{where}: wildcard action {action!r}; list the {action_kind} explicitly")
    if "NotResource" in statement:
        report.problems.append(f"{where}: NotResource grants every other resource; name the {resource_kind} instead")
    resource_nodes = _as_list(statement.get("Resource"))
    if not resource_nodes and "NotResource" not in statement:
        report.problems.append(f"{where}: statement has no Resource")
    return resource_nodes


def check_statement(where: str, statement: Any, resources: dict, report: Report) -> None:
    if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
        return
    actions = list(_strings(statement.get("Action")))
    not_actions = list(_strings(statement.get("NotAction")))
    if not_actions:
        # "everything except X" reaches DynamoDB unless X excludes it wholesale.
        if not any(_touches_dynamodb(a) and a.endswith(":*") or a == "*" for a in not_actions):
            report.dynamodb_statements += 1
            report.problems.append(f"{where}: NotAction grants every other action, DynamoDB included")
        else:
            report.other_statements += 1
            report.problems.append(f"{where}: NotAction grants every other action; list the actions instead")
        return
    if not any(_touches_dynamodb(a) for a in actions):
        check_other_statement(where, statement, actions, resources, report)
        return
    report.dynamodb_statements += 1
    resource_nodes = _shape_problems(where, statement, actions, "DynamoDB actions", "tables", report)
    for node in resource_nodes:
        for text, verifiable in _resource_texts(node, resources):
            if "*" in text or "?" in text:
                report.problems.append(f"{where}: wildcard resource {text!r}; name the table/index ARN")
            elif not verifiable:
                report.problems.append(f"{where}: resource {text!r} cannot be checked statically; use !GetAtt/!Sub on the table")


def check_other_statement(where: str, statement: dict, actions: list[str], resources: dict, report: Report) -> None:
    """An Allow statement that cannot reach DynamoDB: no wildcard action, and a
    wildcard resource only for actions that have no resource to name."""
    report.other_statements += 1
    resource_nodes = _shape_problems(where, statement, actions, "actions", "resources", report)
    wildcards = [
        text
        for node in resource_nodes
        for text, _verifiable in _resource_texts(node, resources)
        if "*" in text or "?" in text
    ]
    if not wildcards:
        return
    scopable = sorted(a for a in actions if a not in UNSCOPABLE_ACTIONS)
    if scopable:
        for text in wildcards:
            report.problems.append(
                f"{where}: wildcard resource {text!r} for {', '.join(scopable)}, which IAM can scope; name the resource"
            )
    else:
        report.unscopable_statements += 1


def _documents(logical_id: str, resource: dict) -> Iterable[tuple[str, Any]]:
    rtype = resource.get("Type")
    props = resource.get("Properties") or {}
    if rtype == ROLE_TYPE:
        for policy in _as_list(props.get("Policies")):
            for policy in _expand_if(policy):
                if isinstance(policy, dict):
                    yield f"{logical_id}/{policy.get('PolicyName', '?')}", policy.get("PolicyDocument")
    elif rtype in POLICY_DOCUMENT_TYPES:
        yield logical_id, props.get("PolicyDocument")


def check_template(template: dict) -> Report:
    resources = template["Resources"]
    report = Report()
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict):
            continue
        rtype = resource.get("Type")
        if rtype == ROLE_TYPE:
            report.roles += 1
            for arn in _strings((resource.get("Properties") or {}).get("ManagedPolicyArns")):
                if "amazondynamodb" in arn.lower():
                    report.problems.append(f"{logical_id}: managed policy {arn!r} grants DynamoDB on wildcard resources")
        elif rtype in POLICY_DOCUMENT_TYPES:
            report.policies += 1
        for where, document in _documents(logical_id, resource):
            statements = _as_list((document or {}).get("Statement") if isinstance(document, dict) else None)
            for index, statement in enumerate(statements):
                for variant in _expand_if(statement):
                    label = variant.get("Sid") if isinstance(variant, dict) else None
                    check_statement(f"{where}[{label or index}]", variant, resources, report)
    return report


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(f"usage: {Path(argv[0]).name} TEMPLATE [TEMPLATE...]", file=sys.stderr)
        return 2
    failed = False
    for name in argv[1:]:
        try:
            report = check_template(load_template(Path(name)))
        except (OSError, ValueError, yaml.YAMLError) as exc:
            print(f"IAM check: cannot read {name}: {exc}", file=sys.stderr)
            return 2
        if report.problems:
            failed = True
            for problem in report.problems:
                print(f"IAM check FAILED: {name}: {problem}", file=sys.stderr)
        elif report.dynamodb_statements == 0:
            # A refactor that drops the policies would otherwise "pass" vacuously.
            failed = True
            print(f"IAM check FAILED: {name}: no DynamoDB statement found; is the parser still in step with the template?", file=sys.stderr)
        else:
            extra = f", {report.policies} policies" if report.policies else ""
            print(
                f"IAM check: {report.roles} roles{extra}, {report.dynamodb_statements} DynamoDB statements, no wildcard; "
                f"{report.other_statements} other statements, {report.unscopable_statements} on '*' for unscopable actions only ({name})"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
