//! The documents a newcomer reads point at files that exist and give commands that work:
//! every relative link in README.md and docs/*.md resolves, and the API documentation is
//! built with every feature (the tokio driver is behind one), as docs.rs builds it.
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn documents() -> Vec<PathBuf> {
    let mut v = vec![root().join("README.md")];
    for e in std::fs::read_dir(root().join("docs")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "md") {
            v.push(p);
        }
    }
    v
}

#[test]
fn every_relative_link_in_the_readme_and_the_guides_resolves() {
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let target = &rest[..rest.find(')').unwrap()];
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let file = target.split('#').next().unwrap();
            let path = doc.parent().unwrap().join(file);
            assert!(
                path.exists(),
                "{}: link to {target} leads nowhere",
                doc.display()
            );
        }
    }
}

#[test]
fn the_api_documentation_is_built_with_every_feature() {
    let guide = std::fs::read_to_string(root().join("docs/guide.md")).unwrap();
    for line in guide.lines().filter(|l| l.contains("cargo doc")) {
        assert!(line.contains("--all-features"), "docs/guide.md: {line}");
    }
    let manifest = std::fs::read_to_string(root().join("crates/aiolos/Cargo.toml")).unwrap();
    let docs_rs = manifest
        .split("[package.metadata.docs.rs]")
        .nth(1)
        .expect("crates/aiolos/Cargo.toml has docs.rs metadata");
    assert!(docs_rs.contains("all-features = true"), "{docs_rs}");
}
