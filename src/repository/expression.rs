//! Builds DynamoDB expressions with placeholders only.
//!
//! Every attribute name goes through `#nN` and every value through `:vN`, so no user string is ever
//! spliced into an expression (format names are map keys chosen by clients).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::Expectation;

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

/// The ConditionExpression that makes DynamoDB enforce a client's precondition atomically.
///
/// A book never written by this service has no `Version` attribute and counts as version 0.
pub(crate) fn expectation_condition(
    expectation: &Expectation,
    p: &mut Placeholders,
) -> Option<String> {
    if *expectation == Expectation::None {
        return None;
    }
    let author = p.name("Author");
    match expectation {
        Expectation::None => None,
        Expectation::Exists => Some(format!("attribute_exists({author})")),
        Expectation::Absent => Some(format!("attribute_not_exists({author})")),
        Expectation::VersionIn(versions) => Some(format!(
            "attribute_exists({author}) AND ({})",
            version_in(versions, p)
        )),
        Expectation::VersionNotIn(versions) => Some(format!(
            "attribute_not_exists({author}) OR NOT ({})",
            version_in(versions, p)
        )),
    }
}

/// `Version IN (...)`, where version 0 also matches an item without the attribute.
fn version_in(versions: &[u64], p: &mut Placeholders) -> String {
    let version = p.name("Version");
    let mut parts = Vec::new();
    let listed: Vec<String> = versions
        .iter()
        .filter(|v| **v != 0)
        .map(|v| p.number(v))
        .collect();
    if !listed.is_empty() {
        parts.push(format!("{version} IN ({})", listed.join(", ")));
    }
    if versions.contains(&0) {
        parts.push(format!("attribute_not_exists({version})"));
    }
    if parts.is_empty() {
        // An empty list can only come from a bug upstream; make it fail closed.
        parts.push(format!("attribute_type({version}, {})", p.string("NULL")));
    }
    parts.join(" OR ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_reused_and_values_numbered() {
        let mut p = Placeholders::default();
        assert_eq!(p.name("Formats"), "#n0");
        assert_eq!(p.name("Formats"), "#n0");
        assert_eq!(p.name("Hard#cover"), "#n1");
        assert_eq!(p.string("x"), ":v0");
        assert_eq!(p.number(3), ":v1");
        assert_eq!(p.names().unwrap()["#n1"], "Hard#cover");
    }

    #[test]
    fn version_zero_matches_items_without_a_version() {
        let mut p = Placeholders::default();
        let cond = expectation_condition(&Expectation::VersionIn(vec![0, 4]), &mut p).unwrap();
        assert_eq!(
            cond,
            "attribute_exists(#n0) AND (#n1 IN (:v0) OR attribute_not_exists(#n1))"
        );
        let mut p = Placeholders::default();
        let cond = expectation_condition(&Expectation::VersionNotIn(vec![2]), &mut p).unwrap();
        assert_eq!(cond, "attribute_not_exists(#n0) OR NOT (#n1 IN (:v0))");
    }
}
