//! The character classes IAM and KMS accept, exactly as their API models state them, so input is
//! refused before any write instead of failing half-way through a reconcile.

use unicode_general_category::{get_general_category, GeneralCategory as G};

/// IAM names (roles, groups, policies): `[\w+=,.@-]`.
pub fn is_iam_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b)
}

/// One segment of an IAM path the provider accepts: `[A-Za-z0-9.,+@=_-]`. This is the stricter of
/// IAM's path patterns (CreatePolicy and ListPolicies' PathPrefix), so one path serves roles,
/// groups and policies alike.
pub fn is_path_segment_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b".,+@=_-".contains(&b)
}

/// IAM's tag characters: `[\p{L}\p{Z}\p{N}_.:/=+\-@]` (letters, separators, numbers by Unicode
/// general category; combining marks, which Rust's `char::is_alphanumeric` admits, are refused).
pub fn is_tag_char(c: char) -> bool {
    if "_.:/=+-@".contains(c) {
        return true;
    }
    matches!(
        get_general_category(c),
        G::UppercaseLetter
            | G::LowercaseLetter
            | G::TitlecaseLetter
            | G::ModifierLetter
            | G::OtherLetter
            | G::SpaceSeparator
            | G::LineSeparator
            | G::ParagraphSeparator
            | G::DecimalNumber
            | G::LetterNumber
            | G::OtherNumber
    )
}

/// Characters IAM accepts in a policy document: TAB, LF, CR and U+0020–U+00FF
/// (`[\u0009\u000A\u000D\u0020-\u00FF]+` in the IAM API model).
pub fn is_policy_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FF}')
}

/// The first character of `text` IAM would refuse in a policy document, if any.
pub fn first_non_policy_char(text: &str) -> Option<char> {
    text.chars().find(|c| !is_policy_char(*c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_characters_follow_iams_unicode_classes_and_refuse_combining_marks() {
        for ok in ['a', 'Z', 'é', 'ß', '日', '٣', ' ', '_', '@', '/'] {
            assert!(is_tag_char(ok), "{ok:?}");
        }
        // U+0902 DEVANAGARI SIGN ANUSVARA is alphabetic to Rust but a mark (Mn) to IAM.
        assert!('\u{902}'.is_alphanumeric());
        for bad in ['\u{902}', '\u{301}', '<', '>', '!', '#', '\t', '😀'] {
            assert!(!is_tag_char(bad), "{bad:?}");
        }
    }

    #[test]
    fn policy_documents_allow_latin1_and_three_controls_only() {
        assert_eq!(first_non_policy_char("{\"a\":\"é\"}\n\t\r"), None);
        assert_eq!(first_non_policy_char("{\"a\":\"日本\"}"), Some('日'));
        assert_eq!(first_non_policy_char("\u{1}"), Some('\u{1}'));
    }

    #[test]
    fn path_segments_refuse_wildcards_and_other_punctuation() {
        assert!(b"orders.v2,+@=_-".iter().all(|b| is_path_segment_byte(*b)));
        for bad in b"*?/ !#" {
            assert!(!is_path_segment_byte(*bad), "{}", *bad as char);
        }
    }
}
