//! A user's clone has no shared folder beside it: nothing tracked may need it, except
//! `.ci/run`, which passes the shared scenarios to the runner when they are there.

#[test]
fn no_tracked_file_but_the_ci_script_refers_to_the_shared_folder() {
    let root = env!("CARGO_MANIFEST_DIR");
    let listed = std::process::Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .expect("git runs");
    assert!(listed.status.success(), "not a git checkout: {root}");
    let needle = concat!("..", "/shared");
    let offenders: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .split('\0')
        .filter(|path| !path.is_empty() && *path != ".ci/run")
        .filter(|path| {
            std::fs::read(std::path::Path::new(root).join(path))
                .is_ok_and(|bytes| String::from_utf8_lossy(&bytes).contains(needle))
        })
        .map(str::to_owned)
        .collect();
    assert!(
        offenders.is_empty(),
        "these refer to {needle}: {offenders:?}"
    );
}
