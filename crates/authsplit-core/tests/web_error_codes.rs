//! The npm package's `AuthsplitErrorCode` union (`web/index.d.ts`) is a closed list of the
//! stable codes: it must name exactly `ALL_CODES`, so that an exhaustive `switch` in a
//! TypeScript app covers every code the browser half or the backend can produce.

use std::collections::BTreeSet;

use authsplit_core::error::ALL_CODES;

/// The string literals of `export type AuthsplitErrorCode = | 'a' | 'b' …;` in `index.d.ts`.
fn ts_union(dts: &str) -> Vec<String> {
    let start = dts
        .find("export type AuthsplitErrorCode =")
        .expect("web/index.d.ts declares `export type AuthsplitErrorCode`");
    let body = &dts[start..];
    let body = &body[..body.find(';').expect("the union ends with ';'")];
    let body = &body[body.find('=').expect("`=` after the name") + 1..];
    body.split('|')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| {
            assert!(
                m.len() > 2 && m.starts_with('\'') && m.ends_with('\''),
                "every member of AuthsplitErrorCode is a string literal (a closed union), found {m}"
            );
            m[1..m.len() - 1].to_owned()
        })
        .collect()
}

#[test]
fn the_typescript_union_names_exactly_the_core_codes() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/index.d.ts");
    let dts = std::fs::read_to_string(path).expect("read web/index.d.ts");
    let ts = ts_union(&dts);
    let ts_set: BTreeSet<&str> = ts.iter().map(String::as_str).collect();
    assert_eq!(
        ts_set.len(),
        ts.len(),
        "a code is listed twice in AuthsplitErrorCode"
    );
    let core: BTreeSet<&str> = ALL_CODES.iter().map(|c| c.as_str()).collect();
    let missing: Vec<_> = core.difference(&ts_set).collect();
    let extra: Vec<_> = ts_set.difference(&core).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "AuthsplitErrorCode in web/index.d.ts differs from authsplit-core ALL_CODES: \
         missing {missing:?}, not in core {extra:?}"
    );
}

#[test]
fn an_open_union_is_refused() {
    let open = "export type AuthsplitErrorCode =\n  | 'internal'\n  | (string & {});";
    assert!(std::panic::catch_unwind(|| ts_union(open)).is_err());
    assert_eq!(
        ts_union("export type AuthsplitErrorCode =\n  | 'a'\n  | 'b';"),
        ["a", "b"]
    );
}
