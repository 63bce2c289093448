//! Rebuild when a migration is added: the migrations are embedded in the
//! binary at compile time, and cargo does not otherwise watch their folders.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
