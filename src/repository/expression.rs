//! Builds DynamoDB expressions with placeholders only.
//!
//! Every attribute name goes through `#nN` and every value through `:vN`, so no user string is ever
//! spliced into an expression (format names are map keys chosen by clients).

use std::collections::HashMap;

use aws_sdk_dynamodb::{
    operation::{
        delete_item::builders::DeleteItemFluentBuilder, put_item::builders::PutItemFluentBuilder,
        query::builders::QueryFluentBuilder, update_item::builders::UpdateItemFluentBuilder,
    },
    types::{
        AttributeValue,
        builders::{DeleteBuilder, PutBuilder, UpdateBuilder},
    },
};

use super::item::{AUTHOR, INCARNATION, VERSION};
use crate::domain::{Expectation, Revision, TagMatch};

/// Placeholder maps collected while an expression is written.
#[derive(Debug, Default)]
pub(crate) struct Placeholders {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Placeholders {
    /// A `#nN` placeholder standing for `name`, reused when the same name comes again.
    pub(crate) fn name(&mut self, name: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, n)| n.as_str() == name) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), name.to_owned());
        placeholder
    }

    /// A fresh `:vN` placeholder standing for `value`.
    pub(crate) fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    /// A placeholder for a number.
    pub(crate) fn number(&mut self, n: impl ToString) -> String {
        self.value(AttributeValue::N(n.to_string()))
    }

    /// A placeholder for a string.
    pub(crate) fn string(&mut self, s: impl Into<String>) -> String {
        self.value(AttributeValue::S(s.into()))
    }

    /// The `ExpressionAttributeNames` map, `None` when empty (DynamoDB rejects an empty map).
    pub(crate) fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    /// The `ExpressionAttributeValues` map, `None` when empty.
    pub(crate) fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// A request that carries expressions, and so the placeholder maps they use.
pub(crate) trait WithPlaceholders {
    /// Sets `ExpressionAttributeNames` and `ExpressionAttributeValues` from `p`.
    fn placeholders(self, p: &Placeholders) -> Self;
}

// The SDK's request builders all have these two setters but share no trait for them.
macro_rules! with_placeholders {
    ($($request:ty),+) => {$(
        impl WithPlaceholders for $request {
            fn placeholders(self, p: &Placeholders) -> Self {
                self.set_expression_attribute_names(p.names())
                    .set_expression_attribute_values(p.values())
            }
        }
    )+};
}

with_placeholders!(
    DeleteBuilder,
    DeleteItemFluentBuilder,
    PutItemFluentBuilder,
    QueryFluentBuilder,
    UpdateItemFluentBuilder,
    PutBuilder,
    UpdateBuilder
);

/// The ConditionExpression that makes DynamoDB enforce a client's precondition atomically.
///
/// `If-Match` and `If-None-Match` each become one clause and both must hold. A book never written
/// by this service has no `Version` (version 0) and no `Incarnation`.
pub(crate) fn expectation_condition(
    expectation: &Expectation,
    p: &mut Placeholders,
) -> Option<String> {
    let mut clauses = Vec::new();
    if let Some(tags) = &expectation.if_match {
        let author = p.name(AUTHOR);
        clauses.push(match tags {
            TagMatch::Any => format!("attribute_exists({author})"),
            TagMatch::Revisions(list) => {
                format!(
                    "attribute_exists({author}) AND {}",
                    grouped(revision_in(list, p))
                )
            }
        });
    }
    match &expectation.if_none_match {
        None => {}
        // No listed tag names a revision, so none can match: the header always holds.
        Some(TagMatch::Revisions(list)) if list.is_empty() => {}
        Some(TagMatch::Any) => clauses.push(format!("attribute_not_exists({})", p.name(AUTHOR))),
        Some(TagMatch::Revisions(list)) => clauses.push(format!(
            "attribute_not_exists({}) OR NOT ({})",
            p.name(AUTHOR),
            revision_in(list, p)
        )),
    }
    match clauses.len() {
        0 => None,
        1 => clauses.pop(),
        _ => Some(conjoin(&clauses)),
    }
}

