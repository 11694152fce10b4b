//! The text a caller may send, and how a caller's value is echoed back in an error. Every
//! text field has a limit (in characters), none may hold NUL or other control characters
//! (PostgreSQL cannot store NUL, and names are shown to people), and an echoed value is cut
//! short so that an error never carries a caller's megabyte back.

/// Names of tenants, tags, roles and groups.
pub const NAME_MAX: usize = 200;
/// Descriptions of roles and groups.
pub const DESCRIPTION_MAX: usize = 2000;
/// E-mail addresses (RFC 5321's longest path).
pub const EMAIL_MAX: usize = 320;
/// First and last names of users and persons.
pub const PERSON_NAME_MAX: usize = 200;
/// Resource ids registered by the calling application.
pub const RESOURCE_ID_MAX: usize = 512;
/// Search text and filters of list calls.
pub const QUERY_MAX: usize = 200;
/// Characters of a caller's value that an error message repeats.
const SHOWN_MAX: usize = 64;

/// Text a field does not accept.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("`{field}` must not be empty")]
    Empty { field: &'static str },
    #[error("`{field}` must be at most {max} characters, got {got}")]
    TooLong {
        field: &'static str,
        max: usize,
        got: usize,
    },
    #[error("`{field}` must not contain NUL or other control characters")]
    Control { field: &'static str },
}

/// Trimmed text of at most `max` characters, possibly empty.
pub fn optional_text(field: &'static str, value: &str, max: usize) -> Result<String, TextError> {
    // Tabs and line breaks are text (descriptions have paragraphs); other controls are not.
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(TextError::Control { field });
    }
    let value = value.trim();
    let got = value.chars().count();
    if got > max {
        return Err(TextError::TooLong { field, max, got });
    }
    Ok(value.to_owned())
}

/// Trimmed, non-empty text of at most `max` characters.
pub fn required_text(field: &'static str, value: &str, max: usize) -> Result<String, TextError> {
    let value = optional_text(field, value, max)?;
    if value.is_empty() {
        return Err(TextError::Empty { field });
    }
    Ok(value)
}

/// A caller's value as an error message repeats it: control characters escaped, and cut
/// after a few dozen characters.
pub fn shown(value: &str) -> String {
    let mut shown: String = value
        .chars()
        .take(SHOWN_MAX)
        .flat_map(char::escape_default)
        .collect();
    if value.chars().count() > SHOWN_MAX {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_controls_are_refused_but_line_breaks_are_text() {
        assert_eq!(
            optional_text("name", "a\0b", 10),
            Err(TextError::Control { field: "name" })
        );
        assert_eq!(
            optional_text("name", "a\u{1b}b", 10),
            Err(TextError::Control { field: "name" })
        );
        assert_eq!(optional_text("d", " one\ntwo\t ", 10).unwrap(), "one\ntwo");
    }

    #[test]
    fn limits_count_characters_after_trimming() {
        assert_eq!(required_text("name", "  é ", 1).unwrap(), "é");
        assert_eq!(
            required_text("name", "ab", 1),
            Err(TextError::TooLong {
                field: "name",
                max: 1,
                got: 2
            })
        );
        assert_eq!(
            required_text("name", "   ", 5),
            Err(TextError::Empty { field: "name" })
        );
    }

    #[test]
    fn an_echoed_value_is_short_and_escaped() {
        let long = "x".repeat(1_000_000);
        assert_eq!(shown(&long).chars().count(), SHOWN_MAX + 1);
        assert_eq!(shown("a\0b"), "a\\u{0}b");
    }
}
