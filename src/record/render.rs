//! Renders record.md and record.html from the view with handlebars.
//!
//! The templates ship in the binary (`templates/`); `--template DIR` can
//! replace either with an organisation's own `record.md.hbs` or
//! `record.html.hbs`. Markdown output escapes table-breaking characters and
//! angle brackets; HTML output uses handlebars' HTML escaping for every
//! `{{value}}`. The one value a template inserts raw (`{{{timeline_svg}}}`)
//! was escaped piece by piece when [`super::chart`] drew it.

use std::io;
use std::path::Path;

use handlebars::{Context, Handlebars};

use super::view::View;

const MD: &str = include_str!("templates/record.md.hbs");
const HTML: &str = include_str!("templates/record.html.hbs");

/// The (record.md, record.html) template sources: the built-in ones, or an
/// organisation's from `--template DIR`.
pub fn sources(templates: Option<&Path>) -> Result<(String, String), String> {
    match templates {
        Some(dir) => sources_in(dir),
        None => Ok((MD.to_string(), HTML.to_string())),
    }
}

/// The view as the templates read it (handlebars works on JSON). Made once
/// for both templates: for a storm's record this JSON is the largest thing
/// in memory, so the caller can drop the view before rendering.
pub fn context(view: &View) -> Result<Context, String> {
    Context::wraps(view).map_err(|e| format!("record view: {e}"))
}

/// Renders record.md from its template source.
pub fn markdown(context: &Context, src: &str) -> Result<String, String> {
    let mut md = Handlebars::new();
    md.register_escape_fn(escape_markdown);
    md.render_template_with_context(src, context)
        .map_err(|e| format!("record.md template: {e}"))
}

/// Renders record.html from its template source.
pub fn html(context: &Context, src: &str) -> Result<String, String> {
    Handlebars::new()
        .render_template_with_context(src, context)
        .map_err(|e| format!("record.html template: {e}"))
}

/// Both records with the built-in templates (tests and previews).
pub fn render_both(view: &View) -> Result<(String, String), String> {
    let context = context(view)?;
    Ok((markdown(&context, MD)?, html(&context, HTML)?))
}

/// The templates in `dir`; one that is missing falls back to the built-in
/// one, but a folder with neither is a mistake worth reporting.
fn sources_in(dir: &Path) -> Result<(String, String), String> {
    let read = |name: &str, builtin: &str| match std::fs::read_to_string(dir.join(name)) {
        Ok(text) => Ok((text, true)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok((builtin.to_string(), false)),
        Err(e) => Err(format!("cannot read {}: {e}", dir.join(name).display())),
    };
    let (md, own_md) = read("record.md.hbs", MD)?;
    let (html, own_html) = read("record.html.hbs", HTML)?;
    if !own_md && !own_html {
        return Err(format!(
            "{} holds neither record.md.hbs nor record.html.hbs",
            dir.display()
        ));
    }
    Ok((md, html))
}

/// Keeps scenario text from breaking Markdown tables or injecting markup.
fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_escaping_keeps_tables_and_drops_markup() {
        assert_eq!(
            escape_markdown("a|b <script>\r\nx"),
            "a\\|b &lt;script&gt;  x"
        );
    }

    #[test]
    fn a_template_folder_with_neither_template_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(sources_in(dir.path()).unwrap_err().contains("neither"));
        std::fs::write(dir.path().join("record.md.hbs"), "# {{title}}\n").unwrap();
        let (md, html) = sources_in(dir.path()).unwrap();
        assert_eq!(md, "# {{title}}\n");
        assert_eq!(html, HTML);
    }
}