/// `a AND b AND ...` of conditions.
pub(crate) fn conjoin(clauses: &[String]) -> String {
    clauses
        .iter()
        .map(|c| grouped(c.clone()))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// A condition ready to be one operand of `AND`: parenthesised only if it has a top-level `OR`.
/// DynamoDB refuses redundant parentheses (`(attribute_exists(#n0))`, `((a))`) with a
/// ValidationException, so nothing is wrapped that does not need it.
fn grouped(condition: String) -> String {
    if condition.contains(" OR ") {
        format!("({condition})")
    } else {
        condition
    }
}

/// True when the item is one of `revisions`; version 0 and a missing incarnation also match an
/// item without the attribute.
fn revision_in(revisions: &[Revision], p: &mut Placeholders) -> String {
    let version = p.name(VERSION);
    if revisions.is_empty() {
        // No tag the client sent names a revision of ours, so nothing can match: fail closed.
        return format!("attribute_type({version}, {})", p.string("NULL"));
    }
    // Named only when used: DynamoDB refuses unused ExpressionAttributeNames.
    let incarnation = p.name(INCARNATION);
    let terms: Vec<String> = revisions
        .iter()
        .map(|r| {
            let v = match r.version {
                0 => format!("attribute_not_exists({version})"),
                n => format!("{version} = {}", p.number(n)),
            };
            let i = match &r.incarnation {
                None => format!("attribute_not_exists({incarnation})"),
                Some(token) => format!("{incarnation} = {}", p.string(token.as_str())),
            };
            format!("{v} AND {i}")
        })
        .collect();
    match terms.as_slice() {
        [one] => one.clone(),
        many => many
            .iter()
            .map(|t| format!("({t})"))
            .collect::<Vec<_>>()
            .join(" OR "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repository::item::FORMATS;

    #[test]
    fn names_are_reused_and_values_numbered() {
        let mut p = Placeholders::default();
        assert_eq!(p.name(FORMATS), "#n0");
        assert_eq!(p.name(FORMATS), "#n0");
        assert_eq!(p.name("Hard#cover"), "#n1");
        assert_eq!(p.string("x"), ":v0");
        assert_eq!(p.number(3), ":v1");
        assert_eq!(p.names().unwrap()["#n1"], "Hard#cover");
    }

    #[test]
    fn revisions_name_version_and_incarnation() {
        let tagged = Revision {
            version: 4,
            incarnation: Some("0123456789abcdef".into()),
        };
        let bare = Revision {
            version: 0,
            incarnation: None,
        };
        let mut p = Placeholders::default();
        let cond = expectation_condition(
            &Expectation {
                if_match: Some(TagMatch::Revisions(vec![bare, tagged.clone()])),
                if_none_match: None,
            },
            &mut p,
        )
        .unwrap();
        assert_eq!(
            cond,
            "attribute_exists(#n0) AND ((attribute_not_exists(#n1) AND attribute_not_exists(#n2)) \
             OR (#n1 = :v0 AND #n2 = :v1))"
        );
        let mut p = Placeholders::default();
        let both = Expectation {
            if_match: Some(TagMatch::Revisions(vec![tagged])),
            if_none_match: Some(TagMatch::Any),
        };
        let cond = expectation_condition(&both, &mut p).unwrap();
        assert_eq!(
            cond,
            "attribute_exists(#n0) AND #n1 = :v0 AND #n2 = :v1 AND attribute_not_exists(#n0)"
        );
    }

    #[test]
    fn tags_that_name_no_revision_fail_closed_or_always_hold() {
        let mut p = Placeholders::default();
        let never = Expectation {
            if_match: Some(TagMatch::Revisions(vec![])),
            if_none_match: None,
        };
        assert_eq!(
            expectation_condition(&never, &mut p).unwrap(),
            "attribute_exists(#n0) AND attribute_type(#n1, :v0)"
        );
        let always = Expectation {
            if_match: None,
            if_none_match: Some(TagMatch::Revisions(vec![])),
        };
        assert_eq!(expectation_condition(&always, &mut p), None);
    }
}
