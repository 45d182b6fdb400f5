//! `schema.graphql` is generated from the code; this fails (and rewrites it) when stale.

#[test]
fn schema_graphql_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let generated = convograph::schema::sdl();
    let on_disk = std::fs::read_to_string(path).unwrap_or_default();
    if on_disk != generated {
        std::fs::write(path, &generated).expect("rewrite schema.graphql");
        panic!("schema.graphql was not up to date; it has been regenerated: review and commit it");
    }
}

#[test]
fn the_sdl_command_prints_exactly_schema_graphql() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_convograph")).arg("sdl").output().expect("runs");
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), convograph::schema::sdl());
}
