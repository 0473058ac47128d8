//! Preload links for the WASM modules of the page a full load shows, in the document's head.
//!
//! Each page is a lazy route whose code the splitter (`scripts/split-wasm`) cut into a module
//! of its own and chunks it shares with other pages; it writes `pkg/page-modules.json`, the
//! modules each route needs. With a link for each, the browser fetches them beside the main
//! module instead of after the main module has run and asked for them.
//!
//! Leptos adds such links itself from a manifest under another name, but it looks the manifest
//! up after the render, outside the render's reactive owner: on a multi-threaded runtime that
//! lookup found nothing on about one full load in three (measured: 9 of 31), at random. Here
//! the shell adds them while it renders, from the request's path, the same on every load.

use leptos::config::LeptosOptions;
use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

/// The splitter's manifest, in the site's `pkg` directory.
const MANIFEST: &str = "page-modules.json";
/// The splitter's loader, which the main module imports and every page needs.
pub const LOADER: &str = "__wasm_split.______________________.js";

/// The lazy route (app.rs) a page path shows, named as the splitter names its module (the
/// route type in snake case). None for paths that show no page of their own.
fn page_route(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    Some(match segments.as_slice() {
        [""] => "overview_page_route",
        ["setup"] => "setup_page_route",
        ["login"] => "login_page_route",
        ["instances"] => "instances_page_route",
        ["instances", "new"] => "new_instance_page_route",
        ["instances", _] => "instance_detail_page_route",
        ["activate"] => "activate_page_route",
        ["license"] => "license_page_route",
        ["usage"] => "usage_page_route",
        ["marketplace"] => "marketplace_page_route",
        ["users"] => "users_page_route",
        ["service-accounts"] => "service_accounts_page_route",
        ["audit"] => "audit_page_route",
        ["account"] => "account_page_route",
        _ => return None,
    })
}

/// Route name -> the module files (without `.wasm`) its page needs.
type PageModules = HashMap<String, Vec<String>>;

/// The splitter names a split `__<route>_view_<hash>`; the route is what `page_route` returns.
fn route_of_split(split: &str) -> Option<&str> {
    let rest = split.strip_prefix("__")?;
    let (route, hash) = rest.rsplit_once("_view_")?;
    hash.chars().all(|c| c.is_ascii_digit()).then_some(route)
}

/// Reads the manifest: `{ "<split>": ["chunk_1", ..., "split_<split>"] }`.
fn parse_manifest(text: &str) -> Result<PageModules, String> {
    let splits: HashMap<String, Vec<String>> =
        serde_json::from_str(text).map_err(|e| format!("not a map of module lists: {e}"))?;
    let mut pages = PageModules::new();
    for (split, modules) in splits {
        let route = route_of_split(&split)
            .ok_or_else(|| format!("{split:?} is not named as a lazy route's split"))?;
        if let Some(bad) = modules.iter().find(|m| !is_module_name(m)) {
            return Err(format!("{bad:?} is not a module file name"));
        }
        pages.insert(route.to_owned(), modules);
    }
    Ok(pages)
}

/// Only plain file names go into the page's links.
fn is_module_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The HTML of one route's preload links, made once: the same on every load of its pages.
/// `crossorigin`: the loader fetches each module in CORS mode, and a preload is used only by
/// a request of the same mode. (The names are checked plain, see `is_module_name`.)
fn links_html(pkg_url: &str, modules: &[String]) -> String {
    modules
        .iter()
        .map(|module| {
            format!(
                r#"<link rel="preload" href="{pkg_url}/{module}.wasm" as="fetch" type="application/wasm" crossorigin="anonymous">"#
            )
        })
        .collect()
}

/// Route name -> its preload links as HTML.
type PageLinks = HashMap<String, String>;

/// The preload links of the site being served, made from its manifest once. Without one (a site
/// built before the splitter wrote it, or not built), or with one that cannot be read, pages
/// get no links: they still load, the modules after the main module.
fn page_links(options: &LeptosOptions) -> &'static PageLinks {
    static LINKS: OnceLock<PageLinks> = OnceLock::new();
    LINKS.get_or_init(|| {
        let pkg_url = format!("/{}", options.site_pkg_dir);
        let path = Path::new(options.site_root.as_ref())
            .join(options.site_pkg_dir.as_ref())
            .join(MANIFEST);
        let modules = match std::fs::read_to_string(&path) {
            Ok(text) => parse_manifest(&text).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), "the WASM page manifest is unusable, pages get no preload links: {e}");
                PageModules::new()
            }),
            Err(e) => {
                tracing::warn!(path = %path.display(), "no WASM page manifest, pages get no preload links: {e}");
                PageModules::new()
            }
        };
        modules
            .into_iter()
            .map(|(route, modules)| (route, links_html(&pkg_url, &modules)))
            .collect()
    })
}

/// The preload links (HTML) for the page at `path`, empty for a path that shows no page.
pub fn links_for(options: &LeptosOptions, path: &str) -> &'static str {
    page_route(path)
        .and_then(|route| page_links(options).get(route))
        .map_or("", String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_path_names_its_route() {
        assert_eq!(page_route("/"), Some("overview_page_route"));
        assert_eq!(page_route("/instances"), Some("instances_page_route"));
        assert_eq!(page_route("/instances/"), Some("instances_page_route"));
        assert_eq!(
            page_route("/instances/new"),
            Some("new_instance_page_route")
        );
        assert_eq!(
            page_route("/instances/42"),
            Some("instance_detail_page_route")
        );
        assert_eq!(
            page_route("/service-accounts"),
            Some("service_accounts_page_route")
        );
        assert_eq!(page_route("/instances/42/extra"), None);
        assert_eq!(page_route("/no-such-page"), None);
    }

    #[test]
    fn the_manifest_is_read_by_route() {
        let pages = parse_manifest(
            r#"{"__license_page_route_view_15207452734975682608": ["chunk_1", "split___license_page_route_view_15207452734975682608"]}"#,
        )
        .unwrap();
        assert_eq!(
            pages["license_page_route"],
            vec![
                "chunk_1",
                "split___license_page_route_view_15207452734975682608"
            ]
        );
    }

    #[test]
    fn each_module_gets_a_preload_link() {
        let html = links_html("/pkg", &["chunk_1".into(), "split_x".into()]);
        assert_eq!(
            html,
            concat!(
                r#"<link rel="preload" href="/pkg/chunk_1.wasm" as="fetch" type="application/wasm" crossorigin="anonymous">"#,
                r#"<link rel="preload" href="/pkg/split_x.wasm" as="fetch" type="application/wasm" crossorigin="anonymous">"#
            )
        );
    }

    #[test]
    fn a_manifest_of_another_shape_is_refused() {
        assert!(parse_manifest("[]").is_err());
        assert!(parse_manifest(r#"{"something_else": []}"#).is_err());
        assert!(
            parse_manifest(r#"{"__license_page_route_view_1": ["../../etc/passwd"]}"#).is_err()
        );
        assert!(parse_manifest(r#"{"__license_page_route_view_1": ["a\" onload=\""]}"#).is_err());
    }
}
