//! Splits the console's compiled WASM at its lazy routes, as `wasm-split-cli` does, and also
//! writes the preload manifest that `wasm-split-cli` drops: for each split (a page), the
//! modules it needs. Leptos reads it from `pkg/__wasm_split_manifest.json` and adds a preload
//! link for each of them to the page's HTML, so that the browser fetches a page's modules
//! beside the main module instead of after it has run.
//!
//! Usage: byoc-split-wasm INPUT.wasm OUTPUT_DIR OUT_NAME
//! Writes OUTPUT_DIR/OUT_NAME.wasm (the main module, for wasm-bindgen), the split and chunk
//! modules, the loader and the manifest.

use std::path::Path;
use std::process::ExitCode;

/// The loader's name Leptos links to when the site's files are not hashed
/// (`leptos::HydrationScripts`): the placeholder cargo-leptos fills with a hash otherwise.
const LOADER: &str = "__wasm_split.______________________.js";
const MANIFEST: &str = "__wasm_split_manifest.json";

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
