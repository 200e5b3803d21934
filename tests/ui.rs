//! `#[traced]` compile errors (pinned in tests/ui/fail/*.stderr) and compile-pass cases.
//! After an intended change of a message: `TRYBUILD=overwrite cargo test --test ui`, then
//! review the diff of the .stderr files.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
