//! The web monitor's files, built into the binary (`page/`): a page with no build
//! step and no secret in it (a `/login` link's cookie with the page key its redirect
//! leaves in the URL fragment, or a token in the fragment, lets it in). Knows the files and their types; nothing of HTTP or AHP.

/// One file of the page.
#[derive(Debug)]
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! asset {
    ($path:literal, $type:expr, $file:literal) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_str!(concat!("page/", $file)),
        }
    };
}

/// Every file the hub serves, by its path.
static ASSETS: &[Asset] = &[
    asset!("/", HTML, "index.html"),
    asset!("/monitor.css", CSS, "monitor.css"),
    asset!("/favicon.svg", SVG, "favicon.svg"),
    asset!("/monitor.js", JS, "monitor.js"),
    asset!("/ahp.js", JS, "ahp.js"),
    asset!("/reduce.js", JS, "reduce.js"),
    asset!("/dom.js", JS, "dom.js"),
    asset!("/board.js", JS, "board.js"),
    asset!("/agents.js", JS, "agents.js"),
    asset!("/events.js", JS, "events.js"),
    asset!("/chats.js", JS, "chats.js"),
    asset!("/prompt.js", JS, "prompt.js"),
];

/// The file at `path` (`/index.html` is `/`).
pub fn asset(path: &str) -> Option<&'static Asset> {
    let path = if path == "/index.html" { "/" } else { path };
    ASSETS.iter().find(|a| a.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_page_loads_is_served_and_none_holds_a_token_or_inline_code() {
        let page = asset("/").unwrap().body;
        assert!(page.contains("src=\"/monitor.js\""), "{page}");
        assert!(page.contains("href=\"/monitor.css\""), "{page}");
        assert!(!page.contains("tkn="), "the page holds no token");
        // Inline script or style would be refused by the page's own policy.
        assert!(
            !page.contains("<script>") && !page.contains("<style") && !page.contains(" style=")
        );
        for asset in ASSETS.iter().filter(|a| a.content_type == JS) {
            assert!(
                !asset.body.contains("innerHTML"),
                "{} builds DOM as text",
                asset.path
            );
            assert!(!asset.body.contains("eval("), "{}", asset.path);
        }
        assert!(asset("/nope.js").is_none());
        assert_eq!(asset("/index.html").unwrap().path, "/");
    }
}
