//! The layers of docs/ARCHITECTURE.md: a module of `src/` names only modules of lower
//! layers (or of its own). Read from the source, so a new upward import fails here.

use std::path::Path;

/// Lowest first, as docs/ARCHITECTURE.md lists them.
const LAYERS: [&str; 15] = [
    "model",
    "engine",
    "store",
    "instance",
    "dataset",
    "cache",
    "identity",
    "config",
    "telemetry",
    "data_plane",
    "admin",
    "api",
    "console",
    "cli",
    "server",
];

/// The top-level modules a file's code (not its comments) names as `crate::x`.
fn named_modules(source: &str) -> Vec<String> {
    let mut named = Vec::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or_default();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                named.push(name);
            }
        }
    }
    named
}

fn rust_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn no_module_imports_from_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).expect("under src");
        let top = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|name| name.trim_end_matches(".rs"))
            .expect("a name");
        let Some(level) = LAYERS.iter().position(|layer| *layer == top) else {
            // lib.rs and main.rs stand above every layer.
            assert!(
                ["lib", "main"].contains(&top),
                "{top} is in no layer: add it to LAYERS and docs/ARCHITECTURE.md"
            );
            continue;
        };
        let source = std::fs::read_to_string(file).expect("readable");
        for named in named_modules(&source) {
            let above = LAYERS
                .iter()
                .position(|l| *l == named)
                .is_some_and(|l| l > level);
            if above {
                upward.push(format!("{} names crate::{named}", relative.display()));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports from a higher layer: {upward:#?}"
    );
}
