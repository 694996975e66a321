//! Rebuilds the crate when `viewer/` (the committed viewer build, embedded at compile time by
//! `rust-embed-for-web`, whose derive does not tell cargo which files it read) changes.

fn main() {
    println!("cargo:rerun-if-changed=viewer");
}
