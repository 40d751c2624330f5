//! Tidiness the compiler cannot check: every Rust file says what it is for, ARCHITECTURE.md's code
//! map names every module of the core, and the core's layers hold (no import cycle, no import from
//! a lower layer to a higher one — `tools/arch/measure.py --check`, the one implementation of the
//! layer map).

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, build output and installed packages left out.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !matches!(name.as_ref(), "target" | "node_modules" | ".git" | "pkg" | "build") {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_file_starts_with_a_line_saying_what_it_is_for() {
    let mut files = Vec::new();
    for dir in ["gateway-core", "adapters", "tools", "fuzz"] {
        rust_files(&repo().join(dir), &mut files);
    }
    assert!(files.len() > 150, "found only {} files", files.len());
    let missing: Vec<_> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|f| f.strip_prefix(repo()).unwrap_or(f).display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a `//!` first line: {missing:#?}");
}

#[test]
fn the_code_map_names_every_module_of_the_core() {
    let map = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    let src = repo().join("gateway-core/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut unnamed = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap().to_string_lossy().replace('\\', "/");
        // `codec/gemini/wire.rs` needs `codec/`, `gemini` and `wire.rs` in the map.
        let parts: Vec<&str> = relative.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            let last = i + 1 == parts.len();
            let stem = part.trim_end_matches(".rs");
            if last && stem == "mod" {
                continue;
            }
            let named = [format!("`{stem}`"), format!("`{stem}.rs`"), format!("`{stem}/`")]
                .iter()
                .any(|form| map.contains(form.as_str()));
            if !named {
                unnamed.push(format!("{relative} ({part})"));
            }
        }
    }
    unnamed.dedup();
    assert!(unnamed.is_empty(), "ARCHITECTURE.md's code map does not name: {unnamed:#?}");
}

#[test]
fn the_core_has_no_import_cycle_and_no_import_up_its_layers() {
    let script = repo().join("tools/arch/measure.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg("--check")
        .output()
        .expect("python3 runs tools/arch/measure.py (the README lists python3)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("import cycles: 0"), "{text}");
}
