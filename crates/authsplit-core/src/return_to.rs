//! The open-redirect guard for the `returnTo` path the app goes back to after sign-in
//! (RFC 9700 §4.11). Part of the base: the browser half checks `returnTo` with it before a
//! sign-in starts and again before it navigates back.
//!
//! ```
//! use authsplit_core::return_to::is_safe_return_to;
//! assert!(is_safe_return_to("/account?tab=2"));
//! assert!(!is_safe_return_to("//evil.example"));
//! assert!(!is_safe_return_to("/%2F%2Fevil.example"));
//! ```

use alloc::string::String;

/// Longest `returnTo` accepted by [`is_safe_return_to`], in bytes.
pub const MAX_RETURN_TO_LEN: usize = 2048;

/// Whether `return_to` is a safe same-origin path: starts with exactly one `/`, no `//`, no
/// `\`, no control characters or whitespace (also percent-encoded forms such as `%09`,
/// `%2F%2F`, `%5C`), no scheme. `/` alone is fine.
///
/// The check runs on the raw value and on up to three rounds of percent-decoding, so
/// double-encoded forms (`%252F%252F`) are caught too; a value that decodes to invalid UTF-8,
/// or is still changing after the third round, is refused. At most [`MAX_RETURN_TO_LEN`] bytes.
pub fn is_safe_return_to(return_to: &str) -> bool {
    if return_to.len() > MAX_RETURN_TO_LEN {
        return false;
    }
    let mut current = String::from(return_to);
    for _ in 0..4 {
        if !is_safe_path_form(&current) {
            return false;
        }
        let Ok(decoded) =
            String::from_utf8(percent_encoding::percent_decode(current.as_bytes()).collect())
        else {
            return false;
        };
        if decoded == current {
            return true;
        }
        current = decoded;
    }
    // Still changing after four rounds: absurdly nested encoding, refuse.
    false
}

/// One form (raw or decoded) of a `returnTo`. Byte scans rather than `str::contains(&str)`:
/// the substring searcher would bring slicing panics and `Debug` formatting into the browser
/// module.
fn is_safe_path_form(s: &str) -> bool {
    s.starts_with('/')
        && !s.as_bytes().windows(2).any(|w| w == b"//")
        && !s.as_bytes().contains(&b'\\')
        && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9700 §4.11 (open redirection); docs/SECURITY.md B9.
    #[test]
    fn rfc9700_s4_11_return_to_open_redirect_guard() {
        for good in [
            "/",
            "/app",
            "/app/page?x=1#top",
            "/%E2%9C%93",
            "/javascript:x",
        ] {
            assert!(is_safe_return_to(good), "{good}");
        }
        for bad in [
            "",
            "//evil",
            "//evil.example/path",
            "/\\evil",
            "\\/evil",
            "/%09/evil",
            "/\t/evil",
            "/ /evil",
            "/%2F%2Fevil",
            "/%2f/evil",
            "/%5Cevil",
            "/%5cevil",
            "/%252F%252Fevil",
            "/%25252F/evil",
            "https://evil",
            "HTTPS://evil",
            "javascript:alert(1)",
            " /app",
            "app",
            "/app\n",
            "/%0D%0ASet-Cookie:x",
            "/%FF",
            // Encoded whitespace is refused like raw whitespace.
            "/a%20b",
            "/a\u{3000}b",
            "/a\u{2028}b",
        ] {
            assert!(!is_safe_return_to(bad), "{bad:?}");
        }
        assert!(!is_safe_return_to(&format!(
            "/{}",
            "a".repeat(MAX_RETURN_TO_LEN)
        )));
    }

    /// RFC 9700 §4.11: more inputs, each with its expected answer — nested encodings up to
    /// the third decoding round, Unicode whitespace and controls, invalid UTF-8.
    #[test]
    fn rfc9700_s4_11_return_to_table() {
        let long = ["/", &"a".repeat(MAX_RETURN_TO_LEN)].concat();
        for (input, safe) in [
            ("/", true),
            ("/account", true),
            ("/a/b?c=d#e", true),
            ("/%E2%9C%93", true),
            ("/%C3%A9", true),
            ("//evil.example", false),
            ("/\\evil.example", false),
            ("/%09/evil.example", false),
            ("/%2F%2Fevil", false),
            ("/%252F%252Fevil", false),
            // `//` only after the third decoding.
            ("/%25252F%25252Fevil", false),
            // Still encoded after three rounds.
            ("/%2525252F", false),
            ("https://evil.example/", false),
            ("javascript:alert(1)", false),
            ("evil", false),
            ("", false),
            ("/a b", false),
            ("/a\u{a0}b", false),
            ("/a\u{85}b", false),
            ("/\u{2028}", false),
            ("/%FF", false),
            ("/ok%20space", false),
            (long.as_str(), false),
        ] {
            assert_eq!(is_safe_return_to(input), safe, "{input:?}");
        }
    }
}
