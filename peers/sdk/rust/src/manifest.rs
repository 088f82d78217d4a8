//! The capabilities a peer declares, read from its peer.toml (compiled in
//! with `include_str!`), so that `hello` and the manifest cannot differ.

/// The `capabilities = [...]` array of strings of a peer.toml; empty when
/// there is none.
pub fn manifest_capabilities(manifest: &'static str) -> Vec<&'static str> {
    let mut offset = 0;
    for line in manifest.split_inclusive('\n') {
        if line.split('=').next().map(str::trim) == Some("capabilities") {
            return strings(&manifest[offset..]);
        }
        offset += line.len();
    }
    Vec::new()
}

/// The strings of the first `[...]` in `text`.
fn strings(text: &'static str) -> Vec<&'static str> {
    let (Some(open), Some(close)) = (text.find('['), text.find(']')) else {
        return Vec::new();
    };
    text[open + 1..close]
        .split(',')
        .map(|item| item.trim().trim_matches('"'))
        .filter(|item| !item.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::manifest_capabilities;

    #[test]
    fn reads_the_capabilities_array() {
        let manifest = "name = \"x\"\ncapabilities_note = 1\ncapabilities = [\n  \"allocate\",\n  \"read\" ]\nknown_failures = \"k\"\n";
        assert_eq!(manifest_capabilities(manifest), ["allocate", "read"]);
        assert!(manifest_capabilities("capabilities = []\n").is_empty());
        assert!(manifest_capabilities("name = \"x\"\n").is_empty());
    }
}
