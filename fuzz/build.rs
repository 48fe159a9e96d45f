//! Links the fuzz targets with the drop-in's version script: the drop-in binds its
//! functions to libaio's symbol versions (`.symver`), which needs those version nodes.
fn main() {
    let map = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/aiolos-libaio/libaio.map");
    println!("cargo:rerun-if-changed={}", map.display());
    println!("cargo:rustc-link-arg-bins=-Wl,--version-script={}", map.display());
    // Targets that do not link the drop-in leave the script's symbols undefined.
    println!("cargo:rustc-link-arg-bins=-Wl,--undefined-version");
}
