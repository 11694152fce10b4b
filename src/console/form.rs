//! A form or query string as its fields, repeated names kept (a role's permissions), and
//! the ids and choices in them read with messages a person can act on.

use std::str::FromStr;

/// `application/x-www-form-urlencoded` fields, in order.
#[derive(Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(bytes: &[u8]) -> Fields {
        Fields(form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// The first value of `name`, trimmed; None when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Whether the form names `name` at all, whatever its value (a pressed button).
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    /// Every value of `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `name`, or "" when absent.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_owned()
    }

    /// `name` parsed as an id (`uuid`) or a choice; `label` is the control's name on the
    /// page. A value the page never offered gets a message, not a guess.
    pub fn choice<T: FromStr>(&self, name: &str, label: &str) -> Result<Option<T>, String> {
        self.get(name)
            .map(|v| {
                v.parse().map_err(|_| {
                    format!("“{label}” is not one of the choices offered; reload the page and choose again")
                })
            })
            .transpose()
    }
}

/// A resource as the pages name it, `type/id`.
pub fn resource(text: &str) -> Option<crate::model::ResourceRef> {
    let (kind, id) = text.split_once('/')?;
    crate::model::ResourceRef::named(kind.parse().ok()?, id).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_and_blank_fields() {
        let fields = Fields::parse(b"p=a.view&p=b.manage&name=+Tech+&empty=");
        assert_eq!(fields.all("p").collect::<Vec<_>>(), ["a.view", "b.manage"]);
        assert_eq!(fields.get("name"), Some("Tech"));
        assert_eq!(fields.get("empty"), None);
        assert!(fields.has("empty") && !fields.has("absent"));
        assert_eq!(fields.get("absent"), None);
        assert!(fields.choice::<uuid::Uuid>("name", "Role").is_err());
    }
}
