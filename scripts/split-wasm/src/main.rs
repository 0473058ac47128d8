//! Splits the console's compiled WASM at its lazy routes, as `wasm-split-cli` does, and also
//! writes what `wasm-split-cli` drops: for each split (a page), the modules it needs. The
//! console reads it from `pkg/page-modules.json` and puts a preload link for each of them in
//! the page's head (`app/src/server/page_preloads.rs`), so that the browser fetches a page's
//! modules beside the main module instead of after it has run.
//!
//! Usage: byoc-split-wasm INPUT.wasm OUTPUT_DIR OUT_NAME
//! Writes OUTPUT_DIR/OUT_NAME.wasm (the main module, for wasm-bindgen), the split and chunk
//! modules, the loader and the manifest.

use std::path::Path;
use std::process::ExitCode;

/// The loader's name as cargo-leptos gives it when file names are not hashed (the placeholder
/// it fills with a hash otherwise); the console links to it (`server::page_preloads::LOADER`).
const LOADER: &str = "__wasm_split.______________________.js";
/// Not Leptos' own manifest name (`__wasm_split_manifest.json`): Leptos would then add links
/// of its own, on two loads in three (see `server::page_preloads`).
const MANIFEST: &str = "page-modules.json";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--version") {
        println!("byoc-split-wasm {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let [input, output_dir, out_name] = args.as_slice() else {
        eprintln!("usage: byoc-split-wasm INPUT.wasm OUTPUT_DIR OUT_NAME");
        return ExitCode::from(2);
    };
    match split(Path::new(input), Path::new(output_dir), out_name) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("byoc-split-wasm: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn split(
    input: &Path,
    output_dir: &Path,
    out_name: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let input_wasm =
        std::fs::read(input).map_err(|e| format!("reading {}: {e}", input.display()))?;
    let main_out_path = output_dir.join(format!("{out_name}.wasm"));
    let main_module = format!("./{out_name}.js");
    let link_name = format!("./{LOADER}");
    let mut options = wasm_split_cli_support::Options::new(&input_wasm);
    options.output_dir = output_dir;
    options.main_out_path = &main_out_path;
    options.main_module = &main_module;
    options.link_name = &link_name;
    options.target.web();
    let split = wasm_split_cli_support::transform(options).map_err(|e| format!("{e:#}"))?;
    // Sorted, so that the same WASM gives the same file.
    let manifest: std::collections::BTreeMap<_, _> = split.prefetch_map.into_iter().collect();
    std::fs::write(
        output_dir.join(MANIFEST),
        serde_json::to_vec_pretty(&manifest)?,
    )?;
    Ok(())
}
